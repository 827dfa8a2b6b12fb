//! Whole-batch edits of the stateless task nodes: `default`, `delete`, `shift`, `from().truncate()`
//! / `.round()`, `eval().tags()`, influxDBOut's measurement and tags. Each edit returns a new
//! batch in one pass over the columns; no per-row object is ever made.
//!
//! Two hidden field columns let a batch carry what Kapacitor's points can be but a batch row
//! cannot (the engine's `rows.py` hides them from row code):
//! * [`NO_FIELDS`] (bool): the row has no fields left (`delete().field()` of all of them);
//! * [`NULLS`] (string): the NUL-separated names of the row's fields whose value is null (a
//!   join's `.fill('null')`).
//!
//! Edits keep both canonical — exactly what the engine's row helpers would encode — through
//! [`PointBatch::normalize_hidden`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::{Column, ColumnData, DictColumn, FieldKind, PointBatch, StrColumn, Value, NO_TAG};
use crate::lineproto::escape::series_key;

/// Hidden bool field of rows that have no (other) field.
pub const NO_FIELDS: &str = "\u{0}nofields";
/// Hidden string field listing the row's null fields, NUL-separated.
pub const NULLS: &str = "\u{0}nulls";

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// Shifting, truncating or rounding moved a time out of the int64 nanosecond range.
    TimeOverflow { row: usize, time: i64 },
    /// `field_to_tag` met a value that is not a string.
    NotAString { row: usize, field: String },
    /// Two batches that must line up row by row do not.
    RowCount { expected: usize, got: usize },
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::TimeOverflow { row, time } => write!(
                f,
                "row {row}: time {time} moved out of the int64 nanosecond range"
            ),
            EditError::NotAString { row, field } => {
                write!(
                    f,
                    "row {row}: {field:?} is not a string and cannot be a tag"
                )
            }
            EditError::RowCount { expected, got } => {
                write!(f, "batches do not line up: {expected} rows and {got} rows")
            }
        }
    }
}

/// A hasher for keys made of dictionary codes (small integers the batch assigned, never text a
/// client chose), where SipHash's protection against crafted collisions buys nothing.
#[derive(Default)]
pub struct CodeHasher(u64);

impl Hasher for CodeHasher {
    fn finish(&self) -> u64 {
        // Spread the high bits into the low ones the table indexes by.
        let x = self.0;
        (x ^ (x >> 29)).wrapping_mul(0x94_d0_49_bb_13_31_11_eb) ^ (x >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 60));
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// A map keyed by dictionary codes.
pub type CodeMap<K, V> = HashMap<K, V, BuildHasherDefault<CodeHasher>>;

/// Python's `t % d` for `d > 0` (never negative), the modulo the row path used.
fn floor_mod(t: i64, d: i64) -> i64 {
    t.rem_euclid(d)
}

fn is_hidden(name: &str) -> bool {
    name == NO_FIELDS || name == NULLS
}

impl PointBatch {
    /// Times `+ shift`, then truncated down to a multiple of `truncate`, then rounded (half up) to
    /// a multiple of `round` (0 = that step is off).
    pub fn retime(&self, shift: i64, truncate: i64, round: i64) -> Result<PointBatch, EditError> {
        let mut time = Vec::with_capacity(self.len());
        for (row, &t0) in self.time.iter().enumerate() {
            let overflow = || EditError::TimeOverflow { row, time: t0 };
            let mut t = t0.checked_add(shift).ok_or_else(overflow)?;
            if truncate > 0 {
                t -= floor_mod(t, truncate);
            }
            if round > 0 {
                let r = floor_mod(t, round);
                t = if r >= round - r {
                    (t - r).checked_add(round).ok_or_else(overflow)?
                } else {
                    t - r
                };
            }
            time.push(t);
        }
        Ok(PointBatch {
            time,
            ..self.clone_without_time()
        })
    }

    fn clone_without_time(&self) -> PointBatch {
        PointBatch {
            time: Vec::new(),
            measurement: self.measurement.clone(),
            tag_keys: self.tag_keys.clone(),
            tags: self.tags.clone(),
            fields: self.fields.clone(),
            series: self.series.clone(),
            series_keys: self.series_keys.clone(),
        }
    }

