//! Python binding of the InfluxDB `/query` answer decoder (`crate::queryanswer`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::batch::PyPointBatch;
use super::errors::{detached, input_error};
use crate::queryanswer::{decode, Answer};

/// `(name, tags, tmax_ns, batch)` of one series.
type SeriesTuple<'py> = (String, Bound<'py, PyDict>, i64, PyPointBatch);
/// `(statement_id, error, [(level, text)], series)` of one statement.
type ResultTuple<'py> = (
    Option<i64>,
    Option<String>,
    Vec<(String, String)>,
    Vec<SeriesTuple<'py>>,
);

/// Decodes an InfluxDB 1.x `/query` answer body (JSON) with the GIL released into
/// `(request_error, results)`: `request_error` is the answer's own `error` (then `results` is
/// empty), else each statement's `(statement_id, error, messages, series)`, each series
/// `(name, tags, tmax_ns, PointBatch)` read as Kapacitor's query node reads it. A statement
/// after one with an error has no series. A body that is not such an answer raises
/// `InputError` (`errors::Kind::Input`).
#[pyfunction]
fn decode_query_answer<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
) -> PyResult<(Option<String>, Vec<ResultTuple<'py>>)> {
    // bytes are immutable and `body` keeps them alive while the GIL is released.
    let data: &[u8] = body.as_bytes();
    let answer = detached(py, || decode(data))?.map_err(|e| input_error(py, e.0))?;
    let results = match answer {
        Answer::Failed(error) => return Ok((Some(error), Vec::new())),
        Answer::Results(r) => r,
    };
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        let mut series = Vec::with_capacity(r.series.len());
        for s in r.series {
            let tags = PyDict::new(py);
            for (k, v) in &s.tags {
                tags.set_item(k, v)?;
            }
            series.push((s.name, tags, s.tmax, PyPointBatch::new(s.batch)));
        }
        out.push((r.statement_id, r.error, r.messages, series));
    }
    Ok((None, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_query_answer, m)?)
}
