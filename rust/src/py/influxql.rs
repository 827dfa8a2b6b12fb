//! Python bindings of the InfluxQL function kernels: `influxql_reduce`, `influxql_transform`,
//! `influxql_shape` and the resumable `InfluxQLTransform`. Arguments are converted here; the work
//! runs in `crate::influxql` with the GIL released.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::batch::Value;
use crate::influxql::{self, Arg, Call, Error, Func, Shape, TransformState};
use std::sync::Mutex;

use crate::py::batch::PyPointBatch;
use crate::py::errors::task_error;
use crate::py::stateops::{group_ints, lock, rows_bytes};

fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::RowOutOfRange { .. } => PyIndexError::new_err(e.to_string()),
        _ => task_error(py, e.to_string()),
    }
}

fn parse_args(py: Python<'_>, func: &str, args: &Bound<'_, PyTuple>) -> PyResult<Vec<Arg>> {
    args.iter()
        .map(|a| {
            if let Ok(b) = a.downcast::<PyBool>() {
                Ok(Arg::Bool(b.is_true()))
            } else if a.is_instance_of::<PyInt>() {
                Ok(Arg::Int(a.extract()?))
            } else if a.is_instance_of::<PyFloat>() {
                Ok(Arg::Float(a.extract()?))
            } else if let Ok(s) = a.downcast::<PyString>() {
                Ok(Arg::Str(s.to_str()?.to_owned()))
            } else {
                Err(task_error(
                    py,
                    format!(
                        "{func}: arguments must be int, float, str or bool, got {}",
                        a.get_type().name()?
                    ),
                ))
            }
        })
        .collect()
}

fn parse_call(py: Python<'_>, func: &str, args: Option<&Bound<'_, PyTuple>>) -> PyResult<Call> {
    let args = match args {
        Some(a) => parse_args(py, func, a)?,
        None => Vec::new(),
    };
    Call::parse(func, &args).map_err(|e| to_pyerr(py, e))
}

fn value_to_py(py: Python<'_>, v: Value) -> PyResult<PyObject> {
    match v {
        Value::Float(x) => x.into_py_any(py),
        Value::Int(x) => x.into_py_any(py),
        Value::UInt(x) => x.into_py_any(py),
        Value::Bool(x) => x.into_py_any(py),
        Value::Str(x) => x.into_py_any(py),
    }
}

/// Row indices from a sequence of ints or, without a Python object per row, from any buffer of
/// unsigned or signed 32/64-bit integers (`array('I')`, a numpy array, a `ColumnView`).
fn extract_rows(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    fn checked<T: Copy + TryInto<usize>>(v: Vec<T>) -> PyResult<Vec<usize>> {
        v.into_iter()
            .map(|x| {
                x.try_into()
                    .map_err(|_| PyIndexError::new_err("row indices must not be negative"))
            })
            .collect()
    }
    if let Ok(b) = PyBuffer::<u32>::get(obj) {
        return checked(b.to_vec(py)?);
    }
    if let Ok(b) = PyBuffer::<u64>::get(obj) {
        return checked(b.to_vec(py)?);
    }
    if let Ok(b) = PyBuffer::<i64>::get(obj) {
        return checked(b.to_vec(py)?);
    }
    if let Ok(b) = PyBuffer::<i32>::get(obj) {
        return checked(b.to_vec(py)?);
    }
    obj.extract::<Vec<usize>>().map_err(|_| {
        PyTypeError::new_err("rows must be a sequence of non-negative ints or an integer buffer")
    })
}

fn opt_rows(py: Python<'_>, rows: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<usize>>> {
    rows.map(|r| extract_rows(py, r)).transpose()
}

type ReducedRow = (Option<usize>, Option<i64>, PyObject);