    /// The rows in time order; rows with equal times keep their order (a stable sort).
    pub fn sorted_by_time(&self) -> PointBatch {
        if self.time.windows(2).all(|w| w[0] <= w[1]) {
            return self.clone();
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by_key(|&i| self.time[i]);
        self.take(&idx)
    }

    /// Recomputes every row's series key after its measurement or tags changed.
    pub fn rebuild_series(&mut self) {
        let mut index: CodeMap<Vec<u32>, u32> = CodeMap::default();
        let mut keys: Vec<String> = Vec::new();
        let mut series = Vec::with_capacity(self.len());
        let mut combo: Vec<u32> = Vec::with_capacity(self.tags.len() + 1);
        for row in 0..self.len() {
            combo.clear();
            combo.push(self.measurement.codes[row]);
            combo.extend(self.tags.iter().map(|c| c.codes[row]));
            let id = match index.get(&combo) {
                Some(&id) => id,
                None => {
                    let id = keys.len() as u32;
                    keys.push(series_key(self.measurement(row), &self.row_tags(row)));
                    index.insert(combo.clone(), id);
                    id
                }
            };
            series.push(id);
        }
        self.series = series;
        self.series_keys = keys.into();
    }

    /// The index of tag column `key`, created (empty) in sorted position when missing.
    fn tag_column_mut(&mut self, key: &str) -> usize {
        match self.tag_keys.binary_search_by(|k| k.as_str().cmp(key)) {
            Ok(i) => i,
            Err(i) => {
                self.tag_keys.insert(i, key.to_owned());
                self.tags.insert(
                    i,
                    DictColumn {
                        codes: vec![NO_TAG; self.len()],
                        dict: Default::default(),
                    },
                );
                i
            }
        }
    }

    /// Drops tag columns that no row uses (the invariant `take` keeps).
    fn drop_empty_tags(&mut self) {
        let keep: Vec<bool> = self
            .tags
            .iter()
            .map(|c| c.codes.iter().any(|&x| x != NO_TAG))
            .collect();
        let mut i = 0;
        self.tag_keys.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        self.tags.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    /// `default().tag(k, v)`: rows without tag `k` get `v`, each pair in order. Returns the batch
    /// and how many (row, tag) pairs were defaulted. An empty `v` is no tag (as in InfluxDB):
    /// such rows are counted but stay without the tag.
    pub fn default_tags(&self, defaults: &[(String, String)]) -> (PointBatch, u64) {
        let mut b = self.clone();
        let mut count = 0u64;
        for (k, v) in defaults {
            let i = b.tag_column_mut(k);
            let col = &mut b.tags[i];
            let missing = col.codes.iter().filter(|&&c| c == NO_TAG).count();
            count += missing as u64;
            if missing == 0 || v.is_empty() {
                continue;
            }
            let code = match col.dict.iter().position(|d| d == v) {
                Some(c) => c as u32,
                None => {
                    let dict = Arc::make_mut(&mut col.dict);
                    dict.push(v.clone());
                    (dict.len() - 1) as u32
                }
            };
            for c in col.codes.iter_mut().filter(|c| **c == NO_TAG) {
                *c = code;
            }
        }
        b.drop_empty_tags();
        if count > 0 {
            b.rebuild_series();
        }
        (b, count)
    }

    /// `delete().tag(...)`: the batch without those tags, and how many (row, tag) pairs went.
    pub fn drop_tags(&self, keys: &[String]) -> (PointBatch, u64) {
        let mut b = self.clone();
        let mut count = 0u64;
        let mut gone = false;
        for k in keys {
            if let Ok(i) = b.tag_keys.binary_search_by(|x| x.as_str().cmp(k)) {
                count += b.tags[i].codes.iter().filter(|&&c| c != NO_TAG).count() as u64;
                b.tag_keys.remove(i);
                b.tags.remove(i);
                gone = true;
            }
        }
        if gone {
            b.rebuild_series();
        }
        (b, count)
    }

    /// Every row's tag `key` set to `value` (`""` removes the tag), as influxDBOut's `.tag()`.
    pub fn set_tag(&mut self, key: &str, value: &str) {
        if value.is_empty() {
            if let Ok(i) = self.tag_keys.binary_search_by(|x| x.as_str().cmp(key)) {
                self.tag_keys.remove(i);
                self.tags.remove(i);
            }
            return;
        }
        let n = self.len();
        let i = self.tag_column_mut(key);
        self.tags[i] = DictColumn {
            codes: vec![0; n],
            dict: vec![value.to_owned()].into(),
        };
        self.drop_empty_tags();
    }

    /// influxDBOut's `.measurement()` and `.tag()`s: a copy with every row renamed (when
    /// `measurement` is not empty) and the tags set, series keys rebuilt.
    pub fn with_overrides(&self, measurement: &str, tags: &[(String, String)]) -> PointBatch {
        let mut b = self.clone();
        if !measurement.is_empty() {
            b.measurement = DictColumn {
                codes: vec![0; b.len()],
                dict: vec![measurement.to_owned()].into(),
            };
        }
        for (k, v) in tags {
            b.set_tag(k, v);
        }
        if !measurement.is_empty() || !tags.is_empty() {
            b.rebuild_series();
        }
        b
    }

    /// A copy whose tags are `src`'s (same rows), series keys rebuilt.
    pub fn with_tags_of(&self, src: &PointBatch) -> Result<PointBatch, EditError> {
        if src.len() != self.len() {
            return Err(EditError::RowCount {
                expected: self.len(),
                got: src.len(),
            });
        }
        let mut b = self.clone();
        b.tag_keys = src.tag_keys.clone();
        b.tags = src.tags.clone();
        if b.measurement == src.measurement {
            // Same measurements and now the same tags: `src`'s series are these rows' series.
            b.series = src.series.clone();
            b.series_keys = src.series_keys.clone();
        } else {
            b.rebuild_series();
        }
        Ok(b)
    }

    /// A copy with `src`'s field columns `names` (same rows) replacing or added to its own.
    pub fn with_fields_of(
        &self,
        src: &PointBatch,
        names: &[String],
    ) -> Result<PointBatch, EditError> {
        if src.len() != self.len() {
            return Err(EditError::RowCount {
                expected: self.len(),
                got: src.len(),
            });
        }
        let mut b = self.clone();
        for name in names {
            match (
                src.field(name),
                b.fields.binary_search_by(|c| c.name.cmp(name)),
            ) {
                (Some(col), Ok(i)) => b.fields[i] = col.clone(),
                (Some(col), Err(i)) => b.fields.insert(i, col.clone()),
                (None, _) => {}
            }
        }
        b.normalize_hidden();
        Ok(b)
    }

    /// Only the fields `keep` (plus the hidden markers, kept canonical).
    pub fn select_fields_marked(&self, keep: &[String]) -> PointBatch {
        let mut b = self.clone();
        b.fields
            .retain(|c| keep.contains(&c.name) || is_hidden(&c.name));
        b.normalize_hidden();
        b
    }

    /// Field names listed as null in row `row` (empty without a [`NULLS`] column).
    pub fn null_fields(&self, row: usize) -> Vec<String> {
        match self.field(NULLS).and_then(|c| c.get(row)) {
            Some(Value::Str(s)) => s.split('\0').map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    }

    /// Replaces the [`NULLS`] column with one row value each (`None` = no null field).
    fn set_nulls(&mut self, per_row: Vec<Option<String>>) {
        self.fields.retain(|c| c.name != NULLS);
        if per_row.iter().all(Option::is_none) {
            return;
        }
        let mut data = StrColumn::new();
        let mut valid = Vec::with_capacity(per_row.len());
        for v in &per_row {
            data.push(v.as_deref().unwrap_or(""));
            valid.push(v.is_some());
        }
        let col = Column {
            name: NULLS.to_owned(),
            data: ColumnData::Str(data),
            valid,
        };
        let i = self
            .fields
            .binary_search_by(|c| c.name.as_str().cmp(NULLS))
            .unwrap_or_else(|i| i);
        self.fields.insert(i, col);
    }

    /// Rewrites each row's null list with `edit(row, names)` (only when there is a null list).
    fn edit_nulls(&mut self, mut edit: impl FnMut(usize, &mut Vec<String>)) {
        if self.field(NULLS).is_none() {
            return;
        }
        let per_row = (0..self.len())
            .map(|row| {
                let mut names = self.null_fields(row);
                if names.is_empty() {
                    return None;
                }
                edit(row, &mut names);
                (!names.is_empty()).then(|| names.join("\0"))
            })
            .collect();
        self.set_nulls(per_row);
    }

    /// Makes the hidden markers canonical: a null listed for a field the row has a value for
    /// is dropped, and [`NO_FIELDS`] is set exactly on the rows with no other field.
    pub fn normalize_hidden(&mut self) {
        if self.field(NULLS).is_some() {
            let valid_names: Vec<(String, Vec<bool>)> = self
                .fields
                .iter()
                .filter(|c| !is_hidden(&c.name))
                .map(|c| (c.name.clone(), c.valid.clone()))
                .collect();
            self.edit_nulls(|row, names| {
                names.retain(|n| !valid_names.iter().any(|(k, v)| k == n && v[row]));
            });
        }
        let n = self.len();
        let mut fieldless = vec![true; n];
        for c in self.fields.iter().filter(|c| c.name != NO_FIELDS) {
            for (f, &v) in fieldless.iter_mut().zip(&c.valid) {
                *f &= !v;
            }
        }
        self.fields.retain(|c| c.name != NO_FIELDS);
        if fieldless.iter().any(|&f| f) {
            let col = Column {
                name: NO_FIELDS.to_owned(),
                data: ColumnData::Bool(fieldless.clone()),
                valid: fieldless,
            };
            // NUL sorts first: the marker is the first column.
            self.fields.insert(0, col);
        }
    }

    /// `default().field(k, v)`: rows without field `k` (or with a null `k`) get `v`, each pair in
    /// order. Returns the batch and how many (row, field) pairs were defaulted.
    pub fn default_fields(&self, defaults: &[(String, Value)]) -> (PointBatch, u64) {
        let mut b = self.clone();
        let mut count = 0u64;
        for (k, v) in defaults {
            let fill: Vec<bool> = {
                let col = b.field(k);
                let has_nulls = b.field(NULLS).is_some();
                (0..b.len())
                    .map(|row| {
                        !col.is_some_and(|c| c.valid[row])
                            || (has_nulls && b.null_fields(row).iter().any(|n| n == k))
                    })
                    .collect()
            };
            let filled = fill.iter().filter(|&&f| f).count();
            if filled == 0 {
                continue;
            }
            count += filled as u64;
            set_rows(&mut b.fields, k, v, &fill);
            b.edit_nulls(|row, names| {
                if fill[row] {
                    names.retain(|n| n != k);
                }
            });
        }
        if count > 0 {
            b.normalize_hidden();
        }
        (b, count)
    }

    /// `delete().field(...)`: the batch without those fields, and how many (row, field) pairs
    /// went (a null field counts: the row had it).
    pub fn drop_fields(&self, names: &[String]) -> (PointBatch, u64) {
        let mut b = self.clone();
        let mut count = 0u64;
        b.fields.retain(|c| {
            let gone = !is_hidden(&c.name) && names.contains(&c.name);
            if gone {
                count += c.valid.iter().filter(|&&v| v).count() as u64;
            }
            !gone
        });
        b.edit_nulls(|_, listed| {
            let before = listed.len();
            listed.retain(|n| !names.contains(n));
            count += (before - listed.len()) as u64;
        });
        if count > 0 {
            b.normalize_hidden();
        }
        (b, count)
    }

    /// eval's `.tags()`: the string field `field` becomes tag `tag` on the rows that have it
    /// (`""` = no tag); field `field` and any field named `tag` are removed (a tag result hides
    /// a field of its name from later expressions).
    pub fn field_to_tag(&self, field: &str, tag: &str) -> Result<PointBatch, EditError> {
        let mut b = self.clone();
        b.fields.retain(|c| c.name != field && c.name != tag);
        let i = b.tag_column_mut(tag);
        if let Some(c) = self.field(field) {
            let col = &mut b.tags[i];
            // Values are interned into the tag column's own dictionary, read in place.
            let mut dict = std::mem::take(Arc::make_mut(&mut col.dict));
            let mut index: HashMap<String, u32> = dict
                .iter()
                .enumerate()
                .map(|(n, s)| (s.clone(), n as u32))
                .collect();
            let mut set = |row: usize, s: &str| {
                col.codes[row] = if s.is_empty() {
                    NO_TAG
                } else {
                    intern(&mut index, &mut dict, s)
                };
            };
            match &c.data {
                ColumnData::Str(strs) => {
                    for row in (0..c.valid.len()).filter(|&r| c.valid[r]) {
                        set(row, strs.get(row));
                    }
                }
                _ => {
                    for row in 0..c.valid.len() {
                        match c.get(row) {
                            None => {}
                            Some(Value::Str(s)) => set(row, &s),
                            Some(_) => {
                                return Err(EditError::NotAString {
                                    row,
                                    field: field.to_owned(),
                                })
                            }
                        }
                    }
                }
            }
            b.tags[i].dict = dict.into();
        }
        b.drop_empty_tags();
        b.rebuild_series();
        b.normalize_hidden();
        Ok(b)
    }
}

/// The code of `s` in `dict`, appended on first use.
fn intern(index: &mut HashMap<String, u32>, dict: &mut Vec<String>, s: &str) -> u32 {
    if let Some(&c) = index.get(s) {
        return c;
    }
    dict.push(s.to_owned());
    index.insert(s.to_owned(), (dict.len() - 1) as u32);
    (dict.len() - 1) as u32
}

/// Sets field `name` to `v` on the rows where `rows` is true, creating the column or turning it
/// mixed when its type differs.
fn set_rows(fields: &mut Vec<Column>, name: &str, v: &Value, rows: &[bool]) {
    let i = match fields.binary_search_by(|c| c.name.as_str().cmp(name)) {
        Ok(i) => i,
        Err(i) => {
            let data = match v.kind() {
                FieldKind::Float => ColumnData::Float(vec![0.0; rows.len()]),
                FieldKind::Int => ColumnData::Int(vec![0; rows.len()]),
                FieldKind::UInt => ColumnData::UInt(vec![0; rows.len()]),
                FieldKind::Bool => ColumnData::Bool(vec![false; rows.len()]),
                _ => {
                    let mut s = StrColumn::new();
                    for _ in rows {
                        s.push("");
                    }
                    ColumnData::Str(s)
                }
            };
            let col = Column {
                name: name.to_owned(),
                data,
                valid: vec![false; rows.len()],
            };
            fields.insert(i, col);
            i
        }
    };
    let c = &mut fields[i];
    if c.data.kind() != v.kind() && c.data.kind() != FieldKind::Mixed {
        let mixed = (0..rows.len()).map(|r| c.get(r)).collect();
        c.data = ColumnData::Mixed(mixed);
    }
    match (&mut c.data, v) {
        (ColumnData::Float(d), Value::Float(x)) => fill(d, rows, *x),
        (ColumnData::Int(d), Value::Int(x)) => fill(d, rows, *x),
        (ColumnData::UInt(d), Value::UInt(x)) => fill(d, rows, *x),
        (ColumnData::Bool(d), Value::Bool(x)) => fill(d, rows, *x),
        (ColumnData::Mixed(d), v) => fill(d, rows, Some(v.clone())),
        (ColumnData::Str(d), Value::Str(s)) => {
            let mut out = StrColumn::new();
            for (r, &f) in rows.iter().enumerate() {
                out.push(if f { s } else { d.get(r) });
            }
            *d = out;
        }
        // The kinds were made to agree above.
        _ => {}
    }
    for (ok, &f) in c.valid.iter_mut().zip(rows) {
        *ok |= f;
    }
}

fn fill<T: Clone>(data: &mut [T], rows: &[bool], v: T) {
    for (d, &f) in data.iter_mut().zip(rows) {
        if f {
            *d = v.clone();
        }
    }
}

/// Kapacitor's `sample(n)` per group: row `i` (of group `codes[i]`) is kept when its group's
/// running count is a multiple of `every`. `counts[g]` is group `g`'s count before this chunk and
/// is advanced past it.
pub fn sample_every(codes: &[u32], counts: &mut [u64], every: u64) -> Vec<bool> {
    codes
        .iter()
        .map(|&g| {
            let c = &mut counts[g as usize];
            let keep = every > 0 && *c % every == 0;
            *c += 1;
            keep
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;

    /// (measurement, tags, fields, time) of one test row.
    type TestRow<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, Value)],
        i64,
    );

    fn batch(rows: &[TestRow<'_>]) -> PointBatch {
        let mut b = BatchBuilder::new();
        for (m, tags, fields, t) in rows {
            b.push_row(m, tags, fields, *t).unwrap();
        }
        b.finish()
    }

    fn sample() -> PointBatch {
        batch(&[
            ("cpu", &[("host", "a")], &[("v", Value::Float(1.0))], 10),
            ("cpu", &[], &[("w", Value::Int(2))], -7),
            (
                "mem",
                &[("dc", "x"), ("host", "b")],
                &[("v", Value::Float(3.0))],
                15,
            ),
        ])
    }

    #[test]
    fn retime_shifts_truncates_and_rounds_like_python() {
        let b = sample();
        assert_eq!(b.retime(5, 0, 0).unwrap().time, vec![15, -2, 20]);
        assert_eq!(b.retime(0, 5, 0).unwrap().time, vec![10, -10, 15]);
        assert_eq!(b.retime(0, 0, 10).unwrap().time, vec![10, -10, 20]);
        assert_eq!(b.retime(0, 0, 4).unwrap().time, vec![12, -8, 16]);
        assert!(b.retime(i64::MAX, 0, 0).is_err());
        let empty = PointBatch::default();
        assert!(empty.retime(1, 2, 3).unwrap().is_empty());
        // Series and fields are untouched.
        assert_eq!(b.retime(1, 0, 0).unwrap().series_keys, b.series_keys);
    }

    #[test]
    fn default_tags_fill_missing_and_count() {
        let b = sample();
        let (d, n) = b.default_tags(&[("host".into(), "z".into()), ("dc".into(), "y".into())]);
        assert_eq!(n, 3);
        assert_eq!(d.row_tags(1), vec![("dc", "y"), ("host", "z")]);
        assert_eq!(d.row_tags(2), vec![("dc", "x"), ("host", "b")]);
        assert_eq!(d.series_keys[d.series[1] as usize], "cpu,dc=y,host=z");
        // An empty default counts but leaves no tag, and no empty column behind.
        let (e, n) = b.default_tags(&[("new".into(), String::new())]);
        assert_eq!(n, 3);
        assert!(!e.tag_keys.contains(&"new".to_string()));
        let (same, n) = PointBatch::default().default_tags(&[("a".into(), "b".into())]);
        assert_eq!((same.len(), n), (0, 0));
    }

    #[test]
    fn drop_tags_counts_present_values_and_rekeys_series() {
        let b = sample();
        let (d, n) = b.drop_tags(&["host".into(), "absent".into()]);
        assert_eq!(n, 2);
        assert_eq!(d.tag_keys, vec!["dc"]);
        assert_eq!(d.distinct_series(), vec!["cpu", "mem,dc=x"]);
        let (_, n) = b.drop_tags(&[]);
        assert_eq!(n, 0);
    }

    #[test]
    fn default_fields_per_type_and_mixed() {
        let b = sample();
        let (d, n) = b.default_fields(&[("v".into(), Value::Float(0.5))]);
        assert_eq!(n, 1);
        assert_eq!(d.field("v").unwrap().get(1), Some(Value::Float(0.5)));
        assert_eq!(d.field("v").unwrap().data.kind(), FieldKind::Float);
        // Another type: the column turns mixed, rows keep their own values.
        let (m, n) = b.default_fields(&[("v".into(), Value::Str("s".into()))]);
        assert_eq!(n, 1);
        let c = m.field("v").unwrap();
        assert_eq!(c.data.kind(), FieldKind::Mixed);
        assert_eq!(
            (c.get(0), c.get(1)),
            (Some(Value::Float(1.0)), Some(Value::Str("s".into())))
        );
        // A new column, then a second default of the same name counts nothing.
        let (x, n) = b.default_fields(&[
            ("s".into(), Value::Str("q".into())),
            ("s".into(), Value::Str("r".into())),
        ]);
        assert_eq!(n, 3);
        assert_eq!(x.field("s").unwrap().get(2), Some(Value::Str("q".into())));
        assert!(x.field(NO_FIELDS).is_none());
    }

    #[test]
    fn nulls_are_defaulted_and_deleted_and_stay_canonical() {
        let b = batch(&[
            ("m", &[], &[(NULLS, Value::Str("a\0b".into()))], 1),
            (
                "m",
                &[],
                &[("a", Value::Int(1)), (NULLS, Value::Str("b".into()))],
                2,
            ),
            ("m", &[], &[("c", Value::Bool(true))], 3),
        ]);
        let (d, n) = b.default_fields(&[("a".into(), Value::Int(9))]);
        assert_eq!(n, 2);
        assert_eq!(d.null_fields(0), vec!["b"]);
        assert_eq!(d.field("a").unwrap().get(0), Some(Value::Int(9)));
        assert_eq!(d.field("a").unwrap().get(2), Some(Value::Int(9)));
        let (e, n) = b.drop_fields(&["b".into()]);
        assert_eq!(n, 2);
        assert_eq!(e.null_fields(0), vec!["a"]);
        assert!(e.null_fields(1).is_empty());
        assert!(e.field(NO_FIELDS).is_none());
        let (f, n) = b.drop_fields(&["a".into(), "b".into()]);
        assert_eq!(n, 4);
        assert!(f.field(NULLS).is_none());
        let marker = f.field(NO_FIELDS).unwrap();
        assert_eq!(marker.valid, vec![true, true, false]);
        // Defaulting a field into a field-less row removes the marker again.
        let (g, _) = f.default_fields(&[("z".into(), Value::Float(0.0))]);
        assert!(g.field(NO_FIELDS).is_none());
    }

    #[test]
    fn drop_fields_marks_rows_left_without_fields() {
        let b = sample();
        let (d, n) = b.drop_fields(&["v".into()]);
        assert_eq!(n, 2);
        assert_eq!(d.field(NO_FIELDS).unwrap().valid, vec![true, false, true]);
        assert_eq!(d.row_fields(1), vec![("w", Value::Int(2))]);
        let (same, n) = b.drop_fields(&["nope".into()]);
        assert_eq!(n, 0);
        assert_eq!(same, b);
    }

    #[test]
    fn field_to_tag_moves_strings_and_hides_the_field_of_that_name() {
        let b = batch(&[
            (
                "m",
                &[("t", "old")],
                &[("r", Value::Str("x".into())), ("t", Value::Int(1))],
                1,
            ),
            (
                "m",
                &[],
                &[("r", Value::Str(String::new())), ("u", Value::Int(2))],
                2,
            ),
            ("m", &[("t", "keep")], &[("u", Value::Int(3))], 3),
        ]);
        let d = b.field_to_tag("r", "t").unwrap();
        assert_eq!(d.row_tags(0), vec![("t", "x")]);
        assert_eq!(d.row_tags(1), vec![]);
        assert_eq!(d.row_tags(2), vec![("t", "keep")]);
        assert!(d.field("r").is_none() && d.field("t").is_none());
        // Row 0 lost its only fields: marked field-less.
        assert_eq!(d.field(NO_FIELDS).unwrap().valid, vec![true, false, false]);
        assert_eq!(d.distinct_series(), vec!["m,t=x", "m", "m,t=keep"]);
        assert!(b.field_to_tag("u", "t").is_err());
        assert!(b.field_to_tag("absent", "t").is_ok());
    }

    #[test]
    fn overrides_tags_of_and_fields_of() {
        let b = sample();
        let o = b.with_overrides(
            "out",
            &[("host".into(), "h".into()), ("dc".into(), String::new())],
        );
        assert_eq!(o.distinct_series(), vec!["out,host=h"]);
        let other = b.drop_tags(&["host".into()]).0;
        let t = b.with_tags_of(&other).unwrap();
        assert_eq!(t.distinct_series(), vec!["cpu", "mem,dc=x"]);
        assert!(b.with_tags_of(&PointBatch::default()).is_err());
        let (src, _) = b.default_fields(&[("v".into(), Value::Float(7.0))]);
        let f = b
            .with_fields_of(&src, &["v".into(), "absent".into()])
            .unwrap();
        assert_eq!(f.field("v").unwrap().get(1), Some(Value::Float(7.0)));
        let s = b.select_fields_marked(&["w".into()]);
        assert_eq!(s.field(NO_FIELDS).unwrap().valid, vec![true, false, true]);
    }

    #[test]
    fn sorted_by_time_is_stable_and_sample_counts_per_group() {
        let b = batch(&[
            ("m", &[], &[("v", Value::Int(0))], 5),
            ("m", &[], &[("v", Value::Int(1))], 1),
            ("m", &[], &[("v", Value::Int(2))], 5),
        ]);
        let s = b.sorted_by_time();
        assert_eq!(s.time, vec![1, 5, 5]);
        assert_eq!(s.field("v").unwrap().get(2), Some(Value::Int(2)));
        let mut counts = vec![0, 1];
        assert_eq!(
            sample_every(&[0, 1, 0, 1, 0], &mut counts, 2),
            vec![true, false, false, true, true]
        );
        assert_eq!(counts, vec![3, 3]);
        assert!(sample_every(&[], &mut counts, 2).is_empty());
    }

    #[test]
    fn every_edit_of_an_empty_batch_is_an_empty_batch() {
        let e = PointBatch::default();
        assert_eq!(
            e.default_fields(&[("v".into(), Value::Int(1))]),
            (e.clone(), 0)
        );
        assert_eq!(e.drop_fields(&["v".into()]), (e.clone(), 0));
        assert_eq!(e.drop_tags(&["t".into()]), (e.clone(), 0));
        assert!(e.field_to_tag("f", "t").unwrap().is_empty());
        assert!(e
            .with_overrides("m", &[("k".into(), "v".into())])
            .is_empty());
        assert!(e.with_tags_of(&e).unwrap().is_empty());
        assert!(e.with_fields_of(&e, &["v".into()]).unwrap().is_empty());
        assert!(e.select_fields_marked(&[]).fields.is_empty());
        assert!(e.sorted_by_time().is_empty());
    }

    #[test]
    fn field_to_tag_reads_strings_of_a_mixed_column() {
        let mut b = BatchBuilder::new();
        b.push_row("m", &[], &[("r", Value::Str("a".into()))], 1)
            .unwrap();
        b.push_row("m", &[], &[("r", Value::Int(1)), ("u", Value::Int(1))], 2)
            .unwrap();
        let b = b.finish();
        assert_eq!(b.field("r").unwrap().data.kind(), FieldKind::Mixed);
        assert_eq!(
            b.field_to_tag("r", "t"),
            Err(EditError::NotAString {
                row: 1,
                field: "r".into()
            })
        );
        let only_first = b.take(&[0]);
        let t = only_first.field_to_tag("r", "t").unwrap();
        assert_eq!(t.row_tags(0), vec![("t", "a")]);
    }

    #[test]
    fn field_to_tag_reuses_the_tag_dictionary() {
        let b = batch(&[
            ("m", &[("t", "x")], &[("u", Value::Int(1))], 1),
            (
                "m",
                &[],
                &[("r", Value::Str("x".into())), ("u", Value::Int(2))],
                2,
            ),
        ]);
        let d = b.field_to_tag("r", "t").unwrap();
        assert_eq!(*d.tag("t").unwrap().dict, vec!["x".to_string()]);
        assert_eq!(d.distinct_series(), vec!["m,t=x"]);
    }
}
