//! Column-at-a-time evaluation of a compiled expression over a range of rows.
//!
//! Each node yields a [`Col`]: typed values plus an `ok` mask (false = the row errored or a
//! reference was missing). Typed kernels cover the common cases — numeric and boolean columns and
//! literals, string fields and dictionary-encoded tags against literals — and everything else runs
//! the row interpreter ([`super::scalar`]) row by row, so the semantics are the same everywhere.
//! Error texts are not carried here: the caller words the first failing row with the interpreter.

use std::borrow::Cow;
use std::collections::HashMap;
use std::mem::MaybeUninit;

use crate::batch::{Column, ColumnData, StrColumn, NO_TAG};

use super::compile::{Call, Expr};
use super::functions::Func;
use super::ops;
use super::scalar::{self, BatchCtx};
use super::state::EvalState;
use super::types::{BinOp, Scalar, Type, UnOp};

/// The values of one node over a row range (row `i` of the range is index `i`).
pub enum Vals<'a> {
    /// The same value on every row.
    Const(Scalar),
    F(Cow<'a, [f64]>),
    I(Cow<'a, [i64]>),
    B(Cow<'a, [bool]>),
    D(Vec<i64>),
    T(Cow<'a, [i64]>),
    /// A string field: rows `off..` of the column.
    Str(&'a StrColumn, usize),
    /// A tag: dictionary codes of the range and the dictionary.
    Dict(&'a [u32], &'a [String]),
    /// Anything else, one value per row.
    Row(Vec<Scalar>),
}

/// A node's values and validity over a row range; `ok == None` means every row is valid.
pub struct Col<'a> {
    pub vals: Vals<'a>,
    pub ok: Option<Cow<'a, [bool]>>,
}

impl<'a> Col<'a> {
    fn all_ok(vals: Vals<'a>) -> Self {
        Col { vals, ok: None }
    }

    fn none_ok(vals: Vals<'a>, n: usize) -> Self {
        Col {
            vals,
            ok: Some(Cow::Owned(vec![false; n])),
        }
    }

    #[inline]
    pub fn is_ok(&self, i: usize) -> bool {
        self.ok.as_ref().is_none_or(|m| m[i])
    }

    /// Row `i` as a value (meaningful only where the row is ok).
    pub fn at(&self, i: usize) -> Scalar {
        match &self.vals {
            Vals::Const(v) => v.clone(),
            Vals::F(v) => Scalar::Float(v[i]),
            Vals::I(v) => Scalar::Int(v[i]),
            Vals::B(v) => Scalar::Bool(v[i]),
            Vals::D(v) => Scalar::Duration(v[i]),
            Vals::T(v) => Scalar::Time(v[i]),
            Vals::Str(c, off) => Scalar::Str(c.get(off + i).to_owned()),
            Vals::Dict(codes, dict) => match codes[i] {
                NO_TAG => Scalar::Missing("".into()),
                c => Scalar::Str(dict[c as usize].clone()),
            },
            Vals::Row(v) => v[i].clone(),
        }
    }

    /// The type of row `i` (meaningful only where the row is ok).
    pub fn type_at(&self, i: usize) -> Type {
        match &self.vals {
            Vals::Const(v) => v.ty(),
            Vals::F(_) => Type::Float,
            Vals::I(_) => Type::Int,
            Vals::B(_) => Type::Bool,
            Vals::D(_) => Type::Duration,
            Vals::T(_) => Type::Time,
            Vals::Str(..) | Vals::Dict(..) => Type::Str,
            Vals::Row(v) => v[i].ty(),
        }
    }

    fn bool_at(&self, i: usize) -> Option<bool> {
        match &self.vals {
            Vals::B(v) => Some(v[i]),
            Vals::Const(Scalar::Bool(b)) => Some(*b),
            Vals::Row(v) => match v[i] {
                Scalar::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `a AND b` of two optional masks.
fn and_ok<'a>(a: Option<Cow<'a, [bool]>>, b: Option<Cow<'a, [bool]>>) -> Option<Cow<'a, [bool]>> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(Cow::Owned(
            a.iter().zip(b.iter()).map(|(&x, &y)| x & y).collect(),
        )),
    }
}

/// A numeric operand.
#[derive(Clone, Copy)]
enum Num<'x> {
    F(&'x [f64]),
    I(&'x [i64]),
    CF(f64),
    CI(i64),
}

fn num<'x>(v: &'x Vals<'_>) -> Option<Num<'x>> {
    match v {
        Vals::F(x) => Some(Num::F(x)),
        Vals::I(x) => Some(Num::I(x)),
        Vals::Const(Scalar::Float(f)) => Some(Num::CF(*f)),
        Vals::Const(Scalar::Int(i)) => Some(Num::CI(*i)),
        _ => None,
    }
}

fn to_f64(x: &[i64]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// The operator with its operands swapped (`c < x` is `x > c`).
fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        other => other,
    }
}

/// Asks for the cache lines `AHEAD_BYTES` past the block of `BLOCK` items starting at `p[k]`
/// (a hint: never faults, never read).
#[inline(always)]
fn prefetch<T>(p: *const T, k: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = (p.wrapping_add(k) as *const i8).wrapping_add(AHEAD_BYTES);
        let bytes = BLOCK * std::mem::size_of::<T>();
        let mut off = 0;
        while off < bytes {
            // SAFETY: `_mm_prefetch` is a hint that never faults, even past the end of the
            // slice (where the next chunk of the same column usually is); the pointer is formed
            // with wrapping arithmetic and never dereferenced.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch(start.wrapping_add(off), _MM_HINT_T0);
            }
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, k);
}

/// How far ahead of the reads the kernels ask for memory: columns usually come from DRAM (the
/// batch was parsed a while ago), and interleaved streams need help to run at full speed.
const AHEAD_BYTES: usize = 8192;
/// Rows per block: prefetches are issued per block, the loop inside a block is vectorized.
const BLOCK: usize = 64;

/// Writes `f(a[i], b[i])` for each row: blocks of plain loops the compiler turns into SIMD code,
/// with a prefetch of both inputs per cache line.
#[inline(always)]
fn zip_map<A: Copy, B: Copy, T: Copy + Default>(a: &[A], b: &[B], f: impl Fn(A, B) -> T) -> Vec<T> {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut out = vec![T::default(); n];
    for (k, ((o, x), y)) in out
        .chunks_mut(BLOCK)
        .zip(a.chunks(BLOCK))
        .zip(b.chunks(BLOCK))
        .enumerate()
    {
        prefetch(a.as_ptr(), k * BLOCK);
        prefetch(b.as_ptr(), k * BLOCK);
        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
            *o = f(x, y);
        }
    }
    out
}

#[inline(always)]
fn map1<A: Copy, T: Copy + Default>(a: &[A], f: impl Fn(A) -> T) -> Vec<T> {
    let mut out = vec![T::default(); a.len()];
    for (k, (o, x)) in out.chunks_mut(BLOCK).zip(a.chunks(BLOCK)).enumerate() {
        prefetch(a.as_ptr(), k * BLOCK);
        for (o, &x) in o.iter_mut().zip(x) {
            *o = f(x);
        }
    }
    out
}

fn cmp_ss<T: PartialOrd + Copy>(op: BinOp, a: &[T], b: &[T]) -> Vec<bool> {
    match op {
        BinOp::Eq => zip_map(a, b, |x, y| x == y),
        BinOp::Ne => zip_map(a, b, |x, y| x != y),
        BinOp::Lt => zip_map(a, b, |x, y| x < y),
        BinOp::Le => zip_map(a, b, |x, y| x <= y),
        BinOp::Gt => zip_map(a, b, |x, y| x > y),
        _ => zip_map(a, b, |x, y| x >= y),
    }
}

fn cmp_sc<T: PartialOrd + Copy>(op: BinOp, a: &[T], c: T) -> Vec<bool> {
    match op {
        BinOp::Eq => map1(a, |x| x == c),
        BinOp::Ne => map1(a, |x| x != c),
        BinOp::Lt => map1(a, |x| x < c),
        BinOp::Le => map1(a, |x| x <= c),
        BinOp::Gt => map1(a, |x| x > c),
        _ => map1(a, |x| x >= c),
    }
}

fn cmp_num(op: BinOp, l: Num<'_>, r: Num<'_>) -> Vec<bool> {
    use Num::*;
    match (l, r) {
        (F(a), F(b)) => cmp_ss(op, a, b),
        (I(a), I(b)) => cmp_ss(op, a, b),
        (F(a), CF(c)) => cmp_sc(op, a, c),
        (I(a), CI(c)) => cmp_sc(op, a, c),
        (CF(c), F(a)) => cmp_sc(flip(op), a, c),
        (CI(c), I(a)) => cmp_sc(flip(op), a, c),
        (F(a), I(b)) => cmp_ss(op, a, &to_f64(b)),
        (I(a), F(b)) => cmp_ss(op, &to_f64(a), b),
        (F(a), CI(c)) => cmp_sc(op, a, c as f64),
        (CI(c), F(a)) => cmp_sc(flip(op), a, c as f64),
        (I(a), CF(c)) => cmp_sc(op, &to_f64(a), c),
        (CF(c), I(a)) => cmp_sc(flip(op), &to_f64(a), c),
        // Two constants are folded at compile time; kept for completeness.
        (CF(a), CF(b)) => vec![ops::cmp_op(op, &a, &b)],
        (CI(a), CI(b)) => vec![ops::cmp_op(op, &a, &b)],
        (CF(a), CI(b)) => vec![ops::cmp_op(op, &a, &(b as f64))],
        (CI(a), CF(b)) => vec![ops::cmp_op(op, &(a as f64), &b)],
    }
}

/// Float arithmetic for `+ - * /` on float operands (a constant operand is broadcast).
fn arith_f(op: BinOp, l: Num<'_>, r: Num<'_>, n: usize) -> Option<Vec<f64>> {
    let v = match (op, l, r) {
        (BinOp::Add, Num::F(a), Num::F(b)) => zip_map(a, b, |x, y| x + y),
        (BinOp::Sub, Num::F(a), Num::F(b)) => zip_map(a, b, |x, y| x - y),
        (BinOp::Mul, Num::F(a), Num::F(b)) => zip_map(a, b, |x, y| x * y),
        (BinOp::Div, Num::F(a), Num::F(b)) => zip_map(a, b, |x, y| x / y),
        (BinOp::Add, Num::F(a), Num::CF(c)) => map1(a, |x| x + c),
        (BinOp::Sub, Num::F(a), Num::CF(c)) => map1(a, |x| x - c),
        (BinOp::Mul, Num::F(a), Num::CF(c)) => map1(a, |x| x * c),
        (BinOp::Div, Num::F(a), Num::CF(c)) => map1(a, |x| x / c),
        (BinOp::Add, Num::CF(c), Num::F(b)) => map1(b, |y| c + y),
        (BinOp::Sub, Num::CF(c), Num::F(b)) => map1(b, |y| c - y),
        (BinOp::Mul, Num::CF(c), Num::F(b)) => map1(b, |y| c * y),
        (BinOp::Div, Num::CF(c), Num::F(b)) => map1(b, |y| c / y),
        (_, Num::CF(a), Num::CF(b)) => {
            match ops::binary(op, &Scalar::Float(a), &Scalar::Float(b)).ok()? {
                Scalar::Float(f) => vec![f; n],
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(v)
}

/// Integer arithmetic for `+ - *` (wrapping, like Go); `/` and `%` go row by row for the zero check.
fn arith_i(op: BinOp, l: Num<'_>, r: Num<'_>) -> Option<Vec<i64>> {
    let v = match (op, l, r) {
        (BinOp::Add, Num::I(a), Num::I(b)) => zip_map(a, b, i64::wrapping_add),
        (BinOp::Sub, Num::I(a), Num::I(b)) => zip_map(a, b, i64::wrapping_sub),
        (BinOp::Mul, Num::I(a), Num::I(b)) => zip_map(a, b, i64::wrapping_mul),
        (BinOp::Add, Num::I(a), Num::CI(c)) => map1(a, |x| x.wrapping_add(c)),
        (BinOp::Sub, Num::I(a), Num::CI(c)) => map1(a, |x| x.wrapping_sub(c)),
        (BinOp::Mul, Num::I(a), Num::CI(c)) => map1(a, |x| x.wrapping_mul(c)),
        (BinOp::Add, Num::CI(c), Num::I(b)) => map1(b, |y| c.wrapping_add(y)),
        (BinOp::Sub, Num::CI(c), Num::I(b)) => map1(b, |y| c.wrapping_sub(y)),
        (BinOp::Mul, Num::CI(c), Num::I(b)) => map1(b, |y| c.wrapping_mul(y)),
        _ => return None,
    };
    Some(v)
}

/// A `"field" op number` comparison: the field's values and validity over a row range.
type SimpleCmp<'a> = (&'a [f64], &'a [bool], BinOp, f64);
/// `(is AND, left comparison, right comparison)` of a fusable `cmp AND/OR cmp`.
type FusedParts<'a> = (bool, SimpleCmp<'a>, SimpleCmp<'a>);

/// Rows per validity check of the fused kernel: a block with a row lacking a field is left to
/// the general path, so a rare gap costs at most one block of redone work.
const FUSED_BLOCK: usize = 2048;

/// Binds `$f` to the comparison `x op c` (branch-free, so the loops using it vectorize).
macro_rules! with_cmp {
    ($op:expr, $c:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            BinOp::Eq => {
                let $f = |x: $t| x == $c;
                $body
            }
            BinOp::Ne => {
                let $f = |x: $t| x != $c;
                $body
            }
            BinOp::Lt => {
                let $f = |x: $t| x < $c;
                $body
            }
            BinOp::Le => {
                let $f = |x: $t| x <= $c;
                $body
            }
            BinOp::Gt => {
                let $f = |x: $t| x > $c;
                $body
            }
            _ => {
                let $f = |x: $t| x >= $c;
                $body
            }
        }
    };
}
pub(super) use with_cmp;

/// Writes `f1(a[i]) & f2(b[i])` (or `|`) for each row, in one pass without temporaries, and
/// returns the rows done (see [`Engine::fused_into`]). The comparisons are branch-free so the
/// loop vectorizes; on x86-64 an AVX2 build of the loop is picked at run time (the crate is
/// built for baseline SSE2).
fn fused_kernel(parts: FusedParts<'_>, out: &mut [MaybeUninit<bool>]) -> usize {
    let (and, (a, va, op1, c1), (b, vb, op2, c2)) = parts;
    let io = FusedIo { a, b, va, vb, out };
    with_cmp!(op1, c1, f64, |f1| with_cmp!(op2, c2, f64, |f2| if and {
        fused_run(io, |x, y| f1(x) & f2(y))
    } else {
        fused_run(io, |x, y| f1(x) | f2(y))
    }))
}

/// The operands of the fused kernel.
struct FusedIo<'x, 'o> {
    a: &'x [f64],
    b: &'x [f64],
    va: &'x [bool],
    vb: &'x [bool],
    out: &'o mut [MaybeUninit<bool>],
}

/// Defines `fn $name`, which runs `$plain` (an `#[inline(always)]` loop) compiled a second time
/// with AVX2 enabled when the CPU has it, else as built: one dispatch written once for every
/// kernel whose plain loop the compiler vectorizes wider under AVX2.
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* fn $name:ident [$($gen:tt)*] ($($arg:ident: $ty:ty),*) -> $ret:ty = $plain:ident;) => {
        $(#[$meta])*
        #[inline(always)]
        fn $name<$($gen)*>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2<$($gen)*>($($arg: $ty),*) -> $ret {
                    $plain($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }
    };
}

avx2_dispatch! {
    /// Runs the fused loop, dispatched to an AVX2 build when the CPU has it.
    fn fused_run[] (io: FusedIo<'_, '_>, f: impl Fn(f64, f64) -> bool) -> usize = fused_plain;
}

#[inline(always)]
fn fused_plain(io: FusedIo<'_, '_>, f: impl Fn(f64, f64) -> bool) -> usize {
    let FusedIo { a, b, va, vb, out } = io;
    let n = out
        .len()
        .min(a.len())
        .min(b.len())
        .min(va.len())
        .min(vb.len());
    let mut done = 0;
    while done < n {
        let end = (done + FUSED_BLOCK).min(n);
        // Validity as bytes ANDed together (no early exit, so the loop stays vectorized).
        let mut all = 1u8;
        let mut k = done;
        while k < end {
            let e = (k + BLOCK).min(end);
            prefetch(a.as_ptr(), k);
            prefetch(b.as_ptr(), k);
            prefetch(va.as_ptr(), k);
            prefetch(vb.as_ptr(), k);
            for ((((o, &x), &y), &p), &q) in out[k..e]
                .iter_mut()
                .zip(&a[k..e])
                .zip(&b[k..e])
                .zip(&va[k..e])
                .zip(&vb[k..e])
            {
                *o = MaybeUninit::new(f(x, y));
                all &= p as u8 & q as u8;
            }
            k = e;
        }
        if all == 0 {
            break;
        }
        done = end;
    }
    done
}

/// The failing rows of a directly written mask: how many, and the first (from the range start).
pub struct MaskErrors {
    pub bad: usize,
    pub first_bad: Option<usize>,
}

impl MaskErrors {
    fn of(bad: usize, first: impl FnOnce() -> Option<usize>) -> Self {
        MaskErrors {
            bad,
            first_bad: if bad > 0 { first() } else { None },
        }
    }
}

/// The operands of a comparison a mask kernel runs in one pass ([`Engine::direct`]).
pub enum Direct<'x> {
    /// `values op constant` on a float field (an int constant compared as a float), with the
    /// field's validity flags.
    F64(&'x [f64], &'x [bool], BinOp, f64),
    /// The same on an int field and an int constant.
    I64(&'x [i64], &'x [bool], BinOp, i64),
    /// A tag's codes and the test's result per dictionary entry ([`NO_TAG`] rows fail).
    Dict(&'x [u32], &'x [bool]),
}

/// A comparison's column, its validity flags and the mask being written.
type CmpIo<'x, 'o, T> = (&'x [T], &'x [bool], &'o mut [MaybeUninit<bool>]);

avx2_dispatch! {
    /// Writes `f(a[i]) & valid[i]` for each row and returns the rows not valid: one pass, no
    /// temporaries, a vectorized loop per block (an AVX2 build of it when the CPU has it).
    fn cmp_valid[T: Copy] (io: CmpIo<'_, '_, T>, f: impl Fn(T) -> bool) -> usize = cmp_valid_plain;
}

#[inline(always)]
fn cmp_valid_plain<T: Copy>(io: CmpIo<'_, '_, T>, f: impl Fn(T) -> bool) -> usize {
    let (a, va, out) = io;
    let n = out.len().min(a.len()).min(va.len());
    let (a, va, out) = (&a[..n], &va[..n], &mut out[..n]);
    let mut bad = 0;
    let mut lo = 0;
    while lo < n {
        let hi = (lo + BLOCK).min(n);
        prefetch(a.as_ptr(), lo);
        prefetch(va.as_ptr(), lo);
        // a byte counter per block (BLOCK < 256) keeps the count inside the vector loop
        let mut good = 0u8;
        for ((o, &x), &v) in out[lo..hi].iter_mut().zip(&a[lo..hi]).zip(&va[lo..hi]) {
            *o = MaybeUninit::new(f(x) & v);
            good = good.wrapping_add(v as u8);
        }
        bad += (hi - lo) - good as usize;
        lo = hi;
    }
    bad
}

/// [`cmp_valid`] for float columns: on x86-64 with AVX2, 16 rows per step compared four at a
/// time, the results turned into bytes with a shuffle (what the compiler makes of the plain loop
/// is twice as slow, packing lanes one by one).
fn cmp_f64_valid(
    op: BinOp,
    a: &[f64],
    c: f64,
    va: &[bool],
    out: &mut [MaybeUninit<bool>],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let dense = all_true(va);
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { cmp_f64_avx2_op(op, a, c, va, dense, out) };
    }
    with_cmp!(op, c, f64, |f| cmp_valid((a, va, out), f))
}

/// Whether every flag is set. A separate pass (memchr's vector search for a zero byte) costs
/// less than reading the flags inside the comparison: that second stream through the loop
/// slowed a comparison over a cold 1 M-row column by a quarter; a column without gaps (nearly
/// every Telegraf field) then compares its values alone.
pub(super) fn all_true(flags: &[bool]) -> bool {
    // SAFETY: a bool is one byte, 0 or 1; the bytes are read only, for the slice's lifetime.
    let bytes = unsafe { std::slice::from_raw_parts(flags.as_ptr() as *const u8, flags.len()) };
    memchr::memchr(0, bytes).is_none()
}

/// [`cmp_f64_avx2`] with `op`'s predicate ([`with_cmp_pd`]).
///
/// `dense`: every flag of `va` is set (the loop then does not read them).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn cmp_f64_avx2_op(
    op: BinOp,
    a: &[f64],
    c: f64,
    va: &[bool],
    dense: bool,
    out: &mut [MaybeUninit<bool>],
) -> usize {
    with_cmp_pd!(op, |P| if dense {
        cmp_f64_avx2::<P, true>(op, a, c, va, out)
    } else {
        cmp_f64_avx2::<P, false>(op, a, c, va, out)
    })
}

/// Binds the const `$p` to `$op`'s predicate for `_mm256_cmp_pd`: the ordered ones (false on
/// NaN) except `!=`, which is true on NaN, as Rust's (and Go's) operators.
#[cfg(target_arch = "x86_64")]
macro_rules! with_cmp_pd {
    ($op:expr, |$p:ident| $body:expr) => {{
        use std::arch::x86_64::*;
        match $op {
            BinOp::Eq => {
                const $p: i32 = _CMP_EQ_OQ;
                $body
            }
            BinOp::Ne => {
                const $p: i32 = _CMP_NEQ_UQ;
                $body
            }
            BinOp::Lt => {
                const $p: i32 = _CMP_LT_OQ;
                $body
            }
            BinOp::Le => {
                const $p: i32 = _CMP_LE_OQ;
                $body
            }
            BinOp::Gt => {
                const $p: i32 = _CMP_GT_OQ;
                $body
            }
            _ => {
                const $p: i32 = _CMP_GE_OQ;
                $body
            }
        }
    }};
}
#[cfg(target_arch = "x86_64")]
pub(super) use with_cmp_pd;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn cmp_f64_avx2<const P: i32, const DENSE: bool>(
    op: BinOp,
    a: &[f64],
    c: f64,
    va: &[bool],
    out: &mut [MaybeUninit<bool>],
) -> usize {
    use std::arch::x86_64::*;
    let n = out.len().min(a.len()).min(va.len());
    let (a, va, out) = (&a[..n], &va[..n], &mut out[..n]);
    let whole = n - n % 16;
    let mut bad = 0usize;
    // SAFETY: every load and store below reads or writes 16 rows at `i < whole <= n` (32 f64
    // bytes at a time, 16 bool bytes), inside the slices; unaligned loads and stores throughout.
    unsafe {
        let cv = _mm256_set1_pd(c);
        let spread = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
        let bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
        let zero = _mm_setzero_si128();
        let one = _mm_set1_epi8(1);
        let pa = a.as_ptr();
        let pv = va.as_ptr() as *const __m128i;
        let po = out.as_mut_ptr() as *mut __m128i;
        let mut i = 0;
        while i < whole {
            let m0 = _mm256_movemask_pd(_mm256_cmp_pd::<P>(_mm256_loadu_pd(pa.add(i)), cv));
            let m1 = _mm256_movemask_pd(_mm256_cmp_pd::<P>(_mm256_loadu_pd(pa.add(i + 4)), cv));
            let m2 = _mm256_movemask_pd(_mm256_cmp_pd::<P>(_mm256_loadu_pd(pa.add(i + 8)), cv));
            let m3 = _mm256_movemask_pd(_mm256_cmp_pd::<P>(_mm256_loadu_pd(pa.add(i + 12)), cv));
            let bits = m0 | (m1 << 4) | (m2 << 8) | (m3 << 12);
            // bit k of `bits` → byte k: 0xFF where set
            let spread_bits = _mm_shuffle_epi8(_mm_set1_epi16(bits as i16), spread);
            let set = _mm_cmpeq_epi8(_mm_and_si128(spread_bits, bit), bit);
            if DENSE {
                _mm_storeu_si128(po.byte_add(i), _mm_and_si128(set, one));
            } else {
                let v = _mm_loadu_si128(pv.byte_add(i));
                // the validity bytes are 0 or 1: ANDed with 0xFF/0x00 they are the result
                _mm_storeu_si128(po.byte_add(i), _mm_and_si128(set, v));
                bad += (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) as u32).count_ones() as usize;
            }
            i += 16;
        }
    }
    let rest = with_cmp!(op, c, f64, |f| cmp_valid_plain(
        (&a[whole..], &va[whole..], &mut out[whole..]),
        f
    ));
    bad + rest
}

/// Writes `lut[codes[i]]` for each row (false where the row has no tag) and returns the rows
/// without the tag. `lut` has one entry per dictionary value.
fn dict_lookup(codes: &[u32], lut: &[bool], out: &mut [MaybeUninit<bool>]) -> usize {
    // One more entry, false, for the rows without the tag: the lookup needs no branch.
    let mut table = Vec::with_capacity(lut.len() + 1);
    table.extend_from_slice(lut);
    table.push(false);
    let last = lut.len();
    let n = out.len().min(codes.len());
    let mut bad = 0;
    for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
        let i = (c as usize).min(last);
        *o = MaybeUninit::new(table[i]);
        bad += (c == NO_TAG) as usize;
    }
    bad
}

/// Evaluates expressions over row ranges of one batch.
pub struct Engine<'a, 's> {
    pub cx: &'a BatchCtx<'a>,
    pub state: &'s mut EvalState,
    /// Per (expression node, tag dictionary): the result for each dictionary entry. A tag
    /// comparison or regex runs once per distinct value, not once per row.
    dict_cache: HashMap<(usize, usize), Vec<bool>>,
}

impl<'a, 's> Engine<'a, 's> {
    pub fn new(cx: &'a BatchCtx<'a>, state: &'s mut EvalState) -> Self {
        Engine {
            cx,
            state,
            dict_cache: HashMap::new(),
        }
    }

    /// Evaluates `e` on rows `lo..hi`. `sel` (indexed from `lo`) limits which rows may change
    /// state: stateful calls outside it are not run (their rows are not ok).
    pub fn eval(&mut self, e: &Expr, lo: usize, hi: usize, sel: Option<&[bool]>) -> Col<'a> {
        let n = hi - lo;
        if let Some(parts) = self.fused_parts(e, lo, hi) {
            let mut v = Vec::with_capacity(n);
            if fused_kernel(parts, &mut v.spare_capacity_mut()[..n]) == n {
                // SAFETY: the kernel initialized all `n` rows (it returned `n`).
                unsafe { v.set_len(n) };
                return Col::all_ok(Vals::B(Cow::Owned(v)));
            }
        }
        match e {
            Expr::Lit(v) => Col::all_ok(Vals::Const(v.clone())),
            Expr::Time => Col::all_ok(Vals::T(Cow::Borrowed(&self.cx.batch.time[lo..hi]))),
            Expr::Ref(i) => self.reference(*i, lo, hi),
            Expr::Unary(op, x) => {
                let c = self.eval(x, lo, hi, sel);
                unary(*op, c, n)
            }
            Expr::Binary(op, l, r) => {
                let lc = self.eval(l, lo, hi, sel);
                let rsel = if r.is_stateful() {
                    Some(right_selection(*op, &lc, sel, n))
                } else {
                    None
                };
                let rc = self.eval(r, lo, hi, rsel.as_deref());
                match op {
                    BinOp::And | BinOp::Or => logical(*op, lc, rc, n),
                    _ => self.binary(e, *op, lc, rc, n),
                }
            }
            Expr::Call(c) => self.call(c, lo, hi, sel),
        }
    }

    /// `"field" op number` on a float field: the shape of most `where` clauses. Gives the
    /// field's values and validity flags over rows `lo..hi`.
    fn simple_cmp(&self, e: &Expr, lo: usize, hi: usize) -> Option<SimpleCmp<'a>> {
        let Expr::Binary(op, x, y) = e else {
            return None;
        };
        if !op.is_comparison() {
            return None;
        }
        let (i, op, c) = match (&**x, &**y) {
            (Expr::Ref(i), Expr::Lit(c)) => (*i, *op, c),
            (Expr::Lit(c), Expr::Ref(i)) => (*i, flip(*op), c),
            _ => return None,
        };
        let c = match c {
            Scalar::Float(f) => *f,
            Scalar::Int(v) => *v as f64,
            _ => return None,
        };
        let rc = &self.cx.refs[i];
        match (rc.field, rc.tag) {
            (Some(col), None) => match &col.data {
                ColumnData::Float(v) => Some((&v[lo..hi], &col.valid[lo..hi], op, c)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The two sides of `cmp AND cmp` / `cmp OR cmp` on float fields, when `e` has that shape.
    fn fused_parts(&self, e: &Expr, lo: usize, hi: usize) -> Option<FusedParts<'a>> {
        let Expr::Binary(op @ (BinOp::And | BinOp::Or), l, r) = e else {
            return None;
        };
        let left = self.simple_cmp(l, lo, hi)?;
        let right = self.simple_cmp(r, lo, hi)?;
        Some((*op == BinOp::And, left, right))
    }

    /// `cmp AND cmp` / `cmp OR cmp` on float fields written straight into `out` (rows
    /// `lo..hi`), one pass that reads values and validity flags together. Returns how many
    /// leading rows were done: it stops before the first block with a row lacking a field
    /// (0 when `e` does not have the shape), and the caller evaluates from there the general way.
    pub fn fused_into(
        &self,
        e: &Expr,
        lo: usize,
        hi: usize,
        out: &mut [MaybeUninit<bool>],
    ) -> usize {
        match self.fused_parts(e, lo, hi) {
            Some(parts) => fused_kernel(parts, out),
            None => 0,
        }
    }

    /// The operands of `"field" op number` (a float or int field) or `"tag" op literal` (string
    /// comparison or regex, as a result per dictionary entry) over rows `lo..hi`; None when `e`
    /// has another shape. Kernels that write a mask from these in one pass (bytes here, bits in
    /// [`super::bits`]) give the same values as the general path: only the temporaries are gone.
    pub fn direct(&mut self, e: &Expr, lo: usize, hi: usize) -> Option<Direct<'_>> {
        let Expr::Binary(op, x, y) = e else {
            return None;
        };
        let (i, op, c) = match (&**x, &**y) {
            (Expr::Ref(i), Expr::Lit(c)) => (*i, *op, c),
            (Expr::Lit(c), Expr::Ref(i)) if op.is_comparison() => (*i, flip(*op), c),
            _ => return None,
        };
        let rc = &self.cx.refs[i];
        match (rc.field, rc.tag) {
            (Some(col), None) if op.is_comparison() => {
                let va = &col.valid[lo..hi];
                match (&col.data, c) {
                    (ColumnData::Float(v), Scalar::Float(c)) => {
                        Some(Direct::F64(&v[lo..hi], va, op, *c))
                    }
                    (ColumnData::Float(v), Scalar::Int(c)) => {
                        Some(Direct::F64(&v[lo..hi], va, op, *c as f64))
                    }
                    (ColumnData::Int(v), Scalar::Int(c)) => {
                        Some(Direct::I64(&v[lo..hi], va, op, *c))
                    }
                    _ => None,
                }
            }
            (None, Some(t)) => {
                let codes = &t.codes[lo..hi];
                let lut = self.dict_lut(e, op, &t.dict, c)?;
                Some(Direct::Dict(codes, lut))
            }
            _ => None,
        }
    }

    /// The mask of a [`Engine::direct`] shape over rows `lo..hi`, written straight into `out`
    /// in one pass with the failing rows (field or tag missing) counted; None for other shapes.
    pub fn direct_mask(
        &mut self,
        e: &Expr,
        lo: usize,
        hi: usize,
        out: &mut [MaybeUninit<bool>],
    ) -> Option<MaskErrors> {
        Some(match self.direct(e, lo, hi)? {
            Direct::F64(v, va, op, c) => {
                let bad = cmp_f64_valid(op, v, c, va, out);
                MaskErrors::of(bad, || va.iter().position(|&k| !k))
            }
            Direct::I64(v, va, op, c) => {
                let bad = with_cmp!(op, c, i64, |f| cmp_valid((v, va, out), f));
                MaskErrors::of(bad, || va.iter().position(|&k| !k))
            }
            Direct::Dict(codes, lut) => {
                let bad = dict_lookup(codes, lut, out);
                MaskErrors::of(bad, || codes.iter().position(|&k| k == NO_TAG))
            }
        })
    }

    /// A tag test against a literal (string comparison or regex) for every dictionary value,
    /// computed once per batch and expression node.
    fn dict_lut(&mut self, e: &Expr, op: BinOp, dict: &[String], c: &Scalar) -> Option<&Vec<bool>> {
        let test: Box<dyn Fn(&str) -> bool + '_> = match (op, c) {
            (BinOp::RegexMatch, Scalar::Regex(re)) => Box::new(move |s: &str| re.is_match(s)),
            (BinOp::RegexNotMatch, Scalar::Regex(re)) => Box::new(move |s: &str| !re.is_match(s)),
            (op, Scalar::Str(t)) if op.is_comparison() => {
                Box::new(move |s: &str| ops::cmp_op(op, s, t.as_str()))
            }
            _ => return None,
        };
        // The whole dictionary once per batch (it is never larger than the batch).
        let key = (e as *const Expr as usize, dict.as_ptr() as usize);
        Some(
            self.dict_cache
                .entry(key)
                .or_insert_with(|| dict.iter().map(|d| test(d)).collect()),
        )
    }

    fn reference(&mut self, i: usize, lo: usize, hi: usize) -> Col<'a> {
        let n = hi - lo;
        let rc = &self.cx.refs[i];
        match (rc.field, rc.tag) {
            (Some(f), None) => {
                let mut col = field_col(f, lo, hi, &rc.name);
                // A chunk where every row has the field needs no mask (checked per chunk, so
                // the flags are read once, streaming with the values).
                if matches!(col.ok, Some(Cow::Borrowed(m)) if scalar::all_true(m)) {
                    col.ok = None;
                }
                col
            }
            (None, Some(t)) => {
                let codes = &t.codes[lo..hi];
                Col {
                    vals: Vals::Dict(codes, &t.dict),
                    ok: Some(Cow::Owned(codes.iter().map(|&c| c != NO_TAG).collect())),
                }
            }
            (None, None) => Col::none_ok(Vals::Const(Scalar::Missing(rc.name.clone())), n),
            (Some(_), Some(_)) => {
                let mut vals = Vec::with_capacity(n);
                let mut ok = Vec::with_capacity(n);
                for row in lo..hi {
                    match scalar::ref_value(rc, row) {
                        Ok(v) if !matches!(v, Scalar::Missing(_)) => {
                            vals.push(v);
                            ok.push(true);
                        }
                        // Missing, or a field/tag conflict: not ok either way.
                        _ => {
                            vals.push(Scalar::Missing(rc.name.clone()));
                            ok.push(false);
                        }
                    }
                }
                normalize(vals, ok)
            }
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, l: Col<'a>, r: Col<'a>, n: usize) -> Col<'a> {
        if let (Some(a), Some(b)) = (num(&l.vals), num(&r.vals)) {
            let fast = if op.is_comparison() {
                Some(Vals::B(Cow::Owned(cmp_num(op, a, b))))
            } else if matches!((a, b), (Num::F(_) | Num::CF(_), Num::F(_) | Num::CF(_)))
                && matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
            {
                arith_f(op, a, b, n).map(|v| Vals::F(Cow::Owned(v)))
            } else if matches!((a, b), (Num::I(_) | Num::CI(_), Num::I(_) | Num::CI(_))) {
                arith_i(op, a, b).map(|v| Vals::I(Cow::Owned(v)))
            } else {
                None
            };
            if let Some(vals) = fast {
                return Col {
                    vals,
                    ok: and_ok(l.ok, r.ok),
                };
            }
        }
        let bools = match (&l.vals, &r.vals) {
            (Vals::B(a), Vals::B(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                Some(cmp_ss(op, a, b))
            }
            (Vals::B(a), Vals::Const(Scalar::Bool(c)))
            | (Vals::Const(Scalar::Bool(c)), Vals::B(a))
                if matches!(op, BinOp::Eq | BinOp::Ne) =>
            {
                Some(cmp_sc(op, a, *c))
            }
            (Vals::Dict(codes, dict), Vals::Const(c)) => self.dict_op(e, op, codes, dict, c),
            (Vals::Const(c), Vals::Dict(codes, dict)) if op.is_comparison() => {
                self.dict_op(e, flip(op), codes, dict, c)
            }
            (Vals::Str(col, off), Vals::Const(c)) => str_op(op, col, *off, n, c),
            (Vals::Const(c), Vals::Str(col, off)) if op.is_comparison() => {
                str_op(flip(op), col, *off, n, c)
            }
            _ => None,
        };
        if let Some(v) = bools {
            return Col {
                vals: Vals::B(Cow::Owned(v)),
                ok: and_ok(l.ok, r.ok),
            };
        }
        // The general case: the row interpreter's operator on each valid row.
        let mut vals = Vec::with_capacity(n);
        let mut ok = Vec::with_capacity(n);
        for i in 0..n {
            if l.is_ok(i) && r.is_ok(i) {
                match ops::binary(op, &l.at(i), &r.at(i)) {
                    Ok(v) => {
                        vals.push(v);
                        ok.push(true);
                    }
                    Err(_) => {
                        vals.push(Scalar::Bool(false));
                        ok.push(false);
                    }
                }
            } else {
                vals.push(Scalar::Bool(false));
                ok.push(false);
            }
        }
        normalize(vals, ok)
    }

    /// A string comparison or regex match of a tag against a literal, run once per dictionary
    /// entry and cached for the batch.
    fn dict_op(
        &mut self,
        e: &Expr,
        op: BinOp,
        codes: &[u32],
        dict: &[String],
        c: &Scalar,
    ) -> Option<Vec<bool>> {
        let lut = self.dict_lut(e, op, dict, c)?;
        Some(map1(codes, |code| {
            lut.get(code as usize).copied().unwrap_or(false)
        }))
    }

    fn call(&mut self, c: &Call, lo: usize, hi: usize, sel: Option<&[bool]>) -> Col<'a> {
        let n = hi - lo;
        if matches!(c.func, Func::Now) {
            return Col::all_ok(Vals::Const(Scalar::Time(self.cx.now_ns)));
        }
        if matches!(c.func, Func::IsPresent) {
            if let Expr::Ref(i) = &c.args[0] {
                let rc = &self.cx.refs[*i];
                let present: Option<Vec<bool>> = match (rc.field, rc.tag) {
                    (Some(f), None) => Some(f.valid[lo..hi].to_vec()),
                    (None, Some(t)) => Some(t.codes[lo..hi].iter().map(|&c| c != NO_TAG).collect()),
                    (None, None) => Some(vec![false; n]),
                    (Some(_), Some(_)) => None,
                };
                if let Some(p) = present {
                    return Col::all_ok(Vals::B(Cow::Owned(p)));
                }
            }
            return self.rows_fallback(&Expr::Call(Box::new(c.clone())), lo, hi, sel);
        }
        if matches!(c.func, Func::If) {
            return self.if_call(c, lo, hi, sel);
        }
        // Arguments in order; a stateful argument runs only where the earlier ones succeeded.
        let mut args: Vec<Col<'a>> = Vec::with_capacity(c.args.len());
        let mut arg_sel: Option<Vec<bool>> = None;
        for a in &c.args {
            let this_sel = if a.is_stateful() {
                let mut s: Vec<bool> = sel.map_or_else(|| vec![true; n], <[bool]>::to_vec);
                for prev in &args {
                    for (i, v) in s.iter_mut().enumerate() {
                        *v &= prev.is_ok(i);
                    }
                }
                arg_sel = Some(s);
                arg_sel.as_deref()
            } else {
                None
            };
            let col = self.eval(a, lo, hi, this_sel);
            args.push(col);
        }
        let _ = arg_sel;
        if c.func.is_stateful() {
            return self.stateful_call(c, &args, lo, hi, sel);
        }
        match (c.func, args.as_slice()) {
            (
                Func::Math1(f),
                [Col {
                    vals: Vals::F(x),
                    ok,
                }],
            ) => {
                return Col {
                    vals: Vals::F(Cow::Owned(x.iter().map(|&v| f(v)).collect())),
                    ok: ok.clone(),
                }
            }
            (
                Func::Time(f),
                [Col {
                    vals: Vals::T(x),
                    ok,
                }],
            ) => {
                return Col {
                    vals: Vals::I(Cow::Owned(x.iter().map(|&v| f(v)).collect())),
                    ok: ok.clone(),
                }
            }
            _ => {}
        }
        let mut vals = Vec::with_capacity(n);
        let mut ok = Vec::with_capacity(n);
        let mut argv = Vec::with_capacity(args.len());
        for i in 0..n {
            argv.clear();
            if args.iter().all(|a| a.is_ok(i)) {
                argv.extend(args.iter().map(|a| a.at(i)));
                if let Ok(v) = scalar::call_checked(c, &argv, self.cx.now_ns) {
                    vals.push(v);
                    ok.push(true);
                    continue;
                }
            }
            vals.push(Scalar::Bool(false));
            ok.push(false);
        }
        normalize(vals, ok)
    }

    /// `if(cond, a, b)`: each row takes the branch its condition picks; a stateful branch runs
    /// only on the rows that pick it.
    fn if_call(&mut self, c: &Call, lo: usize, hi: usize, sel: Option<&[bool]>) -> Col<'a> {
        let n = hi - lo;
        let cond = self.eval(&c.args[0], lo, hi, sel);
        let picks: Vec<Option<bool>> = (0..n)
            .map(|i| if cond.is_ok(i) { cond.bool_at(i) } else { None })
            .collect();
        let branch = |this: &mut Self, k: usize, want: bool| {
            let e = &c.args[k];
            let s: Option<Vec<bool>> = e.is_stateful().then(|| {
                (0..n)
                    .map(|i| sel.is_none_or(|s| s[i]) && picks[i] == Some(want))
                    .collect()
            });
            this.eval(e, lo, hi, s.as_deref())
        };
        let a = branch(self, 1, true);
        let b = branch(self, 2, false);
        let mut vals = Vec::with_capacity(n);
        let mut ok = Vec::with_capacity(n);
        for (i, p) in picks.iter().enumerate() {
            let chosen = match p {
                Some(true) => Some(&a),
                Some(false) => Some(&b),
                None => None,
            };
            match chosen {
                Some(col) if col.is_ok(i) => {
                    vals.push(col.at(i));
                    ok.push(true);
                }
                _ => {
                    vals.push(Scalar::Bool(false));
                    ok.push(false);
                }
            }
        }
        normalize(vals, ok)
    }

    fn stateful_call(
        &mut self,
        c: &Call,
        args: &[Col<'a>],
        lo: usize,
        hi: usize,
        sel: Option<&[bool]>,
    ) -> Col<'a> {
        let n = hi - lo;
        let mut vals = Vec::with_capacity(n);
        let mut ok = Vec::with_capacity(n);
        let mut argv = Vec::with_capacity(args.len());
        for i in 0..n {
            argv.clear();
            let run = sel.is_none_or(|s| s[i]) && args.iter().all(|a| a.is_ok(i));
            if run {
                argv.extend(args.iter().map(|a| a.at(i)));
                if scalar::check_args(c, &argv, &Vec::new).is_ok() {
                    let group = self.cx.group(lo + i);
                    if let Ok(v) = self.state.entry(c.func, c.slot, group).call(&argv) {
                        vals.push(v);
                        ok.push(true);
                        continue;
                    }
                }
            }
            vals.push(Scalar::Bool(false));
            ok.push(false);
        }
        normalize(vals, ok)
    }

    /// Runs the row interpreter on every row of the range (state changes only on selected rows).
    fn rows_fallback(&mut self, e: &Expr, lo: usize, hi: usize, sel: Option<&[bool]>) -> Col<'a> {
        let n = hi - lo;
        let mut vals = Vec::with_capacity(n);
        let mut ok = Vec::with_capacity(n);
        for i in 0..n {
            let mutate = sel.is_none_or(|s| s[i]);
            match scalar::eval_row(e, self.cx, lo + i, self.state, mutate) {
                Ok(v) if mutate && !matches!(v, Scalar::Missing(_)) => {
                    vals.push(v);
                    ok.push(true);
                }
                _ => {
                    vals.push(Scalar::Bool(false));
                    ok.push(false);
                }
            }
        }
        normalize(vals, ok)
    }
}

