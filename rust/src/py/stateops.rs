//! Python bindings of the stateful nodes' kernels (`crate::stateops`): one object per node
//! holding every group's state, fed a whole chunk at a time with the GIL released.
//!
//! Groups are ints the engine keeps stable per node (a `uint32` buffer, one per row); row lists
//! come back as little-endian `u32` bytes (`numpy.frombuffer(b, "<u4")`).

use std::sync::{Mutex, MutexGuard};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple, PyType};

use crate::batch::BatchBuilder;
use crate::batch::PointBatch;
use crate::batch::Value;
use crate::influxql::{Arg, Call, Shape};
use crate::py::batch::PyPointBatch;
use crate::stateops::change::{ChangeDetect, ChangeState};
use crate::stateops::combine::Combine;
use crate::stateops::derivative::{Derivative, DerivativeState};
use crate::stateops::flatten::Flatten;
use crate::stateops::join::{join_batches, ChunkGroup, Fill, Join, JoinSpec, Joined};
use crate::stateops::output::u32_rows;
use crate::stateops::reduce_many::{reduce_windows, Window};
use crate::stateops::state_run::{RunKind, RunState, StateRun};
use crate::stateops::timesets::{batch_sets, SetRule, TimeSets};
use crate::stateops::windows::{WindowSpec, Windows};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic mid-update loses at most that chunk's state change; take the lock over
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn rows_bytes<'py>(py: Python<'py>, rows: &[usize]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(rows.len() * 4);
    for r in u32_rows(rows) {
        out.extend_from_slice(&r.to_le_bytes());
    }
    PyBytes::new(py, &out)
}

/// One group int per row of `b`, from a uint32 buffer or a sequence of ints.
fn group_ints(py: Python<'_>, obj: &Bound<'_, PyAny>, b: &PointBatch) -> PyResult<Vec<u32>> {
    let v = match PyBuffer::<u32>::get(obj) {
        Ok(buf) => buf.to_vec(py)?,
        Err(_) => obj.extract::<Vec<u32>>().map_err(|_| {
            PyTypeError::new_err("groups must be a uint32 buffer or a sequence of ints in 0..2**32")
        })?,
    };
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

fn task_error(py: Python<'_>, msg: String) -> PyErr {
    let cls = py
        .import("kapfast.errors")
        .and_then(|m| m.getattr("TaskError"))
        .and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

/// The `derivative` node's kernel and every group's previous point.
#[pyclass(name = "StateDerivative", module = "kapfast._native", frozen)]
pub struct PyDerivative {
    node: Derivative,
    state: Mutex<DerivativeState>,
}

#[pymethods]
impl PyDerivative {
    #[new]
    #[pyo3(signature = (field, as_, unit = 1_000_000_000, non_negative = false))]
    fn new(field: String, as_: String, unit: i64, non_negative: bool) -> PyResult<Self> {
        if unit <= 0 {
            return Err(PyValueError::new_err("derivative: unit must be positive"));
        }
        Ok(PyDerivative {
            node: Derivative {
                field,
                as_,
                unit,
                non_negative,
            },
            state: Mutex::new(DerivativeState::new()),
        })
    }

    /// `(points, rows, missing)`: the output points, the input row of each, and how many points
    /// had no numeric value of the field.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        batch: &PyPointBatch,
        groups: &Bound<'py, PyAny>,
    ) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>, usize)> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = py.allow_threads(|| self.node.feed(&b, &g, &mut lock(&self.state)));
        Ok((
            PyPointBatch::new(out.batch),
            rows_bytes(py, &out.rows),
            out.missing,
        ))
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        let mut st = lock(&self.state);
        match group {
            Some(g) => {
                st.remove(&g);
            }
            None => st.clear(),
        }
    }

    fn __len__(&self) -> usize {
        lock(&self.state).len()
    }
}

/// The `changeDetect` node's kernel and every group's previous values.
#[pyclass(name = "StateChangeDetect", module = "kapfast._native", frozen)]
pub struct PyChangeDetect {
    node: ChangeDetect,
    state: Mutex<ChangeState>,
}

