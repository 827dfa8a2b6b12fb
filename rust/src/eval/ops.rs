//! Operator semantics on single values: the one definition of Kapacitor's type rules, used by
//! the compiler (static checks), by the per-row fallback and as the reference the column kernels
//! are tested against.

use super::types::{BinOp, Scalar, Type, UnOp};

/// Error text of integer division or modulo by zero (Kapacitor panics instead).
pub const DIV_BY_ZERO: &str = "integer divide by zero";

const TYPES: [Type; 8] = [
    Type::Float,
    Type::Int,
    Type::Str,
    Type::Bool,
    Type::Duration,
    Type::Time,
    Type::Regex,
    Type::Missing,
];

/// The result type of `l op r`, or `None` when Kapacitor has no evaluation function for the pair.
pub fn result_type(op: BinOp, l: Type, r: Type) -> Option<Type> {
    use BinOp::*;
    use Type::*;
    match (op, l, r) {
        (Add, Float, Float) | (Sub, Float, Float) | (Mul, Float, Float) | (Div, Float, Float) => {
            Some(Float)
        }
        (Add | Sub | Mul | Div | Mod, Int, Int) => Some(Int),
        (Add, Str, Str) => Some(Str),
        (Add | Sub, Duration, Duration) => Some(Duration),
        (Mul, Duration, Int | Float) | (Mul, Int | Float, Duration) => Some(Duration),
        (Div, Duration, Int | Float) => Some(Duration),
        (Div, Duration, Duration) => Some(Int),
        (Eq | Ne | Lt | Le | Gt | Ge, Float | Int, Float | Int) => Some(Bool),
        (Eq | Ne | Lt | Le | Gt | Ge, Str, Str) => Some(Bool),
        (Eq | Ne | Lt | Le | Gt | Ge, Duration, Duration) => Some(Bool),
        (Eq | Ne, Bool, Bool) => Some(Bool),
        (RegexMatch | RegexNotMatch, Str, Regex) => Some(Bool),
        (And | Or, Bool, Bool) => Some(Bool),
        _ => None,
    }
}

/// Whether `t` appears on either side of any evaluation function of `op` (Kapacitor's
/// `typeToBinaryOperators`).
fn type_supports(t: Type, op: BinOp) -> bool {
    TYPES
        .iter()
        .any(|&o| result_type(op, t, o).is_some() || result_type(op, o, t).is_some())
}

/// Kapacitor's `determineError` text for a pair of types with no evaluation function. Like
/// Kapacitor, only the left type is checked for operator support.
pub fn type_error(op: BinOp, l: Type, r: Type) -> String {
    if !type_supports(l, op) {
        return format!(
            "invalid {} operator {} for type {}",
            op.kind(),
            op.symbol(),
            l
        );
    }
    format!(
        "mismatched type to binary operator. got {} {} {}. see bool(), int(), float(), string(), duration()",
        l,
        op.symbol(),
        r
    )
}

pub fn missing_error(side: &str, name: &str) -> String {
    if side.is_empty() {
        format!("reference value \"{name}\" is missing value")
    } else {
        format!("{side} reference value \"{name}\" is missing value")
    }
}

