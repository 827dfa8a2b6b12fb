//! The row-at-a-time interpreter: Kapacitor's semantics on one row. The column kernels use it as
//! their general fallback (mixed-type columns, rare operator/function combinations) and to word
//! the error of a failing row; tests use it as the reference the kernels must agree with.

use std::sync::Arc;

use crate::batch::{Column, DictColumn, PointBatch, Value};

use super::compile::{Call, Compiled, Expr};
use super::functions::{self, Func};
use super::ops;
use super::state::EvalState;
use super::types::{BinOp, Scalar, Type};

/// Where one reference's values live in a given batch.
#[derive(Debug, Clone)]
pub struct RefCols<'a> {
    pub name: Arc<str>,
    pub field: Option<&'a Column>,
    pub tag: Option<&'a DictColumn>,
}

/// A batch being evaluated, with the program's references resolved to its columns.
pub struct BatchCtx<'a> {
    pub batch: &'a PointBatch,
    pub refs: Vec<RefCols<'a>>,
    pub groups: Option<&'a [u32]>,
    pub now_ns: i64,
}

/// Whether every flag is set; folds blocks without an early exit so that it vectorizes (a
/// short-circuiting `all` walks a million rows one by one).
pub fn all_true(flags: &[bool]) -> bool {
    flags
        .chunks(256)
        .all(|c| c.iter().fold(true, |acc, &v| acc & v))
}

pub const FIELD_TAG_CONFLICT: &str = "cannot have field and tags with same name";

impl<'a> BatchCtx<'a> {
    pub fn new(
        batch: &'a PointBatch,
        program: &Compiled,
        groups: Option<&'a [u32]>,
        now_ns: i64,
    ) -> Self {
        let refs = program
            .refs
            .iter()
            .map(|name| RefCols {
                name: name.clone(),
                field: batch.field(name),
                tag: batch.tag(name),
            })
            .collect();
        BatchCtx {
            batch,
            refs,
            groups,
            now_ns,
        }
    }

    pub fn group(&self, row: usize) -> u32 {
        self.groups.map_or(0, |g| g[row])
    }
}

/// A field value as a lambda value. Unsigned integers become ints (Kapacitor 1.x has no
/// unsigned type); one above `i64::MAX` is an error for that row.
pub fn field_scalar(v: Value, name: &str) -> Result<Scalar, String> {
    Ok(match v {
        Value::Float(f) => Scalar::Float(f),
        Value::Int(i) => Scalar::Int(i),
        Value::UInt(u) => Scalar::Int(uint_to_int(u, name)?),
        Value::Bool(b) => Scalar::Bool(b),
        Value::Str(s) => Scalar::Str(s),
    })
}

pub fn uint_to_int(u: u64, name: &str) -> Result<i64, String> {
    i64::try_from(u).map_err(|_| format!("unsigned value {u} of \"{name}\" overflows int64"))
}

/// The value of a reference in a row: field first, then tag; `Missing` when neither is set.
pub fn ref_value(rc: &RefCols<'_>, row: usize) -> Result<Scalar, String> {
    let field = rc.field.and_then(|c| c.get(row));
    let tag = rc.tag.and_then(|t| t.get(row));
    match (field, tag) {
        (Some(_), Some(_)) => Err(FIELD_TAG_CONFLICT.to_owned()),
        (Some(v), None) => field_scalar(v, &rc.name),
        (None, Some(t)) => Ok(Scalar::Str(t.to_owned())),
        (None, None) => Ok(Scalar::Missing(rc.name.clone())),
    }
}

/// Evaluates the whole program on one row; a `Missing` result is an error.
pub fn eval_top(
    e: &Expr,
    cx: &BatchCtx<'_>,
    row: usize,
    state: &mut EvalState,
    mutate: bool,
) -> Result<Scalar, String> {
    match eval_row(e, cx, row, state, mutate)? {
        Scalar::Missing(name) => Err(ops::missing_error("", &name)),
        v => Ok(v),
    }
}

