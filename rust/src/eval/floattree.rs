//! `eval` of float arithmetic (`"a" * 2.0 + "b"`): a tree of `+ - * /` over float fields and
//! float literals, evaluated in blocks straight into the result column. The general path makes
//! a zeroed temporary per node per chunk and copies the root's into the result; here each node
//! writes a block that stays in L1, and the result is written once.

use std::mem::MaybeUninit;

use crate::batch::ColumnData;

use super::compile::Expr;
use super::scalar::BatchCtx;
use super::types::{BinOp, Scalar};

/// Rows per block: a few KB per tree level, in L1.
const ROWS: usize = 512;
/// Deeper trees go the general way (each level keeps a block on the stack).
const MAX_DEPTH: usize = 8;

/// A node of the tree with its columns resolved.
enum Node<'a> {
    Field(&'a [f64]),
    Lit(f64),
    Op(BinOp, Box<Node<'a>>, Box<Node<'a>>),
}

/// The result of a float tree over a whole batch.
pub struct FloatTree {
    pub values: Vec<f64>,
    pub valid: Vec<bool>,
    pub bad: usize,
    pub first_bad: Option<usize>,
}

fn resolve<'a>(
    e: &Expr,
    cx: &BatchCtx<'a>,
    depth: usize,
    valids: &mut Vec<&'a [bool]>,
) -> Option<Node<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    match e {
        Expr::Lit(Scalar::Float(f)) => Some(Node::Lit(*f)),
        Expr::Ref(i) => {
            let rc = &cx.refs[*i];
            match (rc.field, rc.tag) {
                (Some(col), None) => match &col.data {
                    ColumnData::Float(v) => {
                        valids.push(&col.valid);
                        Some(Node::Field(v))
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        Expr::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), l, r) => {
            let l = resolve(l, cx, depth + 1, valids)?;
            let r = resolve(r, cx, depth + 1, valids)?;
            // literal OP literal is folded at compile time; a tree needs a field
            Some(Node::Op(*op, Box::new(l), Box::new(r)))
        }
        _ => None,
    }
}

/// Binds `$f` to the operator's function, so each loop below is compiled (and vectorized) once
/// per operator: the operator is chosen per block, never per row.
macro_rules! with_op {
    ($op:expr, |$f:ident| $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = |x: f64, y: f64| x + y;
                $body
            }
            BinOp::Sub => {
                let $f = |x: f64, y: f64| x - y;
                $body
            }
            BinOp::Mul => {
                let $f = |x: f64, y: f64| x * y;
                $body
            }
            _ => {
                let $f = |x: f64, y: f64| x / y;
                $body
            }
        }
    };
}

/// An operand over a block: a column slice (a field, or a computed child) or a literal.
enum Arg<'s> {
    S(&'s [f64]),
    C(f64),
}

/// Writes `f(a[i], b[i])` into `out`: one vectorized loop per operand shape.
#[inline(always)]
fn combine(out: &mut [MaybeUninit<f64>], a: Arg<'_>, b: Arg<'_>, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (Arg::S(a), Arg::S(b)) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = MaybeUninit::new(f(x, y));
            }
        }
        (Arg::S(a), Arg::C(c)) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = MaybeUninit::new(f(x, c));
            }
        }
        (Arg::C(c), Arg::S(b)) => {
            for (o, &y) in out.iter_mut().zip(b) {
                *o = MaybeUninit::new(f(c, y));
            }
        }
        (Arg::C(x), Arg::C(y)) => out.fill(MaybeUninit::new(f(x, y))),
    }
}

/// The operand `node` over rows `lo..lo + n`: computed into `buf` when it is an operation.
fn arg<'s>(
    node: &'s Node<'_>,
    lo: usize,
    n: usize,
    buf: &'s mut [f64],
    scratch: &mut [f64],
) -> Arg<'s> {
    match node {
        Node::Field(v) => Arg::S(&v[lo..lo + n]),
        Node::Lit(c) => Arg::C(*c),
        Node::Op(..) => {
            let buf = &mut buf[..n];
            // SAFETY: `[f64]` and `[MaybeUninit<f64>]` have the same layout, and `block` only
            // writes initialized values through the view.
            let view = unsafe {
                std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut MaybeUninit<f64>, n)
            };
            block(node, lo, view, scratch);
            Arg::S(buf)
        }
    }
}

/// Writes rows `lo..lo + out.len()` of the operation `node` into `out`. `scratch` holds two
/// blocks per tree level below this one.
fn block(node: &Node<'_>, lo: usize, out: &mut [MaybeUninit<f64>], scratch: &mut [f64]) {
    let n = out.len();
    let Node::Op(op, l, r) = node else {
        // the root and every computed operand is an operation (see `arg`)
        return;
    };
    let (lbuf, rest) = scratch.split_at_mut(ROWS.min(scratch.len()));
    let (rbuf, rest) = rest.split_at_mut(ROWS.min(rest.len()));
    // the left operand's own scratch is free again once it is computed: both sides share `rest`
    let a = arg(l, lo, n, lbuf, rest);
    let b = arg(r, lo, n, rbuf, rest);
    with_op!(*op, |f| combine(out, a, b, f))
}

/// The tree's values and validity over the batch, or None when `e` is not a float tree.
pub fn eval(e: &Expr, cx: &BatchCtx<'_>) -> Option<FloatTree> {
    // a bare field or literal is not worth a special case
    if !matches!(e, Expr::Binary(..)) {
        return None;
    }
    let mut valids = Vec::new();
    let node = resolve(e, cx, 0, &mut valids)?;
    let n = cx.batch.len();
    let mut values: Vec<f64> = Vec::with_capacity(n);
    let mut valid: Vec<bool> = Vec::with_capacity(n);
    let mut bad = 0;
    let mut scratch = vec![0.0f64; 2 * ROWS * (MAX_DEPTH + 1)];
    {
        let vs = &mut values.spare_capacity_mut()[..n];
        let ks = &mut valid.spare_capacity_mut()[..n];
        let mut lo = 0;
        while lo < n {
            let hi = (lo + ROWS).min(n);
            block(&node, lo, &mut vs[lo..hi], &mut scratch);
            let mut ok = [true; ROWS];
            let ok = &mut ok[..hi - lo];
            for v in &valids {
                for (k, &x) in ok.iter_mut().zip(&v[lo..hi]) {
                    *k &= x;
                }
            }
            let mut good = 0usize;
            for (k, &x) in ks[lo..hi].iter_mut().zip(ok.iter()) {
                *k = MaybeUninit::new(x);
                good += x as usize;
            }
            bad += (hi - lo) - good;
            lo = hi;
        }
    }
    // SAFETY: the loop above initialized all `n` values and flags (`lo` covered `0..n`).
    unsafe {
        values.set_len(n);
        valid.set_len(n);
    }
    let first_bad = if bad > 0 {
        valid.iter().position(|&k| !k)
    } else {
        None
    };
    Some(FloatTree {
        values,
        valid,
        bad,
        first_bad,
    })
}
