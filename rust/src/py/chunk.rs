//! `StreamChunk` and `Codes`: a chunk of stream points as one Rust object that owns its group
//! table (#13). Row `i` of `batch` is of `groups[codes[i]]`; the codes are a Rust-owned `u32`
//! buffer made by the Rust operation that grouped the rows (`GroupIndex.chunk`, `regroup`,
//! `filter`, `take`) and read in place by the Rust operations that consume them (window and
//! aggregate kernels, `GroupTable.see`, `GroupIntTable.codes`, the UDF encoder): they never
//! round-trip through numpy. A node that needs numpy reads them through a zero-copy read-only
//! buffer (`numpy.asarray(chunk.codes)`).
//!
//! The constructor checks what every consumer relies on: one code per row, each naming one of
//! the chunk's groups.

use std::os::raw::c_int;
use std::sync::Arc;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::batch::{PointBatch, Selection};
use crate::py::batch::{mask_arg, PyPointBatch};
use crate::py::buffer::{fill_read_only, ReadOnly};
use crate::py::errors::detached;
use crate::py::groups::PyGroup;

/// Per-row codes shared (never copied) between chunks and their `Codes` views.
pub type CodeVec = Arc<Vec<u32>>;

/// A read-only, zero-copy view of a chunk's per-row codes (or a node's per-row group ints):
/// `numpy.asarray(codes)` is a `uint32` array over the Rust buffer, which it keeps alive.
#[pyclass(name = "Codes", module = "kapfast._native", frozen, sequence)]
pub struct PyCodes {
    codes: CodeVec,
    /// the buffer protocol's shape and strides point here (they live as long as the view)
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

impl PyCodes {
    pub fn new(codes: CodeVec) -> Self {
        let n = codes.len() as ffi::Py_ssize_t;
        PyCodes {
            codes,
            shape: [n],
            strides: [4],
        }
    }

    pub fn codes(&self) -> &CodeVec {
        &self.codes
    }
}

#[pymethods]
impl PyCodes {
    fn __len__(&self) -> usize {
        self.codes.len()
    }

    fn __getitem__(&self, i: isize) -> PyResult<u32> {
        let n = self.codes.len() as isize;
        let j = if i < 0 { i + n } else { i };
        if j < 0 || j >= n {
            return Err(PyIndexError::new_err(format!(
                "row {i} out of range of {n}"
            )));
        }
        Ok(self.codes[j as usize])
    }

