//! Python bindings of the line-protocol parser (the serializer is `PointBatch.to_line_protocol`).

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::batch::{precision_arg, PyPointBatch};
use crate::lineproto::{parse_threads, MIN_PARALLEL_BYTES};

/// `(line, column, reason)` of a rejected line, 1-based.
type ErrorTuple = (usize, usize, &'static str);

/// Parses a write body into `(PointBatch, [(line, column, reason), ...])`, GIL released.
/// Points without a timestamp get `now_ns` truncated to `precision`. `threads`: how many
/// threads may parse (0 = up to 2 for a large body); the result is the same for any count.
#[pyfunction]
#[pyo3(signature = (data, precision, now_ns, threads = 0))]
fn parse_line_protocol(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    precision: &str,
    now_ns: i64,
    threads: usize,
) -> PyResult<(PyPointBatch, Vec<ErrorTuple>)> {
    let p = precision_arg(py, precision)?;
    let parse = |body: &[u8]| parse_threads(body, p, now_ns, threads);
    let out = if let Ok(bytes) = data.downcast::<PyBytes>() {
        // bytes are immutable and `data` keeps them alive while the GIL is released.
        let body: &[u8] = bytes.as_bytes();
        py.allow_threads(|| parse(body))
    } else {
        // bytearray, memoryview, ...: copy first, they could change while we parse.
        let body: Vec<u8> = PyBuffer::<u8>::get(data)?.to_vec(py)?;
        py.allow_threads(move || parse(&body))
    };
    let errors = out
        .errors
        .iter()
        .map(|e| (e.line, e.column, e.kind.message()))
        .collect();
    Ok((PyPointBatch::new(out.batch), errors))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_line_protocol, m)?)?;
    m.add("LINEPROTO_PARALLEL_MIN_BYTES", MIN_PARALLEL_BYTES)
}
