//! A compiled lambda run over whole batches: results, masks and filtered batches, with the
//! failing rows counted and the first failure worded.

use crate::batch::{Column, ColumnData, PointBatch, Selection, StrColumn};

use super::ast::Node;
use super::bits;
use super::compile::{self, Compiled};
use super::floattree;
use super::kernels::{Col, Engine, Vals};
use super::scalar::{self, BatchCtx};
use super::state::EvalState;
use super::types::{Scalar, Type};

/// Rows per evaluation step: small enough that intermediate columns stay in the CPU cache.
pub const CHUNK: usize = 4096;

/// Rows per step of a fused `cmp AND cmp` mask: it needs no intermediate columns, so steps
/// can be long (long streams let the hardware prefetcher run at full speed).
const FUSED_CHUNK: usize = 1 << 20;

/// A lambda expression compiled once, evaluated over many batches.
#[derive(Debug, Clone)]
pub struct Program {
    compiled: Compiled,
}

/// Result values, one per row (rows that are not valid hold a default).
#[derive(Debug, Clone, PartialEq)]
pub enum OutValues {
    Float(Vec<f64>),
    /// Ints, and durations and times as nanoseconds.
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

/// The result of evaluating a program over a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutput {
    /// `None` when no row produced a value and the type is not known statically.
    pub ty: Option<Type>,
    pub values: OutValues,
    /// False where the row errored; those rows are skipped by the caller.
    pub valid: Vec<bool>,
    pub error_count: usize,
    pub first_error: Option<String>,
}

/// A boolean lambda (`where`, alert levels) over a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskOutput {
    /// True where the expression is true; false where it is false or errored.
    pub mask: Vec<bool>,
    pub error_count: usize,
    pub first_error: Option<String>,
}

/// A boolean lambda's rows as a [`Selection`] ([`Program::select`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The rows where the expression is true (not those where it is false or errored).
    pub sel: Selection,
    pub error_count: usize,
    pub first_error: Option<String>,
}

impl From<MaskOutput> for Selected {
    fn from(m: MaskOutput) -> Self {
        Selected {
            sel: Selection::from_bools(&m.mask),
            error_count: m.error_count,
            first_error: m.first_error,
        }
    }
}

impl Program {
    pub fn compile(node: &Node) -> Result<Program, String> {
        Ok(Program {
            compiled: compile::compile(node)?,
        })
    }

    /// The result type, when known before seeing data.
    pub fn result_type(&self) -> Option<Type> {
        self.compiled.ty
    }

    pub fn is_stateful(&self) -> bool {
        self.compiled.stateful
    }

    /// The field and tag names the expression reads (not `time`), in order of appearance.
    pub fn references(&self) -> Vec<String> {
        self.compiled.refs.iter().map(|r| r.to_string()).collect()
    }

    /// Evaluates the program on every row. `groups[i]` selects the state of stateful functions
    /// for row `i` (all rows share group 0 without it).
    pub fn eval(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
    ) -> Result<EvalOutput, String> {
        self.run(batch, state, groups, now_ns, self.compiled.ty, CHUNK)
    }

    /// Evaluates a boolean program; rows that error are false and counted.
    pub fn mask(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
    ) -> Result<MaskOutput, String> {
        if let Some(t) = self.compiled.ty {
            if t != Type::Bool {
                return Err(format!(
                    "the lambda expression evaluates to {t}, but a boolean is needed here"
                ));
            }
        }
        self.run_mask(batch, state, groups, now_ns, CHUNK)
    }

