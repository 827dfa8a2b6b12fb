//! Kernels that walk rows per group: derivative, changeDetect, stateDuration/Count, and
//! union's rename.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::PyBytes;

use super::{bools, group_ints, lock, rows_bytes, snap_load};
use crate::py::batch::PyPointBatch;
use crate::stateops::barrier::BarrierPeriods;
use crate::stateops::change::{ChangeDetect, ChangeState};
use crate::stateops::derivative::{Derivative, DerivativeState};
use crate::stateops::state_run::{RunKind, RunState, StateRun};

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
            state: Mutex::new(DerivativeState::default()),
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
        let out = detached(py, || self.node.feed(&b, &g, &mut lock(&self.state)))?;
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

    /// Every group's state as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::snap_detached(py, || {
            crate::stateops::snapshot::encode(&*lock(&self.state))
        })
    }

    /// Replaces every group's state with a checkpoint's (ValueError: not a derivative snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        *lock(&self.state) = detached(py, || snap_load(data, "derivative"))??;
        Ok(())
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
            state: Mutex::new(ChangeState::default()),
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
        let out = detached(py, || self.node.feed(&b, &g, &mut lock(&self.state)))?;
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

    /// Every group's state as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::snap_detached(py, || {
            crate::stateops::snapshot::encode(&*lock(&self.state))
        })
    }

    /// Replaces every group's state with a checkpoint's (ValueError: not a changeDetect snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        *lock(&self.state) = detached(py, || snap_load(data, "changeDetect"))??;
        Ok(())
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
            state: Mutex::new(RunState::default()),
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
        let (rows, out) = detached(py, || {
            self.node.feed(&b, &g, &t, &v, &mut lock(&self.state))
        })?;
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

    /// Every group's state as checkpoint bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::snap_detached(py, || {
            crate::stateops::snapshot::encode(&*lock(&self.state))
        })
    }

    /// Replaces every group's state with a checkpoint's (ValueError: not a state snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        *lock(&self.state) = detached(py, || snap_load(data, "state"))??;
        Ok(())
    }

    fn __len__(&self) -> usize {
        lock(&self.state).len()
    }
}

/// Every point of `batch` renamed to the measurement `name` (`union().rename()`).
#[pyfunction]
fn batch_renamed(py: Python<'_>, batch: &PyPointBatch, name: String) -> PyResult<PyPointBatch> {
    let b = batch.batch.clone();
    detached(py, || crate::stateops::output::renamed(&b, &name))?
        .map(PyPointBatch::new)
        .map_err(|e| PyValueError::new_err(format!("cannot rename to {name:?}: {e}")))
}

/// `barrier().period()`: every group's next period boundary.
#[pyclass(name = "StateBarrierPeriods", module = "kapfast._native", frozen)]
pub struct PyBarrierPeriods {
    inner: Mutex<BarrierPeriods>,
}

#[pymethods]
impl PyBarrierPeriods {
    #[new]
    fn new(period: i64) -> PyResult<Self> {
        if period <= 0 {
            return Err(PyValueError::new_err("barrier: period must be positive"));
        }
        Ok(PyBarrierPeriods {
            inner: Mutex::new(BarrierPeriods::new(period)),
        })
    }

    /// `(row, group, boundary)` for every row before which a barrier fires.
    fn feed(
        &self,
        py: Python<'_>,
        batch: &PyPointBatch,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<(usize, u32, i64)>> {
        let b = batch.batch.clone();
        let g = group_ints(py, groups, &b)?;
        detached(py, || lock(&self.inner).feed(&b.time, &g))
    }

    #[pyo3(signature = (group = None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
    }

    /// Every group's next period boundary (and the period, checked on restore) as checkpoint
    /// bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::snap_detached(py, || lock(&self.inner).snapshot())
    }

    /// Replaces the state with a checkpoint's (ValueError: not a barrier snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        super::restore_detached(py, || lock(&self.inner).restore(data))
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBarrierPeriods>()?;
    m.add_class::<PyDerivative>()?;
    m.add_class::<PyChangeDetect>()?;
    m.add_class::<PyStateRun>()?;
    m.add_function(wrap_pyfunction!(batch_renamed, m)?)
}
