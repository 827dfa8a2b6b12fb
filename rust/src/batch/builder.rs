//! [`BatchBuilder`]: builds a [`PointBatch`] one row at a time from plain values, and
//! [`concat`] of whole batches. Used by `PointBatch.from_rows`, tests and the engine; the
//! line-protocol parser has its own faster key handling but shares [`FieldColumns`].

use std::collections::HashMap;
use std::sync::Arc;

use super::fields::FieldColumns;
use super::{Column, DictColumn, Interner, PointBatch, Value, NO_TAG};
use crate::lineproto::escape::series_key;
use crate::lineproto::hash::FastBuild;

/// Why a row cannot go into a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    EmptyMeasurement,
    EmptyTagKey,
    DuplicateTag(String),
    NoFields,
    EmptyFieldKey,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::EmptyMeasurement => write!(f, "missing measurement"),
            BuildError::EmptyTagKey => write!(f, "missing tag key"),
            BuildError::DuplicateTag(k) => write!(f, "duplicate tags: {k:?}"),
            BuildError::NoFields => write!(f, "missing fields: a point needs at least one field"),
            BuildError::EmptyFieldKey => write!(f, "missing field key"),
        }
    }
}

/// A dictionary column under construction, padded lazily with [`NO_TAG`].
#[derive(Debug, Default)]
struct DictBuilder {
    col: DictColumn,
    interner: Interner,
}

impl DictBuilder {
    fn set(&mut self, row: usize, value: &str) {
        // Runs of one value (a measurement, a group's tag) skip the hash lookup.
        let code = match self.col.codes.last() {
            Some(&c) if c != NO_TAG && self.col.dict[c as usize] == value => c,
            _ => self
                .interner
                .intern(Arc::make_mut(&mut self.col.dict), value),
        };
        self.set_code(row, code);
    }

    fn set_code(&mut self, row: usize, code: u32) {
        self.col.codes.resize(row, NO_TAG);
        self.col.codes.push(code);
    }

    fn finish(mut self, rows: usize) -> DictColumn {
        self.col.codes.resize(rows, NO_TAG);
        self.col
    }
}

/// Builds a [`PointBatch`] row by row.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    time: Vec<i64>,
    measurement: DictBuilder,
    tag_index: HashMap<String, usize, FastBuild>,
    tags: Vec<(String, DictBuilder)>,
    fields: FieldColumns,
    series: Vec<u32>,
    /// Series key -> id (ids are dense, in first-seen order); the keys move into
    /// `PointBatch::series_keys` at [`BatchBuilder::finish`].
    series_index: HashMap<String, u32, FastBuild>,
}

impl BatchBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Appends one point. Tags with an empty value are no tag (as in InfluxDB); duplicate
    /// fields keep the last value.
    pub fn push_row(
        &mut self,
        measurement: &str,
        tags: &[(&str, &str)],
        fields: &[(&str, Value)],
        time: i64,
    ) -> Result<(), BuildError> {
        // Rows usually come with their tags already sorted, distinct and non-empty (a group's
        // tags): use them as they are instead of copying and sorting them per row.
        let owned: Vec<(&str, &str)>;
        let sorted: &[(&str, &str)] = if tags.windows(2).all(|w| w[0].0 < w[1].0)
            && tags.iter().all(|(_, v)| !v.is_empty())
        {
            tags
        } else {
            let mut v: Vec<(&str, &str)> = tags
                .iter()
                .copied()
                .filter(|(_, v)| !v.is_empty())
                .collect();
            v.sort_by(|a, b| a.0.cmp(b.0));
            owned = v;
            &owned
        };
        check_row(measurement, sorted, fields)?;
        let row = self.time.len();
        self.time.push(time);
        self.measurement.set(row, measurement);
        for (j, (k, v)) in sorted.iter().enumerate() {
            // Rows mostly share one tag key set: the j-th tag is usually the j-th column.
            let col = match self.tags.get_mut(j) {
                Some((key, col)) if key == k => col,
                _ => self.tag_column(k),
            };
            col.set(row, v);
        }
        for (k, v) in fields {
            let col = self.fields.column(k, v.kind());
            self.fields.push_value(col, row, v.clone());
        }
        let id = self.series_id(series_key(measurement, sorted));
        self.series.push(id);
        Ok(())
    }

    /// The id of series `key`, a new one when first seen.
    fn series_id(&mut self, key: String) -> u32 {
        let next = self.series_index.len() as u32;
        *self.series_index.entry(key).or_insert(next)
    }

    fn tag_column(&mut self, key: &str) -> &mut DictBuilder {
        let i = match self.tag_index.get(key) {
            Some(&i) => i,
            None => {
                self.tags.push((key.to_owned(), DictBuilder::default()));
                self.tag_index.insert(key.to_owned(), self.tags.len() - 1);
                self.tags.len() - 1
            }
        };
        &mut self.tags[i].1
    }

    pub fn finish(self) -> PointBatch {
        let rows = self.time.len();
        let mut tags: Vec<(String, DictColumn)> = self
            .tags
            .into_iter()
            .map(|(k, b)| (k, b.finish(rows)))
            .collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let (tag_keys, tags) = tags.into_iter().unzip();
        let mut series_keys = vec![String::new(); self.series_index.len()];
        for (key, id) in self.series_index {
            series_keys[id as usize] = key;
        }
        PointBatch {
            time: self.time,
            measurement: self.measurement.finish(rows),
            tag_keys,
            tags,
            fields: self.fields.finish(rows),
            series: self.series,
            series_keys: series_keys.into(),
        }
    }
}

