//! The lambda AST of `docs/lambda_ast.md`, as Rust values. The Python boundary
//! (`py/eval.rs`) decodes the nested tuples into these nodes; nothing here knows about Python.

use super::types::{BinOp, UnOp};

/// One AST node. Literals are already unescaped and typed by the TICKscript compiler.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Pattern text, Go RE2 syntax; compiled once by the compiler.
    Regex(String),
    /// A field or tag of the row; `"time"` is the row time.
    Ref(String),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Call(String, Vec<Node>),
}

impl Node {
    /// The TICKscript text of the node, used in error messages (Kapacitor names function
    /// arguments by their source text).
    pub fn source(&self) -> String {
        match self {
            Node::Float(f) => {
                let s = super::gofmt::format_float(*f);
                if s.contains('.') || !f.is_finite() {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            Node::Int(i) => i.to_string(),
            Node::Str(s) => format!("'{}'", s.replace('\'', "\\'")),
            Node::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Node::Duration(d) => super::gofmt::format_duration(*d),
            Node::Regex(r) => format!("/{}/", r.replace('/', "\\/")),
            Node::Ref(r) => format!("\"{}\"", r.replace('"', "\\\"")),
            Node::Unary(op, x) => format!("{}{}", op.symbol(), x.source()),
            Node::Binary(op, l, r) => format!("{} {} {}", l.source(), op.symbol(), r.source()),
            Node::Call(name, args) => {
                let args: Vec<String> = args.iter().map(Node::source).collect();
                format!("{}({})", name, args.join(", "))
            }
        }
    }
}