/// Evaluates an expression on one row. With `mutate` false, stateful functions compute their
/// value from a copy of their state (used to word errors without changing state).
pub fn eval_row(
    e: &Expr,
    cx: &BatchCtx<'_>,
    row: usize,
    state: &mut EvalState,
    mutate: bool,
) -> Result<Scalar, String> {
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Time => Ok(Scalar::Time(cx.batch.time[row])),
        Expr::Ref(i) => ref_value(&cx.refs[*i], row),
        Expr::Unary(op, x) => ops::unary(*op, &eval_row(x, cx, row, state, mutate)?),
        Expr::Binary(op @ (BinOp::And | BinOp::Or), l, r) => {
            let lv = eval_row(l, cx, row, state, mutate)?;
            match (op, &lv) {
                (BinOp::And, Scalar::Bool(false)) => Ok(Scalar::Bool(false)),
                (BinOp::Or, Scalar::Bool(true)) => Ok(Scalar::Bool(true)),
                (_, Scalar::Bool(_)) => {
                    let rv = eval_row(r, cx, row, state, mutate)?;
                    ops::binary(*op, &lv, &rv)
                }
                // Only booleans support AND/OR, so a non-boolean left side is an error
                // whatever the right side is; the right side is not evaluated.
                (_, Scalar::Missing(name)) => Err(ops::missing_error("left", name)),
                _ => Err(ops::type_error(*op, lv.ty(), Type::Bool)),
            }
        }
        Expr::Binary(op, l, r) => {
            let lv = eval_row(l, cx, row, state, mutate)?;
            if let Scalar::Missing(name) = &lv {
                // Kapacitor sees the left side's type first and stops: the right side (maybe a
                // stateful call) is not evaluated.
                return Err(ops::missing_error("left", name));
            }
            let rv = eval_row(r, cx, row, state, mutate)?;
            ops::binary(*op, &lv, &rv)
        }
        Expr::Call(c) if matches!(c.func, Func::If) => eval_if(c, cx, row, state, mutate),
        Expr::Call(c) if matches!((c.func, &c.args[..]), (Func::IsPresent, [Expr::Ref(_)])) => {
            // Presence of a field or tag, whatever its value (an unsigned value too large for
            // an int is present).
            let Expr::Ref(i) = &c.args[0] else {
                unreachable!()
            };
            let rc = &cx.refs[*i];
            let field = rc.field.is_some_and(|f| f.valid[row]);
            let tag = rc.tag.is_some_and(|t| t.get(row).is_some());
            if field && tag {
                return Err(format!("Failed to handle 1 argument: {FIELD_TAG_CONFLICT}"));
            }
            Ok(Scalar::Bool(field || tag))
        }
        Expr::Call(c) => {
            let mut args = Vec::with_capacity(c.args.len());
            for (i, a) in c.args.iter().enumerate() {
                let v = eval_row(a, cx, row, state, mutate)
                    .map_err(|e| format!("Failed to handle {} argument: {}", i + 1, e))?;
                let missing = matches!(v, Scalar::Missing(_));
                args.push(v);
                if missing && !matches!(c.func, Func::IsPresent) {
                    // Later arguments are not evaluated (the column path skips them too).
                    break;
                }
            }
            let scope = || scope_names(cx, row);
            if c.func.is_stateful() {
                check_args(c, &args, &scope)?;
                let group = cx.group(row);
                let res = if mutate {
                    state.entry(c.func, c.slot, group).call(&args)
                } else {
                    state.peek(c.func, c.slot, group).call(&args)
                };
                res.map_err(|e| format!("error calling \"{}\": {}", c.name, e))
            } else {
                check_args(c, &args, &scope)?;
                call_unchecked(c, &args, cx.now_ns)
            }
        }
    }
}

