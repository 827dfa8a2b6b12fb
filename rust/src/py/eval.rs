//! Python bindings of the lambda compiler and evaluator: `Program`, `EvalState`, `EvalResult`
//! and `batch_with_field`. Decodes the AST of `docs/lambda_ast.md` from nested tuples/lists,
//! releases the GIL while a batch is evaluated and hands results back as zero-copy buffers.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr;
use std::sync::{Arc, Mutex};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::py::buffer::{fill_read_only, ReadOnly};
use crate::py::errors::detached;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};
use pyo3::{ffi, IntoPyObjectExt};

use crate::batch::PointBatch;
use crate::eval::{BinOp, EvalOutput, EvalState, Node, OutValues, Program, Selected, UnOp};

use super::batch::PyPointBatch;
use super::chunk::PyStreamChunk;
use super::errors::eval_error;

/// Deeper ASTs are rejected rather than risking the stack of the recursive compiler.
const MAX_DEPTH: usize = 256;

fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let r = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".to_owned());
    if r.chars().count() > 80 {
        let cut: String = r.chars().take(77).collect();
        format!("{cut}...")
    } else {
        r
    }
}

fn decode(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "lambda expression nested deeper than {MAX_DEPTH} levels"
        ));
    }
    let bad = |why: &str| format!("invalid lambda AST node {}: {}", short_repr(obj), why);
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = obj.downcast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = obj.downcast::<PyList>() {
        l.iter().collect()
    } else {
        return Err(bad("a node is a tuple or list whose first item is its tag"));
    };
    let Some(tag) = items.first() else {
        return Err(bad("empty node"));
    };
    let Ok(tag) = tag.downcast::<PyString>().map(|s| s.to_string()) else {
        return Err(bad("the tag must be a string"));
    };
    let want = |n: usize| -> Result<(), String> {
        if items.len() == n {
            Ok(())
        } else {
            Err(bad(&format!(
                "\"{tag}\" takes {} item(s) after the tag",
                n - 1
            )))
        }
    };
    let string = |i: usize, what: &str| -> Result<String, String> {
        items[i]
            .downcast::<PyString>()
            .map(|s| s.to_string())
            .map_err(|_| bad(&format!("{what} must be a string")))
    };
    let int = |i: usize, what: &str| -> Result<i64, String> {
        let v = &items[i];
        if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
            return Err(bad(&format!("{what} must be an int")));
        }
        v.extract::<i64>()
            .map_err(|_| bad(&format!("{what} does not fit in a signed 64-bit integer")))
    };
    Ok(match tag.as_str() {
        "float" => {
            want(2)?;
            let v = &items[1];
            if v.is_instance_of::<PyBool>()
                || !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
            {
                return Err(bad("the value must be a float"));
            }
            Node::Float(
                v.extract::<f64>()
                    .map_err(|_| bad("the value must be a float"))?,
            )
        }
        "int" => {
            want(2)?;
            Node::Int(int(1, "the value")?)
        }
        "string" => {
            want(2)?;
            Node::Str(string(1, "the value")?)
        }
        "bool" => {
            want(2)?;
            if !items[1].is_instance_of::<PyBool>() {
                return Err(bad("the value must be a bool"));
            }
            Node::Bool(items[1].extract::<bool>().map_err(|e| e.to_string())?)
        }
        "duration" => {
            want(2)?;
            Node::Duration(int(1, "the duration (integer nanoseconds)")?)
        }
        "regex" => {
            want(2)?;
            Node::Regex(string(1, "the pattern")?)
        }
        "ref" => {
            want(2)?;
            Node::Ref(string(1, "the name")?)
        }
        "unary" => {
            want(3)?;
            let op = string(1, "the operator")?;
            let op = UnOp::parse(&op)
                .ok_or_else(|| bad(&format!("unknown unary operator \"{op}\" (use - or !)")))?;
            Node::Unary(op, Box::new(decode(&items[2], depth + 1)?))
        }
        "binary" => {
            want(4)?;
            let op = string(1, "the operator")?;
            let op = BinOp::parse(&op)
                .ok_or_else(|| bad(&format!("unknown binary operator \"{op}\"")))?;
            Node::Binary(
                op,
                Box::new(decode(&items[2], depth + 1)?),
                Box::new(decode(&items[3], depth + 1)?),
            )
        }
        "call" => {
            want(3)?;
            let name = string(1, "the function name")?;
            let args: Vec<Bound<'_, PyAny>> = if let Ok(t) = items[2].downcast::<PyTuple>() {
                t.iter().collect()
            } else if let Ok(l) = items[2].downcast::<PyList>() {
                l.iter().collect()
            } else {
                return Err(bad("the arguments must be a list"));
            };
            let args = args
                .iter()
                .map(|a| decode(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Node::Call(name, args)
        }
        other => return Err(bad(&format!("unknown tag \"{other}\""))),
    })
}

