//! `kapfast._native.PointBatch`: an immutable handle on a Rust-owned [`PointBatch`], and
//! `ColumnView`, a zero-copy buffer over one of its columns (numpy/memoryview read Rust memory).

use std::ffi::CStr;
use std::os::raw::c_int;
use std::sync::Arc;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple, PyType};

use crate::batch::{BatchBuilder, Column, ColumnData, FieldKind, PointBatch, Value, NO_TAG};
use crate::lineproto::{serialize, Precision};
use crate::py::buffer::{fill_read_only, ReadOnly};
use crate::py::errors::line_protocol_error;

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

    fn column(&self, name: &str) -> PyResult<(usize, &Column)> {
        self.batch
            .fields
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .ok_or_else(|| PyKeyError::new_err(format!("no field {name:?} in this batch")))
    }

    fn view(&self, source: ViewSource, name: String) -> PyColumnView {
        PyColumnView::new(self.batch.clone(), source, name)
    }
}

/// The precision argument of a Python call, or kapfast's LineProtocolError.
pub fn precision_arg(py: Python<'_>, precision: &str) -> PyResult<Precision> {
    Precision::parse(precision).ok_or_else(|| {
        line_protocol_error(
            py,
            format!("unknown precision {precision:?}: use one of ns, u (or us), ms, s, m, h"),
        )
    })
}

/// The Python strings of one dictionary column's entries, made on first use. A dictionary much
/// larger than the rows read (a few rows taken from a large batch keep its whole dictionary)
/// is not mirrored: its strings are made per use.
struct DictStrings<'a, 'py> {
    dict: &'a [String],
    made: Option<Vec<Option<Bound<'py, PyString>>>>,
}

impl<'a, 'py> DictStrings<'a, 'py> {
    fn new(dict: &'a [String], rows: usize) -> Self {
        let made = (dict.len() <= 2 * rows + 16).then(|| vec![None; dict.len()]);
        DictStrings { dict, made }
    }

    fn get(&mut self, py: Python<'py>, code: u32) -> Bound<'py, PyString> {
        let s = &self.dict[code as usize];
        match &mut self.made {
            Some(made) => made[code as usize]
                .get_or_insert_with(|| PyString::new(py, s))
                .clone(),
            None => PyString::new(py, s),
        }
    }
}

pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Float(x) => PyFloat::new(py, *x).into_any(),
        Value::Int(x) => x.into_pyobject(py)?.into_any(),
        Value::UInt(x) => x.into_pyobject(py)?.into_any(),
        Value::Bool(x) => PyBool::new(py, *x).to_owned().into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
    })
}

/// A Python field value, typed by `kind` when the caller gave one.
pub(crate) fn value_from_py(
    v: &Bound<'_, PyAny>,
    kind: Option<FieldKind>,
    name: &str,
) -> PyResult<Value> {
    let bad = |what: &str| {
        PyValueError::new_err(format!(
            "field {name:?}: {what} (value {})",
            v.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    };
    match kind {
        Some(FieldKind::Float) => Ok(Value::Float(v.extract::<f64>()?)),
        Some(FieldKind::Int) if !v.is_instance_of::<PyBool>() => v
            .extract::<i64>()
            .map(Value::Int)
            .map_err(|_| bad("not an integer in the int64 range")),
        Some(FieldKind::UInt) if !v.is_instance_of::<PyBool>() => v
            .extract::<u64>()
            .map(Value::UInt)
            .map_err(|_| bad("not an unsigned integer in the uint64 range")),
        Some(FieldKind::Bool) if v.is_instance_of::<PyBool>() => Ok(Value::Bool(v.extract()?)),
        Some(FieldKind::Str) if v.is_instance_of::<PyString>() => Ok(Value::Str(v.extract()?)),
        Some(FieldKind::Mixed) | None => infer_value(v).map_err(|_| {
            PyTypeError::new_err(format!(
                "field {name:?}: expected float, int, str or bool, got {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?,
        Some(k) => Err(bad(&format!("does not fit kind {:?}", k.name()))),
    }
}

fn infer_value(v: &Bound<'_, PyAny>) -> PyResult<PyResult<Value>> {
    if v.is_instance_of::<PyBool>() {
        return Ok(Ok(Value::Bool(v.extract()?)));
    }
    if let Ok(i) = v.extract::<i64>() {
        if !v.is_instance_of::<PyFloat>() {
            return Ok(Ok(Value::Int(i)));
        }
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Ok(Value::Float(v.extract()?)));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Ok(Value::Str(v.extract()?)));
    }
    if v.is_instance_of::<pyo3::types::PyInt>() {
        return Ok(Err(PyValueError::new_err(
            "integer outside the int64 range (pass kinds={field: 'unsigned'} for uint64 values)",
        )));
    }
    Err(PyTypeError::new_err("unsupported field value"))
}

fn kind_from_name(name: &str) -> PyResult<FieldKind> {
    Ok(match name {
        "float" => FieldKind::Float,
        "integer" => FieldKind::Int,
        "unsigned" => FieldKind::UInt,
        "boolean" => FieldKind::Bool,
        "string" => FieldKind::Str,
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown field kind {name:?}: use float, integer, unsigned, boolean or string"
            )))
        }
    })
}

