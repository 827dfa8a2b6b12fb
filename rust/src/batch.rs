//! `PointBatch`: the columnar batch every hot path works on.
//!
//! One batch holds any number of points (rows). Each row has a measurement, a tag set, typed
//! fields and a time in i64 nanoseconds. Data is stored by column so that the parser can append
//! without a heap object per point and the evaluator can run a whole column at a time:
//!
//! * measurements and tag values are dictionary-encoded (`u32` codes into a per-column
//!   dictionary), because a Telegraf body repeats the same few hundred strings a million times;
//! * each field name has one typed column with a validity mask (a row that lacks the field is
//!   invalid there). When the same field name arrives with two types in one batch (InfluxDB
//!   allows this across measurements) the column degrades to `Mixed`, which is slower but exact;
//! * each row also carries its series id (measurement + sorted tags), the unit most nodes group by.
//!
//! Nothing in this module knows about Python.

use std::collections::HashMap;

use crate::lineproto::hash::FastBuild;
use serde::{Deserialize, Serialize};

mod builder;
mod compact;
pub use compact::one_empty_series_key;
mod edit;
mod fields;
mod gather;
mod select;

pub use builder::{concat, BatchBuilder, BuildError};
pub use edit::{sample_every, CodeMap, EditError, NO_FIELDS, NULLS};
pub use fields::{group_parts, ColumnPieces, FieldColumns, PartColumn};
pub use gather::{concat_take, gather};
pub use select::{Rows, Selection};

/// Code used in a tag column for "this row has no such tag".
pub const NO_TAG: u32 = u32::MAX;

/// A single field value, used only at the edges (tests, mixed-type columns, debugging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Float(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(String),
}

impl Value {
    pub fn kind(&self) -> FieldKind {
        match self {
            Value::Float(_) => FieldKind::Float,
            Value::Int(_) => FieldKind::Int,
            Value::UInt(_) => FieldKind::UInt,
            Value::Bool(_) => FieldKind::Bool,
            Value::Str(_) => FieldKind::Str,
        }
    }
}

/// The type of a field column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldKind {
    Float,
    Int,
    UInt,
    Bool,
    Str,
    Mixed,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Float => "float",
            FieldKind::Int => "integer",
            FieldKind::UInt => "unsigned",
            FieldKind::Bool => "boolean",
            FieldKind::Str => "string",
            FieldKind::Mixed => "mixed",
        }
    }
}

/// Strings stored back to back: row `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StrColumn {
    pub offsets: Vec<u32>,
    pub data: Vec<u8>,
}

impl StrColumn {
    pub fn new() -> Self {
        StrColumn {
            offsets: vec![0],
            data: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(self.data.len() as u32);
    }

    pub fn get(&self, i: usize) -> &str {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        // Only whole `&str`s are ever pushed, so every slice is valid UTF-8.
        std::str::from_utf8(&self.data[a..b]).unwrap_or("")
    }
}

/// The values of one field column; the validity mask lives beside it in [`Column`].
/// Invalid rows hold a default value (0, false, "") so that kernels can run without branches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnData {
    Float(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    Bool(Vec<bool>),
    Str(StrColumn),
    /// A field that arrived with more than one type in the same batch; `None` = absent.
    Mixed(Vec<Option<Value>>),
}

impl ColumnData {
    pub fn kind(&self) -> FieldKind {
        match self {
            ColumnData::Float(_) => FieldKind::Float,
            ColumnData::Int(_) => FieldKind::Int,
            ColumnData::UInt(_) => FieldKind::UInt,
            ColumnData::Bool(_) => FieldKind::Bool,
            ColumnData::Str(_) => FieldKind::Str,
            ColumnData::Mixed(_) => FieldKind::Mixed,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::UInt(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Str(v) => v.len(),
            ColumnData::Mixed(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty column of the given kind.
    pub fn empty(kind: FieldKind) -> Self {
        match kind {
            FieldKind::Float => ColumnData::Float(Vec::new()),
            FieldKind::Int => ColumnData::Int(Vec::new()),
            FieldKind::UInt => ColumnData::UInt(Vec::new()),
            FieldKind::Bool => ColumnData::Bool(Vec::new()),
            FieldKind::Str => ColumnData::Str(StrColumn::new()),
            FieldKind::Mixed => ColumnData::Mixed(Vec::new()),
        }
    }

    /// Row `i` as a [`Value`], ignoring validity.
    pub fn value(&self, i: usize) -> Option<Value> {
        match self {
            ColumnData::Float(v) => Some(Value::Float(v[i])),
            ColumnData::Int(v) => Some(Value::Int(v[i])),
            ColumnData::UInt(v) => Some(Value::UInt(v[i])),
            ColumnData::Bool(v) => Some(Value::Bool(v[i])),
            ColumnData::Str(v) => Some(Value::Str(v.get(i).to_owned())),
            ColumnData::Mixed(v) => v[i].clone(),
        }
    }

    /// A new column holding rows `idx` in that order.
    pub fn take(&self, idx: &[usize]) -> ColumnData {
        self.pick(Rows::Idx(idx))
    }

    /// A new column holding `rows`.
    pub fn pick(&self, rows: Rows<'_>) -> ColumnData {
        match self {
            ColumnData::Float(v) => ColumnData::Float(rows.copy(v)),
            ColumnData::Int(v) => ColumnData::Int(rows.copy(v)),
            ColumnData::UInt(v) => ColumnData::UInt(rows.copy(v)),
            ColumnData::Bool(v) => ColumnData::Bool(rows.copy(v)),
            ColumnData::Str(v) => {
                let mut out = StrColumn::new();
                for &i in rows.indices().iter() {
                    out.push(v.get(i));
                }
                ColumnData::Str(out)
            }
            ColumnData::Mixed(v) => {
                ColumnData::Mixed(rows.indices().iter().map(|&i| v[i].clone()).collect())
            }
        }
    }
}

/// One field name's column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
    /// `valid[i]` is true when row `i` has this field.
    pub valid: Vec<bool>,
}

impl Column {
    /// Row `i` as a value, `None` when the row lacks the field.
    pub fn get(&self, i: usize) -> Option<Value> {
        if self.valid[i] {
            self.data.value(i)
        } else {
            None
        }
    }

    pub fn take(&self, idx: &[usize]) -> Column {
        self.pick(Rows::Idx(idx))
    }

    pub fn pick(&self, rows: Rows<'_>) -> Column {
        Column {
            name: self.name.clone(),
            data: self.data.pick(rows),
            valid: rows.copy(&self.valid),
        }
    }
}

/// A dictionary-encoded string column (measurements and tag values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DictColumn {
    /// Per row: index into `dict`, or [`NO_TAG`].
    pub codes: Vec<u32>,
    pub dict: std::sync::Arc<Vec<String>>,
}

impl DictColumn {
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            NO_TAG => None,
            c => Some(self.dict[c as usize].as_str()),
        }
    }