    /// `mask` in steps of `chunk` rows: boolean chunks go straight into the mask; anything else
    /// goes through the general result builder.
    pub fn run_mask(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
        chunk: usize,
    ) -> Result<MaskOutput, String> {
        let n = batch.len();
        check_groups(groups, n)?;
        let chunk = chunk.max(1);
        let cx = BatchCtx::new(batch, &self.compiled, groups, now_ns);
        let before = self.compiled.stateful.then(|| state.clone());
        // Filled in row order: the fused kernel writes straight into the spare capacity, other
        // chunks are appended.
        let mut mask: Vec<bool> = Vec::with_capacity(n);
        let mut errors = 0;
        let mut first_failed: Option<usize> = None;
        let mut first_type_error: Option<(usize, String)> = None;
        {
            let mut engine = Engine::new(&cx, state);
            let expr = &self.compiled.expr;
            let mut lo = 0;
            while lo < n {
                // `cmp AND cmp` on complete float fields: one pass straight into the mask, in
                // steps large enough that the per-step overhead does not show.
                let big = (lo + chunk.max(FUSED_CHUNK)).min(n);
                // `"field" op number` / `"tag" op literal`: one pass, failing rows counted.
                if let Some(bad) =
                    engine.direct_mask(expr, lo, big, &mut mask.spare_capacity_mut()[..big - lo])
                {
                    // SAFETY: the kernel initialized every row of `lo..big` after the current
                    // length (`mask.len() == lo` here), within the capacity of `n` rows.
                    unsafe { mask.set_len(big) };
                    errors += bad.bad;
                    if first_failed.is_none() && first_type_error.is_none() {
                        first_failed = bad.first_bad.map(|p| lo + p);
                    }
                    lo = big;
                    continue;
                }
                let done =
                    engine.fused_into(expr, lo, big, &mut mask.spare_capacity_mut()[..big - lo]);
                if done > 0 {
                    // SAFETY: the kernel initialized the `done` rows after the current length
                    // (`mask.len() == lo` here), within the capacity of `n` rows.
                    unsafe { mask.set_len(lo + done) };
                    lo += done;
                    continue;
                }
                let hi = (lo + chunk).min(n);
                let col = engine.eval(expr, lo, hi, None);
                match (&col.vals, &col.ok) {
                    (Vals::B(v), None) => mask.extend_from_slice(v),
                    (Vals::B(v), Some(ok)) => {
                        mask.extend(v.iter().zip(ok.iter()).map(|(&x, &k)| x & k));
                        let bad = ok.iter().filter(|&&k| !k).count();
                        if bad > 0 {
                            errors += bad;
                            if first_failed.is_none() {
                                first_failed = ok.iter().position(|&k| !k).map(|p| lo + p);
                            }
                        }
                    }
                    _ => {
                        let mut b = Builder::new(Some(Type::Bool), hi - lo);
                        b.push(&col, 0, hi - lo);
                        if let Some(OutValues::Bool(v)) = &b.values {
                            mask.extend(v.iter().zip(&b.valid).map(|(&x, &k)| x & k));
                        }
                        errors += b.errors;
                        if first_failed.is_none() && first_type_error.is_none() {
                            first_failed = b.first_failed.map(|r| r + lo);
                            first_type_error = b.first_type_error.map(|(r, m)| (r + lo, m));
                        }
                    }
                }
                lo = hi;
            }
        }
        let first_error = match (first_failed, first_type_error) {
            (Some(r), Some((t, msg))) if t <= r => Some(msg),
            (None, Some((_, msg))) => Some(msg),
            (Some(r), _) => Some(self.word_error(&cx, r, before, state)),
            (None, None) => None,
        };
        Ok(MaskOutput {
            mask,
            error_count: errors,
            first_error,
        })
    }

    /// The rows where the boolean program is true, as a [`Selection`] (what `where()`
    /// compacts the batch by): a `"field" op number` or `"tag" op literal` writes its bits
    /// straight from the column, other expressions go through [`Program::mask`].
    pub fn select(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
    ) -> Result<Selected, String> {
        if self.compiled.ty.is_some_and(|t| t != Type::Bool) {
            // the same refusal as `mask`
            return self.mask(batch, state, groups, now_ns).map(Selected::from);
        }
        let n = batch.len();
        check_groups(groups, n)?;
        let cx = BatchCtx::new(batch, &self.compiled, groups, now_ns);
        let mut words = Vec::with_capacity(n.div_ceil(64));
        let direct = {
            let mut engine = Engine::new(&cx, state);
            engine
                .direct(&self.compiled.expr, 0, n)
                .map(|d| bits::direct_bits(d, &mut words))
        };
        match direct {
            Some((bad, first_bad)) => Ok(Selected {
                // (a direct shape calls no function: no state to replay for the wording)
                first_error: first_bad.map(|r| self.word_error(&cx, r, None, state)),
                sel: Selection::from_words(words, n),
                error_count: bad,
            }),
            None => self.mask(batch, state, groups, now_ns).map(Selected::from),
        }
    }

    /// The rows where the boolean program is true.
    pub fn filter(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
    ) -> Result<(PointBatch, Selected), String> {
        let s = self.select(batch, state, groups, now_ns)?;
        Ok((batch.select(&s.sel), s))
    }