/// Group ids from a buffer of uint32 or any sequence of non-negative ints.
fn groups_vec(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u32>>> {
    let Some(o) = obj else { return Ok(None) };
    if o.is_none() {
        return Ok(None);
    }
    if let Ok(buf) = PyBuffer::<u32>::get(o) {
        return Ok(Some(buf.to_vec(o.py())?));
    }
    // numpy's default integer arrays (int64) and other widths, range-checked.
    let out_of_range = || PyValueError::new_err("group ids must be in 0..2**32");
    if let Ok(buf) = PyBuffer::<i64>::get(o) {
        let v = buf.to_vec(o.py())?;
        return v
            .into_iter()
            .map(|g| u32::try_from(g).map_err(|_| out_of_range()))
            .collect::<PyResult<Vec<u32>>>()
            .map(Some);
    }
    if let Ok(buf) = PyBuffer::<u64>::get(o) {
        let v = buf.to_vec(o.py())?;
        return v
            .into_iter()
            .map(|g| u32::try_from(g).map_err(|_| out_of_range()))
            .collect::<PyResult<Vec<u32>>>()
            .map(Some);
    }
    if let Ok(buf) = PyBuffer::<i32>::get(o) {
        let v = buf.to_vec(o.py())?;
        return v
            .into_iter()
            .map(|g| u32::try_from(g).map_err(|_| out_of_range()))
            .collect::<PyResult<Vec<u32>>>()
            .map(Some);
    }
    o.extract::<Vec<u32>>().map(Some).map_err(|_| {
        PyTypeError::new_err("groups must be a uint32 buffer or a sequence of ints in 0..2**32")
    })
}

/// The state of the stateful functions (`sigma count spread rand`) of one program instance,
/// per group. Pass the same state to successive `eval` calls; `reset()` forgets it.
#[pyclass(name = "EvalState", module = "kapfast._native", frozen)]
pub struct PyEvalState {
    inner: Mutex<EvalState>,
}

#[pymethods]
impl PyEvalState {
    #[new]
    fn new() -> Self {
        PyEvalState {
            inner: Mutex::new(EvalState::new()),
        }
    }

    /// Forgets the state of `group`, or of every group.
    #[pyo3(signature = (group=None))]
    fn reset(&self, group: Option<u32>) {
        lock(&self.inner).reset(group);
    }

    /// Every group's function state as checkpoint bytes (`crate::stateops::snapshot`).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        crate::py::stateops::snap_detached(py, || {
            crate::stateops::snapshot::encode(&*lock(&self.inner))
        })
    }

    /// Replaces the state with a checkpoint's (ValueError: not a lambda state snapshot).
    fn restore(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let state = crate::py::errors::detached(py, || {
            crate::stateops::snapshot::decode(data, "lambda state")
        })?;
        *lock(&self.inner) = state.map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(())
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).len()
    }
}

