//! Windows of every group, and an aggregate or selector over many windows at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};

use super::{group_ints, lock, rows_bytes, snap_load, PyFrozenState};
use crate::batch::PointBatch;
use crate::groups::IntMap;
use crate::influxql::{Arg, Call, Shape};
use crate::py::batch::PyPointBatch;
use crate::py::errors::task_error;
use crate::py::groups::PyGroup;
use crate::stateops::reduce_many::{reduce_windows, Window};
use crate::stateops::windows::{WindowSpec, Windows};

type Tags = Arc<Vec<(String, String)>>;
/// Every group's tags as a checkpoint stores them.
type GroupTags = Vec<(u32, Vec<(String, String)>)>;

/// Every group's window (`window` node): by time with `period`/`every` ns, or by count with
/// `period_count`/`every_count` points when `period_count > 0`.
#[pyclass(name = "StateWindows", module = "kapfast._native", frozen)]
pub struct PyWindows {
    inner: Mutex<Windows>,
    /// each group's Group object (`set_group`), whose tags its closed windows carry
    /// (`feed_closed`): the group's identity has one owner, the object; a copy of its tags
    /// here cost about 300 bytes a group
    groups: Mutex<IntMap<Py<PyGroup>>>,
}

type EmittedTuple = (u32, String, i64, PyPointBatch, usize);

/// The checkpoint bytes of windows and their groups' tags (`StateWindows.snapshot`).
fn encode_windows(windows: &Windows, tags: GroupTags) -> Vec<u8> {
    crate::stateops::snapshot::encode(&(windows.snapshot(), tags))
}

impl PyWindows {
    /// Every group's tags as a checkpoint stores them (read with the GIL: Group objects).
    fn group_tags(&self, py: Python<'_>) -> PyResult<GroupTags> {
        let mut tags: GroupTags = Vec::new();
        for (g, obj) in lock(&self.groups).iter() {
            tags.push((g, obj.get().tag_pairs(py)?));
        }
        tags.sort();
        Ok(tags)
    }
}

impl Drop for PyWindows {
    /// Windows holding millions of points take a second to free: they are freed with the GIL
    /// released, so that stopping or deleting such a task does not stall every other thread
    /// (the event loop's) meanwhile (issue #19).
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let spec = inner.spec;
        let windows = std::mem::replace(inner, Windows::new(spec));
        // a panic while freeing is dropped with its InternalError: a drop cannot fail
        Python::with_gil(|py| detached(py, move || drop(windows)).unwrap_or(()));
    }
}

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
            groups: Mutex::new(IntMap::default()),
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
        let out = detached(py, || lock(&self.inner).feed(&b, &g))?;
        Ok(out
            .into_iter()
            .map(|e| (e.group, e.name, e.tmax, PyPointBatch::new(e.points), e.row))
            .collect())
    }

    /// The windows the chunk closed as one [`PyClosedWindows`], each with its group's tags
    /// (`set_group`): no Python object per window.
    fn feed_closed(
        &self,
        py: Python<'_>,
        batch: &PyPointBatch,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<PyClosedWindows> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        let out = detached(py, || lock(&self.inner).feed(&b, &g))?;
        let mut tags = HashMap::new();
        let mut windows = Vec::with_capacity(out.len());
        for e in out {
            windows.push(Closed {
                tags: self.tags_of(py, e.group, &mut tags)?,
                group: e.group,
                name: e.name,
                tmax: e.tmax,
                points: Arc::new(e.points),
                row: e.row,
            });
        }
        Ok(PyClosedWindows { windows })
    }

    /// The window a barrier of `group` at `time` closes (`(group, measurement, tmax, points, 0)`),
    /// or None (not due, unknown group, count windows).
    fn barrier(&self, group: u32, time: i64) -> Option<EmittedTuple> {
        lock(&self.inner)
            .barrier(group, time)
            .map(|e| (e.group, e.name, e.tmax, PyPointBatch::new(e.points), e.row))
    }

    /// The Group object of int `group`, whose tags its windows carry for
    /// `ClosedWindows.reduce`.
    fn set_group(&self, group: u32, obj: Py<PyGroup>) {
        lock(&self.groups).insert(group, obj);
    }

    /// Buffer only time, measurement and the fields `keep` (None: whole points): for a window
    /// whose only reader is an aggregate of those fields.
    #[pyo3(signature = (keep = None))]
    fn narrow(&self, keep: Option<Vec<String>>) {
        lock(&self.inner).narrow(keep);
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
        let mut groups = lock(&self.groups);
        match group {
            Some(g) => {
                groups.remove(g);
            }
            None => groups.clear(),
        }
    }

    /// Every group's buffered points, next boundary and tags as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let tags = self.group_tags(py)?;
        super::snap_detached(py, || encode_windows(&lock(&self.inner), tags))
    }

    /// The state `snapshot` encodes, taken now and encoded later (`FrozenState.encode`, on any
    /// thread): the windows' sealed parts are shared, only their open parts copied (issue #19).
    fn freeze(&self, py: Python<'_>) -> PyResult<PyFrozenState> {
        let tags = self.group_tags(py)?;
        let windows = detached(py, || lock(&self.inner).clone())?;
        Ok(PyFrozenState::new(move || encode_windows(&windows, tags)))
    }

    /// Replaces every group's window with a checkpoint's (ValueError: not a snapshot of a
    /// window like this one; the state is then unchanged). The groups' objects are the
    /// caller's to set again (`set_group`): the checkpoint's tags are theirs.
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let (windows, _tags): (Vec<u8>, GroupTags) = detached(py, || snap_load(data, "window"))??;
        detached(py, || lock(&self.inner).restore(&windows))?.map_err(PyValueError::new_err)?;
        lock(&self.groups).clear();
        Ok(())
    }

    /// Points buffered now (kapfast's ``buffered_points`` node statistic).
    fn held_points(&self) -> usize {
        lock(&self.inner).held_points()
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }
}