    /// A column holding rows `idx`; the dictionary is kept whole (codes stay valid).
    pub fn take(&self, idx: &[usize]) -> DictColumn {
        self.pick(Rows::Idx(idx))
    }

    pub fn pick(&self, rows: Rows<'_>) -> DictColumn {
        DictColumn {
            codes: rows.copy(&self.codes),
            dict: self.dict.clone(),
        }
    }
}

/// Interns strings into a [`DictColumn`] dictionary while building.
///
/// (The parser's seeded hash, not SipHash: building a reduced window's row interned its
/// measurement and tag values through SipHash at ~850 instructions a value.)
#[derive(Debug, Default)]
pub struct Interner {
    map: HashMap<String, u32, FastBuild>,
}

impl Interner {
    pub fn intern(&mut self, dict: &mut Vec<String>, s: &str) -> u32 {
        if let Some(&c) = self.map.get(s) {
            return c;
        }
        let c = dict.len() as u32;
        dict.push(s.to_owned());
        self.map.insert(s.to_owned(), c);
        c
    }
}

/// A columnar batch of points. All per-row vectors have the same length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointBatch {
    /// Time of each row, nanoseconds since the Unix epoch.
    pub time: Vec<i64>,
    /// Measurement of each row.
    pub measurement: DictColumn,
    /// One column per tag key, keys in `tag_keys` order (sorted).
    pub tag_keys: Vec<String>,
    pub tags: Vec<DictColumn>,
    /// One column per field name, sorted by name.
    pub fields: Vec<Column>,
    /// Series of each row: index into `series_keys` (`measurement,k=v,...`, tags sorted, escaped as
    /// line protocol escapes them).
    pub series: Vec<u32>,
    pub series_keys: std::sync::Arc<Vec<String>>,
}

impl PointBatch {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    pub fn field(&self, name: &str) -> Option<&Column> {
        self.fields.iter().find(|c| c.name == name)
    }

    pub fn tag(&self, key: &str) -> Option<&DictColumn> {
        self.tag_keys
            .iter()
            .position(|k| k == key)
            .map(|i| &self.tags[i])
    }

    pub fn measurement(&self, i: usize) -> &str {
        self.measurement.get(i).unwrap_or("")
    }

    /// The tags of row `i`, sorted by key.
    pub fn row_tags(&self, i: usize) -> Vec<(&str, &str)> {
        self.tag_keys
            .iter()
            .zip(&self.tags)
            .filter_map(|(k, col)| col.get(i).map(|v| (k.as_str(), v)))
            .collect()
    }

    /// The fields of row `i`, sorted by name.
    pub fn row_fields(&self, i: usize) -> Vec<(&str, Value)> {
        self.fields
            .iter()
            .filter_map(|c| c.get(i).map(|v| (c.name.as_str(), v)))
            .collect()
    }

