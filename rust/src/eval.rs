//! Lambda expressions compiled once into programs evaluated over whole batches. No pyo3 inside.
//!
//! * [`ast`] — the AST of `docs/lambda_ast.md` as Rust values;
//! * [`compile`] — typing, static checks, constant folding, regexes compiled once;
//! * [`kernels`] — column-at-a-time evaluation with typed fast paths; `bits` — masks as bits;
//! * [`scalar`] — the row interpreter (fallback, error wording, test reference);
//! * [`ops`], [`functions`], [`state`], [`time`], [`gofmt`] — Kapacitor's semantics piece by piece;
//! * [`program`] — the public entry: [`Program`], [`EvalOutput`], [`MaskOutput`].
//!
//! Deliberate differences from Kapacitor (it fails rows a user meant to guard):
//! * `AND`/`OR` short-circuit before the right side's type is looked at, so `TRUE OR "missing"`
//!   is true (Kapacitor type-checks both sides first and fails the row);
//! * `if(cond, a, b)` evaluates only the branch it returns, so `if(isPresent("x"), "x", 0.0)`
//!   works where "x" is missing; branch types that differ are still a compile error when known;
//! * integer division or modulo by zero fails the row (Kapacitor panics);
//! * time functions read UTC, and `now()` is the time the caller passes.
//!
//! Unsigned fields: Kapacitor 1.x has no unsigned type (its line-protocol parser rejects `1u`),
//! so kapfast reads an unsigned field as an int, and a value above `i64::MAX` is an error for
//! that row rather than a silent wrap.

pub mod ast;
mod bits;
pub mod compile;
mod floattree;
pub mod functions;
pub mod gofmt;
pub mod kernels;
pub mod ops;
pub mod program;
pub mod scalar;
pub mod state;
pub mod time;
pub mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

pub use ast::Node;
pub use program::{EvalOutput, MaskOutput, OutValues, Program, Selected};
pub use state::EvalState;
pub use types::{BinOp, Scalar, Type, UnOp};
