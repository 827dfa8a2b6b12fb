//! The one place a Rust error becomes a Python exception of `kapfast.errors`: every binding
//! under `py/` builds its errors here, so the Python side sees one hierarchy (`KapfastError`).
//! Argument mistakes a caller makes in Python (a wrong type, a bad index) stay the built-in
//! `TypeError`/`ValueError`/`IndexError`, as Python code raises them.
//!
//! The bindings run their work through [`detached`] (never `py.allow_threads` directly: a test
//! checks it), which releases the GIL and turns a panic into `kapfast.errors.InternalError`.
//! Without it a panic would reach Python as pyo3's `PanicException`, a `BaseException` that
//! the router's `except Exception` does not stop.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The class of `kapfast.errors` an error is raised as.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Bad line protocol or precision (`LineProtocolError`, an `InputError`).
    LineProtocol,
    /// A lambda that does not compile or evaluate (`EvalError`).
    Eval,
    /// A function, or its arguments, that a task cannot run (`TaskError`).
    Task,
    /// Input kapfast cannot read, such as an InfluxDB answer that is not what InfluxDB
    /// writes (`InputError`).
    Input,
    /// A bug: a panic caught at the boundary (`InternalError`).
    Internal,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::LineProtocol => "LineProtocolError",
            Kind::Eval => "EvalError",
            Kind::Task => "TaskError",
            Kind::Input => "InputError",
            Kind::Internal => "InternalError",
        }
    }
}

/// A `kapfast.errors` exception of `kind` carrying `message`. Should the module not load (never
/// in an installed kapfast), a `RuntimeError` with the same message rather than losing it.
pub fn kapfast_error(py: Python<'_>, kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    let cls = py
        .import("kapfast.errors")
        .and_then(|m| m.getattr(kind.class_name()))
        .and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, (message,)),
        Err(_) => PyRuntimeError::new_err(message),
    }
}

pub fn line_protocol_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    kapfast_error(py, Kind::LineProtocol, message)
}

pub fn eval_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    kapfast_error(py, Kind::Eval, message)
}

pub fn input_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    kapfast_error(py, Kind::Input, message)
}

pub fn task_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    kapfast_error(py, Kind::Task, message)
}

/// Runs `work` with the GIL released (as `py.allow_threads`); a panic in it becomes a
/// `kapfast.errors.InternalError` naming the panic's message. Whatever `work` held when it
/// panicked is dropped; state behind a `Mutex` it held is poisoned and read again through
/// `py::stateops::lock`, which takes the lock over.
pub fn detached<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.allow_threads(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            kapfast_error(
                py,
                Kind::Internal,
                format!("internal error in kapfast's Rust core: {what}"),
            )
        })
}

/// Panics inside [`detached`] when `panic` is true, else returns 0: lets a test prove that a
/// panic in the extension reaches Python as `InternalError` (no other function panics on
/// purpose). Not part of kapfast's API.
#[pyfunction]
pub fn _boundary_selftest(py: Python<'_>, panic: bool) -> PyResult<u8> {
    detached(py, || {
        if panic {
            panic!("boundary self-test");
        }
        0
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_boundary_selftest, m)?)
}
