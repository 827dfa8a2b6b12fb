//! Sets of points of one group and time, and what `flatten` and `combine` make of them.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py::errors::detached;

use super::{bools, group_ints, lock};
use crate::batch::BatchBuilder;
use crate::py::batch::PyPointBatch;
use crate::stateops::combine::Combine;
use crate::stateops::flatten::Flatten;
use crate::stateops::timesets::{batch_sets, SetRule, TimeSets};

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
        let out = detached(py, || lock(&self.inner).feed(&b, &g))?;
        Ok(out
            .into_iter()
            .map(|s| (s.group, s.time, s.name, PyPointBatch::new(s.points), s.row))
            .collect())
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
    }

    /// Every group's buffered state as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
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

/// The sets of one batch, the last one included: `(time, measurement, points)`.
#[pyfunction]
#[pyo3(signature = (batch, tolerance = 0, any_change = true, round_times = false))]
fn time_sets(
    py: Python<'_>,
    batch: &PyPointBatch,
    tolerance: i64,
    any_change: bool,
    round_times: bool,
) -> PyResult<Vec<(i64, String, PyPointBatch)>> {
    let b = batch.batch.clone();
    let rule = SetRule {
        tolerance,
        any_change,
        round_times,
    };
    Ok(detached(py, || batch_sets(rule, &b))?
        .into_iter()
        .map(|s| (s.time, s.name, PyPointBatch::new(s.points)))
        .collect())
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
) -> PyResult<(PyPointBatch, usize)> {
    let sets: Vec<_> = sets
        .into_iter()
        .map(|(p, name, tags, time)| (p.get().batch.clone(), name, tags, time))
        .collect();
    let f = Flatten {
        on,
        delimiter,
        drop,
    };
    let (out, errors) = detached(py, || {
        let mut out = BatchBuilder::new();
        let errors: usize = sets
            .iter()
            .map(|(p, name, tags, time)| f.point(p, name, tags, *time, &mut out))
            .sum();
        (out.finish(), errors)
    })?;
    Ok((PyPointBatch::new(out), errors))
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
    let out = detached(py, || {
        let mut out = BatchBuilder::new();
        c.points(&b, &matches, &name, &dims, &mut out);
        out.finish()
    })?;
    Ok(PyPointBatch::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTimeSets>()?;
    m.add_function(wrap_pyfunction!(time_sets, m)?)?;
    m.add_function(wrap_pyfunction!(flatten_points, m)?)?;
    m.add_function(wrap_pyfunction!(combine_points, m)?)
}