/// One bool per row of `rows` rows of a `what`, from a buffer of 1-byte items (numpy bool/uint8,
/// bytes) or a sequence of bools.
pub(crate) fn mask_arg(obj: &Bound<'_, PyAny>, rows: usize, what: &str) -> PyResult<Vec<bool>> {
    let mask = match byte_buffer(obj) {
        Some(bytes) => bytes.into_iter().map(|b| b != 0).collect(),
        None => obj.extract::<Vec<bool>>()?,
    };
    if mask.len() != rows {
        return Err(PyValueError::new_err(format!(
            "mask has {} items for a {what} of {rows} rows",
            mask.len()
        )));
    }
    Ok(mask)
}

fn byte_buffer(obj: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return None;
    }
    // SAFETY: a zeroed Py_buffer is what PyObject_GetBuffer expects to fill; it is released
    // before returning, and only read in between.
    unsafe {
        let mut view: ffi::Py_buffer = std::mem::zeroed();
        let flags = ffi::PyBUF_FORMAT | ffi::PyBUF_C_CONTIGUOUS;
        if ffi::PyObject_GetBuffer(obj.as_ptr(), &mut view, flags) != 0 {
            ffi::PyErr_Clear();
            return None;
        }
        let fmt = if view.format.is_null() {
            b"B".as_slice()
        } else {
            CStr::from_ptr(view.format).to_bytes()
        };
        let ok = view.itemsize == 1 && view.ndim <= 1 && matches!(fmt, b"?" | b"B" | b"b" | b"c");
        let out = ok
            .then(|| std::slice::from_raw_parts(view.buf as *const u8, view.len as usize).to_vec());
        ffi::PyBuffer_Release(&mut view);
        out
    }
}

fn indices_arg(obj: &Bound<'_, PyAny>, len: usize) -> PyResult<Vec<usize>> {
    let raw: Vec<i64> = match PyBuffer::<i64>::get(obj) {
        Ok(buf) => buf.to_vec(obj.py())?,
        Err(_) => obj.extract::<Vec<i64>>()?,
    };
    raw.into_iter()
        .map(|i| {
            let j = if i < 0 { i + len as i64 } else { i };
            if j < 0 || j >= len as i64 {
                Err(PyIndexError::new_err(format!(
                    "index {i} out of range for a batch of {len} rows"
                )))
            } else {
                Ok(j as usize)
            }
        })
        .collect()
}