fn check_row(
    measurement: &str,
    tags: &[(&str, &str)],
    fields: &[(&str, Value)],
) -> Result<(), BuildError> {
    if measurement.is_empty() {
        return Err(BuildError::EmptyMeasurement);
    }
    for w in tags.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(BuildError::DuplicateTag(w[0].0.to_owned()));
        }
    }
    if tags.iter().any(|(k, _)| k.is_empty()) {
        return Err(BuildError::EmptyTagKey);
    }
    if fields.is_empty() {
        return Err(BuildError::NoFields);
    }
    if fields.iter().any(|(k, _)| k.is_empty()) {
        return Err(BuildError::EmptyFieldKey);
    }
    Ok(())
}

/// Maps codes of one source dictionary into a merged one, interning each entry on first use.
struct DictMerge<'a> {
    src: &'a [String],
    map: Vec<u32>,
}

impl<'a> DictMerge<'a> {
    fn new(src: &'a [String]) -> Self {
        DictMerge {
            src,
            map: vec![NO_TAG; src.len()],
        }
    }

    fn code(&mut self, c: u32, dst: &mut DictBuilder) -> u32 {
        if c == NO_TAG {
            return NO_TAG;
        }
        let m = &mut self.map[c as usize];
        if *m == NO_TAG {
            *m = dst
                .interner
                .intern(Arc::make_mut(&mut dst.col.dict), &self.src[c as usize]);
        }
        *m
    }
}

/// All rows of `batches`, in order, as one batch. Dictionaries are merged (only entries some
/// row uses), a field with different types in different batches becomes mixed.
pub fn concat(batches: &[&PointBatch]) -> PointBatch {
    let rows: usize = batches.iter().map(|b| b.len()).sum();
    let mut out = BatchBuilder::new();
    out.time.reserve(rows);
    out.series.reserve(rows);
    let mut offset = 0;
    for b in batches {
        out.time.extend_from_slice(&b.time);
        let mut m = DictMerge::new(&b.measurement.dict);
        out.measurement.col.codes.resize(offset, NO_TAG);
        for &c in &b.measurement.codes {
            let code = m.code(c, &mut out.measurement);
            out.measurement.col.codes.push(code);
        }
        for (key, col) in b.tag_keys.iter().zip(&b.tags) {
            let dst = out.tag_column(key);
            let mut m = DictMerge::new(&col.dict);
            dst.col.codes.resize(offset, NO_TAG);
            for &c in &col.codes {
                let code = m.code(c, dst);
                dst.col.codes.push(code);
            }
        }
        let mut smap: Vec<u32> = vec![NO_TAG; b.series_keys.len()];
        for &s in &b.series {
            let m = &mut smap[s as usize];
            if *m == NO_TAG {
                *m = out.series_id(b.series_keys[s as usize].clone());
            }
            out.series.push(*m);
        }
        for col in &b.fields {
            out.fields.extend_from(col, offset);
        }
        offset += b.len();
    }
    out.finish()
}

