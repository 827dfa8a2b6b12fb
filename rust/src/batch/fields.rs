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
    /// Per column: the row whose duplicate of another type changed the column's type (the first
    /// row with a value, see `push_slow`), so that a merge of parts parsed apart knows the part
    /// did not hold one type throughout.
    retyped_at: Vec<Option<usize>>,
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
        self.retyped_at.push(None);
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
                self.retyped_at[col] = Some(row);
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
        if self.retyped_at[col] == Some(row) {
            self.retyped_at[col] = None;
        }
    }

    /// The finished columns for `rows` rows: padded, unused ones dropped, sorted by name.
    pub fn finish(self, rows: usize) -> Vec<Column> {
        self.finish_part(rows)
            .into_iter()
            .map(|p| p.column)
            .collect()
    }

    /// [`FieldColumns::finish`], each column with what [`ColumnPieces::merge`] needs to know
    /// about it.
    pub fn finish_part(self, rows: usize) -> Vec<PartColumn> {
        let mut out: Vec<PartColumn> = Vec::with_capacity(self.cols.len());
        for (mut c, retyped) in self.cols.into_iter().zip(self.retyped_at) {
            if !c.valid.iter().any(|&v| v) {
                continue;
            }
            pad(&mut c.data, &mut c.valid, rows);
            let one_kind = retyped.is_none() && c.data.kind() != FieldKind::Mixed;
            out.push(PartColumn {
                column: c,
                one_kind,
            });
        }
        out.sort_by(|a, b| a.column.name.cmp(&b.column.name));
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

/// A finished column of one part of a body that was filled apart from the other parts.
#[derive(Debug)]
pub struct PartColumn {
    pub column: Column,
    /// Every value the part pushed (kept duplicates included) had the column's kind.
    pub one_kind: bool,
}

/// One field's columns from the parts that have it, to be merged into one column.
#[derive(Debug)]
pub struct ColumnPieces {
    /// (part index, column), parts in order.
    pieces: Vec<(usize, PartColumn)>,
    offsets: std::sync::Arc<[usize]>,
    total: usize,
}

impl ColumnPieces {
    /// The column one [`FieldColumns`] would have finished with had it been fed all the parts
    /// in order, without refeeding a value. The pieces of different fields merge independently,
    /// on any thread.
    ///
    /// The column stays typed only when every part pushed values of one and the same kind: a
    /// value of another kind after rows holding values turns the column mixed for good (see
    /// `push_slow`), and a part's first row may change the type only when no earlier part had
    /// values.
    pub fn merge(self) -> Column {
        merge_column(self.pieces, &self.offsets, self.total)
    }

    /// Bytes the merge writes, roughly: to hand out the larger merges first.
    pub fn weight(&self) -> usize {
        match self.pieces.first().map(|(_, p)| p.column.data.kind()) {
            Some(FieldKind::Float | FieldKind::Int | FieldKind::UInt) => self.total * 9,
            Some(FieldKind::Bool) => self.total * 2,
            _ => self.total * 16,
        }
    }
}

/// The finished columns of parts of one body (each part: its columns and its row count),
/// grouped by field name, names sorted (the order [`FieldColumns::finish`] gives).
pub fn group_parts(parts: Vec<(Vec<PartColumn>, usize)>) -> Vec<ColumnPieces> {
    let total: usize = parts.iter().map(|(_, rows)| rows).sum();
    let mut by_name: std::collections::BTreeMap<String, Vec<(usize, PartColumn)>> =
        std::collections::BTreeMap::new();
    let mut offsets = Vec::with_capacity(parts.len());
    let mut offset = 0;
    for (j, (cols, rows)) in parts.into_iter().enumerate() {
        offsets.push(offset);
        offset += rows;
        for c in cols {
            by_name
                .entry(c.column.name.clone())
                .or_default()
                .push((j, c));
        }
    }
    let offsets: std::sync::Arc<[usize]> = offsets.into();
    by_name
        .into_values()
        .map(|pieces| ColumnPieces {
            pieces,
            offsets: offsets.clone(),
            total,
        })
        .collect()
}

fn merge_column(pieces: Vec<(usize, PartColumn)>, offsets: &[usize], total: usize) -> Column {
    let mut kind: Option<FieldKind> = None;
    for (_, p) in &pieces {
        let k = p.column.data.kind();
        kind = Some(match kind {
            None => k,
            Some(g) if g == k && p.one_kind => g,
            Some(_) => FieldKind::Mixed,
        });
    }
    let kind = kind.unwrap_or(FieldKind::Mixed);
    let mut pieces = pieces.into_iter();
    let Some((j, first)) = pieces.next() else {
        unreachable!("merge_column without pieces");
    };
    let mut out = if kind == FieldKind::Mixed {
        let mut c = Column {
            name: first.column.name.clone(),
            data: ColumnData::Mixed(Vec::new()),
            valid: Vec::new(),
        };
        append_mixed(&mut c, &first.column, offsets[j]);
        c
    } else if j == 0 {
        // Reuse the first part's storage: the other parts are appended to it.
        first.column
    } else {
        let mut c = first.column;
        let mut data = ColumnData::empty(kind);
        let mut valid = Vec::with_capacity(total);
        pad(&mut data, &mut valid, offsets[j]);
        append_same(&mut data, &c.data);
        valid.extend_from_slice(&c.valid);
        c.data = data;
        c.valid = valid;
        c
    };
    for (j, p) in pieces {
        if kind == FieldKind::Mixed {
            append_mixed(&mut out, &p.column, offsets[j]);
        } else {
            reserve(&mut out.data, total - out.valid.len());
            out.valid.reserve(total - out.valid.len());
            pad(&mut out.data, &mut out.valid, offsets[j]);
            append_same(&mut out.data, &p.column.data);
            out.valid.extend_from_slice(&p.column.valid);
        }
    }
    pad(&mut out.data, &mut out.valid, total);
    out
}

/// Appends `src` as rows `offset..` of the mixed column `dst`.
fn append_mixed(dst: &mut Column, src: &Column, offset: usize) {
    pad(&mut dst.data, &mut dst.valid, offset);
    if let ColumnData::Mixed(d) = &mut dst.data {
        d.extend((0..src.valid.len()).map(|i| src.get(i)));
    }
    dst.valid.extend_from_slice(&src.valid);
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
