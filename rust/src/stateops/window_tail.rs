//! A group's newest buffered points in a narrow window ([`super::windows::Windows::narrow`]),
//! stored by column: a time and a value per point, nothing else while every point has the field
//! and the same measurement.
//!
//! Kept as pieces of chunk parts, a group holding a few points of each of many chunks paid for a
//! whole batch per piece (its vectors, its series keys, a measurement code and a series id per
//! point): about 90 bytes per buffered point over 4,000 series. Here a point costs its time and
//! its value (16 bytes for a float field), plus one validity byte only once a point lacks the
//! field and one measurement code only once two measurements share the group.
//!
//! The rows are kept in sealed parts of [`SEAL_ROWS`] rows, immutable and shared by reference
//! count, and an open part that takes the new rows: a checkpoint copies a group's open part only,
//! so taking the state of a window of millions of points does not hold the engine thread
//! (issue #19).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::batch::{Column, ColumnData, DictColumn, FieldKind, PointBatch};

/// The values of the tail's field.
#[derive(Debug, Clone)]
enum Vals {
    F(Vec<f64>),
    I(Vec<i64>),
    U(Vec<u64>),
    B(Vec<bool>),
}

impl Vals {
    fn of(kind: FieldKind) -> Option<Vals> {
        Some(match kind {
            FieldKind::Float => Vals::F(Vec::new()),
            FieldKind::Int => Vals::I(Vec::new()),
            FieldKind::UInt => Vals::U(Vec::new()),
            FieldKind::Bool => Vals::B(Vec::new()),
            _ => return None,
        })
    }

    fn kind(&self) -> FieldKind {
        match self {
            Vals::F(_) => FieldKind::Float,
            Vals::I(_) => FieldKind::Int,
            Vals::U(_) => FieldKind::UInt,
            Vals::B(_) => FieldKind::Bool,
        }
    }

    /// Appends `d[lo..hi]` (a column of the same kind), or `hi - lo` defaults for `None`.
    fn extend(&mut self, d: Option<&ColumnData>, lo: usize, hi: usize) {
        let n = hi - lo;
        match (self, d) {
            (Vals::F(v), Some(ColumnData::Float(s))) => extend(v, &s[lo..hi]),
            (Vals::I(v), Some(ColumnData::Int(s))) => extend(v, &s[lo..hi]),
            (Vals::U(v), Some(ColumnData::UInt(s))) => extend(v, &s[lo..hi]),
            (Vals::B(v), Some(ColumnData::Bool(s))) => extend(v, &s[lo..hi]),
            (Vals::F(v), _) => fill(v, 0.0, n),
            (Vals::I(v), _) => fill(v, 0, n),
            (Vals::U(v), _) => fill(v, 0, n),
            (Vals::B(v), _) => fill(v, false, n),
        }
    }

    fn data(&self, lo: usize) -> ColumnData {
        match self {
            Vals::F(v) => ColumnData::Float(v[lo..].to_vec()),
            Vals::I(v) => ColumnData::Int(v[lo..].to_vec()),
            Vals::U(v) => ColumnData::UInt(v[lo..].to_vec()),
            Vals::B(v) => ColumnData::Bool(v[lo..].to_vec()),
        }
    }

    /// Appends `other[lo..]` (of the same kind: one field kind per tail).
    fn extend_from(&mut self, other: &Vals, lo: usize) {
        match (self, other) {
            (Vals::F(v), Vals::F(s)) => v.extend_from_slice(&s[lo..]),
            (Vals::I(v), Vals::I(s)) => v.extend_from_slice(&s[lo..]),
            (Vals::U(v), Vals::U(s)) => v.extend_from_slice(&s[lo..]),
            (Vals::B(v), Vals::B(s)) => v.extend_from_slice(&s[lo..]),
            _ => unreachable!("one field kind per tail (WindowTail::accepts)"),
        }
    }

