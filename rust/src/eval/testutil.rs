//! Test helpers: batches built from rows, programs from a compact AST notation.

use std::collections::BTreeMap;

use crate::batch::{
    Column, ColumnData, DictColumn, FieldKind, PointBatch, StrColumn, Value, NO_TAG,
};

use super::ast::Node;
use super::types::{BinOp, UnOp};

/// One row: time, fields, tags.
pub type Row<'a> = (i64, Vec<(&'a str, Value)>, Vec<(&'a str, &'a str)>);

/// Builds a batch the way the parser would: typed columns, `Mixed` when a field has several
/// types, dictionary-encoded tags, one series per distinct tag set.
pub fn batch(rows: &[Row<'_>]) -> PointBatch {
    let n = rows.len();
    let mut field_names: BTreeMap<&str, Vec<Option<Value>>> = BTreeMap::new();
    let mut tag_names: BTreeMap<&str, Vec<Option<&str>>> = BTreeMap::new();
    for (i, (_, fields, tags)) in rows.iter().enumerate() {
        for (k, v) in fields {
            field_names.entry(k).or_insert_with(|| vec![None; n])[i] = Some(v.clone());
        }
        for (k, v) in tags {
            tag_names.entry(k).or_insert_with(|| vec![None; n])[i] = Some(v);
        }
    }
    let fields = field_names
        .into_iter()
        .map(|(name, vals)| {
            let mut kinds: Vec<FieldKind> = vals.iter().flatten().map(Value::kind).collect();
            kinds.dedup();
            kinds.sort_by_key(|k| k.name());
            kinds.dedup();
            let valid: Vec<bool> = vals.iter().map(Option::is_some).collect();
            let data = if kinds.len() == 1 {
                match kinds[0] {
                    FieldKind::Float => ColumnData::Float(
                        vals.iter()
                            .map(|v| {
                                if let Some(Value::Float(f)) = v {
                                    *f
                                } else {
                                    0.0
                                }
                            })
                            .collect(),
                    ),
                    FieldKind::Int => ColumnData::Int(
                        vals.iter()
                            .map(|v| if let Some(Value::Int(f)) = v { *f } else { 0 })
                            .collect(),
                    ),
                    FieldKind::UInt => ColumnData::UInt(
                        vals.iter()
                            .map(|v| if let Some(Value::UInt(f)) = v { *f } else { 0 })
                            .collect(),
                    ),
                    FieldKind::Bool => ColumnData::Bool(
                        vals.iter()
                            .map(|v| matches!(v, Some(Value::Bool(true))))
                            .collect(),
                    ),
                    _ => {
                        let mut s = StrColumn::new();
                        for v in &vals {
                            s.push(if let Some(Value::Str(x)) = v { x } else { "" });
                        }
                        ColumnData::Str(s)
                    }
                }
            } else {
                ColumnData::Mixed(vals.clone())
            };
            Column {
                name: name.to_owned(),
                data,
                valid,
            }
        })
        .collect();
    let mut tag_keys = Vec::new();
    let mut tags = Vec::new();
    for (k, vals) in tag_names {
        let mut dict: Vec<String> = Vec::new();
        let codes = vals
            .iter()
            .map(|v| match v {
                None => NO_TAG,
                Some(s) => match dict.iter().position(|d| d == s) {
                    Some(p) => p as u32,
                    None => {
                        dict.push((*s).to_owned());
                        dict.len() as u32 - 1
                    }
                },
            })
            .collect();
        tag_keys.push(k.to_owned());
        tags.push(DictColumn {
            codes,
            dict: dict.into(),
        });
    }
    let mut series_keys: Vec<String> = Vec::new();
    let series = rows
        .iter()
        .map(|(_, _, t)| {
            let mut t = t.clone();
            t.sort();
            let key = std::iter::once("m".to_owned())
                .chain(t.iter().map(|(k, v)| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",");
            match series_keys.iter().position(|s| *s == key) {
                Some(p) => p as u32,
                None => {
                    series_keys.push(key);
                    series_keys.len() as u32 - 1
                }
            }
        })
        .collect();
    PointBatch {
        time: rows.iter().map(|r| r.0).collect(),
        measurement: DictColumn {
            codes: vec![0; n],
            dict: vec!["m".to_owned()].into(),
        },
        tag_keys,
        tags,
        fields,
        series,
        series_keys: series_keys.into(),
    }
}

pub fn r(name: &str) -> Node {
    Node::Ref(name.to_owned())
}

pub fn f(v: f64) -> Node {
    Node::Float(v)
}

pub fn i(v: i64) -> Node {
    Node::Int(v)
}

pub fn s(v: &str) -> Node {
    Node::Str(v.to_owned())
}

pub fn b(v: bool) -> Node {
    Node::Bool(v)
}

pub fn d(ns: i64) -> Node {
    Node::Duration(ns)
}

pub fn re(p: &str) -> Node {
    Node::Regex(p.to_owned())
}

pub fn bin(op: &str, l: Node, r: Node) -> Node {
    Node::Binary(
        BinOp::parse(op).expect("operator"),
        Box::new(l),
        Box::new(r),
    )
}

pub fn un(op: &str, x: Node) -> Node {
    Node::Unary(UnOp::parse(op).expect("operator"), Box::new(x))
}

pub fn call(name: &str, args: Vec<Node>) -> Node {
    Node::Call(name.to_owned(), args)
}
