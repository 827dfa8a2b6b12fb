//! AST → typed, folded expression tree. Types are checked wherever they are known statically
//! (literals, operators on them, function results); references to fields and tags are typed only
//! per row, so checks that involve them happen at evaluation time, as in Kapacitor.

use std::sync::Arc;

use regex::Regex;

use super::ast::Node;
use super::functions::{self, Func};
use super::ops;
use super::scalar;
use super::types::{BinOp, Scalar, Type, UnOp};

/// A compiled expression node.
#[derive(Debug, Clone)]
pub enum Expr {
    Lit(Scalar),
    /// A field or tag: index into [`Compiled::refs`].
    Ref(usize),
    /// The row time (`"time"`).
    Time,
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Box<Call>),
}

/// A function call site.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: &'static str,
    pub func: Func,
    pub args: Vec<Expr>,
    /// Source text of each argument, for error messages.
    pub srcs: Vec<String>,
    /// Index of this call's state for stateful functions.
    pub slot: u32,
    /// Whether this call or one of its arguments is stateful.
    pub stateful: bool,
}

impl Expr {
    /// Whether evaluating the expression changes state (a stateful call inside).
    pub fn is_stateful(&self) -> bool {
        match self {
            Expr::Lit(_) | Expr::Ref(_) | Expr::Time => false,
            Expr::Unary(_, x) => x.is_stateful(),
            Expr::Binary(_, l, r) => l.is_stateful() || r.is_stateful(),
            Expr::Call(c) => c.stateful,
        }
    }
}

/// A compiled lambda.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub expr: Expr,
    /// The result type when it is known before seeing data.
    pub ty: Option<Type>,
    /// Distinct field/tag names, in order of first appearance.
    pub refs: Vec<Arc<str>>,
    pub stateful: bool,
    pub slots: u32,
}

struct Compiler {
    refs: Vec<Arc<str>>,
    slots: u32,
}

const ALL_TYPES: [Type; 7] = [
    Type::Float,
    Type::Int,
    Type::Str,
    Type::Bool,
    Type::Duration,
    Type::Time,
    Type::Regex,
];

pub fn compile(node: &Node) -> Result<Compiled, String> {
    let mut c = Compiler {
        refs: Vec::new(),
        slots: 0,
    };
    let (expr, ty) = c.node(node)?;
    if ty == Some(Type::Regex) {
        return Err("a lambda expression cannot evaluate to a regex".to_owned());
    }
    Ok(Compiled {
        stateful: expr.is_stateful(),
        expr,
        ty,
        refs: c.refs,
        slots: c.slots,
    })
}

/// The result types of `op` when some operand types are unknown: `Some` when every possible
/// completion that is valid gives the same type.
fn binary_type(op: BinOp, l: Option<Type>, r: Option<Type>) -> Result<Option<Type>, String> {
    if let (Some(lt), Some(rt)) = (l, r) {
        return match ops::result_type(op, lt, rt) {
            Some(t) => Ok(Some(t)),
            None => Err(ops::type_error(op, lt, rt)),
        };
    }
    let ls: Vec<Type> = l.map_or(ALL_TYPES.to_vec(), |t| vec![t]);
    let rs: Vec<Type> = r.map_or(ALL_TYPES.to_vec(), |t| vec![t]);
    let mut results = ls
        .iter()
        .flat_map(|&a| rs.iter().filter_map(move |&b| ops::result_type(op, a, b)));
    let Some(first) = results.next() else {
        // No completion can succeed: the error every row would get.
        let lt = l.or(r).unwrap_or(Type::Missing);
        return Err(format!(
            "invalid {} operator {} for type {}",
            op.kind(),
            op.symbol(),
            lt
        ));
    };
    Ok(if results.all(|t| t == first) {
        Some(first)
    } else {
        None
    })
}