/// Rows where the right side of `op` is evaluated (Kapacitor evaluates it only when the left
/// side succeeded, and `AND`/`OR` short-circuit).
fn right_selection(op: BinOp, l: &Col<'_>, sel: Option<&[bool]>, n: usize) -> Vec<bool> {
    (0..n)
        .map(|i| {
            sel.is_none_or(|s| s[i])
                && l.is_ok(i)
                && match op {
                    BinOp::And => l.bool_at(i) == Some(true),
                    BinOp::Or => l.bool_at(i) == Some(false),
                    _ => true,
                }
        })
        .collect()
}

fn field_col<'a>(f: &'a Column, lo: usize, hi: usize, name: &str) -> Col<'a> {
    let valid = Some(Cow::Borrowed(&f.valid[lo..hi]));
    match &f.data {
        ColumnData::Float(v) => Col {
            vals: Vals::F(Cow::Borrowed(&v[lo..hi])),
            ok: valid,
        },
        ColumnData::Int(v) => Col {
            vals: Vals::I(Cow::Borrowed(&v[lo..hi])),
            ok: valid,
        },
        ColumnData::Bool(v) => Col {
            vals: Vals::B(Cow::Borrowed(&v[lo..hi])),
            ok: valid,
        },
        ColumnData::Str(s) => Col {
            vals: Vals::Str(s, lo),
            ok: valid,
        },
        ColumnData::UInt(v) => {
            // Unsigned values become ints; one above i64::MAX is an error for its row.
            let vals: Vec<i64> = v[lo..hi].iter().map(|&u| u as i64).collect();
            let ok = v[lo..hi]
                .iter()
                .zip(&f.valid[lo..hi])
                .map(|(&u, &ok)| ok && u <= i64::MAX as u64)
                .collect();
            Col {
                vals: Vals::I(Cow::Owned(vals)),
                ok: Some(Cow::Owned(ok)),
            }
        }
        ColumnData::Mixed(v) => {
            let mut vals = Vec::with_capacity(hi - lo);
            let mut ok = Vec::with_capacity(hi - lo);
            for (x, &valid) in v[lo..hi].iter().zip(&f.valid[lo..hi]) {
                match x
                    .clone()
                    .filter(|_| valid)
                    .map(|x| scalar::field_scalar(x, name))
                {
                    Some(Ok(s)) => {
                        vals.push(s);
                        ok.push(true);
                    }
                    _ => {
                        vals.push(Scalar::Bool(false));
                        ok.push(false);
                    }
                }
            }
            normalize(vals, ok)
        }
    }
}