fn short_list(items: &[String]) -> String {
    let mut s = items.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 6 {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

#[pymethods]
impl PyPointBatch {
    fn __len__(&self) -> usize {
        self.batch.len()
    }

    /// Distinct series keys of the rows, in first-seen order.
    fn series(&self) -> Vec<&str> {
        self.batch.distinct_series()
    }

    /// Distinct measurements of the rows, in first-seen order.
    fn measurements(&self) -> Vec<&str> {
        self.batch.distinct_measurements()
    }

    /// Tag keys some row has, sorted.
    fn tag_keys(&self) -> Vec<String> {
        self.batch.tag_keys.clone()
    }

    /// Field names some row has, sorted.
    fn field_names(&self) -> Vec<String> {
        self.batch.fields.iter().map(|c| c.name.clone()).collect()
    }

    /// "float", "integer", "unsigned", "string", "boolean" or "mixed".
    fn field_kind(&self, name: &str) -> PyResult<&'static str> {
        Ok(self.column(name)?.1.data.kind().name())
    }

    /// Every field name (sorted) and its kind.
    fn field_kinds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for c in &self.batch.fields {
            out.set_item(&c.name, c.data.kind().name())?;
        }
        Ok(out)
    }

    /// Times (int64 nanoseconds) as a zero-copy buffer.
    fn time(&self) -> PyColumnView {
        self.view(ViewSource::Time, "time".into())
    }

    /// Values of a float/integer/unsigned/boolean field as a zero-copy buffer (rows without
    /// the field hold 0/false: see `field_valid`). String and mixed fields: `field_values`.
    fn field(&self, name: &str) -> PyResult<PyColumnView> {
        let (i, c) = self.column(name)?;
        match c.data.kind() {
            FieldKind::Str | FieldKind::Mixed => Err(PyTypeError::new_err(format!(
                "field {name:?} is {}: it has no buffer, use field_values()",
                c.data.kind().name()
            ))),
            _ => Ok(self.view(ViewSource::Field(i), name.to_owned())),
        }
    }

    /// Which rows have the field, as a zero-copy bool buffer.
    fn field_valid(&self, name: &str) -> PyResult<PyColumnView> {
        let (i, _) = self.column(name)?;
        Ok(self.view(ViewSource::Valid(i), name.to_owned()))
    }

    /// The field's values as a list, None where a row lacks it (any kind; not a hot path).
    fn field_values<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        let (_, c) = self.column(name)?;
        let items = (0..self.batch.len())
            .map(|i| match c.get(i) {
                Some(v) => value_to_py(py, &v),
                None => Ok(py.None().into_bound(py)),
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// `(codes, dictionary)`: codes is a zero-copy uint32 buffer, 4294967295 where a row has
    /// no such tag.
    fn tag(&self, key: &str) -> PyResult<(PyColumnView, Vec<String>)> {
        let i = self
            .batch
            .tag_keys
            .iter()
            .position(|k| k == key)
            .ok_or_else(|| PyKeyError::new_err(format!("no tag {key:?} in this batch")))?;
        Ok((
            self.view(ViewSource::TagCodes(i), key.to_owned()),
            (*self.batch.tags[i].dict).clone(),
        ))
    }

    /// The tag's value per row, None where a row has no such tag (not a hot path).
    fn tag_values(&self, key: &str) -> PyResult<Vec<Option<&str>>> {
        let col = self
            .batch
            .tag(key)
            .ok_or_else(|| PyKeyError::new_err(format!("no tag {key:?} in this batch")))?;
        Ok((0..self.batch.len()).map(|i| col.get(i)).collect())
    }

    /// Every row as `(measurement, tags, fields, time_ns)` (tests, debugging, and the rows an
    /// alert event is built from). A tag key, field name, measurement or tag value becomes one
    /// Python string per call, shared by the rows, not one per row (#13).
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let b = &*self.batch;
        let n = b.len();
        let mut names = DictStrings::new(&b.measurement.dict, n);
        let keys: Vec<Bound<'py, PyString>> =
            b.tag_keys.iter().map(|k| PyString::new(py, k)).collect();
        let mut values: Vec<DictStrings<'_, 'py>> = b
            .tags
            .iter()
            .map(|c| DictStrings::new(&c.dict, n))
            .collect();
        let field_names: Vec<Bound<'py, PyString>> = b
            .fields
            .iter()
            .map(|c| PyString::new(py, &c.name))
            .collect();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let tags = PyDict::new(py);
            for ((k, col), strings) in keys.iter().zip(&b.tags).zip(values.iter_mut()) {
                let c = col.codes[i];
                if c != NO_TAG {
                    tags.set_item(k, strings.get(py, c))?;
                }
            }
            let fields = PyDict::new(py);
            for (name, col) in field_names.iter().zip(&b.fields) {
                if let Some(v) = col.get(i) {
                    fields.set_item(name, value_to_py(py, &v)?)?;
                }
            }
            let m = match b.measurement.codes[i] {
                NO_TAG => PyString::new(py, ""),
                c => names.get(py, c),
            };
            out.push((m, tags, fields, b.time[i]).into_pyobject(py)?);
        }
        PyList::new(py, out)
    }

    /// A batch from rows shaped like `rows()`. Python ints are integer fields, floats float,
    /// bools boolean, strs string; `kinds` maps a field name to "float", "integer",
    /// "unsigned", "boolean" or "string" to choose (uint64 values need "unsigned").
    #[classmethod]
    #[pyo3(signature = (rows, kinds = None))]
    fn from_rows(
        _cls: &Bound<'_, PyType>,
        rows: &Bound<'_, PyAny>,
        kinds: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyPointBatch> {
        let mut kind_of = std::collections::HashMap::new();
        if let Some(kinds) = kinds {
            for (k, v) in kinds.iter() {
                kind_of.insert(
                    k.extract::<String>()?,
                    kind_from_name(&v.extract::<String>()?)?,
                );
            }
        }
        let mut b = BatchBuilder::new();
        for (n, row) in rows.try_iter()?.enumerate() {
            let row = row?;
            let (m, tags, fields, t): (String, Bound<'_, PyAny>, Bound<'_, PyAny>, i64) =
                row.extract().map_err(|e| {
                    PyTypeError::new_err(format!(
                        "row {n}: expected (measurement, tags, fields, time_ns): {e}"
                    ))
                })?;
            let tags: Vec<(String, String)> = tags
                .call_method0("items")?
                .try_iter()?
                .map(|kv| kv?.extract::<(String, String)>())
                .collect::<PyResult<_>>()?;
            let mut values = Vec::new();
            for kv in fields.call_method0("items")?.try_iter()? {
                let (k, v): (String, Bound<'_, PyAny>) = kv?.extract()?;
                let value = value_from_py(&v, kind_of.get(&k).copied(), &k)
                    .map_err(|e| prefix_row(v.py(), n, e))?;
                values.push((k, value));
            }
            let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (&**k, &**v)).collect();
            let values: Vec<(&str, Value)> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            b.push_row(&m, &tags, &values, t)
                .map_err(|e| PyValueError::new_err(format!("row {n}: {e}")))?;
        }
        Ok(PyPointBatch::new(b.finish()))
    }

    /// The rows where `mask` (a sequence of bools or a 1-byte buffer) is true.
    fn filter(&self, py: Python<'_>, mask: &Bound<'_, PyAny>) -> PyResult<PyPointBatch> {
        let mask = mask_arg(mask, self.batch.len(), "batch")?;
        let b = self.batch.clone();
        Ok(PyPointBatch::new(detached(py, move || b.filter(&mask))?))
    }

    /// Rows at `indices` (ints or an integer buffer; negative counts from the end), in order.
    fn take(&self, py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<PyPointBatch> {
        let idx = indices_arg(indices, self.batch.len())?;
        let b = self.batch.clone();
        Ok(PyPointBatch::new(detached(py, move || b.take(&idx))?))
    }

    /// All rows of `batches` in order, as one batch.
    #[classmethod]
    fn concat(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        batches: Vec<Bound<'_, PyPointBatch>>,
    ) -> PyResult<PyPointBatch> {
        let all: Vec<Arc<PointBatch>> = batches.iter().map(|b| b.get().batch.clone()).collect();
        Ok(PyPointBatch::new(detached(py, move || {
            let refs: Vec<&PointBatch> = all.iter().map(|b| &**b).collect();
            PointBatch::concat(&refs)
        })?))
    }

    /// The batch as checkpoint bytes (columns with compact dictionaries; see
    /// `crate::stateops::snapshot`): what a node's snapshot stores of the points it holds.
    fn to_snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.batch.clone();
        let out = detached(py, move || {
            crate::stateops::snapshot::encode(&crate::stateops::snapshot::compact(&b))
        })?;
        Ok(PyBytes::new(py, &out))
    }

    /// The batch `to_snapshot` wrote (ValueError for other bytes).
    #[classmethod]
    fn from_snapshot(_cls: &Bound<'_, PyType>, data: &[u8]) -> PyResult<Self> {
        let b: PointBatch =
            crate::stateops::snapshot::decode(data, "batch").map_err(PyValueError::new_err)?;
        let consistent = crate::stateops::snapshot::is_consistent(&b);
        if !consistent {
            return Err(PyValueError::new_err(
                "batch snapshot is malformed: columns of unequal length",
            ));
        }
        Ok(PyPointBatch::new(b))
    }

    /// The batch as line protocol; times divided by `precision` (ns, u, ms, s, m, h).
    #[pyo3(signature = (precision = "ns"))]
    fn to_line_protocol<'py>(
        &self,
        py: Python<'py>,
        precision: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let p = precision_arg(py, precision)?;
        let b = self.batch.clone();
        let out = detached(py, move || serialize(&b, p))?;
        match out {
            Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
            Err(e) => Err(line_protocol_error(py, e.to_string())),
        }
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyObject {
        match other.downcast::<PyPointBatch>() {
            Ok(o) => {
                let same = self.batch.same_points(&o.get().batch);
                PyBool::new(py, same).to_owned().into_any().unbind()
            }
            Err(_) => py.NotImplemented(),
        }
    }

    fn __repr__(&self) -> String {
        let b = &*self.batch;
        let fields: Vec<String> = b
            .fields
            .iter()
            .map(|c| format!("{}: {}", c.name, c.data.kind().name()))
            .collect();
        let ms: Vec<String> = b
            .distinct_measurements()
            .iter()
            .map(|s| s.to_string())
            .collect();
        format!(
            "<PointBatch {} rows, {} series; measurements: {}; tags: {}; fields: {}>",
            b.len(),
            b.distinct_series().len(),
            short_list(&ms),
            short_list(&b.tag_keys),
            short_list(&fields)
        )
    }

    // --- server helpers (ingress statistics, stream recordings) --------------------------------

    /// ``(measurement, rows)`` pairs, in first-seen order.
    fn measurement_counts(&self) -> Vec<(String, usize)> {
        self.batch
            .measurement_counts()
            .into_iter()
            .map(|(m, n)| (m.to_owned(), n))
            .collect()
    }

    /// The rows whose measurement is one of `names`.
    fn with_measurements(&self, py: Python<'_>, names: Vec<String>) -> PyResult<PyPointBatch> {
        let b = self.batch.clone();
        Ok(PyPointBatch::new(detached(py, move || {
            b.with_measurements(&names)
        })?))
    }
}

fn prefix_row(py: Python<'_>, n: usize, e: PyErr) -> PyErr {
    let msg = format!("row {n}: {}", e.value(py));
    if e.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(msg)
    } else {
        PyValueError::new_err(msg)
    }
}

