//! Value types and scalar values of lambda expressions, with Kapacitor's names for them.

use std::fmt;
use std::sync::Arc;

use regex::Regex;

/// The static or dynamic type of an expression value (Kapacitor's `ast.ValueType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Float,
    Int,
    Str,
    Bool,
    Duration,
    Time,
    Regex,
    Missing,
}

impl Type {
    /// The name Kapacitor prints in operator errors (`ast.ValueType.String()`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Float => "float",
            Type::Int => "int",
            Type::Str => "string",
            Type::Bool => "boolean",
            Type::Duration => "duration",
            Type::Time => "time",
            Type::Regex => "regex",
            Type::Missing => "missing",
        }
    }

    /// The Go type name Kapacitor prints with `%T` in function-call errors.
    pub fn go_name(self) -> &'static str {
        match self {
            Type::Float => "float64",
            Type::Int => "int64",
            Type::Str => "string",
            Type::Bool => "bool",
            Type::Duration => "time.Duration",
            Type::Time => "time.Time",
            Type::Regex => "*regexp.Regexp",
            Type::Missing => "*ast.Missing",
        }
    }

    /// The kind name the Python API reports for a result column.
    pub fn result_kind(self) -> &'static str {
        match self {
            Type::Float => "float",
            Type::Int => "int",
            Type::Str => "string",
            Type::Bool => "bool",
            Type::Duration => "duration",
            Type::Time => "time",
            Type::Regex => "regex",
            Type::Missing => "missing",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value. `Missing` carries the name of the reference that had no value in the row.
#[derive(Debug, Clone)]
pub enum Scalar {
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
    Regex(Arc<Regex>),
    Missing(Arc<str>),
}

impl Scalar {
    pub fn ty(&self) -> Type {
        match self {
            Scalar::Float(_) => Type::Float,
            Scalar::Int(_) => Type::Int,
            Scalar::Str(_) => Type::Str,
            Scalar::Bool(_) => Type::Bool,
            Scalar::Duration(_) => Type::Duration,
            Scalar::Time(_) => Type::Time,
            Scalar::Regex(_) => Type::Regex,
            Scalar::Missing(_) => Type::Missing,
        }
    }
}

/// Values compare equal when their types and contents are equal; regexes by pattern text, and
/// floats bit for bit so that NaN results compare equal in tests.
impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Scalar::Float(a), Scalar::Float(b)) => a.to_bits() == b.to_bits() || a == b,
            (Scalar::Int(a), Scalar::Int(b)) => a == b,
            (Scalar::Str(a), Scalar::Str(b)) => a == b,
            (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
            (Scalar::Duration(a), Scalar::Duration(b)) => a == b,
            (Scalar::Time(a), Scalar::Time(b)) => a == b,
            (Scalar::Regex(a), Scalar::Regex(b)) => a.as_str() == b.as_str(),
            (Scalar::Missing(a), Scalar::Missing(b)) => a == b,
            _ => false,
        }
    }
}

/// Binary operators, spelled as in TICKscript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    RegexMatch,
    RegexNotMatch,
    And,
    Or,
}

impl BinOp {
    pub const ALL: [BinOp; 15] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Mod,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::RegexMatch,
        BinOp::RegexNotMatch,
        BinOp::And,
        BinOp::Or,
    ];

    pub fn parse(s: &str) -> Option<BinOp> {
        BinOp::ALL.into_iter().find(|op| op.symbol() == s)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::RegexMatch => "=~",
            BinOp::RegexNotMatch => "!~",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }

    /// Kapacitor's `operatorKind`, used in "invalid math operator ..." errors.
    pub fn kind(self) -> &'static str {
        match self {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => "math",
            BinOp::And | BinOp::Or => "logical",
            _ => "comparison",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

impl UnOp {
    pub fn parse(s: &str) -> Option<UnOp> {
        match s {
            "-" => Some(UnOp::Neg),
            "!" => Some(UnOp::Not),
            _ => None,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
        }
    }
}
