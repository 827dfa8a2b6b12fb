//! Kapacitor's own integration cases that use InfluxQL functions, recomputed window by window.