fn lock(m: &Mutex<EvalState>) -> std::sync::MutexGuard<'_, EvalState> {
    // A panic while holding the lock cannot leave the state half-updated in a way that matters
    // more than losing it, so a poisoned lock is simply taken over.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A lambda expression compiled once from its AST.
#[pyclass(name = "Program", module = "kapfast._native", frozen)]
pub struct PyProgram {
    program: Arc<Program>,
}

type Run<T> = Result<T, String>;

impl PyProgram {
    /// `where` and alert levels need a boolean program: a statically non-boolean one is a
    /// program error (EvalError), not a data error.
    fn require_bool(&self, py: Python<'_>) -> PyResult<()> {
        match self.program.result_type() {
            Some(t) if t != crate::eval::Type::Bool => Err(eval_error(
                py,
                format!("the lambda expression evaluates to {t}, but a boolean is needed here"),
            )),
            _ => Ok(()),
        }
    }

    /// The rows of `batch` where the (boolean) program is true.
    fn select(
        &self,
        py: Python<'_>,
        batch: &PointBatch,
        state: Option<&Bound<'_, PyEvalState>>,
        groups: Option<&Bound<'_, PyAny>>,
        now_ns: i64,
    ) -> PyResult<Selected> {
        self.require_bool(py)?;
        let g = groups_vec(groups)?;
        self.run(py, state, |p, st| p.select(batch, st, g.as_deref(), now_ns))
    }

    fn run<T: Send>(
        &self,
        py: Python<'_>,
        state: Option<&Bound<'_, PyEvalState>>,
        f: impl FnOnce(&Program, &mut EvalState) -> Run<T> + Send,
    ) -> PyResult<T> {
        let program = self.program.clone();
        let res = match state {
            Some(s) => {
                let s = s.get();
                detached(py, || f(&program, &mut lock(&s.inner)))?
            }
            None => detached(py, || f(&program, &mut EvalState::new()))?,
        };
        res.map_err(PyValueError::new_err)
    }
}

#[pymethods]
impl PyProgram {
    #[new]
    fn new(py: Python<'_>, ast: &Bound<'_, PyAny>) -> PyResult<Self> {
        let node = decode(ast, 0).map_err(|e| eval_error(py, e))?;
        let program = Program::compile(&node).map_err(|e| eval_error(py, e))?;
        Ok(PyProgram {
            program: Arc::new(program),
        })
    }

    /// Whether the expression calls a stateful function.
    #[getter]
    fn is_stateful(&self) -> bool {
        self.program.is_stateful()
    }

    /// Field and tag names the expression reads, in order of first use (`time` excluded).
    #[getter]
    fn references(&self) -> Vec<String> {
        self.program.references()
    }