    /// The compiled form (tests compare it with the row interpreter).
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// Evaluates in steps of `chunk` rows, expecting `expect` as the result type when given.
    pub fn run(
        &self,
        batch: &PointBatch,
        state: &mut EvalState,
        groups: Option<&[u32]>,
        now_ns: i64,
        expect: Option<Type>,
        chunk: usize,
    ) -> Result<EvalOutput, String> {
        let chunk = chunk.max(1);
        let n = batch.len();
        check_groups(groups, n)?;
        let cx = BatchCtx::new(batch, &self.compiled, groups, now_ns);
        // Float arithmetic over float fields: blocks straight into the result.
        if matches!(expect, None | Some(Type::Float)) {
            if let Some(t) = floattree::eval(&self.compiled.expr, &cx) {
                // (with no valid row the general path decides the type)
                if t.bad < n {
                    let first_error = t.first_bad.map(|r| self.word_error(&cx, r, None, state));
                    return Ok(EvalOutput {
                        ty: Some(Type::Float),
                        values: OutValues::Float(t.values),
                        valid: t.valid,
                        error_count: t.bad,
                        first_error,
                    });
                }
            }
        }
        // A stateful program's error text may depend on the state (`bool(count())`), so keep the
        // state as it was to replay up to the first failing row.
        let before = self.compiled.stateful.then(|| state.clone());
        let mut out = Builder::new(expect, n);
        {
            let mut engine = Engine::new(&cx, state);
            let mut lo = 0;
            while lo < n {
                let hi = (lo + chunk).min(n);
                let col = engine.eval(&self.compiled.expr, lo, hi, None);
                out.push(&col, lo, hi);
                lo = hi;
            }
        }
        let first_error = match (out.first_failed, out.first_type_error.take()) {
            (Some(r), Some((t, msg))) if t <= r => Some(msg),
            (None, Some((_, msg))) => Some(msg),
            (Some(r), _) => Some(self.word_error(&cx, r, before, state)),
            (None, None) => None,
        };
        Ok(EvalOutput {
            ty: out.ty,
            values: out.values.unwrap_or(OutValues::Bool(vec![false; n])),
            valid: out.valid,
            error_count: out.errors,
            first_error,
        })
    }
}

impl Program {
    /// The error text of failing row `r`, from the row interpreter.
    fn word_error(
        &self,
        cx: &BatchCtx<'_>,
        r: usize,
        before: Option<EvalState>,
        state: &mut EvalState,
    ) -> String {
        let e = &self.compiled.expr;
        let res = match before {
            Some(mut replay) => {
                for row in 0..r {
                    let _ = scalar::eval_top(e, cx, row, &mut replay, true);
                }
                scalar::eval_top(e, cx, r, &mut replay, true)
            }
            None => scalar::eval_top(e, cx, r, state, false),
        };
        match res {
            Err(msg) => msg,
            Ok(_) => format!("row {r}: the expression failed"),
        }
    }
}

fn check_groups(groups: Option<&[u32]>, n: usize) -> Result<(), String> {
    match groups {
        Some(g) if g.len() != n => Err(format!(
            "groups has {} entries but the batch has {} rows",
            g.len(),
            n
        )),
        _ => Ok(()),
    }
}

/// Gathers chunk results into one output column of a single type.
struct Builder {
    ty: Option<Type>,
    values: Option<OutValues>,
    valid: Vec<bool>,
    errors: usize,
    first_failed: Option<usize>,
    first_type_error: Option<(usize, String)>,
    n: usize,
}

impl Builder {
    fn new(ty: Option<Type>, n: usize) -> Self {
        let mut b = Builder {
            ty: None,
            values: None,
            valid: Vec::with_capacity(n),
            errors: 0,
            first_failed: None,
            first_type_error: None,
            n,
        };
        if let Some(t) = ty {
            b.set_type(t);
        }
        b
    }

    fn set_type(&mut self, t: Type) {
        let n = self.n;
        self.ty = Some(t);
        self.values = Some(match t {
            Type::Float => OutValues::Float(Vec::with_capacity(n)),
            Type::Bool => OutValues::Bool(Vec::with_capacity(n)),
            Type::Str => OutValues::Str(Vec::with_capacity(n)),
            _ => OutValues::Int(Vec::with_capacity(n)),
        });
        // Rows before the first valid one were all invalid: give them defaults.
        let done = self.valid.len();
        for _ in 0..done {
            self.push_default();
        }
    }

    fn push_default(&mut self) {
        match self.values.as_mut() {
            Some(OutValues::Float(v)) => v.push(0.0),
            Some(OutValues::Int(v)) => v.push(0),
            Some(OutValues::Bool(v)) => v.push(false),
            Some(OutValues::Str(v)) => v.push(String::new()),
            None => {}
        }
    }

