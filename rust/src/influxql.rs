//! InfluxQL functions (aggregates, selectors, transformations) over batch columns. No pyo3 inside.

pub mod gomath;
pub mod holt_winters;
pub mod neldermead;
