"""Outputs that tasks write to outside kapfast (InfluxDB)."""