fn str_op(op: BinOp, col: &StrColumn, off: usize, n: usize, c: &Scalar) -> Option<Vec<bool>> {
    let it = (off..off + n).map(|i| col.get(i));
    Some(match (op, c) {
        (BinOp::RegexMatch, Scalar::Regex(re)) => it.map(|s| re.is_match(s)).collect(),
        (BinOp::RegexNotMatch, Scalar::Regex(re)) => it.map(|s| !re.is_match(s)).collect(),
        (op, Scalar::Str(t)) if op.is_comparison() => {
            it.map(|s| ops::cmp_op(op, s, t.as_str())).collect()
        }
        _ => return None,
    })
}

fn bools<'x>(v: &'x Vals<'_>) -> Option<Result<&'x [bool], bool>> {
    match v {
        Vals::B(x) => Some(Ok(x)),
        Vals::Const(Scalar::Bool(c)) => Some(Err(*c)),
        _ => None,
    }
}

/// `AND`/`OR` of two boolean columns with Kapacitor's short circuit on validity: a row is valid
/// when the left side is valid and either decides the result or the right side is valid too.
fn logical<'a>(op: BinOp, l: Col<'a>, r: Col<'a>, n: usize) -> Col<'a> {
    let and = op == BinOp::And;
    if let (Some(lb), Some(rb)) = (bools(&l.vals), bools(&r.vals)) {
        let lv: Cow<'_, [bool]> = match lb {
            Ok(x) => Cow::Borrowed(x),
            Err(c) => Cow::Owned(vec![c; n]),
        };
        let rv: Cow<'_, [bool]> = match rb {
            Ok(x) => Cow::Borrowed(x),
            Err(c) => Cow::Owned(vec![c; n]),
        };
        let v = if and {
            zip_map(&lv, &rv, |x, y| x & y)
        } else {
            zip_map(&lv, &rv, |x, y| x | y)
        };
        // Where the left side decides, the right side's validity does not matter.
        let ok = match (l.ok, &r.ok) {
            (lo, None) => lo,
            (lo, Some(ro)) => {
                // The left side decides where it is false (AND) or true (OR).
                let flip = !and;
                let right_ok = zip_map(&lv, ro, |x, o| (x == flip) | o);
                Some(Cow::Owned(match lo {
                    None => right_ok,
                    Some(lo) => zip_map(&lo, &right_ok, |a, b| a & b),
                }))
            }
        };
        return Col {
            vals: Vals::B(Cow::Owned(v)),
            ok,
        };
    }
    let mut vals = Vec::with_capacity(n);
    let mut ok = Vec::with_capacity(n);
    for i in 0..n {
        let res = if !l.is_ok(i) {
            None
        } else {
            match (op, l.bool_at(i)) {
                (BinOp::And, Some(false)) => Some(false),
                (BinOp::Or, Some(true)) => Some(true),
                (_, Some(_)) if r.is_ok(i) => r.bool_at(i),
                _ => None,
            }
        };
        vals.push(res.unwrap_or(false));
        ok.push(res.is_some());
    }
    Col {
        vals: Vals::B(Cow::Owned(vals)),
        ok: Some(Cow::Owned(ok)),
    }
}