#[pymethods]
impl PyChangeDetect {
    #[new]
    fn new(fields: Vec<String>) -> Self {
        PyChangeDetect {
            node: ChangeDetect { fields },
            state: Mutex::new(ChangeState::new()),
        }
    }

    /// `(points, rows, missing, first missing field)`.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        batch: &PyPointBatch,
        groups: &Bound<'py, PyAny>,
    ) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>, usize, Option<String>)> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = py.allow_threads(|| self.node.feed(&b, &g, &mut lock(&self.state)));
        Ok((
            PyPointBatch::new(out.batch),
            rows_bytes(py, &out.rows),
            out.missing,
            out.first_missing,
        ))
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        let mut st = lock(&self.state);
        match group {
            Some(g) => {
                st.remove(&g);
            }
            None => st.clear(),
        }
    }

    fn __len__(&self) -> usize {
        lock(&self.state).len()
    }
}

/// `stateDuration` (`kind="duration"`, float in `unit`s) / `stateCount` (`kind="count"`, int).
#[pyclass(name = "StateRun", module = "kapfast._native", frozen)]
pub struct PyStateRun {
    node: StateRun,
    state: Mutex<RunState>,
}

#[pymethods]
impl PyStateRun {
    #[new]
    #[pyo3(signature = (kind, as_, unit = 1_000_000_000))]
    fn new(kind: &str, as_: String, unit: i64) -> PyResult<Self> {
        let kind = match kind {
            "duration" if unit > 0 => RunKind::Duration { unit },
            "duration" => {
                return Err(PyValueError::new_err(
                    "stateDuration: unit must be positive",
                ))
            }
            "count" => RunKind::Count,
            k => {
                return Err(PyValueError::new_err(format!(
                    "kind must be 'duration' or 'count', not {k:?}"
                )))
            }
        };
        Ok(PyStateRun {
            node: StateRun { kind, as_ },
            state: Mutex::new(RunState::new()),
        })
    }

    /// `(points, rows)`: every row where `valid`, with the run's duration or count.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        batch: &PyPointBatch,
        groups: &Bound<'py, PyAny>,
        tests: &Bound<'py, PyAny>,
        valid: &Bound<'py, PyAny>,
    ) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>)> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let t = bools(py, tests, b.len(), "tests")?;
        let v = bools(py, valid, b.len(), "valid")?;
        let (rows, out) =
            py.allow_threads(|| self.node.feed(&b, &g, &t, &v, &mut lock(&self.state)));
        Ok((PyPointBatch::new(out), rows_bytes(py, &rows)))
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        let mut st = lock(&self.state);
        match group {
            Some(g) => {
                st.remove(&g);
            }
            None => st.clear(),
        }
    }

    fn __len__(&self) -> usize {
        lock(&self.state).len()
    }
}

/// Every group's window (`window` node): by time with `period`/`every` ns, or by count with
/// `period_count`/`every_count` points when `period_count > 0`.
#[pyclass(name = "StateWindows", module = "kapfast._native", frozen)]
pub struct PyWindows {
    inner: Mutex<Windows>,
}

type EmittedTuple = (u32, String, i64, PyPointBatch, usize);

#[pymethods]
impl PyWindows {
    #[new]
    #[pyo3(signature = (period = 0, every = 0, align = false, fill = false, period_count = 0, every_count = 0))]
    fn new(
        period: i64,
        every: i64,
        align: bool,
        fill: bool,
        period_count: usize,
        every_count: usize,
    ) -> PyResult<Self> {
        let spec = if period_count > 0 {
            WindowSpec::Count {
                period: period_count,
                every: if every_count > 0 {
                    every_count
                } else {
                    period_count
                },
                fill,
            }
        } else {
            if period < 0 || every < 0 {
                return Err(PyValueError::new_err(
                    "window: period and every must not be negative",
                ));
            }
            WindowSpec::Time {
                period,
                every,
                align,
                fill,
            }
        };
        Ok(PyWindows {
            inner: Mutex::new(Windows::new(spec)),
        })
    }

