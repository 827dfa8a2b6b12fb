//! Python binding of the alert node's state machine (`crate::alertstate`): every group's alert
//! state of one node, and the per-point decision over a whole chunk with the GIL released.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::batch::PyPointBatch;
use super::stateops::{group_ints, lock};
use crate::alertstate::{AlertStates, GroupState, LevelMasks, Rules};

/// One group's state: (history, idx, flapping, changed, expired, first_triggered, last_triggered).
type StateTuple = (Vec<u8>, usize, bool, bool, bool, Option<i64>, Option<i64>);

fn level_arg(level: u8) -> PyResult<u8> {
    if level > 3 {
        return Err(PyValueError::new_err(format!(
            "alert level {level} out of range 0..3"
        )));
    }
    Ok(level)
}

/// Every group's alert state of one alert node, by group code.
#[pyclass(name = "AlertStates", module = "kapfast._native", frozen)]
pub struct PyAlertStates {
    inner: Mutex<AlertStates>,
}

#[pymethods]
impl PyAlertStates {
    #[new]
    #[pyo3(signature = (ring = 2, flapping = None, state_changes_only = false, max_interval_ns = 0, no_recoveries = false))]
    fn new(
        ring: usize,
        flapping: Option<(f64, f64)>,
        state_changes_only: bool,
        max_interval_ns: i64,
        no_recoveries: bool,
    ) -> Self {
        PyAlertStates {
            inner: Mutex::new(AlertStates::new(Rules {
                ring,
                flapping,
                state_changes_only,
                max_interval_ns,
                no_recoveries,
            })),
        }
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }

    /// The history ring's length.
    #[getter]
    fn ring(&self) -> usize {
        lock(&self.inner).rules.ring
    }

    /// The points of a stream chunk that make an event: `(rows, levels, durations)` as
    /// little-endian `u32`, `u8` and `i64` bytes. Row `i` is of state code `remap[codes[i]]`
    /// (`2**32 - 1`: a group no row may use); `matches`/`holds` are the level masks by level
    /// (index 0, OK, is unused), one byte a row, or None.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        batch: &PyPointBatch,
        codes: &Bound<'py, PyAny>,
        remap: Vec<u32>,
        matches: [Option<Vec<u8>>; 4],
        holds: [Option<Vec<u8>>; 4],
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )> {
        let b = batch.batch.clone();
        let codes = group_ints(py, codes, &b)?;
        let fired = py.allow_threads(|| {
            let masks = LevelMasks {
                matches: [0, 1, 2, 3].map(|l| matches[l].as_deref()),
                holds: [0, 1, 2, 3].map(|l| holds[l].as_deref()),
            };
            lock(&self.inner).decide(&masks, &codes, &remap, &b.time)
        });
        let fired = fired.map_err(PyValueError::new_err)?;
        let mut rows = Vec::with_capacity(fired.len() * 4);
        let mut levels = Vec::with_capacity(fired.len());
        let mut durations = Vec::with_capacity(fired.len() * 8);
        for f in &fired {
            rows.extend_from_slice(&f.row.to_le_bytes());
            levels.push(f.level);
            durations.extend_from_slice(&f.duration.to_le_bytes());
        }
        Ok((
            PyBytes::new(py, &rows),
            PyBytes::new(py, &levels),
            PyBytes::new(py, &durations),
        ))
    }

    /// Whether every listed state code is at OK.
    fn all_ok(&self, codes: Vec<u32>) -> bool {
        lock(&self.inner).all_ok(&codes)
    }

    fn level(&self, code: u32) -> u8 {
        lock(&self.inner).level(code)
    }

    fn previous_level(&self, code: u32) -> u8 {
        lock(&self.inner).previous_level(code)
    }

    fn add_event(&self, code: u32, level: u8) -> PyResult<()> {
        lock(&self.inner).add_event(code, level_arg(level)?);
        Ok(())
    }

    fn percent_change(&self, code: u32) -> f64 {
        lock(&self.inner).percent_change(code)
    }

    fn update(&self, code: u32, t_ns: i64, level: u8) -> PyResult<()> {
        lock(&self.inner).update(code, t_ns, level_arg(level)?);
        Ok(())
    }

    #[pyo3(signature = (code, level, batch = false))]
    fn should_trigger(&self, code: u32, level: u8, batch: bool) -> bool {
        lock(&self.inner).should_trigger(code, level, batch)
    }

    fn triggered(&self, code: u32, t_ns: i64) {
        lock(&self.inner).triggered(code, t_ns);
    }

    fn duration(&self, code: u32) -> i64 {
        lock(&self.inner).duration(code)
    }

    fn restore(&self, code: u32, level: u8, time_ns: i64, duration_ns: i64) -> PyResult<()> {
        lock(&self.inner).restore(code, level_arg(level)?, time_ns, duration_ns);
        Ok(())
    }

    /// Back to a fresh state (a deleted group).
    fn reset(&self, code: u32) {
        lock(&self.inner).reset(code);
    }

    fn get(&self, code: u32) -> StateTuple {
        let s = lock(&self.inner).get(code);
        (
            s.history,
            s.idx,
            s.flapping,
            s.changed,
            s.expired,
            s.first_triggered,
            s.last_triggered,
        )
    }

    /// Sets one group's whole state (ValueError: a history of another length).
    #[allow(clippy::too_many_arguments)]
    fn set(
        &self,
        code: u32,
        history: Vec<u8>,
        idx: usize,
        flapping: bool,
        changed: bool,
        expired: bool,
        first_triggered: Option<i64>,
        last_triggered: Option<i64>,
    ) -> PyResult<()> {
        let s = GroupState {
            history,
            idx,
            flapping,
            changed,
            expired,
            first_triggered,
            last_triggered,
        };
        lock(&self.inner)
            .set(code, &s)
            .map_err(PyValueError::new_err)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAlertStates>()
}