    /// A new batch with rows `idx`, in that order (rows may repeat). Columns that no kept row
    /// uses are dropped so that a filtered batch does not advertise fields it no longer has.
    pub fn take(&self, idx: &[usize]) -> PointBatch {
        self.pick(Rows::Idx(idx))
    }

    /// A new batch with `rows` (see [`PointBatch::take`]).
    pub fn pick(&self, rows: Rows<'_>) -> PointBatch {
        let mut out = self.pick_without_fields(rows);
        out.fields = self
            .fields
            .iter()
            .map(|c| c.pick(rows))
            .filter(|c| c.valid.iter().any(|&v| v))
            .collect();
        out
    }

    /// Rows `idx` without any field (a node that sets its own fields: no copy of the input's).
    pub fn take_without_fields(&self, idx: &[usize]) -> PointBatch {
        self.pick_without_fields(Rows::Idx(idx))
    }

    fn pick_without_fields(&self, rows: Rows<'_>) -> PointBatch {
        let (tag_keys, tags) = self
            .tag_keys
            .iter()
            .zip(&self.tags)
            .map(|(k, c)| (k.clone(), c.pick(rows)))
            .filter(|(_, c)| c.codes.iter().any(|&x| x != NO_TAG))
            .unzip();
        PointBatch {
            time: rows.copy(&self.time),
            measurement: self.measurement.pick(rows),
            tag_keys,
            tags,
            fields: Vec::new(),
            series: rows.copy(&self.series),
            series_keys: self.series_keys.clone(),
        }
    }

    /// The rows where `mask` is true.
    pub fn filter(&self, mask: &[bool]) -> PointBatch {
        self.select(&Selection::from_bools(mask))
    }
}

/// Per-measurement helpers the server needs (ingress statistics, stream recordings).
impl PointBatch {
    /// Rows per measurement, in first-seen order.
    pub fn measurement_counts(&self) -> Vec<(&str, usize)> {
        let mut counts = vec![0usize; self.measurement.dict.len()];
        let mut order: Vec<u32> = Vec::new();
        for &c in &self.measurement.codes {
            if c == NO_TAG {
                continue;
            }
            if counts[c as usize] == 0 {
                order.push(c);
            }
            counts[c as usize] += 1;
        }
        order
            .into_iter()
            .map(|c| {
                (
                    self.measurement.dict[c as usize].as_str(),
                    counts[c as usize],
                )
            })
            .collect()
    }

    /// The rows whose measurement is one of `names`.
    pub fn with_measurements(&self, names: &[String]) -> PointBatch {
        let wanted: Vec<bool> = self
            .measurement
            .dict
            .iter()
            .map(|m| names.iter().any(|n| n == m))
            .collect();
        let mask: Vec<bool> = self
            .measurement
            .codes
            .iter()
            .map(|&c| c != NO_TAG && wanted[c as usize])
            .collect();
        self.filter(&mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_rows() -> PointBatch {
        PointBatch {
            time: vec![1, 2],
            measurement: DictColumn {
                codes: vec![0, 0],
                dict: vec!["cpu".into()].into(),
            },
            tag_keys: vec!["host".into()],
            tags: vec![DictColumn {
                codes: vec![0, NO_TAG],
                dict: vec!["a".into()].into(),
            }],
            fields: vec![Column {
                name: "f".into(),
                data: ColumnData::Float(vec![1.5, 0.0]),
                valid: vec![true, false],
            }],
            series: vec![0, 1],
            series_keys: vec!["cpu,host=a".into(), "cpu".into()].into(),
        }
    }

    #[test]
    fn str_column_round_trips() {
        let mut s = StrColumn::new();
        s.push("ab");
        s.push("");
        s.push("ü");
        assert_eq!((s.get(0), s.get(1), s.get(2), s.len()), ("ab", "", "ü", 3));
    }

    #[test]
    fn filter_drops_columns_no_row_uses() {
        let b = two_rows();
        let only_second = b.filter(&[false, true]);
        assert_eq!(only_second.len(), 1);
        assert!(only_second.fields.is_empty());
        assert!(only_second.tag_keys.is_empty());
        assert_eq!(only_second.measurement(0), "cpu");
        let first = b.filter(&[true, false]);
        assert_eq!(first.row_fields(0), vec![("f", Value::Float(1.5))]);
        assert_eq!(first.row_tags(0), vec![("host", "a")]);
    }

    #[test]
    fn measurement_counts_and_selection() {
        let b = two_rows();
        assert_eq!(b.measurement_counts(), vec![("cpu", 2)]);
        assert_eq!(b.with_measurements(&["cpu".to_string()]).len(), 2);
        assert_eq!(b.with_measurements(&["mem".to_string()]).len(), 0);
    }
}
