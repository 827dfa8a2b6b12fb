//! `join` of stream parents, and the join of one batch per parent.

use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

use super::{group_ints, lock, rows_bytes};
use crate::batch::{PointBatch, Value};
use crate::py::batch::PyPointBatch;
use crate::stateops::join::{join_batches, ChunkGroup, Fill, Join, JoinSpec, Joined};

/// `.fill()`: None (inner join), "null", or a number.
fn fill_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Fill> {
    let Some(o) = obj.filter(|o| !o.is_none()) else {
        return Ok(Fill::None);
    };
    if let Ok(s) = o.downcast::<PyString>() {
        return match s.to_str()? {
            "null" => Ok(Fill::Null),
            "none" => Ok(Fill::None),
            other => Err(PyValueError::new_err(format!(
                "join fill must be 'null', 'none' or a number, not {other:?}"
            ))),
        };
    }
    if o.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "join fill must be 'null', 'none' or a number",
        ));
    }
    if o.is_instance_of::<PyInt>() {
        return Ok(Fill::Value(Value::Int(o.extract()?)));
    }
    if o.is_instance_of::<PyFloat>() {
        return Ok(Fill::Value(Value::Float(o.extract()?)));
    }
    Err(PyTypeError::new_err(
        "join fill must be 'null', 'none' or a number",
    ))
}

fn joined<'py>(py: Python<'py>, out: Joined) -> (PyPointBatch, Bound<'py, PyBytes>) {
    let groups: Vec<usize> = out.groups.iter().map(|&g| g as usize).collect();
    (PyPointBatch::new(out.batch), rows_bytes(py, &groups))
}

type ChunkGroupIn = (u32, u32, bool, Vec<(String, String)>);

/// `join` of stream parents: every group's pending sets. Calls return `(points, group of each
/// point as u32 bytes)`.
#[pyclass(name = "StateJoin", module = "kapfast._native", frozen)]
pub struct PyJoin {
    inner: Mutex<Join>,
    parents: usize,
}

#[pymethods]
impl PyJoin {
    #[new]
    #[pyo3(signature = (prefixes, delimiter = ".".to_owned(), tolerance = 0, fill = None, stream_name = String::new(), on = false, delete_all = false))]
    fn new(
        prefixes: Vec<String>,
        delimiter: String,
        tolerance: i64,
        fill: Option<&Bound<'_, PyAny>>,
        stream_name: String,
        on: bool,
        delete_all: bool,
    ) -> PyResult<Self> {
        if prefixes.len() < 2 {
            return Err(PyValueError::new_err("join needs two or more parents"));
        }
        let parents = prefixes.len();
        Ok(PyJoin {
            inner: Mutex::new(Join::new(JoinSpec {
                prefixes,
                delimiter,
                tolerance,
                fill: fill_of(fill)?,
                stream_name,
                on,
                delete_all,
            })),
            parents,
        })
    }

    /// The points of `batch` from parent `src`; row `i` is of `groups[codes[i]]`, each given as
    /// `(group, on group, more specific than .on(), group tags)`.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        src: usize,
        batch: &PyPointBatch,
        codes: &Bound<'py, PyAny>,
        groups: Vec<ChunkGroupIn>,
    ) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>)> {
        self.check_src(src)?;
        let b = batch.batch.clone();
        let codes = group_ints(py, codes, &b)?;
        if codes.iter().any(|&c| c as usize >= groups.len()) {
            return Err(PyValueError::new_err(
                "a group code is past the end of groups",
            ));
        }
        let groups: Vec<ChunkGroup> = groups
            .into_iter()
            .map(|(group, on_group, specific, tags)| ChunkGroup {
                group,
                on_group,
                specific,
                tags,
            })
            .collect();
        let out = detached(py, || lock(&self.inner).feed(src, &b, &codes, &groups))?;
        Ok(joined(py, out))
    }

    fn barrier<'py>(
        &self,
        py: Python<'py>,
        src: usize,
        group: u32,
        time: i64,
    ) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>)> {
        self.check_src(src)?;
        let out = lock(&self.inner).barrier(src, group, time);
        Ok(joined(py, out))
    }

    fn delete(&self, src: usize, group: u32) -> PyResult<()> {
        self.check_src(src)?;
        lock(&self.inner).delete(src, group);
        Ok(())
    }

    fn finish<'py>(&self, py: Python<'py>) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>)> {
        let out = detached(py, || lock(&self.inner).finish())?;
        Ok(joined(py, out))
    }

    /// Every buffered point, open set and low mark of the join as checkpoint bytes (the
    /// parents' count is checked on restore).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::snap_detached(py, || lock(&self.inner).snapshot())
    }

    /// Replaces every group's state with a checkpoint's (ValueError: not such a snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        super::restore_detached(py, || lock(&self.inner).restore(data))
    }

    /// Points buffered now (kapfast's ``buffered_points`` node statistic).
    fn held_points(&self) -> usize {
        lock(&self.inner).held_points()
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }
}

impl PyJoin {
    fn check_src(&self, src: usize) -> PyResult<()> {
        if src >= self.parents {
            return Err(PyValueError::new_err(format!(
                "parent {src} of a join of {} parents",
                self.parents
            )));
        }
        Ok(())
    }
}

/// The output batch of a join of one batch per parent (None: that parent's batch is missing).
#[pyfunction(name = "join_batches")]
#[pyo3(signature = (prefixes, batches, name, tags, delimiter = ".".to_owned(), tolerance = 0, fill = None))]
#[allow(clippy::too_many_arguments)]
fn join_batches_py(
    py: Python<'_>,
    prefixes: Vec<String>,
    batches: Vec<Option<Bound<'_, PyPointBatch>>>,
    name: String,
    tags: Vec<(String, String)>,
    delimiter: String,
    tolerance: i64,
    fill: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyPointBatch> {
    if prefixes.len() != batches.len() {
        return Err(PyValueError::new_err(format!(
            "{} prefixes for {} batches",
            prefixes.len(),
            batches.len()
        )));
    }
    let spec = JoinSpec {
        prefixes,
        delimiter,
        tolerance,
        fill: fill_of(fill)?,
        stream_name: String::new(),
        on: false,
        delete_all: false,
    };
    let arcs: Vec<Option<std::sync::Arc<PointBatch>>> = batches
        .iter()
        .map(|b| b.as_ref().map(|b| b.get().batch.clone()))
        .collect();
    let out = detached(py, || {
        let refs: Vec<Option<&PointBatch>> = arcs.iter().map(|b| b.as_deref()).collect();
        join_batches(&spec, &refs, &name, &tags)
    })?;
    Ok(PyPointBatch::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyJoin>()?;
    m.add_function(wrap_pyfunction!(join_batches_py, m)?)
}