fn unary<'a>(op: UnOp, c: Col<'a>, n: usize) -> Col<'a> {
    let vals = match (op, &c.vals) {
        (UnOp::Neg, Vals::F(v)) => Some(Vals::F(Cow::Owned(v.iter().map(|x| -x).collect()))),
        (UnOp::Neg, Vals::I(v)) => Some(Vals::I(Cow::Owned(
            v.iter().map(|x| x.wrapping_neg()).collect(),
        ))),
        (UnOp::Neg, Vals::D(v)) => Some(Vals::D(v.iter().map(|x| x.wrapping_neg()).collect())),
        (UnOp::Not, Vals::B(v)) => Some(Vals::B(Cow::Owned(v.iter().map(|x| !x).collect()))),
        _ => None,
    };
    if let Some(vals) = vals {
        return Col { vals, ok: c.ok };
    }
    let mut vals = Vec::with_capacity(n);
    let mut ok = Vec::with_capacity(n);
    for i in 0..n {
        match c.is_ok(i).then(|| ops::unary(op, &c.at(i))) {
            Some(Ok(v)) => {
                vals.push(v);
                ok.push(true);
            }
            _ => {
                vals.push(Scalar::Bool(false));
                ok.push(false);
            }
        }
    }
    normalize(vals, ok)
}