    /// The result kind when known before seeing data, else None.
    #[getter]
    fn result_kind(&self) -> Option<&'static str> {
        self.program.result_type().map(|t| t.result_kind())
    }

    #[pyo3(signature = (batch, *, state=None, groups=None, now_ns=0))]
    fn eval(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyPointBatch>,
        state: Option<&Bound<'_, PyEvalState>>,
        groups: Option<&Bound<'_, PyAny>>,
        now_ns: i64,
    ) -> PyResult<PyEvalResult> {
        let b = batch.get().batch.clone();
        let g = groups_vec(groups)?;
        let out = self.run(py, state, |p, s| p.eval(&b, s, g.as_deref(), now_ns))?;
        Ok(PyEvalResult { out: Arc::new(out) })
    }

    #[pyo3(signature = (batch, *, state=None, groups=None, now_ns=0))]
    fn mask(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyPointBatch>,
        state: Option<&Bound<'_, PyEvalState>>,
        groups: Option<&Bound<'_, PyAny>>,
        now_ns: i64,
    ) -> PyResult<(Py<PyAny>, usize, Option<String>)> {
        self.require_bool(py)?;
        let b = batch.get().batch.clone();
        let g = groups_vec(groups)?;
        let m = self.run(py, state, |p, s| p.mask(&b, s, g.as_deref(), now_ns))?;
        let buf = Bound::new(py, ColumnBuffer::new(BufSrc::Mask(m.mask)))?;
        let view = PyMemoryView::from(buf.as_any())?;
        Ok((view.into_any().unbind(), m.error_count, m.first_error))
    }

    #[pyo3(signature = (batch, *, state=None, groups=None, now_ns=0))]
    fn filter(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyPointBatch>,
        state: Option<&Bound<'_, PyEvalState>>,
        groups: Option<&Bound<'_, PyAny>>,
        now_ns: i64,
    ) -> PyResult<(Py<PyPointBatch>, usize, Option<String>)> {
        let b = batch.get().batch.clone();
        let s = self.select(py, &b, state, groups, now_ns)?;
        let out = if s.sel.is_all() {
            batch.clone().unbind() // every row kept: the same batch, not a copy of it
        } else {
            let kept = detached(py, || b.select(&s.sel))?;
            Py::new(py, PyPointBatch::new(kept))?
        };
        Ok((out, s.error_count, s.first_error))
    }

    /// `where()` on a stream chunk: the rows where the program is true, with their group codes,
    /// selected in one pass over each column (the chunk itself when every row is kept).
    #[pyo3(signature = (chunk, *, state=None, groups=None, now_ns=0))]
    fn filter_chunk(
        &self,
        py: Python<'_>,
        chunk: &Bound<'_, PyStreamChunk>,
        state: Option<&Bound<'_, PyEvalState>>,
        groups: Option<&Bound<'_, PyAny>>,
        now_ns: i64,
    ) -> PyResult<(Py<PyStreamChunk>, usize, Option<String>)> {
        let c = chunk.get();
        let s = self.select(py, c.point_batch(), state, groups, now_ns)?;
        let out = if s.sel.is_all() {
            chunk.clone().unbind()
        } else {
            Py::new(py, c.selected(py, &s.sel)?)?
        };
        Ok((out, s.error_count, s.first_error))
    }

    fn __repr__(&self) -> String {
        let refs: Vec<String> = self
            .program
            .references()
            .iter()
            .map(|r| format!("'{}'", r.replace('\\', "\\\\").replace('\'', "\\'")))
            .collect();
        format!(
            "Program(references=[{}], result_kind={}, stateful={})",
            refs.join(", "),
            self.program
                .result_type()
                .map_or("None".to_owned(), |t| format!("'{}'", t.result_kind())),
            if self.program.is_stateful() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// The values a program computed for each row of a batch.
#[pyclass(name = "EvalResult", module = "kapfast._native", frozen)]
pub struct PyEvalResult {
    out: Arc<EvalOutput>,
}

#[pymethods]
impl PyEvalResult {
    /// `float int string bool duration time`, or `unknown` when no row had a value and the
    /// type is not known statically.
    #[getter]
    fn kind(&self) -> &'static str {
        self.out.ty.map_or("unknown", |t| t.result_kind())
    }

    /// A zero-copy buffer (float64 `d`, int64 `q` for int/duration/time in ns, bool `?`), or
    /// for strings a list with None where the row is not valid.
    #[getter]
    fn values(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let OutValues::Str(v) = &self.out.values {
            let items: Vec<Option<&str>> = v
                .iter()
                .zip(&self.out.valid)
                .map(|(s, &ok)| ok.then_some(s.as_str()))
                .collect();
            return items.into_py_any(py);
        }
        let buf = Bound::new(py, ColumnBuffer::new(BufSrc::Values(self.out.clone())))?;
        Ok(PyMemoryView::from(buf.as_any())?.into_any().unbind())
    }

    /// Bool buffer: True where the row produced a value, False where it errored.
    #[getter]
    fn valid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let buf = Bound::new(py, ColumnBuffer::new(BufSrc::Valid(self.out.clone())))?;
        Ok(PyMemoryView::from(buf.as_any())?.into_any().unbind())
    }

    #[getter]
    fn error_count(&self) -> usize {
        self.out.error_count
    }

    #[getter]
    fn first_error(&self) -> Option<String> {
        self.out.first_error.clone()
    }

    /// A copy of `batch` with the result as field `name` (invalid rows lack the field).
    fn assign(&self, batch: &Bound<'_, PyPointBatch>, name: &str) -> PyResult<PyPointBatch> {
        assign(batch, name, &self.out)
    }

    fn __len__(&self) -> usize {
        self.out.valid.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "EvalResult(kind='{}', rows={}, error_count={})",
            self.kind(),
            self.out.valid.len(),
            self.out.error_count
        )
    }
}