impl PyWindows {
    /// The tags of `group`'s Group object, made once per call (`made`); none for a group
    /// without one.
    fn tags_of(&self, py: Python<'_>, group: u32, made: &mut HashMap<u32, Tags>) -> PyResult<Tags> {
        if let Some(t) = made.get(&group) {
            return Ok(t.clone());
        }
        let obj = lock(&self.groups).get(group).map(|o| o.clone_ref(py));
        let t: Tags = match obj {
            Some(o) => Arc::new(o.get().tag_pairs(py)?),
            None => Arc::default(),
        };
        made.insert(group, t.clone());
        Ok(t)
    }
}

/// The windows one chunk closed (`StateWindows.feed_closed`), in the order of the points that
/// closed them; read as tuples only when a node needs the batches themselves.
#[pyclass(name = "ClosedWindows", module = "kapfast._native", frozen)]
pub struct PyClosedWindows {
    windows: Vec<Closed>,
}

struct Closed {
    group: u32,
    name: String,
    tmax: i64,
    points: Arc<PointBatch>,
    row: usize,
    tags: Tags,
}

/// `(points, group code of each point, group ints in first-seen order, [(window, error)])`
type ClosedReduced<'py> = (
    PyPointBatch,
    Bound<'py, PyBytes>,
    Vec<u32>,
    Vec<(usize, String)>,
);

#[pymethods]
impl PyClosedWindows {
    fn __len__(&self) -> usize {
        self.windows.len()
    }

    /// `(group, measurement, tmax, points, closing row)` of each window.
    fn to_list(&self) -> Vec<EmittedTuple> {
        self.windows
            .iter()
            .map(|e| {
                (
                    e.group,
                    e.name.clone(),
                    e.tmax,
                    PyPointBatch {
                        batch: e.points.clone(),
                    },
                    e.row,
                )
            })
            .collect()
    }

    /// The aggregate or selector `func` of `field` over every window, as `reduce_windows`; the
    /// output points' groups are given as codes into the list of group ints (first-seen order).
    #[pyo3(signature = (func, field, as_, args = None, point_times = false))]
    fn reduce<'py>(
        &self,
        py: Python<'py>,
        func: &str,
        field: &str,
        as_: &str,
        args: Option<&Bound<'py, PyTuple>>,
        point_times: bool,
    ) -> PyResult<ClosedReduced<'py>> {
        let call = reducer(py, func, args)?;
        let (out, codes, order) = detached(py, || {
            let ws: Vec<Window<'_>> = self
                .windows
                .iter()
                .map(|e| Window {
                    name: &e.name,
                    tags: &e.tags,
                    tmax: e.tmax,
                    points: &e.points,
                })
                .collect();
            let out = reduce_windows(&call, field, as_, point_times, &ws);
            let mut order: Vec<u32> = Vec::new();
            let mut code_of: HashMap<u32, u32> = HashMap::new();
            let codes: Vec<usize> = out
                .windows
                .iter()
                .map(|&k| {
                    let g = self.windows[k].group;
                    *code_of.entry(g).or_insert_with(|| {
                        order.push(g);
                        (order.len() - 1) as u32
                    }) as usize
                })
                .collect();
            (out, codes, order)
        })?;
        Ok((
            PyPointBatch::new(out.batch),
            rows_bytes(py, &codes),
            order,
            out.errors,
        ))
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

/// The call of an aggregate or selector `func` with `args`.
fn reducer(py: Python<'_>, func: &str, args: Option<&Bound<'_, PyTuple>>) -> PyResult<Call> {
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
    Ok(call)
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
    let call = reducer(py, func, args)?;
    let windows: Vec<_> = windows
        .into_iter()
        .map(|(name, tags, tmax, p)| (name, tags, tmax, p.get().batch.clone()))
        .collect();
    let out = detached(py, || {
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
    })?;
    Ok((
        PyPointBatch::new(out.batch),
        rows_bytes(py, &out.windows),
        out.errors,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWindows>()?;
    m.add_class::<PyClosedWindows>()?;
    m.add_function(wrap_pyfunction!(reduce_windows_py, m)?)
}
