//! The Python boundary: `#[pyclass]`/`#[pyfunction]` wrappers that convert arguments, release the
//! GIL around bulk work, and turn Rust errors into `kapfast.errors` exceptions. No algorithm here.

pub mod alertstate;
pub mod batch;
pub mod eval;
pub mod groups;
pub mod influxql;
pub mod lineproto;
pub mod ops;
pub mod stateops;
pub mod udf;