    /// The codes as a list of ints (a copy).
    fn tolist(&self) -> Vec<u32> {
        self.codes.to_vec()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match codes_arg(other) {
            Ok(o) => o[..] == self.codes[..],
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        let shown: Vec<String> = self.codes.iter().take(10).map(u32::to_string).collect();
        let more = if self.codes.len() > 10 { ", ..." } else { "" };
        format!("Codes([{}{more}])", shown.join(", "))
    }

    /// # Safety
    /// Called by CPython with a valid `view` to fill; the view holds a reference to `slf`,
    /// which holds the codes (immutable), so the memory outlives the view.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let mem = ReadOnly {
            ptr: this.codes.as_ptr() as *const u8,
            items: this.codes.len(),
            itemsize: 4,
            format: c"I",
            shape: this.shape.as_ptr(),
            strides: this.strides.as_ptr(),
        };
        // SAFETY: the view references `slf`, which holds the (immutable) codes.
        unsafe { fill_read_only(slf.clone().into_any(), view, flags, mem, "a chunk's codes") }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// Per-row codes from a `Codes` or a chunk (shared, no copy), little-endian u32 `bytes`, a
/// `uint32` buffer, or a sequence of ints (copied once): the one place codes enter Rust.
pub(crate) fn codes_arg(obj: &Bound<'_, PyAny>) -> PyResult<CodeVec> {
    if let Ok(c) = obj.downcast::<PyCodes>() {
        return Ok(c.get().codes.clone());
    }
    if let Ok(c) = obj.downcast::<PyStreamChunk>() {
        return Ok(c.get().codes.clone());
    }
    if let Ok(b) = obj.downcast::<PyBytes>() {
        let raw = b.as_bytes();
        if raw.len() % 4 != 0 {
            return Err(PyValueError::new_err(
                "codes as bytes must be little-endian u32 (4 bytes per row)",
            ));
        }
        let v = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok(Arc::new(v));
    }
    let v = match PyBuffer::<u32>::get(obj) {
        Ok(buf) => buf.to_vec(obj.py())?,
        Err(_) => obj.extract::<Vec<u32>>().map_err(|_| {
            PyTypeError::new_err("codes must be Codes, a uint32 buffer or a sequence of ints")
        })?,
    };
    Ok(Arc::new(v))
}

/// Stream points in arrival order; row `i` of `batch` is of `groups[codes[i]]`, `db`/`rp` where
/// they were written. Immutable: the edits a node makes return a new chunk sharing what they
/// leave alone.
#[pyclass(name = "StreamChunk", module = "kapfast._native", frozen)]
pub struct PyStreamChunk {
    batch: Py<PyPointBatch>,
    codes: CodeVec,
    groups: Py<PyTuple>,
    db: Py<PyString>,
    rp: Py<PyString>,
}

fn check(n_rows: usize, codes: &[u32], n_groups: usize) -> PyResult<()> {
    if codes.len() != n_rows {
        return Err(PyValueError::new_err(format!(
            "{} group codes for a batch of {n_rows} rows",
            codes.len()
        )));
    }
    if let Some(&bad) = codes.iter().find(|&&c| c as usize >= n_groups) {
        return Err(PyValueError::new_err(format!(
            "group code {bad} out of range of {n_groups} groups"
        )));
    }
    Ok(())
}

impl PyStreamChunk {
    /// A chunk made in Rust (codes already checked against `groups`).
    pub fn make(
        py: Python<'_>,
        batch: Py<PyPointBatch>,
        codes: CodeVec,
        groups: Py<PyTuple>,
        db: Py<PyString>,
        rp: Py<PyString>,
    ) -> PyResult<Self> {
        check(batch.get().batch.len(), &codes, groups.bind(py).len())?;
        Ok(PyStreamChunk {
            batch,
            codes,
            groups,
            db,
            rp,
        })
    }

    pub fn codes(&self) -> &CodeVec {
        &self.codes
    }

    pub fn groups<'py>(&self, py: Python<'py>) -> &Bound<'py, PyTuple> {
        self.groups.bind(py)
    }

    pub fn points(&self) -> &Py<PyPointBatch> {
        &self.batch
    }

    pub fn db_rp(&self, py: Python<'_>) -> PyResult<(String, String)> {
        Ok((
            self.db.bind(py).to_str()?.to_owned(),
            self.rp.bind(py).to_str()?.to_owned(),
        ))
    }

    /// A chunk of `batch` with these rows' codes and the same groups, db and rp.
    /// The points (shared, not copied).
    pub(crate) fn point_batch(&self) -> &Arc<PointBatch> {
        &self.batch.get().batch
    }

    /// The rows `sel` keeps, with their codes; the groups list unchanged.
    pub(crate) fn selected(&self, py: Python<'_>, sel: &Selection) -> PyResult<Self> {
        let b = self.point_batch().clone();
        let codes = self.codes.clone();
        let (batch, kept) = detached(py, move || (b.select(sel), sel.compact(&codes)))?;
        self.derive(py, PyPointBatch::new(batch), kept)
    }

    fn derive(&self, py: Python<'_>, batch: PyPointBatch, codes: Vec<u32>) -> PyResult<Self> {
        Ok(PyStreamChunk {
            batch: Py::new(py, batch)?,
            codes: Arc::new(codes),
            groups: self.groups.clone_ref(py),
            db: self.db.clone_ref(py),
            rp: self.rp.clone_ref(py),
        })
    }
}

