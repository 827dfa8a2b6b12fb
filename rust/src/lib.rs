//! kapfast's Rust core. This file is a table of contents: it declares the modules and registers
//! the Python extension module `kapfast._native`. Algorithms live in modules with no pyo3 inside
//! (`batch`, `lineproto`, `eval`, `influxql`); the thin Python bindings live under `py/`.

pub mod alertstate;
pub mod batch;
pub mod eval;
pub mod groups;
mod hugepages;
pub mod influxql;
pub mod lineproto;
mod py;
pub mod queryanswer;
pub mod stateops;
pub mod udf;

use pyo3::prelude::*;

#[global_allocator]
static ALLOC: hugepages::HugePageAlloc = hugepages::HugePageAlloc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::errors::register(m)?;
    py::alertstate::register(m)?;
    py::batch::register(m)?;
    py::chunk::register(m)?;
    py::lineproto::register(m)?;
    py::eval::register(m)?;
    py::influxql::register(m)?;
    py::ops::register(m)?;
    py::queryanswer::register(m)?;
    py::groups::register(m)?;
    py::stateops::register(m)?;
    py::udf::register(m)?;
    Ok(())
}
