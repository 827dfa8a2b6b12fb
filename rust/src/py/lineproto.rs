//! Python bindings of the line-protocol parser (the serializer is `PointBatch.to_line_protocol`).

use std::sync::Mutex;

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::PyBytes;

use super::batch::{precision_arg, PyPointBatch};
use crate::lineproto::records::{
    make_records, one_point_a_line, records_member, records_member_len, split_records,
};
use crate::lineproto::{
    parse_threads, ParseOutput, SeriesIndex, DEFAULT_INDEX_BYTES, MIN_PARALLEL_BYTES,
};

/// `(line, column, reason)` of a rejected line, 1-based.
type ErrorTuple = (usize, usize, &'static str);

type ParseResult = (PyPointBatch, Vec<ErrorTuple>);

/// Runs `parse` over the body of `data` with the GIL released.
fn with_body<F>(py: Python<'_>, data: &Bound<'_, PyAny>, parse: F) -> PyResult<ParseResult>
where
    F: Fn(&[u8]) -> ParseOutput + Send + Sync,
{
    let out = if let Ok(bytes) = data.downcast::<PyBytes>() {
        // bytes are immutable and `data` keeps them alive while the GIL is released.
        let body: &[u8] = bytes.as_bytes();
        detached(py, || parse(body))?
    } else {
        // bytearray, memoryview, ...: copy first, they could change while we parse.
        let body: Vec<u8> = PyBuffer::<u8>::get(data)?.to_vec(py)?;
        detached(py, move || parse(&body))?
    };
    let errors = out
        .errors
        .iter()
        .map(|e| (e.line, e.column, e.kind.message()))
        .collect();
    Ok((PyPointBatch::new(out.batch), errors))
}

/// Parses a write body into `(PointBatch, [(line, column, reason), ...])`, GIL released.
/// Points without a timestamp get `now_ns` truncated to `precision`. `threads`: how many
/// threads may parse (0 = up to 2 for a large body); the result is the same for any count.
/// `index`: a `SeriesIndex` to look series up in (same result, known series cheaper).
#[pyfunction]
#[pyo3(signature = (data, precision, now_ns, threads = 0, index = None))]
fn parse_line_protocol(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    precision: &str,
    now_ns: i64,
    threads: usize,
    index: Option<&Bound<'_, PySeriesIndex>>,
) -> PyResult<ParseResult> {
    let p = precision_arg(py, precision)?;
    let Some(index) = index else {
        return with_body(py, data, |body| parse_threads(body, p, now_ns, threads));
    };
    let index: &PySeriesIndex = index.get();
    with_body(py, data, |body| {
        // The first free slot; all busy (or poisoned by a panic): parse without one.
        for slot in &index.slots {
            if let Ok(mut idx) = slot.try_lock() {
                return idx.parse(body, p, now_ns, threads);
            }
        }
        parse_threads(body, p, now_ns, threads)
    })
}

/// A series index kept across bodies (`kapfast.lineproto.SeriesIndex` wraps it), for
/// `parse_line_protocol`. Bodies parsed at once on several threads (a server's request
/// threads) each take a slot of their own, so that they neither wait for one another nor
/// parse without an index: one slot per core (at most [`MAX_SLOTS`]), each capped at its share
/// of `max_bytes`. Slots learn their series separately: a series costs its entry once per slot
/// that sees it.
#[pyclass(name = "SeriesIndex", module = "kapfast._native", frozen)]
pub struct PySeriesIndex {
    slots: Vec<Mutex<SeriesIndex>>,
    max_bytes: usize,
}

/// Slots of a [`PySeriesIndex`]: more parses at once than cores gain nothing.
const MAX_SLOTS: usize = 4;

impl PySeriesIndex {
    /// `f` over every slot that is not poisoned (each locked in turn).
    fn sum<T: std::iter::Sum<T>>(&self, f: impl Fn(&SeriesIndex) -> T) -> T {
        self.slots
            .iter()
            .filter_map(|s| s.lock().ok().map(|i| f(&i)))
            .sum()
    }
}

#[pymethods]
impl PySeriesIndex {
    #[new]
    #[pyo3(signature = (max_bytes = DEFAULT_INDEX_BYTES))]
    fn new(max_bytes: usize) -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_SLOTS));
        PySeriesIndex {
            slots: (0..n)
                .map(|_| Mutex::new(SeriesIndex::new(max_bytes / n)))
                .collect(),
            max_bytes,
        }
    }

    /// Distinct series held (by the slot that knows most).
    fn __len__(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.lock().ok().map(|i| i.len()))
            .max()
            .unwrap_or(0)
    }

    /// Estimated heap bytes held, all slots.
    #[getter]
    fn bytes(&self) -> usize {
        self.sum(SeriesIndex::bytes)
    }

    #[getter]
    fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// How many bodies can be parsed with the index at once.
    #[getter]
    fn slots(&self) -> usize {
        self.slots.len()
    }

    /// How many times a slot went over its share of `max_bytes` and was dropped.
    #[getter]
    fn resets(&self) -> u64 {
        self.sum(SeriesIndex::resets)
    }
}