    /// The windows the chunk closed, in the order of the points that closed them:
    /// `(group, measurement, tmax, points, closing row)`.
    fn feed(
        &self,
        py: Python<'_>,
        batch: &PyPointBatch,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<EmittedTuple>> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = py.allow_threads(|| lock(&self.inner).feed(&b, &g));
        Ok(out
            .into_iter()
            .map(|e| (e.group, e.name, e.tmax, PyPointBatch::new(e.points), e.row))
            .collect())
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
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
                    format!("{func}: arguments must be int, float, str or bool"),
                ))
            }
        })
        .collect()
}

/// `(points, window of each point, [(window, error)])`
type ReducedOut<'py> = (PyPointBatch, Bound<'py, PyBytes>, Vec<(usize, String)>);

type WindowIn<'py> = (String, Vec<(String, String)>, i64, Bound<'py, PyPointBatch>);

/// `(points, window of each point, [(window, error)])`: the aggregate or selector `func` of
/// `field` over each window `(measurement, group tags, tmax, points)`, one output point per
/// window (a selector's at its point's time with `point_times`).
#[pyfunction(name = "reduce_windows")]
#[pyo3(signature = (func, field, as_, windows, args = None, point_times = false))]
fn reduce_windows_py<'py>(
    py: Python<'py>,
    func: &str,
    field: &str,
    as_: &str,
    windows: Vec<WindowIn<'py>>,
    args: Option<&Bound<'py, PyTuple>>,
    point_times: bool,
) -> PyResult<ReducedOut<'py>> {
    let args = match args {
        Some(a) => parse_args(py, func, a)?,
        None => Vec::new(),
    };
    let call = Call::parse(func, &args).map_err(|e| task_error(py, e.to_string()))?;
    if !matches!(call.func.shape(), Shape::Aggregate | Shape::Selector) {
        return Err(task_error(
            py,
            format!("{func}: reduce_windows takes aggregates and selectors only"),
        ));
    }
    let windows: Vec<_> = windows
        .into_iter()
        .map(|(name, tags, tmax, p)| (name, tags, tmax, p.get().batch.clone()))
        .collect();
    let out = py.allow_threads(|| {
        let ws: Vec<Window<'_>> = windows
            .iter()
            .map(|(name, tags, tmax, p)| Window {
                name,
                tags,
                tmax: *tmax,
                points: p,
            })
            .collect();
        reduce_windows(&call, field, as_, point_times, &ws)
    });
    Ok((
        PyPointBatch::new(out.batch),
        rows_bytes(py, &out.windows),
        out.errors,
    ))
}

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
        let out = py.allow_threads(|| lock(&self.inner).feed(src, &b, &codes, &groups));
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

    fn finish<'py>(&self, py: Python<'py>) -> (PyPointBatch, Bound<'py, PyBytes>) {
        let out = py.allow_threads(|| lock(&self.inner).finish());
        joined(py, out)
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
    let out = py.allow_threads(|| {
        let refs: Vec<Option<&PointBatch>> = arcs.iter().map(|b| b.as_deref()).collect();
        join_batches(&spec, &refs, &name, &tags)
    });
    Ok(PyPointBatch::new(out))
}

/// Points of one group and rounded time, collected per group (`combine`, `flatten`).
#[pyclass(name = "StateTimeSets", module = "kapfast._native", frozen)]
pub struct PyTimeSets {
    inner: Mutex<TimeSets>,
}

type SetTuple = (u32, i64, String, PyPointBatch, usize);

#[pymethods]
impl PyTimeSets {
    #[new]
    #[pyo3(signature = (tolerance = 0, any_change = true, round_times = false))]
    fn new(tolerance: i64, any_change: bool, round_times: bool) -> Self {
        PyTimeSets {
            inner: Mutex::new(TimeSets::new(SetRule {
                tolerance,
                any_change,
                round_times,
            })),
        }
    }

    /// The sets the chunk closed: `(group, time, measurement, points, closing row)`.
    fn feed(
        &self,
        py: Python<'_>,
        batch: &PyPointBatch,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<SetTuple>> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = py.allow_threads(|| lock(&self.inner).feed(&b, &g));
        Ok(out
            .into_iter()
            .map(|s| (s.group, s.time, s.name, PyPointBatch::new(s.points), s.row))
            .collect())
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }
}