/// `if(cond, a, b)` evaluates only the branch it returns (Kapacitor evaluates both, so
/// `if(isPresent("x"), "x", 0.0)` fails wherever "x" is missing; kapfast returns 0.0 there).
fn eval_if(
    c: &Call,
    cx: &BatchCtx<'_>,
    row: usize,
    state: &mut EvalState,
    mutate: bool,
) -> Result<Scalar, String> {
    let missing = |k: usize| {
        format!(
            "Cannot call function \"if\" argument {} is missing, values in scope are [{}]",
            c.srcs[k],
            scope_names(cx, row).join(" ")
        )
    };
    let cond = eval_row(&c.args[0], cx, row, state, mutate)
        .map_err(|e| format!("Failed to handle 1 argument: {e}"))?;
    let k = match cond {
        Scalar::Bool(true) => 1,
        Scalar::Bool(false) => 2,
        Scalar::Missing(_) => return Err(missing(0)),
        other => {
            return Err(format!(
                "error calling \"if\": first argument to if must be a condition with type of bool - got {}",
                other.ty().go_name()
            ))
        }
    };
    match eval_row(&c.args[k], cx, row, state, mutate) {
        Ok(Scalar::Missing(_)) => Err(missing(k)),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("Failed to handle {} argument: {}", k + 1, e)),
    }
}

/// The references that have a value in a row, for "values in scope" in error texts.
pub fn scope_names(cx: &BatchCtx<'_>, row: usize) -> Vec<String> {
    let mut names: Vec<String> = cx
        .refs
        .iter()
        .filter(|rc| {
            rc.field.is_some_and(|c| c.valid[row]) || rc.tag.is_some_and(|t| t.get(row).is_some())
        })
        .map(|rc| rc.name.to_string())
        .collect();
    names.sort();
    names
}

/// The missing-value and signature checks Kapacitor runs before calling a function.
pub fn check_args(
    c: &Call,
    args: &[Scalar],
    scope: &dyn Fn() -> Vec<String>,
) -> Result<(), String> {
    if !matches!(c.func, Func::IsPresent) {
        let missing: Vec<&str> = args
            .iter()
            .zip(&c.srcs)
            .filter(|(a, _)| matches!(a, Scalar::Missing(_)))
            .map(|(_, s)| s.as_str())
            .collect();
        if !missing.is_empty() {
            let what = if missing.len() == 1 {
                format!("argument {} is", missing[0])
            } else {
                format!("arguments {} are", missing.join(", "))
            };
            return Err(format!(
                "Cannot call function \"{}\" {} missing, values in scope are [{}]",
                c.name,
                what,
                scope().join(" ")
            ));
        }
    }
    let types: Vec<Option<Type>> = args.iter().map(|a| Some(a.ty())).collect();
    functions::check_signature(c.name, c.func, &types)?;
    Ok(())
}

/// Calls a stateless function with Kapacitor's checks and error wording.
pub fn call_checked(c: &Call, args: &[Scalar], now_ns: i64) -> Result<Scalar, String> {
    check_args(c, args, &Vec::new)?;
    call_unchecked(c, args, now_ns)
}

fn call_unchecked(c: &Call, args: &[Scalar], now_ns: i64) -> Result<Scalar, String> {
    functions::call(c.func, args, now_ns)
        .map_err(|e| format!("error calling \"{}\": {}", c.name, e))
}

/// Evaluates a node whose operands are literals (constant folding).
pub fn eval_const(e: &Expr) -> Result<Scalar, String> {
    let lit = |x: &Expr| match x {
        Expr::Lit(v) => Ok(v.clone()),
        _ => Err("internal error: folding a non-literal".to_owned()),
    };
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Unary(op, x) => ops::unary(*op, &lit(x)?),
        Expr::Binary(op, l, r) => ops::binary(*op, &lit(l)?, &lit(r)?),
        Expr::Call(c) => {
            let args = c.args.iter().map(lit).collect::<Result<Vec<_>, _>>()?;
            call_checked(c, &args, 0)
        }
        _ => Err("internal error: folding a reference".to_owned()),
    }
}
