//! Python bindings of the line-protocol parser (the serializer is `PointBatch.to_line_protocol`).

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::batch::{precision_arg, PyPointBatch};
use crate::lineproto::parse;

/// `(line, column, reason)` of a rejected line, 1-based.
type ErrorTuple = (usize, usize, &'static str);

/// Parses a write body into `(PointBatch, [(line, column, reason), ...])`, GIL released.
/// Points without a timestamp get `now_ns` truncated to `precision`.
#[pyfunction]
fn parse_line_protocol(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    precision: &str,
    now_ns: i64,
) -> PyResult<(PyPointBatch, Vec<ErrorTuple>)> {
    let p = precision_arg(py, precision)?;
    let out = if let Ok(bytes) = data.downcast::<PyBytes>() {
        // bytes are immutable and `data` keeps them alive while the GIL is released.
        let body: &[u8] = bytes.as_bytes();
        py.allow_threads(|| parse(body, p, now_ns))
    } else {
        // bytearray, memoryview, ...: copy first, they could change while we parse.
        let body: Vec<u8> = PyBuffer::<u8>::get(data)?.to_vec(py)?;
        py.allow_threads(move || parse(&body, p, now_ns))
    };
    let errors = out
        .errors
        .iter()
        .map(|e| (e.line, e.column, e.kind.message()))
        .collect();
    Ok((PyPointBatch::new(out.batch), errors))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_line_protocol, m)?)
}