impl Compiler {
    fn node(&mut self, node: &Node) -> Result<(Expr, Option<Type>), String> {
        Ok(match node {
            Node::Float(f) => (Expr::Lit(Scalar::Float(*f)), Some(Type::Float)),
            Node::Int(i) => (Expr::Lit(Scalar::Int(*i)), Some(Type::Int)),
            Node::Str(s) => (Expr::Lit(Scalar::Str(s.clone())), Some(Type::Str)),
            Node::Bool(b) => (Expr::Lit(Scalar::Bool(*b)), Some(Type::Bool)),
            Node::Duration(d) => (Expr::Lit(Scalar::Duration(*d)), Some(Type::Duration)),
            Node::Regex(p) => {
                let re = Regex::new(p).map_err(|e| format!("invalid regex /{p}/: {e}"))?;
                (Expr::Lit(Scalar::Regex(Arc::new(re))), Some(Type::Regex))
            }
            Node::Ref(name) if name == "time" => (Expr::Time, Some(Type::Time)),
            Node::Ref(name) => {
                let idx = match self.refs.iter().position(|r| &**r == name.as_str()) {
                    Some(i) => i,
                    None => {
                        self.refs.push(Arc::from(name.as_str()));
                        self.refs.len() - 1
                    }
                };
                (Expr::Ref(idx), None)
            }
            Node::Unary(op, x) => {
                let (x, t) = self.node(x)?;
                let ty = match t {
                    Some(t) => {
                        Some(ops::unary_type(*op, t).ok_or_else(|| ops::unary_error(*op, t))?)
                    }
                    None if *op == UnOp::Not => Some(Type::Bool),
                    None => None,
                };
                fold(Expr::Unary(*op, Box::new(x)), ty)?
            }
            Node::Binary(op, l, r) => {
                let (l, lt) = self.node(l)?;
                let (r, rt) = self.node(r)?;
                let ty = binary_type(*op, lt, rt)?;
                fold(Expr::Binary(*op, Box::new(l), Box::new(r)), ty)?
            }
            Node::Call(name, args) => self.call(name, args)?,
        })
    }

    fn call(&mut self, name: &str, args: &[Node]) -> Result<(Expr, Option<Type>), String> {
        let Some((fname, func)) = functions::FUNCTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, f)| (*n, *f))
        else {
            return Err(format!("undefined function: \"{name}\""));
        };
        let arities = functions::arities(func);
        if !arities.contains(&args.len()) {
            let want: Vec<String> = arities.iter().map(usize::to_string).collect();
            return Err(format!(
                "function \"{}\" expects {} argument(s), got {}",
                fname,
                want.join(" or "),
                args.len()
            ));
        }
        let mut cargs = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let (e, t) = self
                .node(a)
                .map_err(|e| format!("Failed to handle {} argument: {}", i + 1, e))?;
            cargs.push(e);
            types.push(t);
        }
        let ty = functions::check_signature(fname, func, &types)?;
        let slot = if func.is_stateful() {
            self.slots += 1;
            self.slots - 1
        } else {
            0
        };
        let stateful = func.is_stateful() || cargs.iter().any(Expr::is_stateful);
        let call = Call {
            name: fname,
            func,
            args: cargs,
            srcs: args.iter().map(Node::source).collect(),
            slot,
            stateful,
        };
        if func.is_pure() {
            fold(Expr::Call(Box::new(call)), ty)
        } else {
            Ok((Expr::Call(Box::new(call)), ty))
        }
    }
}

/// Computes a node whose operands are all literals once, at compile time.
fn fold(e: Expr, ty: Option<Type>) -> Result<(Expr, Option<Type>), String> {
    let all_lit = match &e {
        Expr::Unary(_, x) => matches!(**x, Expr::Lit(_)),
        Expr::Binary(_, l, r) => matches!(**l, Expr::Lit(_)) && matches!(**r, Expr::Lit(_)),
        Expr::Call(c) => c.args.iter().all(|a| matches!(a, Expr::Lit(_))),
        _ => false,
    };
    if !all_lit {
        return Ok((e, ty));
    }
    let v = scalar::eval_const(&e)?;
    let t = v.ty();
    Ok((Expr::Lit(v), Some(t)))
}