/// `l op r` on two values. `AND`/`OR` here see both operands; the short circuit lives in the
/// interpreters, which skip evaluating the right side.
pub fn binary(op: BinOp, l: &Scalar, r: &Scalar) -> Result<Scalar, String> {
    if let Scalar::Missing(name) = l {
        return Err(missing_error("left", name));
    }
    if let Scalar::Missing(name) = r {
        return Err(missing_error("right", name));
    }
    use BinOp::*;
    use Scalar as S;
    let v = match (op, l, r) {
        (Add, S::Float(a), S::Float(b)) => S::Float(a + b),
        (Sub, S::Float(a), S::Float(b)) => S::Float(a - b),
        (Mul, S::Float(a), S::Float(b)) => S::Float(a * b),
        (Div, S::Float(a), S::Float(b)) => S::Float(a / b),
        (Add, S::Int(a), S::Int(b)) => S::Int(a.wrapping_add(*b)),
        (Sub, S::Int(a), S::Int(b)) => S::Int(a.wrapping_sub(*b)),
        (Mul, S::Int(a), S::Int(b)) => S::Int(a.wrapping_mul(*b)),
        (Div, S::Int(a), S::Int(b)) => S::Int(int_div(*a, *b)?),
        (Mod, S::Int(a), S::Int(b)) => S::Int(int_rem(*a, *b)?),
        (Add, S::Str(a), S::Str(b)) => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            S::Str(s)
        }
        (Add, S::Duration(a), S::Duration(b)) => S::Duration(a.wrapping_add(*b)),
        (Sub, S::Duration(a), S::Duration(b)) => S::Duration(a.wrapping_sub(*b)),
        (Mul, S::Duration(a), S::Int(b)) | (Mul, S::Int(b), S::Duration(a)) => {
            S::Duration(a.wrapping_mul(*b))
        }
        (Mul, S::Duration(a), S::Float(b)) | (Mul, S::Float(b), S::Duration(a)) => {
            S::Duration((*a as f64 * b) as i64)
        }
        (Div, S::Duration(a), S::Int(b)) => S::Duration(int_div(*a, *b)?),
        (Div, S::Duration(a), S::Float(b)) => S::Duration((*a as f64 / b) as i64),
        (Div, S::Duration(a), S::Duration(b)) => S::Int(int_div(*a, *b)?),
        (And, S::Bool(a), S::Bool(b)) => S::Bool(*a && *b),
        (Or, S::Bool(a), S::Bool(b)) => S::Bool(*a || *b),
        (RegexMatch, S::Str(s), S::Regex(re)) => S::Bool(re.is_match(s)),
        (RegexNotMatch, S::Str(s), S::Regex(re)) => S::Bool(!re.is_match(s)),
        (op, l, r) if op.is_comparison() => match compare(op, l, r) {
            Some(b) => S::Bool(b),
            None => return Err(type_error(op, l.ty(), r.ty())),
        },
        (op, l, r) => return Err(type_error(op, l.ty(), r.ty())),
    };
    Ok(v)
}

pub fn int_div(a: i64, b: i64) -> Result<i64, String> {
    if b == 0 {
        Err(DIV_BY_ZERO.to_owned())
    } else {
        Ok(a.wrapping_div(b))
    }
}

pub fn int_rem(a: i64, b: i64) -> Result<i64, String> {
    if b == 0 {
        Err(DIV_BY_ZERO.to_owned())
    } else {
        Ok(a.wrapping_rem(b))
    }
}

/// Applies a comparison operator to an ordering-like pair.
#[inline(always)]
pub fn cmp_op<T: PartialOrd + ?Sized>(op: BinOp, a: &T, b: &T) -> bool {
    match op {
        BinOp::Eq => a == b,
        BinOp::Ne => a != b,
        BinOp::Lt => a < b,
        BinOp::Le => a <= b,
        BinOp::Gt => a > b,
        BinOp::Ge => a >= b,
        _ => false,
    }
}

fn compare(op: BinOp, l: &Scalar, r: &Scalar) -> Option<bool> {
    use Scalar as S;
    Some(match (l, r) {
        (S::Float(a), S::Float(b)) => cmp_op(op, a, b),
        (S::Int(a), S::Int(b)) => cmp_op(op, a, b),
        (S::Float(a), S::Int(b)) => cmp_op(op, a, &(*b as f64)),
        (S::Int(a), S::Float(b)) => cmp_op(op, &(*a as f64), b),
        (S::Str(a), S::Str(b)) => cmp_op(op, a.as_str(), b.as_str()),
        (S::Duration(a), S::Duration(b)) => cmp_op(op, a, b),
        (S::Bool(a), S::Bool(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => cmp_op(op, a, b),
        _ => return None,
    })
}

/// The result type of a unary operator on `t`.
pub fn unary_type(op: UnOp, t: Type) -> Option<Type> {
    match (op, t) {
        (UnOp::Neg, Type::Float | Type::Int | Type::Duration) => Some(t),
        (UnOp::Not, Type::Bool) => Some(Type::Bool),
        _ => None,
    }
}

pub fn unary_error(op: UnOp, t: Type) -> String {
    format!("invalid unary operator {} for type {}", op.symbol(), t)
}

pub fn unary(op: UnOp, v: &Scalar) -> Result<Scalar, String> {
    Ok(match (op, v) {
        (_, Scalar::Missing(name)) => return Err(missing_error("", name)),
        (UnOp::Neg, Scalar::Float(f)) => Scalar::Float(-f),
        (UnOp::Neg, Scalar::Int(i)) => Scalar::Int(i.wrapping_neg()),
        (UnOp::Neg, Scalar::Duration(d)) => Scalar::Duration(d.wrapping_neg()),
        (UnOp::Not, Scalar::Bool(b)) => Scalar::Bool(!b),
        (op, v) => return Err(unary_error(op, v.ty())),
    })
}