    fn fail(&mut self, row: usize) {
        self.errors += 1;
        if self.first_failed.is_none() {
            self.first_failed = Some(row);
        }
        self.valid.push(false);
        self.push_default();
    }

    fn push(&mut self, col: &Col<'_>, lo: usize, hi: usize) {
        let n = hi - lo;
        if self.ty.is_none() {
            if let Some(i) = (0..n).find(|&i| col.is_ok(i)) {
                self.set_type(col.type_at(i));
            }
        }
        // Fast paths: a typed column of the output's type.
        let ok_slice = col.ok.as_deref();
        let fast = match (&mut self.values, &col.vals) {
            (Some(OutValues::Float(v)), Vals::F(x)) => {
                v.extend_from_slice(x);
                true
            }
            (Some(OutValues::Bool(v)), Vals::B(x)) => {
                v.extend_from_slice(x);
                true
            }
            (Some(OutValues::Int(v)), Vals::I(x)) if self.ty == Some(Type::Int) => {
                v.extend_from_slice(x);
                true
            }
            (Some(OutValues::Int(v)), Vals::T(x)) if self.ty == Some(Type::Time) => {
                v.extend_from_slice(x);
                true
            }
            (Some(OutValues::Int(v)), Vals::D(x)) if self.ty == Some(Type::Duration) => {
                v.extend_from_slice(x);
                true
            }
            _ => false,
        };
        if fast {
            match ok_slice {
                None => self.valid.extend(std::iter::repeat_n(true, n)),
                Some(m) => {
                    self.valid.extend_from_slice(m);
                    let bad = m.iter().filter(|&&k| !k).count();
                    if bad > 0 {
                        self.errors += bad;
                        if self.first_failed.is_none() {
                            self.first_failed = m.iter().position(|&k| !k).map(|p| lo + p);
                        }
                    }
                }
            }
            return;
        }
        for i in 0..n {
            if !col.is_ok(i) {
                self.fail(lo + i);
                continue;
            }
            let t = col.type_at(i);
            if Some(t) != self.ty || t == Type::Regex {
                let want = self.ty.map_or("a value", |t| t.name());
                if self.first_type_error.is_none() && self.first_failed.is_none() {
                    self.first_type_error = Some((
                        lo + i,
                        format!("expression returned unexpected type {t}, expected {want}"),
                    ));
                }
                self.errors += 1;
                self.valid.push(false);
                self.push_default();
                continue;
            }
            self.valid.push(true);
            match (self.values.as_mut(), col.at(i)) {
                (Some(OutValues::Float(v)), Scalar::Float(f)) => v.push(f),
                (Some(OutValues::Bool(v)), Scalar::Bool(b)) => v.push(b),
                (Some(OutValues::Str(v)), Scalar::Str(s)) => v.push(s),
                (
                    Some(OutValues::Int(v)),
                    Scalar::Int(x) | Scalar::Duration(x) | Scalar::Time(x),
                ) => v.push(x),
                _ => {
                    self.valid.pop();
                    self.fail(lo + i);
                }
            }
        }
    }
}

impl EvalOutput {
    /// The result as a field column named `name` (durations and times as int nanoseconds).
    pub fn to_column(&self, name: &str) -> Column {
        let data = match &self.values {
            OutValues::Float(v) => ColumnData::Float(v.clone()),
            OutValues::Int(v) => ColumnData::Int(v.clone()),
            OutValues::Bool(v) => ColumnData::Bool(v.clone()),
            OutValues::Str(v) => {
                let mut s = StrColumn::new();
                for x in v {
                    s.push(x);
                }
                ColumnData::Str(s)
            }
        };
        Column {
            name: name.to_owned(),
            data,
            valid: self.valid.clone(),
        }
    }
}

/// Adding an evaluated column to a batch (EvalNode's `.as()`), kept with the evaluator so that
/// `batch.rs` stays about storage only.
impl PointBatch {
    /// A copy of the batch with `col` as a field, replacing any field of the same name. Fields
    /// stay sorted by name.
    pub fn with_field_column(&self, col: Column) -> PointBatch {
        let mut b = self.clone();
        match b
            .fields
            .binary_search_by(|c| c.name.as_str().cmp(&col.name))
        {
            Ok(i) => b.fields[i] = col,
            Err(i) => b.fields.insert(i, col),
        }
        b
    }
}
