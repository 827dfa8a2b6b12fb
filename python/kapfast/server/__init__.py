"""kapfastd's HTTP server: Kapacitor's API under /kapacitor/v1 and InfluxDB's /write."""