/// The groups of a chunk as a tuple of `Group`s (checked: any other object is refused).
fn group_tuple<'py>(groups: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let t = match groups.downcast::<PyTuple>() {
        Ok(t) => t.clone(),
        Err(_) => match groups.downcast::<PyList>() {
            Ok(l) => l.to_tuple(),
            Err(_) => PyTuple::new(
                groups.py(),
                groups.try_iter()?.collect::<PyResult<Vec<_>>>()?,
            )?,
        },
    };
    for g in t.iter() {
        if !g.is_instance_of::<PyGroup>() {
            return Err(PyTypeError::new_err(format!(
                "a chunk's groups must be Group objects, not {}",
                g.get_type().name()?
            )));
        }
    }
    Ok(t)
}

#[pymethods]
impl PyStreamChunk {
    /// The one constructor: `codes` a `Codes`, a uint32 buffer or ints (one per row, each an
    /// index into `groups`).
    #[new]
    #[pyo3(signature = (batch, codes, groups, db = None, rp = None))]
    fn new(
        py: Python<'_>,
        batch: Bound<'_, PyPointBatch>,
        codes: &Bound<'_, PyAny>,
        groups: &Bound<'_, PyAny>,
        db: Option<Bound<'_, PyString>>,
        rp: Option<Bound<'_, PyString>>,
    ) -> PyResult<Self> {
        let empty = || PyString::intern(py, "");
        PyStreamChunk::make(
            py,
            batch.unbind(),
            codes_arg(codes)?,
            group_tuple(groups)?.unbind(),
            db.unwrap_or_else(empty).unbind(),
            rp.unwrap_or_else(empty).unbind(),
        )
    }

    /// Every row of `batch` in `group`.
    #[staticmethod]
    #[pyo3(signature = (batch, group, db = None, rp = None))]
    fn of_group(
        py: Python<'_>,
        batch: Bound<'_, PyPointBatch>,
        group: Bound<'_, PyGroup>,
        db: Option<Bound<'_, PyString>>,
        rp: Option<Bound<'_, PyString>>,
    ) -> PyResult<Self> {
        let empty = || PyString::intern(py, "");
        let n = batch.get().batch.len();
        Ok(PyStreamChunk {
            batch: batch.unbind(),
            codes: Arc::new(vec![0; n]),
            groups: PyTuple::new(py, [group])?.unbind(),
            db: db.unwrap_or_else(empty).unbind(),
            rp: rp.unwrap_or_else(empty).unbind(),
        })
    }

    #[getter]
    fn batch(&self, py: Python<'_>) -> Py<PyPointBatch> {
        self.batch.clone_ref(py)
    }

    /// Each row's index into `groups` (a zero-copy read-only uint32 buffer).
    #[getter(codes)]
    fn codes_view(&self) -> PyCodes {
        PyCodes::new(self.codes.clone())
    }

    #[getter(groups)]
    fn groups_tuple(&self, py: Python<'_>) -> Py<PyTuple> {
        self.groups.clone_ref(py)
    }

    #[getter]
    fn db(&self, py: Python<'_>) -> Py<PyString> {
        self.db.clone_ref(py)
    }

    #[getter]
    fn rp(&self, py: Python<'_>) -> Py<PyString> {
        self.rp.clone_ref(py)
    }

    fn __len__(&self) -> usize {
        self.codes.len()
    }

    /// The same rows (same groups) with their points replaced by `batch`, of the same length.
    fn with_batch(&self, py: Python<'_>, batch: Bound<'_, PyPointBatch>) -> PyResult<Self> {
        check(batch.get().batch.len(), &self.codes, usize::MAX)?;
        Ok(PyStreamChunk {
            batch: batch.unbind(),
            codes: self.codes.clone(),
            groups: self.groups.clone_ref(py),
            db: self.db.clone_ref(py),
            rp: self.rp.clone_ref(py),
        })
    }

    /// The rows where `mask` (bools or a 1-byte buffer) is true; the groups list unchanged.
    fn filter(&self, py: Python<'_>, mask: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mask = mask_arg(mask, self.codes.len(), "chunk")?;
        self.selected(py, &Selection::from_bools(&mask))
    }