/// Applies a whole-window InfluxQL function to `field` of `batch` (or of `rows` of it).
#[pyfunction]
#[pyo3(signature = (batch, func, field, args = None, rows = None))]
fn influxql_reduce(
    py: Python<'_>,
    batch: &PyPointBatch,
    func: &str,
    field: &str,
    args: Option<&Bound<'_, PyTuple>>,
    rows: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<ReducedRow>> {
    let call = parse_call(py, func, args)?;
    let rows = opt_rows(py, rows)?;
    let b = batch.batch.clone();
    let result = detached(py, || match &rows {
        Some(rows) => influxql::reduce_rows(&call, &b, field, rows),
        None => influxql::reduce(&call, &b, field),
    })?;
    result
        .map_err(|e| to_pyerr(py, e))?
        .points
        .into_iter()
        .map(|p| Ok((p.row, p.time, value_to_py(py, p.value)?)))
        .collect()
}

fn transformed_to_py(py: Python<'_>, t: influxql::Transformed) -> PyResult<Vec<(usize, PyObject)>> {
    t.points
        .into_iter()
        .map(|(r, v)| Ok((r, value_to_py(py, v)?)))
        .collect()
}

/// Applies a transformation to one batch with a fresh state (batch-edge semantics).
#[pyfunction]
#[pyo3(signature = (batch, func, field, args = None, rows = None))]
fn influxql_transform(
    py: Python<'_>,
    batch: &PyPointBatch,
    func: &str,
    field: &str,
    args: Option<&Bound<'_, PyTuple>>,
    rows: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<(usize, PyObject)>> {
    let call = parse_call(py, func, args)?;
    let rows = opt_rows(py, rows)?;
    let mut state = TransformState::new(&call).map_err(|e| to_pyerr(py, e))?;
    let b = batch.batch.clone();
    let out =
        detached(py, || state.feed(&b, field, rows.as_deref()))?.map_err(|e| to_pyerr(py, e))?;
    transformed_to_py(py, out)
}

/// How a function's output is shaped: "aggregate", "selector", "multi" or "transform".
#[pyfunction]
fn influxql_shape(py: Python<'_>, func: &str) -> PyResult<&'static str> {
    let f = Func::parse(func).map_err(|e| to_pyerr(py, e))?;
    Ok(match f.shape() {
        Shape::Aggregate => "aggregate",
        Shape::Selector => "selector",
        Shape::Multi => "multi",
        Shape::Transform => "transform",
    })
}

/// The running state of a transformation for one group on a stream edge.
#[pyclass(name = "InfluxQLTransform", module = "kapfast._native")]
struct PyInfluxQLTransform {
    state: TransformState,
}

#[pymethods]
impl PyInfluxQLTransform {
    #[new]
    #[pyo3(signature = (func, args = None))]
    fn new(py: Python<'_>, func: &str, args: Option<&Bound<'_, PyTuple>>) -> PyResult<Self> {
        let call = parse_call(py, func, args)?;
        let state = TransformState::new(&call).map_err(|e| to_pyerr(py, e))?;
        Ok(PyInfluxQLTransform { state })
    }

    /// Feeds the next points (all rows, or `rows` in order) and returns what to emit.
    #[pyo3(signature = (batch, field, rows = None))]
    fn feed(
        &mut self,
        py: Python<'_>,
        batch: &PyPointBatch,
        field: &str,
        rows: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(usize, PyObject)>> {
        let rows = opt_rows(py, rows)?;
        let b = batch.batch.clone();
        let state = &mut self.state;
        let out = detached(py, || state.feed(&b, field, rows.as_deref()))?
            .map_err(|e| to_pyerr(py, e))?;
        transformed_to_py(py, out)
    }

    /// Like `feed`, but what to emit comes back as a batch (`batch`'s rows with the one field
    /// `as_name`) and the rows of `batch` it came from (little-endian u64s): no Python object
    /// per point.
    #[pyo3(signature = (batch, field, as_name, rows = None))]
    fn feed_batch(
        &mut self,
        py: Python<'_>,
        batch: &PyPointBatch,
        field: &str,
        as_name: &str,
        rows: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PyPointBatch, Py<PyBytes>)> {
        let rows = opt_rows(py, rows)?;
        let b = batch.batch.clone();
        let state = &mut self.state;
        let (out, idx) = detached(py, || {
            state
                .feed(&b, field, rows.as_deref())
                .map(|t| t.into_batch(&b, as_name))
        })?
        .map_err(|e| to_pyerr(py, e))?;
        let bytes: Vec<u8> = idx.iter().flat_map(|&r| (r as u64).to_le_bytes()).collect();
        Ok((PyPointBatch::new(out), PyBytes::new(py, &bytes).unbind()))
    }

    #[getter]
    fn func(&self) -> &'static str {
        self.state.call().func.name()
    }

    #[getter]
    fn errors(&self) -> u64 {
        self.state.errors()
    }

    fn __repr__(&self) -> String {
        format!(
            "InfluxQLTransform({:?}, errors={})",
            self.state.call().func.name(),
            self.state.errors()
        )
    }
}

/// Every group's transformation on a stream edge (`difference`, `movingAverage`...), fed whole
/// chunks with one group int per row, like the `State*` kernels.
#[pyclass(name = "StateTransforms", module = "kapfast._native", frozen)]
struct PyStateTransforms {
    state: Mutex<influxql::GroupTransforms>,
}

#[pymethods]
impl PyStateTransforms {
    #[new]
    #[pyo3(signature = (func, field, as_name, args = None))]
    fn new(
        py: Python<'_>,
        func: &str,
        field: String,
        as_name: String,
        args: Option<&Bound<'_, PyTuple>>,
    ) -> PyResult<Self> {
        let call = parse_call(py, func, args)?;
        let state =
            influxql::GroupTransforms::new(call, field, as_name).map_err(|e| to_pyerr(py, e))?;
        Ok(PyStateTransforms {
            state: Mutex::new(state),
        })
    }

    /// `(points, rows, skipped, failed, error)`: the output points and the input row of each
    /// (u32 bytes), the points skipped as errors, and the points of groups that failed with
    /// the last such error.
    #[allow(clippy::type_complexity)]
    fn feed<'py>(
        &self,
        py: Python<'py>,
        batch: &PyPointBatch,
        groups: &Bound<'py, PyAny>,
    ) -> PyResult<(
        PyPointBatch,
        Bound<'py, PyBytes>,
        u64,
        usize,
        Option<String>,
    )> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = detached(py, || lock(&self.state).feed(&b, &g))?;
        Ok((
            PyPointBatch::new(out.batch),
            rows_bytes(py, &out.rows),
            out.skipped,
            out.failed,
            out.error.map(|e| e.to_string()),
        ))
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.state).reset(group);
    }

    /// Every group's running state as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        crate::py::stateops::snap_detached(py, || lock(&self.state).snapshot())
    }

    /// Replaces every group's state with a checkpoint's (ValueError: not a snapshot of this
    /// function's state).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        crate::py::stateops::restore_detached(py, || lock(&self.state).restore(data))
    }

    fn __len__(&self) -> usize {
        lock(&self.state).len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStateTransforms>()?;
    m.add_function(wrap_pyfunction!(influxql_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(influxql_transform, m)?)?;
    m.add_function(wrap_pyfunction!(influxql_shape, m)?)?;
    m.add_class::<PyInfluxQLTransform>()
}