fn assign(batch: &Bound<'_, PyPointBatch>, name: &str, out: &EvalOutput) -> PyResult<PyPointBatch> {
    let b = &batch.get().batch;
    if out.valid.len() != b.len() {
        return Err(PyValueError::new_err(format!(
            "the result has {} rows but the batch has {}",
            out.valid.len(),
            b.len()
        )));
    }
    Ok(PyPointBatch::new(b.with_field_column(out.to_column(name))))
}

/// `result.assign(batch, name)` as a function.
#[pyfunction]
fn batch_with_field(
    batch: &Bound<'_, PyPointBatch>,
    name: &str,
    result: &Bound<'_, PyEvalResult>,
) -> PyResult<PyPointBatch> {
    assign(batch, name, &result.get().out)
}

enum BufSrc {
    Values(Arc<EvalOutput>),
    Valid(Arc<EvalOutput>),
    Mask(Vec<bool>),
}

/// Read-only buffer over Rust-owned column data, for `memoryview`/`numpy.asarray` without a copy.
#[pyclass(module = "kapfast._native", frozen)]
struct ColumnBuffer {
    src: BufSrc,
    /// Number of items and item size, pointed to by the buffer's shape and strides.
    shape: isize,
    stride: isize,
}

impl ColumnBuffer {
    fn new(src: BufSrc) -> Self {
        let mut b = ColumnBuffer {
            src,
            shape: 0,
            stride: 1,
        };
        let (_, items, itemsize, _) = b.raw();
        b.shape = items as isize;
        b.stride = itemsize as isize;
        b
    }

    /// (pointer, items, item size, struct format).
    fn raw(&self) -> (*const u8, usize, usize, &'static CStr) {
        let bools = |v: &Vec<bool>| (v.as_ptr() as *const u8, v.len(), 1, c"?");
        match &self.src {
            BufSrc::Mask(v) => bools(v),
            BufSrc::Valid(o) => bools(&o.valid),
            BufSrc::Values(o) => match &o.values {
                OutValues::Float(v) => (v.as_ptr() as *const u8, v.len(), 8, c"d"),
                OutValues::Int(v) => (v.as_ptr() as *const u8, v.len(), 8, c"q"),
                OutValues::Bool(v) => bools(v),
                OutValues::Str(_) => (ptr::null(), 0, 1, c"B"),
            },
        }
    }
}

#[pymethods]
impl ColumnBuffer {
    /// # Safety
    /// Fills `view` per the buffer protocol; the data lives as long as `view.obj` (this object).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let mem = ReadOnly::of(this.raw(), &this.shape, &this.stride);
        // SAFETY: the view references `slf`, which holds the (immutable) result.
        unsafe {
            fill_read_only(
                slf.clone().into_any(),
                view,
                flags,
                mem,
                "a kapfast result buffer",
            )
        }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProgram>()?;
    m.add_class::<PyEvalState>()?;
    m.add_class::<PyEvalResult>()?;
    m.add_function(wrap_pyfunction!(batch_with_field, m)?)?;
    Ok(())
}
