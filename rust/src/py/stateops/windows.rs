//! Windows of every group, and an aggregate or selector over many windows at once.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};

use super::{group_ints, lock, rows_bytes, task_error};
use crate::influxql::{Arg, Call, Shape};
use crate::py::batch::PyPointBatch;
use crate::stateops::reduce_many::{reduce_windows, Window};
use crate::stateops::windows::{WindowSpec, Windows};

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWindows>()?;
    m.add_function(wrap_pyfunction!(reduce_windows_py, m)?)
}