impl PointBatch {
    /// True when both batches hold the same points in the same order: same measurement, tags,
    /// typed field values and time per row. Dictionary order and unused entries do not matter.
    pub fn same_points(&self, other: &PointBatch) -> bool {
        if self.len() != other.len() || self.time != other.time {
            return false;
        }
        let rows = 0..self.len();
        if rows
            .clone()
            .any(|i| self.measurement(i) != other.measurement(i))
        {
            return false;
        }
        let tag_keys = union(&self.tag_keys, &other.tag_keys);
        for k in &tag_keys {
            let (a, b) = (self.tag(k), other.tag(k));
            if rows
                .clone()
                .any(|i| a.and_then(|c| c.get(i)) != b.and_then(|c| c.get(i)))
            {
                return false;
            }
        }
        let names: Vec<String> = self.fields.iter().map(|c| c.name.clone()).collect();
        let other_names: Vec<String> = other.fields.iter().map(|c| c.name.clone()).collect();
        for k in union(&names, &other_names) {
            let (a, b) = (self.field(&k), other.field(&k));
            let get = |c: Option<&Column>, i: usize| c.and_then(|c| c.get(i));
            if rows.clone().any(|i| get(a, i) != get(b, i)) {
                return false;
            }
        }
        true
    }

    /// Distinct series keys of the rows, in first-seen order.
    pub fn distinct_series(&self) -> Vec<&str> {
        first_seen(&self.series, self.series_keys.len())
            .into_iter()
            .map(|s| self.series_keys[s as usize].as_str())
            .collect()
    }

    /// Distinct measurements of the rows, in first-seen order.
    pub fn distinct_measurements(&self) -> Vec<&str> {
        first_seen(&self.measurement.codes, self.measurement.dict.len())
            .into_iter()
            .filter(|&c| c != NO_TAG)
            .map(|c| self.measurement.dict[c as usize].as_str())
            .collect()
    }

    /// The rows of `batches` as one batch (see [`concat`]).
    pub fn concat(batches: &[&PointBatch]) -> PointBatch {
        concat(batches)
    }
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut all: Vec<String> = a.iter().chain(b).cloned().collect();
    all.sort();
    all.dedup();
    all
}

fn first_seen(codes: &[u32], n: usize) -> Vec<u32> {
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    for &c in codes {
        if c == NO_TAG {
            continue;
        }
        if !seen[c as usize] {
            seen[c as usize] = true;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(b: &mut BatchBuilder, m: &str, host: &str, f: Value, t: i64) {
        b.push_row(m, &[("host", host)], &[("f", f)], t).unwrap();
    }

    #[test]
    fn builder_sorts_tags_and_keys_series() {
        let mut b = BatchBuilder::new();
        b.push_row(
            "cpu",
            &[("z", "1"), ("a", "x y")],
            &[("v", Value::Int(1))],
            5,
        )
        .unwrap();
        b.push_row("cpu", &[], &[("v", Value::Int(2))], 6).unwrap();
        let p = b.finish();
        assert_eq!(p.tag_keys, vec!["a", "z"]);
        assert_eq!(*p.series_keys, vec!["cpu,a=x\\ y,z=1", "cpu"]);
        assert_eq!(p.row_tags(1), vec![]);
    }

    #[test]
    fn builder_rejects_bad_rows() {
        let mut b = BatchBuilder::new();
        assert_eq!(
            b.push_row("", &[], &[("v", Value::Int(1))], 0),
            Err(BuildError::EmptyMeasurement)
        );
        assert_eq!(b.push_row("m", &[], &[], 0), Err(BuildError::NoFields));
        assert!(b
            .push_row("m", &[("a", "1"), ("a", "2")], &[("v", Value::Int(1))], 0)
            .is_err());
        assert!(b.is_empty());
    }

    #[test]
    fn concat_merges_dictionaries_and_types() {
        let mut a = BatchBuilder::new();
        row(&mut a, "cpu", "h1", Value::Float(1.0), 1);
        let mut b = BatchBuilder::new();
        row(&mut b, "mem", "h2", Value::Int(2), 2);
        row(&mut b, "cpu", "h1", Value::Int(3), 3);
        let (a, b) = (a.finish(), b.finish());
        let c = concat(&[&a, &b]);
        assert_eq!(c.len(), 3);
        assert_eq!(*c.measurement.dict, vec!["cpu", "mem"]);
        assert_eq!(c.distinct_series(), vec!["cpu,host=h1", "mem,host=h2"]);
        assert_eq!(c.field("f").unwrap().get(2), Some(Value::Int(3)));
        assert_eq!(c.field("f").unwrap().get(0), Some(Value::Float(1.0)));
        let again = concat(&[&c.take(&[0]), &c.take(&[1, 2])]);
        assert!(again.same_points(&c));
        assert!(!again.same_points(&a));
    }
}