    fn drain_front(&mut self, k: usize) {
        match self {
            Vals::F(v) => drop(v.drain(..k)),
            Vals::I(v) => drop(v.drain(..k)),
            Vals::U(v) => drop(v.drain(..k)),
            Vals::B(v) => drop(v.drain(..k)),
        }
    }
}

/// `name` as an `Arc<str>`, the same one as the previous call's when equal: the thousands of
/// groups' tails of one window hold one copy of their field's name, not one each.
fn shared_name(name: &str) -> Arc<str> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(a) if **a == *name => a.clone(),
            _ => {
                let a: Arc<str> = Arc::from(name);
                *last = Some(a.clone());
                a
            }
        }
    })
}

/// Room for `add` more items, growing by an eighth rather than doubling: buffers that live as
/// long as a window are not left half empty (a point still moves only a few times on average).
fn reserve<T>(v: &mut Vec<T>, add: usize) {
    let need = v.len() + add;
    if need > v.capacity() {
        let cap = need.max(v.capacity() + v.capacity() / 8);
        v.reserve_exact(cap - v.len());
    }
}

fn extend<T: Copy>(v: &mut Vec<T>, s: &[T]) {
    reserve(v, s.len());
    v.extend_from_slice(s);
}

fn fill<T: Copy>(v: &mut Vec<T>, x: T, n: usize) {
    reserve(v, n);
    v.resize(v.len() + n, x);
}

/// A run of the tail's rows (the open one, or a sealed one). Rows before `head` were dropped
/// from the window; they are reclaimed once they are half of the rows.
#[derive(Debug, Default)]
struct Part {
    head: usize,
    time: Vec<i64>,
    /// the field's name (shared by the groups' tails: [`shared_name`]) and values (None while
    /// no row had it)
    field: Option<(Arc<str>, Vals)>,
    /// per row, whether it has the field (None while every row has it)
    valid: Option<Vec<bool>>,
    /// the rows' measurement dictionary, the code every row has, and per-row codes once they differ
    mdict: Option<Arc<Vec<String>>>,
    mcode: u32,
    codes: Option<Vec<u32>>,
    series_keys: Option<Arc<Vec<String>>>,
}

/// A copy of the live rows only (the open part of a checkpoint's copy): the dropped rows before
/// `head` and the buffers' spare room are not copied.
impl Clone for Part {
    fn clone(&self) -> Self {
        let h = self.head;
        Part {
            head: 0,
            time: self.time[h..].to_vec(),
            field: self.field.as_ref().map(|(name, v)| {
                let vals = match v {
                    Vals::F(x) => Vals::F(x[h..].to_vec()),
                    Vals::I(x) => Vals::I(x[h..].to_vec()),
                    Vals::U(x) => Vals::U(x[h..].to_vec()),
                    Vals::B(x) => Vals::B(x[h..].to_vec()),
                };
                (name.clone(), vals)
            }),
            valid: self.valid.as_ref().map(|v| v[h..].to_vec()),
            mdict: self.mdict.clone(),
            mcode: self.mcode,
            codes: self.codes.as_ref().map(|c| c[h..].to_vec()),
            series_keys: self.series_keys.clone(),
        }
    }
}

