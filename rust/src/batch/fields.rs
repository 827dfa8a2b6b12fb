//! [`FieldColumns`]: appends typed field values row by row into [`Column`]s.
//!
//! Shared by the line-protocol parser and the generic [`super::BatchBuilder`]. Columns are padded
//! lazily: a row that lacks a field costs nothing until the column is written again (or the batch
//! is finished), so a wide batch of sparse measurements does not pay per absent field per row.
//! Writing the same field twice in one row overwrites (InfluxDB keeps the last duplicate), and a
//! value of another type turns the column into [`ColumnData::Mixed`].

use std::collections::HashMap;

use super::{Column, ColumnData, FieldKind, StrColumn, Value};

/// Field columns under construction.
#[derive(Debug, Default)]
pub struct FieldColumns {
    cols: Vec<Column>,
    /// Capacity given to a new column (the caller's estimate of the batch's rows).
    reserve: usize,
    index: HashMap<String, usize>,
    /// Per column: the row at which it turned mixed and its kind before, so that rolling that
    /// row back restores the single-type column.
    mixed_at: Vec<Option<(usize, FieldKind)>>,
}

impl FieldColumns {
    pub fn new() -> Self {
        Self::default()
    }

    /// New columns will be created with room for `rows` rows (an estimate; 0 = grow as needed).
    pub fn reserve_rows(&mut self, rows: usize) {
        self.reserve = rows;
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The column named `name`, created (of kind `kind`) when it does not exist yet.
    pub fn column(&mut self, name: &str, kind: FieldKind) -> usize {
        if let Some(i) = self.find(name) {
            return i;
        }
        let i = self.cols.len();
        let mut data = ColumnData::empty(kind);
        reserve(&mut data, self.reserve);
        self.cols.push(Column {
            name: name.to_owned(),
            data,
            valid: Vec::with_capacity(self.reserve),
        });
        self.mixed_at.push(None);
        self.index.insert(name.to_owned(), i);
        i
    }

    pub fn name(&self, col: usize) -> &str {
        &self.cols[col].name
    }

    #[inline(always)]
    pub fn push_float(&mut self, col: usize, row: usize, v: f64) {
        let c = &mut self.cols[col];
        if let ColumnData::Float(d) = &mut c.data {
            if d.len() == row {
                d.push(v);
                c.valid.push(true);
                return;
            }
        }
        self.push_slow(col, row, Value::Float(v));
    }

    #[inline(always)]
    pub fn push_int(&mut self, col: usize, row: usize, v: i64) {
        let c = &mut self.cols[col];
        if let ColumnData::Int(d) = &mut c.data {
            if d.len() == row {
                d.push(v);
                c.valid.push(true);
                return;
            }
        }
        self.push_slow(col, row, Value::Int(v));
    }

    #[inline(always)]
    pub fn push_uint(&mut self, col: usize, row: usize, v: u64) {
        let c = &mut self.cols[col];
        if let ColumnData::UInt(d) = &mut c.data {
            if d.len() == row {
                d.push(v);
                c.valid.push(true);
                return;
            }
        }
        self.push_slow(col, row, Value::UInt(v));
    }

    #[inline(always)]
    pub fn push_bool(&mut self, col: usize, row: usize, v: bool) {
        let c = &mut self.cols[col];
        if let ColumnData::Bool(d) = &mut c.data {
            if d.len() == row {
                d.push(v);
                c.valid.push(true);
                return;
            }
        }
        self.push_slow(col, row, Value::Bool(v));
    }

    /// Appends a string value; strings are the one kind that is padded on the fast path too,
    /// because padding a [`StrColumn`] is just repeating an offset.
    #[inline(always)]
    pub fn push_str(&mut self, col: usize, row: usize, v: &str) {
        let c = &mut self.cols[col];
        if let ColumnData::Str(d) = &mut c.data {
            if d.len() <= row {
                pad_str(d, &mut c.valid, row);
                d.push(v);
                c.valid.push(true);
                return;
            }
        }
        self.push_slow(col, row, Value::Str(v.to_owned()));
    }

    pub fn push_value(&mut self, col: usize, row: usize, v: Value) {
        match v {
            Value::Float(x) => self.push_float(col, row, x),
            Value::Int(x) => self.push_int(col, row, x),
            Value::UInt(x) => self.push_uint(col, row, x),
            Value::Bool(x) => self.push_bool(col, row, x),
            Value::Str(s) => self.push_str(col, row, &s),
        }
    }

    /// Everything but "append a value of the column's own type at the end": padding, a
    /// duplicate field in the same row, or a value of another type.
    #[cold]
    fn push_slow(&mut self, col: usize, row: usize, v: Value) {
        let kind = v.kind();
        let c = &mut self.cols[col];
        // Counting is O(rows) but only happens when a column changes type (once per column).
        let count = if c.data.kind() != kind && c.data.kind() != FieldKind::Mixed {
            c.valid.iter().filter(|&&v| v).count()
        } else {
            0
        };
        if c.data.kind() != kind && c.data.kind() != FieldKind::Mixed {
            if count == 0 {
                // Nothing committed yet (e.g. a failed line created it): just change its type.
                c.data = ColumnData::empty(kind);
                c.valid.clear();
            } else if c.valid.len() == row + 1 && count == 1 && c.valid[row] {
                // The only value is this row's own earlier duplicate: last one wins, type too.
                c.data = ColumnData::empty(kind);
                c.valid.clear();
            } else {
                self.mixed_at[col] = Some((row, c.data.kind()));
                c.data = to_mixed(&c.data, &c.valid);
            }
        }
        let c = &mut self.cols[col];
        pad(&mut c.data, &mut c.valid, row);
        if c.valid.len() == row + 1 {
            // Duplicate field in one row: the last value wins, as in InfluxDB.
            set_last(&mut c.data, v);
            c.valid[row] = true;
            return;
        }
        push_any(&mut c.data, v);
        c.valid.push(true);
    }

    /// Removes what row `row` wrote into column `col` (the line turned out to be bad).
    pub fn rollback(&mut self, col: usize, row: usize) {
        let c = &mut self.cols[col];
        if c.valid.len() > row {
            c.valid.truncate(row);
            truncate(&mut c.data, row);
        }
        if let Some((at, kind)) = self.mixed_at[col] {
            if at == row {
                self.mixed_at[col] = None;
                unmix(&mut c.data, &c.valid, kind);
            }
        }
    }

    /// The finished columns for `rows` rows: padded, unused ones dropped, sorted by name.
    pub fn finish(mut self, rows: usize) -> Vec<Column> {
        let mut out: Vec<Column> = Vec::with_capacity(self.cols.len());
        for mut c in self.cols.drain(..) {
            if !c.valid.iter().any(|&v| v) {
                continue;
            }
            pad(&mut c.data, &mut c.valid, rows);
            out.push(c);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Appends `src` (a column of another batch) as rows `offset..offset + src.len()`.
    pub fn extend_from(&mut self, src: &Column, offset: usize) {
        let col = self.column(&src.name, src.data.kind());
        let c = &mut self.cols[col];
        if c.data.kind() == src.data.kind() && c.data.kind() != FieldKind::Mixed {
            pad(&mut c.data, &mut c.valid, offset);
            append_same(&mut c.data, &src.data);
            c.valid.extend_from_slice(&src.valid);
            return;
        }
        for i in 0..src.valid.len() {
            if let Some(v) = src.get(i) {
                self.push_value(col, offset + i, v);
            }
        }
    }
}

fn pad_str(d: &mut StrColumn, valid: &mut Vec<bool>, row: usize) {
    while d.len() < row {
        d.offsets.push(d.data.len() as u32);
    }
    valid.resize(row, false);
}

fn reserve(data: &mut ColumnData, rows: usize) {
    match data {
        ColumnData::Float(v) => v.reserve(rows),
        ColumnData::Int(v) => v.reserve(rows),
        ColumnData::UInt(v) => v.reserve(rows),
        ColumnData::Bool(v) => v.reserve(rows),
        ColumnData::Str(v) => v.offsets.reserve(rows),
        ColumnData::Mixed(_) => {}
    }
}

/// Pads `data`/`valid` with absent rows up to `rows`.
fn pad(data: &mut ColumnData, valid: &mut Vec<bool>, rows: usize) {
    if valid.len() >= rows {
        return;
    }
    match data {
        ColumnData::Float(v) => v.resize(rows, 0.0),
        ColumnData::Int(v) => v.resize(rows, 0),
        ColumnData::UInt(v) => v.resize(rows, 0),
        ColumnData::Bool(v) => v.resize(rows, false),
        ColumnData::Str(v) => {
            pad_str(v, valid, rows);
        }
        ColumnData::Mixed(v) => v.resize(rows, None),
    }
    valid.resize(rows, false);
}

fn truncate(data: &mut ColumnData, rows: usize) {
    match data {
        ColumnData::Float(v) => v.truncate(rows),
        ColumnData::Int(v) => v.truncate(rows),
        ColumnData::UInt(v) => v.truncate(rows),
        ColumnData::Bool(v) => v.truncate(rows),
        ColumnData::Str(v) => {
            v.offsets.truncate(rows + 1);
            let end = *v.offsets.last().unwrap_or(&0) as usize;
            v.data.truncate(end);
        }
        ColumnData::Mixed(v) => v.truncate(rows),
    }
}

/// Turns a mixed column whose values are all of `kind` back into a typed column.
fn unmix(data: &mut ColumnData, valid: &[bool], kind: FieldKind) {
    let ColumnData::Mixed(values) = data else {
        return;
    };
    let mut out = ColumnData::empty(kind);
    for v in values.iter() {
        let v = v.clone().unwrap_or_else(|| default_value(kind));
        push_any(&mut out, v);
    }
    debug_assert_eq!(out.len(), valid.len());
    *data = out;
}

fn default_value(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Float => Value::Float(0.0),
        FieldKind::Int => Value::Int(0),
        FieldKind::UInt => Value::UInt(0),
        FieldKind::Bool => Value::Bool(false),
        _ => Value::Str(String::new()),
    }
}

fn to_mixed(data: &ColumnData, valid: &[bool]) -> ColumnData {
    ColumnData::Mixed(
        valid
            .iter()
            .enumerate()
            .map(|(i, &ok)| if ok { data.value(i) } else { None })
            .collect(),
    )
}

/// Pushes `v` into a column of its own kind or a mixed column.
fn push_any(data: &mut ColumnData, v: Value) {
    match (data, v) {
        (ColumnData::Float(d), Value::Float(x)) => d.push(x),
        (ColumnData::Int(d), Value::Int(x)) => d.push(x),
        (ColumnData::UInt(d), Value::UInt(x)) => d.push(x),
        (ColumnData::Bool(d), Value::Bool(x)) => d.push(x),
        (ColumnData::Str(d), Value::Str(x)) => d.push(&x),
        (ColumnData::Mixed(d), v) => d.push(Some(v)),
        (d, v) => unreachable!("push_any: {:?} into {:?}", v.kind(), d.kind()),
    }
}

/// Overwrites the last row with `v` (a column of its kind or mixed).
fn set_last(data: &mut ColumnData, v: Value) {
    match data {
        ColumnData::Str(d) => {
            d.offsets.pop();
            let end = *d.offsets.last().unwrap_or(&0) as usize;
            d.data.truncate(end);
            push_any(data, v);
        }
        _ => {
            truncate(data, data.len() - 1);
            push_any(data, v);
        }
    }
}

fn append_same(dst: &mut ColumnData, src: &ColumnData) {
    match (dst, src) {
        (ColumnData::Float(d), ColumnData::Float(s)) => d.extend_from_slice(s),
        (ColumnData::Int(d), ColumnData::Int(s)) => d.extend_from_slice(s),
        (ColumnData::UInt(d), ColumnData::UInt(s)) => d.extend_from_slice(s),
        (ColumnData::Bool(d), ColumnData::Bool(s)) => d.extend_from_slice(s),
        (ColumnData::Str(d), ColumnData::Str(s)) => {
            let base = d.data.len() as u32;
            d.data.extend_from_slice(&s.data);
            d.offsets.extend(s.offsets[1..].iter().map(|o| o + base));
        }
        (d, s) => unreachable!("append_same: {:?} onto {:?}", s.kind(), d.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_lazily_and_drops_unused_columns() {
        let mut f = FieldColumns::new();
        let a = f.column("a", FieldKind::Float);
        let b = f.column("b", FieldKind::Str);
        let unused = f.column("zz", FieldKind::Int);
        f.push_float(a, 0, 1.0);
        f.push_str(b, 1, "x");
        f.push_int(unused, 2, 5);
        f.rollback(unused, 2);
        let cols = f.finish(3);
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0].valid, vec![true, false, false]);
        assert_eq!(cols[1].get(1), Some(Value::Str("x".into())));
        assert_eq!(cols[1].get(2), None);
    }

    #[test]
    fn duplicate_in_row_last_wins_and_type_conflict_is_mixed() {
        let mut f = FieldColumns::new();
        let a = f.column("a", FieldKind::Float);
        f.push_float(a, 0, 1.0);
        f.push_float(a, 0, 2.0);
        f.push_int(a, 1, 3);
        f.push_str(a, 1, "s");
        let cols = f.finish(2);
        assert_eq!(cols[0].data.kind(), FieldKind::Mixed);
        assert_eq!(cols[0].get(0), Some(Value::Float(2.0)));
        assert_eq!(cols[0].get(1), Some(Value::Str("s".into())));
    }

    #[test]
    fn duplicate_with_other_type_in_first_row_keeps_one_type() {
        let mut f = FieldColumns::new();
        let a = f.column("a", FieldKind::Float);
        f.push_float(a, 0, 1.0);
        f.push_str(a, 0, "s");
        f.push_str(a, 1, "t");
        let cols = f.finish(2);
        assert_eq!(cols[0].data.kind(), FieldKind::Str);
        assert_eq!(cols[0].get(0), Some(Value::Str("s".into())));
    }

    #[test]
    fn rollback_of_string_restores_data() {
        let mut f = FieldColumns::new();
        let a = f.column("a", FieldKind::Str);
        f.push_str(a, 0, "keep");
        f.push_str(a, 1, "drop");
        f.rollback(a, 1);
        f.push_str(a, 1, "new");
        let cols = f.finish(2);
        assert_eq!(cols[0].get(1), Some(Value::Str("new".into())));
        assert_eq!(cols[0].get(0), Some(Value::Str("keep".into())));
    }
}