/// `body` (one point per line, `count` points) as stream-recording records of `db` and `rp`, or
/// None when it is not exactly `count` lines without a CR. With `gzip_member`, the records as
/// one gzip member of stored deflate blocks (what a live recording appends to its file), made in
/// the same pass straight into the bytes returned. GIL released.
#[pyfunction]
#[pyo3(signature = (db, rp, body, count, gzip_member = false))]
fn srpl_records<'py>(
    py: Python<'py>,
    db: &str,
    rp: &str,
    body: &Bound<'py, PyBytes>,
    count: usize,
    gzip_member: bool,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    // bytes are immutable and `body` keeps them alive while the GIL is released.
    let data: &[u8] = body.as_bytes();
    let (db, rp) = (db.as_bytes(), rp.as_bytes());
    if !gzip_member {
        let out = detached(py, || make_records(db, rp, data, count))?;
        return Ok(out.map(|v| PyBytes::new(py, &v)));
    }
    let member = detached(py, || {
        let mut out = Vec::with_capacity(records_member_len(db, rp, data, count));
        records_member(db, rp, data, count, &mut out).then_some(out)
    })?;
    Ok(member.map(|m| PyBytes::new(py, &m)))
}

/// Whether `body` is exactly `count` lines (the last may lack its newline) without a CR: what
/// `srpl_records` and `srpl_write` take as one point a line. GIL released.
#[pyfunction]
fn srpl_exact(py: Python<'_>, body: &Bound<'_, PyBytes>, count: usize) -> PyResult<bool> {
    let data: &[u8] = body.as_bytes();
    detached(py, || one_point_a_line(data, count))
}

/// A part handed to `srpl_write`, held while the GIL is released: the bytes object, and for a
/// body to make into records its `(db, rp)` and point count.
type HeldPart<'py> = (Bound<'py, PyAny>, Option<(String, String)>, usize);