impl Part {
    /// Live rows.
    pub fn len(&self) -> usize {
        self.time.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether rows `lo..hi` of a narrow part can join: no tags, at most one field, numeric and
    /// the tail's own where those rows have it, and the tail's measurement dictionary.
    pub fn accepts(&self, part: &PointBatch, lo: usize, hi: usize) -> bool {
        if !part.tags.is_empty() || part.fields.len() > 1 {
            return false;
        }
        if let Some(c) = part.fields.first() {
            if c.valid[lo..hi].iter().any(|&v| v) {
                match &self.field {
                    Some((name, vals)) if **name != *c.name || vals.kind() != c.data.kind() => {
                        return false
                    }
                    None if Vals::of(c.data.kind()).is_none() => return false,
                    _ => {}
                }
            }
        }
        match &self.mdict {
            Some(d) if !self.is_empty() => {
                Arc::ptr_eq(d, &part.measurement.dict) || **d == *part.measurement.dict
            }
            _ => true,
        }
    }

    /// Appends rows `lo..hi` of a part it [`accepts`](Self::accepts).
    pub fn append(&mut self, part: &PointBatch, lo: usize, hi: usize) {
        if hi <= lo {
            return;
        }
        if self.is_empty() {
            self.clear();
        }
        let before = self.time.len();
        let n = hi - lo;
        extend(&mut self.time, &part.time[lo..hi]);
        let codes = &part.measurement.codes[lo..hi];
        if self.mdict.is_none() {
            self.mdict = Some(part.measurement.dict.clone());
            self.series_keys = Some(part.series_keys.clone());
            self.mcode = codes[0];
        }
        match &mut self.codes {
            Some(c) => extend(c, codes),
            None if codes.iter().all(|&c| c == self.mcode) => {}
            None => {
                let mut c = vec![self.mcode; before];
                extend(&mut c, codes);
                self.codes = Some(c);
            }
        }
        let col = part
            .fields
            .first()
            .filter(|c| c.valid[lo..hi].iter().any(|&v| v));
        if let (None, Some(c)) = (&self.field, col) {
            let mut vals = Vals::of(c.data.kind()).expect("accepts() checked the kind");
            vals.extend(None, 0, before);
            self.field = Some((shared_name(&c.name), vals));
            if before > 0 {
                self.valid = Some(vec![false; before]);
            }
        }
        let Some((_, vals)) = &mut self.field else {
            return; // no row has had the field yet
        };
        vals.extend(col.map(|c| &c.data), lo, hi);
        let rows_valid: Option<&[bool]> = col.map(|c| &c.valid[lo..hi]);
        match (&mut self.valid, rows_valid) {
            (Some(v), Some(s)) => extend(v, s),
            (Some(v), None) => fill(v, false, n),
            (None, Some(s)) if s.iter().all(|&k| k) => {}
            (None, s) => {
                let mut v = vec![true; before];
                match s {
                    Some(s) => extend(&mut v, s),
                    None => fill(&mut v, false, n),
                }
                self.valid = Some(v);
            }
        }
    }

    /// Forgets every row (and the buffers' room).
    pub fn clear(&mut self) {
        *self = Part::default();
    }

    /// Drops leading rows until the first one whose time `keep`s; the number dropped.
    pub fn purge(&mut self, keep: impl Fn(i64) -> bool) -> usize {
        let k = self.time[self.head..]
            .iter()
            .position(|&t| keep(t))
            .unwrap_or(self.len());
        self.drop_front(k);
        k
    }

    /// Frees the dropped rows before `head`.
    fn compact(&mut self) {
        if self.head > 0 {
            let h = std::mem::take(&mut self.head);
            self.time.drain(..h);
            if let Some((_, v)) = &mut self.field {
                v.drain_front(h);
            }
            if let Some(v) = &mut self.valid {
                v.drain(..h);
            }
            if let Some(c) = &mut self.codes {
                c.drain(..h);
            }
        }
    }

    /// Drops the first `k` live rows.
    pub fn drop_front(&mut self, k: usize) {
        self.head += k.min(self.len());
        if self.is_empty() {
            self.clear();
        } else if self.head * 2 >= self.time.len() && self.head >= 64 {
            self.compact();
        }
    }
}

/// Rows a part holds before it is sealed: a checkpoint copies at most this many rows of a group
/// (the open part), and shares the sealed parts.
#[cfg(not(test))]
const SEAL_ROWS: usize = 1 << 16;
/// (small in the unit tests, so that they cross many parts)
#[cfg(test)]
const SEAL_ROWS: usize = 5;

/// See the module's documentation. The rows are kept in parts: sealed ones of [`SEAL_ROWS`]
/// rows, immutable and shared by reference count, then the open one, appended to. A copy of the
/// tail (a checkpoint taking the window's state on the engine thread, issue #19) shares the
/// sealed parts and copies the open one only: at most [`SEAL_ROWS`] rows, whatever the window
/// holds.
#[derive(Debug, Default, Clone)]
pub struct WindowTail {
    sealed: VecDeque<Arc<Part>>,
    /// live rows of the sealed parts, and rows of the first one dropped (its own `head` aside:
    /// a sealed part is never changed)
    sealed_rows: usize,
    first_dropped: usize,
    open: Part,
    /// the field's name and kind once a row had it, for every part (an open part starts blank)
    field: Option<(String, FieldKind)>,
}

impl WindowTail {
    /// Live rows.
    pub fn len(&self) -> usize {
        self.sealed_rows + self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether rows `lo..hi` of a narrow part can join (as [`Part::accepts`], over every part).
    pub fn accepts(&self, part: &PointBatch, lo: usize, hi: usize) -> bool {
        if !self.open.accepts(part, lo, hi) {
            return false;
        }
        if let (Some((name, kind)), Some(c)) = (&self.field, part.fields.first()) {
            if c.valid[lo..hi].iter().any(|&v| v) && (*name != c.name || *kind != c.data.kind()) {
                return false;
            }
        }
        match self.sealed.front() {
            Some(first) if self.open.is_empty() => match &first.mdict {
                Some(d) => Arc::ptr_eq(d, &part.measurement.dict) || **d == *part.measurement.dict,
                None => true,
            },
            _ => true,
        }
    }

    /// Appends rows `lo..hi` of a part it [`accepts`](Self::accepts).
    pub fn append(&mut self, part: &PointBatch, lo: usize, hi: usize) {
        if self.is_empty() {
            self.clear();
        }
        let mut lo = lo;
        while lo < hi {
            let n = (SEAL_ROWS - self.open.len()).min(hi - lo);
            self.open.append(part, lo, lo + n);
            lo += n;
            if self.field.is_none() {
                if let Some((name, vals)) = &self.open.field {
                    self.field = Some((name.to_string(), vals.kind()));
                }
            }
            if self.open.len() >= SEAL_ROWS {
                let mut full = std::mem::take(&mut self.open);
                full.compact();
                self.sealed_rows += full.len();
                self.sealed.push_back(Arc::new(full));
            }
        }
    }

    /// Forgets every row (and the buffers' room).
    pub fn clear(&mut self) {
        *self = WindowTail::default();
    }

    /// Drops leading rows until the first one whose time `keep`s; the number dropped.
    pub fn purge(&mut self, keep: impl Fn(i64) -> bool) -> usize {
        let mut dropped = 0;
        while let Some(first) = self.sealed.front() {
            let live = &first.time[first.head + self.first_dropped..];
            match live.iter().position(|&t| keep(t)) {
                Some(k) => {
                    self.first_dropped += k;
                    self.sealed_rows -= k;
                    return dropped + k;
                }
                None => {
                    dropped += live.len();
                    self.pop_sealed();
                }
            }
        }
        dropped += self.open.purge(keep);
        if self.is_empty() {
            self.clear();
        }
        dropped
    }

    /// Drops the first `k` live rows.
    pub fn drop_front(&mut self, k: usize) {
        let mut k = k.min(self.len());
        while k > 0 {
            let Some(first) = self.sealed.front() else {
                self.open.drop_front(k);
                break;
            };
            let live = first.len() - self.first_dropped;
            if k < live {
                self.first_dropped += k;
                self.sealed_rows -= k;
                return;
            }
            k -= live;
            self.pop_sealed();
        }
        if self.is_empty() {
            self.clear();
        }
    }

    fn pop_sealed(&mut self) {
        if let Some(first) = self.sealed.pop_front() {
            self.sealed_rows -= first.len() - self.first_dropped;
            self.first_dropped = 0;
        }
    }

    /// The live rows as a narrow batch (as [`PointBatch::take_narrow`] would cut them).
    pub fn batch(&self) -> PointBatch {
        let n = self.len();
        // every part's live rows, from its first live row
        let mut runs: Vec<(&Part, usize)> = Vec::with_capacity(self.sealed.len() + 1);
        for (i, p) in self.sealed.iter().enumerate() {
            runs.push((p, p.head + if i == 0 { self.first_dropped } else { 0 }));
        }
        if !self.open.is_empty() {
            runs.push((&self.open, self.open.head));
        }
        let mut time = Vec::with_capacity(n);
        let mut codes = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        let mut vals = self.field.as_ref().and_then(|(_, k)| Vals::of(*k));
        for &(p, h) in &runs {
            let rows = p.time.len() - h;
            time.extend_from_slice(&p.time[h..]);
            match &p.codes {
                Some(c) => codes.extend_from_slice(&c[h..]),
                None => codes.resize(codes.len() + rows, p.mcode),
            }
            match (&p.field, &p.valid) {
                (Some(_), Some(v)) => valid.extend_from_slice(&v[h..]),
                (Some(_), None) => valid.resize(valid.len() + rows, true),
                (None, _) => valid.resize(valid.len() + rows, false),
            }
            if let Some(out) = &mut vals {
                match &p.field {
                    Some((_, v)) => out.extend_from(v, h),
                    None => out.extend(None, 0, rows),
                }
            }
        }
        let fields = match (&self.field, vals) {
            (Some((name, _)), Some(v)) if valid.iter().any(|&k| k) => vec![Column {
                name: name.clone(),
                data: v.data(0),
                valid,
            }],
            _ => Vec::new(),
        };
        let first = runs.first().map(|(p, _)| *p);
        PointBatch {
            time,
            measurement: DictColumn {
                codes,
                dict: first.and_then(|p| p.mdict.clone()).unwrap_or_default(),
            },
            tag_keys: Vec::new(),
            tags: Vec::new(),
            fields,
            series: vec![0; n],
            series_keys: first
                .and_then(|p| p.series_keys.clone())
                .unwrap_or_else(crate::batch::one_empty_series_key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn tail_of(times: std::ops::Range<i64>) -> (WindowTail, PointBatch) {
        let text: String = times.map(|t| format!("m v={t}.5 {t}\n")).collect();
        let b = lp(&text);
        let mut tail = WindowTail::default();
        assert!(tail.accepts(&b, 0, b.len()));
        tail.append(&b, 0, b.len());
        (tail, b)
    }

    #[test]
    fn a_copy_shares_the_sealed_parts_and_keeps_the_rows_of_its_time() {
        let (mut tail, b) = tail_of(0..23);
        assert_eq!(tail.sealed.len(), 23 / SEAL_ROWS);
        let copy = tail.clone();
        assert!(tail
            .sealed
            .iter()
            .zip(&copy.sealed)
            .all(|(a, b)| Arc::ptr_eq(a, b)));
        let before = tail.batch();
        // the original goes on: purged into its second part, more rows, dropped rows
        assert_eq!(tail.purge(|t| t >= 7), 7);
        tail.append(&b, 0, 9);
        tail.drop_front(3);
        assert_eq!(tail.len(), 23 - 7 + 9 - 3);
        let after = tail.batch();
        assert_eq!(after.time[0], 10);
        assert_eq!(after.time.len(), tail.len());
        // the copy is the tail as it was
        assert_eq!(copy.batch(), before);
        assert_eq!(before.time, (0..23).collect::<Vec<i64>>());
        assert_eq!(
            before.field("v").map(|c| c.valid.iter().all(|&v| v)),
            Some(true)
        );
        tail.purge(|_| false);
        assert!(tail.is_empty() && tail.sealed.is_empty());
    }
}
