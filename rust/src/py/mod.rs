//! The Python boundary: `#[pyclass]`/`#[pyfunction]` wrappers that convert arguments, release the
//! GIL around bulk work (`errors::detached`, which also catches panics), and turn Rust errors into
//! Python exceptions (`errors`, the one conversion point). No algorithm here.

pub mod alertstate;
pub mod batch;
pub mod buffer;
pub mod chunk;
pub mod errors;
pub mod eval;
pub mod groups;
pub mod influxql;
pub mod lineproto;
pub mod ops;
pub mod queryanswer;
pub mod stateops;
pub mod udf;