/// A part of what `srpl_write` writes: bytes as they are, or a body made into records.
enum Part<'a> {
    Raw(&'a [u8]),
    Records(&'a [u8], &'a [u8], &'a [u8], usize),
}

thread_local! {
    /// The buffer `srpl_write` lays its parts out in, kept by the thread (a live recording's
    /// writer thread) from call to call: no fresh pages to fault in, nothing zeroed.
    static WRITE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most `srpl_write`'s buffer keeps between calls.
const WRITE_BUF_KEEP: usize = 16 << 20;

/// Appends `parts` to the file open as `fd` (not closed), in order, with the GIL released:
/// each `bytes` as it is, each `(db, rp, body, count)` as the gzip member of stored blocks that
/// `srpl_records(db, rp, body, count, gzip_member=True)` returns (a live recording's writer
/// thread: the member is made there, off the write path, straight into a buffer the thread
/// keeps). ValueError (nothing written) when a body is not one point a line (`srpl_exact`);
/// OSError when the write fails.
#[pyfunction]
fn srpl_write(py: Python<'_>, fd: i32, parts: &Bound<'_, pyo3::types::PyList>) -> PyResult<()> {
    let mut held: Vec<HeldPart<'_>> = Vec::with_capacity(parts.len());
    for item in parts.iter() {
        if item.downcast::<PyBytes>().is_ok() {
            held.push((item, None, 0));
            continue;
        }
        let (db, rp, body, count): (String, String, Bound<'_, PyBytes>, usize) = item.extract()?;
        held.push((body.into_any(), Some((db, rp)), count));
    }
    // bytes are immutable and `held` keeps them alive while the GIL is released.
    let views: Vec<Part<'_>> = held
        .iter()
        .map(|(obj, names, count)| {
            let data = obj
                .downcast::<PyBytes>()
                .map(|b| b.as_bytes())
                .unwrap_or_default();
            match names {
                None => Part::Raw(data),
                Some((db, rp)) => Part::Records(db.as_bytes(), rp.as_bytes(), data, *count),
            }
        })
        .collect();
    let done = detached(py, || {
        WRITE_BUF.with_borrow_mut(|buf| {
            buf.clear();
            for part in &views {
                match *part {
                    Part::Raw(data) => buf.extend_from_slice(data),
                    Part::Records(db, rp, body, count) => {
                        if !records_member(db, rp, body, count, buf) {
                            return Ok(false);
                        }
                    }
                }
            }
            use std::io::Write;
            use std::os::fd::FromRawFd;
            // SAFETY: the caller's open descriptor, only borrowed: ManuallyDrop never closes it
            let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
            let res = file.write_all(buf);
            buf.clear();
            buf.shrink_to(WRITE_BUF_KEEP);
            res.map(|()| true)
        })
    })?;
    match done {
        Ok(true) => Ok(()),
        Ok(false) => Err(pyo3::exceptions::PyValueError::new_err(
            "a body to record is not one point a line",
        )),
        Err(err) => Err(err.into()),
    }
}

/// One run of a stream recording's records: `(db, rp, body, count)`.
type RunTuple<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    usize,
);

/// The whole records of `block` from `start` (where a record starts) as
/// `([(db, rp, body, count), ...], consumed)`, runs of one db/rp in file order, `consumed` counted
/// from `start`; None when the block needs the careful reader (a CR, a blank database or point
/// line). Each body is copied once, straight into its bytes object. GIL released.
#[pyfunction]
#[pyo3(signature = (block, start = 0))]
fn srpl_split<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyBytes>,
    start: usize,
) -> PyResult<Option<(Vec<RunTuple<'py>>, usize)>> {
    let data: &[u8] = block.as_bytes().get(start..).unwrap_or_default();
    let Some(split) = detached(py, || split_records(data))? else {
        return Ok(None);
    };
    let mut runs = Vec::with_capacity(split.runs.len());
    for r in &split.runs {
        // the new bytes object is nobody else's until it is returned: filled with the GIL released
        let body = PyBytes::new_with(py, r.len, |buf| detached(py, || r.body_into(data, buf)))?;
        runs.push((
            PyBytes::new(py, &data[r.db.clone()]),
            PyBytes::new(py, &data[r.rp.clone()]),
            body,
            r.count,
        ));
    }
    Ok(Some((runs, split.consumed)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_line_protocol, m)?)?;
    m.add_function(wrap_pyfunction!(srpl_records, m)?)?;
    m.add_function(wrap_pyfunction!(srpl_split, m)?)?;
    m.add_function(wrap_pyfunction!(srpl_exact, m)?)?;
    m.add_function(wrap_pyfunction!(srpl_write, m)?)?;
    m.add_class::<PySeriesIndex>()?;
    m.add("LINEPROTO_INDEX_MAX_BYTES", DEFAULT_INDEX_BYTES)?;
    m.add("LINEPROTO_PARALLEL_MIN_BYTES", MIN_PARALLEL_BYTES)
}
