//! Python bindings of the UDF protocol codec (`crate::udf`): requests as framed bytes ready to
//! write to an agent, and `UdfDecoder`, which turns what an agent wrote into events whose points
//! are `PointBatch`es (no Python object per point). The GIL is released around bulk work.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::py::batch::PyPointBatch;
use crate::py::chunk::PyStreamChunk;
use crate::py::groups::PyGroup;
use crate::py::ops::group_id;
use crate::udf::proto::{self, option_value, request, ValueType};
use crate::udf::{encode_batch, encode_request, encode_stream, Decoder, Event, GroupKey};

/// `Point` requests for every row of a stream chunk (row `i` of group `groups[codes[i]]`).
#[pyfunction]
fn udf_encode_stream<'py>(
    py: Python<'py>,
    chunk: &Bound<'py, PyStreamChunk>,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = chunk.get();
    let b = c.points().get().batch.clone();
    let codes = c.codes().clone();
    let (db, rp) = c.db_rp(py)?;
    let groups: Vec<GroupKey> = c
        .groups(py)
        .iter()
        .map(|g| {
            let (id, dims, by_name) = g.downcast::<PyGroup>()?.get().key(py)?;
            Ok(GroupKey { id, dims, by_name })
        })
        .collect::<PyResult<_>>()?;
    let out = detached(py, || {
        let mut out = Vec::with_capacity(b.len() * 64);
        encode_stream(&mut out, &b, &codes, &groups, &db, &rp);
        out
    })?;
    Ok(PyBytes::new(py, &out))
}

/// `BeginBatch`, a `Point` per row, `EndBatch`: one batch of a group.
#[pyfunction]
fn udf_encode_batch<'py>(
    py: Python<'py>,
    name: &str,
    group: &str,
    tags: HashMap<String, String>,
    by_name: bool,
    tmax: i64,
    points: &PyPointBatch,
) -> PyResult<Bound<'py, PyBytes>> {
    let b = points.batch.clone();
    let out = detached(py, || {
        let mut out = Vec::with_capacity(b.len() * 64 + 64);
        encode_batch(&mut out, name, group, &tags, by_name, tmax, &b);
        out
    })?;
    Ok(PyBytes::new(py, &out))
}

fn framed(py: Python<'_>, msg: request::Message) -> Bound<'_, PyBytes> {
    let mut out = Vec::new();
    encode_request(&mut out, msg);
    PyBytes::new(py, &out)
}

#[pyfunction]
fn udf_encode_info(py: Python<'_>) -> Bound<'_, PyBytes> {
    framed(py, request::Message::Info(proto::InfoRequest {}))
}

#[pyfunction]
fn udf_encode_keepalive(py: Python<'_>, time: i64) -> Bound<'_, PyBytes> {
    framed(
        py,
        request::Message::Keepalive(proto::KeepaliveRequest { time }),
    )
}

#[pyfunction]
fn udf_encode_snapshot(py: Python<'_>) -> Bound<'_, PyBytes> {
    framed(py, request::Message::Snapshot(proto::SnapshotRequest {}))
}

#[pyfunction]
fn udf_encode_restore<'py>(py: Python<'py>, snapshot: &[u8]) -> Bound<'py, PyBytes> {
    framed(
        py,
        request::Message::Restore(proto::RestoreRequest {
            snapshot: snapshot.to_vec(),
        }),
    )
}

fn option_value(typ: i32, v: &Bound<'_, PyAny>) -> PyResult<proto::OptionValue> {
    let value = match ValueType::try_from(typ) {
        Ok(ValueType::Bool) => option_value::Value::BoolValue(v.extract()?),
        Ok(ValueType::Int) => option_value::Value::IntValue(v.extract()?),
        Ok(ValueType::Double) => option_value::Value::DoubleValue(v.extract()?),
        Ok(ValueType::String) => option_value::Value::StringValue(v.extract()?),
        Ok(ValueType::Duration) => option_value::Value::DurationValue(v.extract()?),
        Err(_) => {
            return Err(PyValueError::new_err(format!(
                "unknown UDF value type {typ}"
            )))
        }
    };
    Ok(proto::OptionValue {
        r#type: typ,
        value: Some(value),
    })
}

/// One option of `Init`: its name and each value with its udf.proto ValueType number.
type InitOption<'py> = (String, Vec<(i32, Bound<'py, PyAny>)>);