    /// The rows at `rows` (ints, an int64 or a uint32 buffer), in that order; the groups list unchanged.
    /// `batch`: the points of those rows when the node has them already (its output).
    #[pyo3(signature = (rows, batch = None))]
    fn take(
        &self,
        py: Python<'_>,
        rows: &Bound<'_, PyAny>,
        batch: Option<Bound<'_, PyPointBatch>>,
    ) -> PyResult<Self> {
        let n = self.codes.len();
        let idx: Vec<usize> = match PyBuffer::<i64>::get(rows) {
            Ok(buf) => buf.to_vec(py)?,
            Err(_) => match PyBuffer::<u32>::get(rows) {
                Ok(buf) => buf.to_vec(py)?.into_iter().map(i64::from).collect(),
                Err(_) => rows.extract::<Vec<i64>>()?,
            },
        }
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + n as i64 } else { i };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < n)
                .ok_or_else(|| PyIndexError::new_err(format!("row {i} out of range of {n}")))
        })
        .collect::<PyResult<_>>()?;
        let taken: Vec<u32> = idx.iter().map(|&r| self.codes[r]).collect();
        if let Some(batch) = batch {
            check(batch.get().batch.len(), &taken, usize::MAX)?;
            return Ok(PyStreamChunk {
                batch: batch.unbind(),
                codes: Arc::new(taken),
                groups: self.groups.clone_ref(py),
                db: self.db.clone_ref(py),
                rp: self.rp.clone_ref(py),
            });
        }
        let b = self.batch.get().batch.clone();
        let batch = detached(py, move || b.take(&idx))?;
        self.derive(py, PyPointBatch::new(batch), taken)
    }

    /// The chunk of a node's output `batch` whose row `k` came from this chunk's row `rows[k]`
    /// (little-endian u32 bytes): each row keeps its group; the groups are those the output
    /// rows have, in the order they first appear.
    fn regroup(
        &self,
        py: Python<'_>,
        batch: Bound<'_, PyPointBatch>,
        rows: &[u8],
    ) -> PyResult<Self> {
        let n_out = batch.get().batch.len();
        if rows.len() != n_out * 4 {
            return Err(PyValueError::new_err(format!(
                "{} row bytes for a batch of {n_out} rows (4 bytes per row)",
                rows.len()
            )));
        }
        let groups = self.groups.bind(py);
        let mut remap = vec![u32::MAX; groups.len()];
        let mut order: Vec<usize> = Vec::new();
        let mut out = Vec::with_capacity(n_out);
        for r in rows.chunks_exact(4) {
            let row = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize;
            let c = *self
                .codes
                .get(row)
                .ok_or_else(|| PyIndexError::new_err(format!("row {row} out of range")))?
                as usize;
            let m = &mut remap[c];
            if *m == u32::MAX {
                *m = order.len() as u32;
                order.push(c);
            }
            out.push(*m);
        }
        // one group, or every group in its place: the same tuple (a single-group chunk keeps
        // its group even when no row is left)
        let same = groups.len() == 1
            || (order.len() == groups.len() && order.iter().enumerate().all(|(i, &c)| i == c));
        let out_groups = if same {
            self.groups.clone_ref(py)
        } else {
            PyTuple::new(
                py,
                order
                    .iter()
                    .map(|&c| groups.get_item(c))
                    .collect::<PyResult<Vec<_>>>()?,
            )?
            .unbind()
        };
        Ok(PyStreamChunk {
            batch: batch.unbind(),
            codes: Arc::new(out),
            groups: out_groups,
            db: self.db.clone_ref(py),
            rp: self.rp.clone_ref(py),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "StreamChunk({} rows, codes={}, groups={}, db={}, rp={})",
            self.codes.len(),
            PyCodes::new(self.codes.clone()).__repr__(),
            self.groups.bind(py).repr()?,
            self.db.bind(py).repr()?,
            self.rp.bind(py).repr()?,
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCodes>()?;
    m.add_class::<PyStreamChunk>()
}
