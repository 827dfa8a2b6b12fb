//! InfluxQL functions (aggregates, selectors, transformations) over batch columns. No pyo3 inside.
