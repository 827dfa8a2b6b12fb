//! `kapfast._native.PointBatch`: an immutable handle on a Rust-owned [`PointBatch`].

use std::sync::Arc;

use pyo3::prelude::*;

use crate::batch::PointBatch;

/// A columnar batch of points owned by Rust. Shared (never copied) between Python handles.
#[pyclass(name = "PointBatch", module = "kapfast._native", frozen)]
pub struct PyPointBatch {
    pub batch: Arc<PointBatch>,
}

impl PyPointBatch {
    pub fn new(batch: PointBatch) -> Self {
        PyPointBatch {
            batch: Arc::new(batch),
        }
    }
}

#[pymethods]
impl PyPointBatch {
    fn __len__(&self) -> usize {
        self.batch.len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPointBatch>()
}
