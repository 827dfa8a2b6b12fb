//! Python bindings of the stateful nodes' kernels (`crate::stateops`): one object per node
//! holding every group's state, fed a whole chunk at a time with the GIL released.
//!
//! Groups are ints the engine keeps stable per node (a `uint32` buffer, one per row); row lists
//! come back as little-endian `u32` bytes (`numpy.frombuffer(b, "<u4")`).

use std::sync::{Mutex, MutexGuard};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::batch::PointBatch;
use crate::py::chunk::{codes_arg, CodeVec};
use crate::py::errors::detached;
use crate::stateops::output::u32_rows;
use crate::stateops::snapshot;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic mid-update loses at most that chunk's state change; take the lock over
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn rows_bytes<'py>(py: Python<'py>, rows: &[usize]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(rows.len() * 4);
    for r in u32_rows(rows) {
        out.extend_from_slice(&r.to_le_bytes());
    }
    PyBytes::new(py, &out)
}

/// One group int per row of `b`: a `Codes` (a chunk's, or a node's ints; shared, no copy), a
/// uint32 buffer or a sequence of ints.
pub(crate) fn group_ints(
    _py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    b: &PointBatch,
) -> PyResult<CodeVec> {
    let v = codes_arg(obj)?;
    if v.len() != b.len() {
        return Err(PyValueError::new_err(format!(
            "{} group codes for a batch of {} rows",
            v.len(),
            b.len()
        )));
    }
    Ok(v)
}

/// One bool per row, from a uint8 buffer (`numpy_bools.view(numpy.uint8)`) or a sequence.
fn bools(py: Python<'_>, obj: &Bound<'_, PyAny>, n: usize, what: &str) -> PyResult<Vec<bool>> {
    let v: Vec<bool> = match PyBuffer::<u8>::get(obj) {
        Ok(buf) => buf.to_vec(py)?.into_iter().map(|x| x != 0).collect(),
        Err(_) => obj.extract::<Vec<bool>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a uint8 buffer or a sequence of bools"
            ))
        })?,
    };
    if v.len() != n {
        return Err(PyValueError::new_err(format!(
            "{} {what} values for a batch of {n} rows",
            v.len()
        )));
    }
    Ok(v)
}

/// The checkpoint bytes (`crate::stateops::snapshot`) `work` makes, made with the GIL released: a task's checkpoint of a
/// large state (a window holding millions of points) takes a second, during which the event
/// loop's thread must go on answering (issue #19: that second was a whole-server stall).
pub(crate) fn snap_detached<'py>(
    py: Python<'py>,
    work: impl FnOnce() -> Vec<u8> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = detached(py, work)?;
    bytes_detached(py, &bytes)
}

/// `data` as a new Python `bytes`, copied in with the GIL released (a copy of hundreds of MB
/// holding the GIL stalls every other thread, the event loop's too).
pub(crate) fn bytes_detached<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let len = isize::try_from(data.len())
        .map_err(|_| PyValueError::new_err("checkpoint too large for a bytes object"))?;
    // SAFETY: PyBytes_FromStringAndSize(NULL, len) returns a new, uninitialized bytes object of
    // `len` bytes (or NULL with an exception set, turned into an error here). No other code can
    // reach it until it is returned, so filling its buffer without the GIL races with nothing.
    unsafe {
        let obj = Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len),
        )?;
        let dst = pyo3::ffi::PyBytes_AsString(obj.as_ptr()) as usize;
        detached(py, move || {
            std::ptr::copy_nonoverlapping(data.as_ptr(), dst as *mut u8, data.len())
        })?;
        Ok(obj.downcast_into_unchecked())
    }
}

/// A kernel's state taken at one instant, to be encoded as checkpoint bytes later, on another
/// thread (issue #19): taking it is a copy of what can still change (the windows' open columns)
/// and shares what cannot (their sealed parts, by reference count), so the engine thread is held
/// for the copy only, not for the encoding of millions of points.
#[pyclass(name = "FrozenState", module = "kapfast._native", frozen)]
pub struct PyFrozenState {
    work: Mutex<Option<FrozenWork>>,
}

type FrozenWork = Box<dyn FnOnce() -> Vec<u8> + Send>;

impl PyFrozenState {
    pub(crate) fn new(work: impl FnOnce() -> Vec<u8> + Send + 'static) -> Self {
        PyFrozenState {
            work: Mutex::new(Some(Box::new(work))),
        }
    }
}

impl Drop for PyFrozenState {
    /// A state never encoded (a checkpoint given up) may hold millions of points: freed with
    /// the GIL released, as the windows themselves.
    fn drop(&mut self) {
        if let Some(work) = self
            .work
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            Python::with_gil(|py| detached(py, move || drop(work)).unwrap_or(()));
        }
    }
}

#[pymethods]
impl PyFrozenState {
    /// The checkpoint bytes of the state taken, encoded with the GIL released; once only
    /// (the state is freed as it is encoded: ValueError the second time).
    fn encode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let work = lock(&self.work)
            .take()
            .ok_or_else(|| PyValueError::new_err("this frozen state was encoded already"))?;
        snap_detached(py, work)
    }
}

/// `work` restoring a kernel's state from checkpoint bytes, with the GIL released (as
/// [`snap_detached`]); its error a ValueError.
pub(crate) fn restore_detached(
    py: Python<'_>,
    work: impl FnOnce() -> Result<(), String> + Send,
) -> PyResult<()> {
    detached(py, work)?.map_err(PyValueError::new_err)
}

/// The state a kernel's snapshot wrote, or a ValueError naming the kernel (`what`).
pub(crate) fn snap_load<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> PyResult<T> {
    snapshot::decode(bytes, what).map_err(PyValueError::new_err)
}

mod join;
mod rows;
mod sets;
mod windows;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFrozenState>()?;
    rows::register(m)?;
    windows::register(m)?;
    join::register(m)?;
    sets::register(m)
}