/// `Init` with `options` as `[(name, [(value type, value), ...]), ...]` (types: udf.proto's
/// ValueType numbers).
#[pyfunction]
fn udf_encode_init<'py>(
    py: Python<'py>,
    options: Vec<InitOption<'py>>,
    task_id: String,
    node_id: String,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut opts = Vec::with_capacity(options.len());
    for (name, values) in options {
        let values = values
            .iter()
            .map(|(t, v)| option_value(*t, v))
            .collect::<PyResult<Vec<_>>>()?;
        opts.push(proto::UdfOption { name, values });
    }
    Ok(framed(
        py,
        request::Message::Init(proto::InitRequest {
            options: opts,
            task_id,
            node_id,
        }),
    ))
}

/// Reads an agent's responses across reads of its output.
#[pyclass(name = "UdfDecoder", module = "kapfast._native", frozen)]
pub struct PyUdfDecoder {
    inner: Mutex<Decoder>,
}

fn event_to_py<'py>(py: Python<'py>, ev: Event) -> PyResult<Bound<'py, PyTuple>> {
    Ok(match ev {
        Event::Points(run) => {
            let groups = PyList::empty(py);
            for (name, tags, by_name) in &run.groups {
                let id = group_id(name, tags, *by_name);
                groups.append((id, tags.clone(), *by_name))?;
            }
            let mut codes = Vec::with_capacity(run.codes.len() * 4);
            for c in &run.codes {
                codes.extend_from_slice(&c.to_le_bytes());
            }
            (
                "points",
                PyPointBatch::new(run.batch),
                PyBytes::new(py, &codes),
                groups,
                run.db,
                run.rp,
            )
                .into_pyobject(py)?
        }
        Event::Batch(b) => {
            let id = group_id(&b.name, &b.tags, b.by_name);
            (
                "batch",
                b.name,
                id,
                b.tmax,
                b.tags,
                b.by_name,
                PyPointBatch::new(b.points),
            )
                .into_pyobject(py)?
        }
        Event::Info(info) => {
            let options = PyDict::new(py);
            let mut names: Vec<&String> = info.options.keys().collect();
            names.sort();
            for name in names {
                options.set_item(name, info.options[name].value_types.clone())?;
            }
            ("info", info.wants, info.provides, options).into_pyobject(py)?
        }
        Event::Init { success, error } => ("init", success, error).into_pyobject(py)?,
        Event::Keepalive(t) => ("keepalive", t).into_pyobject(py)?,
        Event::Snapshot(s) => ("snapshot", PyBytes::new(py, &s)).into_pyobject(py)?,
        Event::Restore { success, error } => ("restore", success, error).into_pyobject(py)?,
        Event::Error(e) => ("error", e).into_pyobject(py)?,
        Event::Skipped { count, reason } => ("skipped", count, reason).into_pyobject(py)?,
    })
}

#[pymethods]
impl PyUdfDecoder {
    #[new]
    fn new() -> Self {
        PyUdfDecoder {
            inner: Mutex::new(Decoder::new()),
        }
    }

    /// The events of every complete response in `data` (and what earlier calls kept). A
    /// malformed frame raises ValueError: the agent's output cannot be read any further.
    fn feed<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let events = detached(py, || {
            let mut d = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            d.feed(data)
        })?;
        let events = events.map_err(|e| PyValueError::new_err(e.0))?;
        let out = PyList::empty(py);
        for ev in events {
            out.append(event_to_py(py, ev)?)?;
        }
        Ok(out)
    }

    /// Bytes held of an incomplete response.
    #[getter]
    fn pending(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyUdfDecoder>()?;
    m.add_function(wrap_pyfunction!(udf_encode_stream, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_info, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_init, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_keepalive, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(udf_encode_restore, m)?)
}
