//! InfluxDB line protocol -> [`crate::batch::PointBatch`], and back. No pyo3 inside.