/// Which column of the batch a view shows.
#[derive(Debug, Clone, Copy)]
enum ViewSource {
    Time,
    Field(usize),
    Valid(usize),
    TagCodes(usize),
}

/// A read-only, zero-copy view of one column of a `PointBatch`, exposing the buffer protocol
/// (`numpy.asarray(view)`, `memoryview(view)`). Holds the batch alive.
#[pyclass(name = "ColumnView", module = "kapfast._native", frozen)]
pub struct PyColumnView {
    batch: Arc<PointBatch>,
    source: ViewSource,
    name: String,
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

impl PyColumnView {
    fn new(batch: Arc<PointBatch>, source: ViewSource, name: String) -> Self {
        let mut v = PyColumnView {
            batch,
            source,
            name,
            shape: [0],
            strides: [0],
        };
        let (_, len, itemsize, _) = v.raw();
        v.shape = [len as ffi::Py_ssize_t];
        v.strides = [itemsize as ffi::Py_ssize_t];
        v
    }

    /// Pointer, item count, item size and struct format of the column.
    fn raw(&self) -> (*const u8, usize, usize, &'static CStr) {
        let b = &*self.batch;
        match self.source {
            ViewSource::Time => (b.time.as_ptr().cast(), b.time.len(), 8, c"q"),
            ViewSource::Valid(i) => {
                let v = &b.fields[i].valid;
                (v.as_ptr().cast(), v.len(), 1, c"?")
            }
            ViewSource::TagCodes(i) => {
                let v = &b.tags[i].codes;
                (v.as_ptr().cast(), v.len(), 4, c"I")
            }
            ViewSource::Field(i) => match &b.fields[i].data {
                ColumnData::Float(v) => (v.as_ptr().cast(), v.len(), 8, c"d"),
                ColumnData::Int(v) => (v.as_ptr().cast(), v.len(), 8, c"q"),
                ColumnData::UInt(v) => (v.as_ptr().cast(), v.len(), 8, c"Q"),
                ColumnData::Bool(v) => (v.as_ptr().cast(), v.len(), 1, c"?"),
                // Not constructed for these kinds (PointBatch.field refuses them).
                ColumnData::Str(_) | ColumnData::Mixed(_) => (std::ptr::null(), 0, 1, c"B"),
            },
        }
    }
}

#[pymethods]
impl PyColumnView {
    fn __len__(&self) -> usize {
        self.raw().1
    }

    /// The struct format of one item: "d", "q", "Q", "?" or "I".
    #[getter]
    fn format(&self) -> String {
        self.raw().3.to_string_lossy().into_owned()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The values as a Python list (a copy).
    fn to_list<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let mv = py
            .import("builtins")?
            .getattr("memoryview")?
            .call1((slf,))?;
        mv.call_method0("tolist")
    }

    fn __repr__(&self) -> String {
        format!(
            "<ColumnView {:?} format={:?} len={}>",
            self.name,
            self.format(),
            self.__len__()
        )
    }

    /// # Safety
    /// Called by CPython with a valid `view` to fill; the view holds a reference to `slf`,
    /// which holds the batch, so the pointed-to memory outlives the view (batches are
    /// immutable).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let mem = ReadOnly::of(this.raw(), this.shape.as_ptr(), this.strides.as_ptr());
        // SAFETY: the view references `slf`, which holds the (immutable) batch.
        unsafe { fill_read_only(slf.clone().into_any(), view, flags, mem, "ColumnView") }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPointBatch>()?;
    m.add_class::<PyColumnView>()
}