/// The sets of one batch, the last one included: `(time, measurement, points)`.
#[pyfunction]
#[pyo3(signature = (batch, tolerance = 0, any_change = true, round_times = false))]
fn time_sets(
    py: Python<'_>,
    batch: &PyPointBatch,
    tolerance: i64,
    any_change: bool,
    round_times: bool,
) -> Vec<(i64, String, PyPointBatch)> {
    let b = batch.batch.clone();
    let rule = SetRule {
        tolerance,
        any_change,
        round_times,
    };
    py.allow_threads(|| batch_sets(rule, &b))
        .into_iter()
        .map(|s| (s.time, s.name, PyPointBatch::new(s.points)))
        .collect()
}

type FlattenIn<'py> = (Bound<'py, PyPointBatch>, String, Vec<(String, String)>, i64);

/// `(points, points lacking an on tag)`: one flattened point per set `(points, measurement,
/// group tags, time)`.
#[pyfunction]
#[pyo3(signature = (sets, on, delimiter = ".".to_owned(), drop = false))]
fn flatten_points(
    py: Python<'_>,
    sets: Vec<FlattenIn<'_>>,
    on: Vec<String>,
    delimiter: String,
    drop: bool,
) -> (PyPointBatch, usize) {
    let sets: Vec<_> = sets
        .into_iter()
        .map(|(p, name, tags, time)| (p.get().batch.clone(), name, tags, time))
        .collect();
    let f = Flatten {
        on,
        delimiter,
        drop,
    };
    let (out, errors) = py.allow_threads(|| {
        let mut out = BatchBuilder::new();
        let errors: usize = sets
            .iter()
            .map(|(p, name, tags, time)| f.point(p, name, tags, *time, &mut out))
            .sum();
        (out.finish(), errors)
    });
    (PyPointBatch::new(out), errors)
}

/// The combinations of one set: `matches[s]` (uint8 buffer per point) says which points match
/// expression `s`.
#[pyfunction]
#[pyo3(signature = (set, matches, names, name, dims, delimiter = ".".to_owned(), tolerance = 0))]
#[allow(clippy::too_many_arguments)]
fn combine_points(
    py: Python<'_>,
    set: &PyPointBatch,
    matches: Vec<Bound<'_, PyAny>>,
    names: Vec<String>,
    name: String,
    dims: Vec<String>,
    delimiter: String,
    tolerance: i64,
) -> PyResult<PyPointBatch> {
    let b = set.batch.clone();
    if names.len() != matches.len() {
        return Err(PyValueError::new_err(format!(
            "{} names for {} expressions",
            names.len(),
            matches.len()
        )));
    }
    let matches: Vec<Vec<bool>> = matches
        .iter()
        .map(|m| bools(py, m, b.len(), "matches"))
        .collect::<PyResult<_>>()?;
    let c = Combine {
        names,
        delimiter,
        tolerance,
    };
    let out = py.allow_threads(|| {
        let mut out = BatchBuilder::new();
        c.points(&b, &matches, &name, &dims, &mut out);
        out.finish()
    });
    Ok(PyPointBatch::new(out))
}

/// Every point of `batch` renamed to the measurement `name` (`union().rename()`).
#[pyfunction]
fn batch_renamed(py: Python<'_>, batch: &PyPointBatch, name: String) -> PyResult<PyPointBatch> {
    let b = batch.batch.clone();
    py.allow_threads(|| crate::stateops::output::renamed(&b, &name))
        .map(PyPointBatch::new)
        .map_err(|e| PyValueError::new_err(format!("cannot rename to {name:?}: {e}")))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_renamed, m)?)?;
    m.add_class::<PyTimeSets>()?;
    m.add_function(wrap_pyfunction!(time_sets, m)?)?;
    m.add_function(wrap_pyfunction!(flatten_points, m)?)?;
    m.add_function(wrap_pyfunction!(combine_points, m)?)?;
    m.add_class::<PyJoin>()?;
    m.add_function(wrap_pyfunction!(join_batches_py, m)?)?;
    m.add_class::<PyDerivative>()?;
    m.add_class::<PyChangeDetect>()?;
    m.add_class::<PyStateRun>()?;
    m.add_class::<PyWindows>()?;
    m.add_function(wrap_pyfunction!(reduce_windows_py, m)?)
}