/// Per-row values as a typed column when every valid row has the same simple type.
pub fn normalize<'a>(vals: Vec<Scalar>, ok: Vec<bool>) -> Col<'a> {
    let mut ty = None;
    for (v, &k) in vals.iter().zip(&ok) {
        if k {
            match ty {
                None => ty = Some(v.ty()),
                Some(t) if t != v.ty() => {
                    ty = Some(Type::Missing);
                    break;
                }
                _ => {}
            }
        }
    }
    let ok_mask = if ok.iter().all(|&k| k) {
        None
    } else {
        Some(Cow::Owned(ok))
    };
    let typed = match ty {
        Some(Type::Float) => Vals::F(Cow::Owned(
            vals.iter()
                .map(|v| if let Scalar::Float(f) = v { *f } else { 0.0 })
                .collect(),
        )),
        Some(Type::Int) => Vals::I(Cow::Owned(
            vals.iter()
                .map(|v| if let Scalar::Int(x) = v { *x } else { 0 })
                .collect(),
        )),
        Some(Type::Bool) => Vals::B(Cow::Owned(
            vals.iter()
                .map(|v| matches!(v, Scalar::Bool(true)))
                .collect(),
        )),
        Some(Type::Duration) => Vals::D(
            vals.iter()
                .map(|v| if let Scalar::Duration(x) = v { *x } else { 0 })
                .collect(),
        ),
        Some(Type::Time) => Vals::T(Cow::Owned(
            vals.iter()
                .map(|v| if let Scalar::Time(x) = v { *x } else { 0 })
                .collect(),
        )),
        _ => Vals::Row(vals),
    };
    Col {
        vals: typed,
        ok: ok_mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vector build of the float comparison agrees with the plain loop: values with NaN
    /// and both signs, with and without rows lacking the field, lengths around the 16- and 64-row
    /// steps.
    #[test]
    fn float_compare_builds_agree() {
        let ops: Vec<BinOp> = BinOp::ALL
            .into_iter()
            .filter(|o| o.is_comparison())
            .collect();
        for n in [0usize, 1, 15, 16, 17, 63, 64, 65, 130, 200] {
            let a: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => f64::NAN,
                    1 => 2.5,
                    2 => -2.5,
                    _ => (i as f64) * 0.37 - 20.0,
                })
                .collect();
            let gaps: Vec<bool> = (0..n).map(|i| i % 5 != 3).collect();
            let dense = vec![true; n];
            for (va, op) in [&gaps, &dense]
                .into_iter()
                .flat_map(|va| ops.iter().map(move |&op| (va, op)))
            {
                let va = va.clone();
                for c in [2.5, 0.0, f64::NAN] {
                    let mut want = vec![MaybeUninit::new(false); n];
                    let want_bad =
                        with_cmp!(op, c, f64, |f| cmp_valid_plain((&a, &va, &mut want), f));
                    let want: Vec<bool> = want.iter().map(|b| unsafe { b.assume_init() }).collect();
                    let check = |got: &[MaybeUninit<bool>], bad: usize, build: &str| {
                        let got: Vec<bool> =
                            got.iter().map(|b| unsafe { b.assume_init() }).collect();
                        assert_eq!(
                            (got, bad),
                            (want.clone(), want_bad),
                            "{build} {op:?} {c} n={n}"
                        );
                    };
                    let mut out = vec![MaybeUninit::new(false); n];
                    let bad = cmp_f64_valid(op, &a, c, &va, &mut out);
                    check(&out, bad, "dispatched");
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        let mut out = vec![MaybeUninit::new(false); n];
                        // SAFETY: AVX2 checked just above.
                        let bad = unsafe { cmp_f64_avx2_op(op, &a, c, &va, false, &mut out) };
                        check(&out, bad, "avx2");
                        if all_true(&va) {
                            let mut out = vec![MaybeUninit::new(false); n];
                            // SAFETY: AVX2 checked above.
                            let bad = unsafe { cmp_f64_avx2_op(op, &a, c, &va, true, &mut out) };
                            check(&out, bad, "avx2 dense");
                        }
                    }
                }
            }
        }
    }
}
