//! A group's newest buffered points in a narrow window ([`super::windows::Windows::narrow`]),
//! stored by column: a time and a value per point, nothing else while every point has the field
//! and the same measurement.
//!
//! Kept as pieces of chunk parts, a group holding a few points of each of many chunks paid for a
//! whole batch per piece (its vectors, its series keys, a measurement code and a series id per
//! point): about 90 bytes per buffered point over 4,000 series. Here a point costs its time and
//! its value: 10 bytes for a float field whose times are whole seconds (its time packed in 2
//! bytes: [`super::packed_times`]), plus one validity byte only once a point lacks the field and
//! one measurement code only once two measurements share the group.
//!
//! The rows are kept in sealed parts of [`SEAL_ROWS`] rows, immutable and shared by reference
//! count, and an open part that takes the new rows: a checkpoint copies a group's open part only,
//! so taking the state of a window of millions of points does not hold the engine thread
//! (issue #19).

use std::collections::VecDeque;
use std::sync::Arc;

use super::packed_times::PackedTimes;
use crate::batch::{Column, ColumnData, DictColumn, FieldKind, PointBatch};

/// Rows of a narrow part read in place: rows `lo..hi` of it, or with `idx`, rows `idx[lo..hi]`
/// of a chunk whose one kept field is `field` (a group's rows appended straight from the chunk,
/// as from the part [`PointBatch::take_narrow`] would cut of them).
#[derive(Clone, Copy)]
pub struct Src<'a> {
    pub time: &'a [i64],
    pub measurement: &'a DictColumn,
    pub field: Option<&'a Column>,
    pub series_keys: &'a Arc<Vec<String>>,
    pub idx: Option<&'a [usize]>,
}

impl<'a> Src<'a> {
    /// The rows of a narrow part (None for one with tags or several fields).
    pub fn of(part: &'a PointBatch) -> Option<Src<'a>> {
        if !part.tags.is_empty() || part.fields.len() > 1 {
            return None;
        }
        Some(Src {
            time: &part.time,
            measurement: &part.measurement,
            field: part.fields.first(),
            series_keys: &part.series_keys,
            idx: None,
        })
    }

    /// Appends the items of `s` at rows `lo..hi`.
    fn extend_into<T: Copy>(&self, v: &mut Vec<T>, s: &[T], lo: usize, hi: usize) {
        reserve(v, hi - lo);
        match self.idx {
            Some(idx) => v.extend(idx[lo..hi].iter().map(|&i| s[i])),
            None => v.extend_from_slice(&s[lo..hi]),
        }
    }

    /// Whether some of rows `lo..hi` have the field.
    fn any_valid(&self, c: &Column, lo: usize, hi: usize) -> bool {
        match self.idx {
            Some(idx) => idx[lo..hi].iter().any(|&i| c.valid[i]),
            None => c.valid[lo..hi].iter().any(|&v| v),
        }
    }

    /// Whether every row of `lo..hi` has the field.
    fn all_valid(&self, c: &Column, lo: usize, hi: usize) -> bool {
        match self.idx {
            Some(idx) => idx[lo..hi].iter().all(|&i| c.valid[i]),
            None => c.valid[lo..hi].iter().all(|&v| v),
        }
    }

    /// Whether every row of `lo..hi` has measurement code `code`.
    fn all_code(&self, code: u32, lo: usize, hi: usize) -> bool {
        let codes = &self.measurement.codes;
        match self.idx {
            Some(idx) => idx[lo..hi].iter().all(|&i| codes[i] == code),
            None => codes[lo..hi].iter().all(|&c| c == code),
        }
    }

    /// The original row of row `j`.
    pub fn row(&self, j: usize) -> usize {
        self.idx.map_or(j, |idx| idx[j])
    }

    /// The rows read.
    pub fn len(&self) -> usize {
        self.idx.map_or(self.time.len(), <[usize]>::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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

    /// Appends the rows `lo..hi` of `d` (a column of the same kind) as `src` reads them, or
    /// `hi - lo` defaults for `None`.
    fn extend(&mut self, d: Option<(&ColumnData, &Src)>, lo: usize, hi: usize) {
        let n = hi - lo;
        match (self, d) {
            (Vals::F(v), Some((ColumnData::Float(s), r))) => r.extend_into(v, s, lo, hi),
            (Vals::I(v), Some((ColumnData::Int(s), r))) => r.extend_into(v, s, lo, hi),
            (Vals::U(v), Some((ColumnData::UInt(s), r))) => r.extend_into(v, s, lo, hi),
            (Vals::B(v), Some((ColumnData::Bool(s), r))) => r.extend_into(v, s, lo, hi),
            (Vals::F(v), _) => fill(v, 0.0, n),
            (Vals::I(v), _) => fill(v, 0, n),
            (Vals::U(v), _) => fill(v, 0, n),
            (Vals::B(v), _) => fill(v, false, n),
        }
    }

    /// The values as a column's data (moved, not copied).
    fn into_data(self) -> ColumnData {
        match self {
            Vals::F(v) => ColumnData::Float(v),
            Vals::I(v) => ColumnData::Int(v),
            Vals::U(v) => ColumnData::UInt(v),
            Vals::B(v) => ColumnData::Bool(v),
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

/// `(name, kind)` as an `Arc`, the same one as the previous call's when equal: the thousands
/// of groups' tails of one window hold one copy of their field's name, not one each, through
/// a thin pointer (8 bytes a tail).
fn shared_field(name: &str, kind: FieldKind) -> Arc<(String, FieldKind)> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<Arc<(String, FieldKind)>>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(a) if a.0 == *name && a.1 == kind => a.clone(),
            _ => {
                let a = Arc::new((name.to_owned(), kind));
                *last = Some(a.clone());
                a
            }
        }
    })
}

/// Room for `add` more items, growing by an eighth rather than doubling: buffers that live as
/// long as a window are not left half empty (a point still moves only a few times on average).
/// Small buffers grow by 8 items at least: the dozens of tiny steps of thousands of groups
/// growing together left freed blocks no one reuses (about 180 bytes a group at 50 points).
pub(super) fn reserve<T>(v: &mut Vec<T>, add: usize) {
    let need = v.len() + add;
    if need > v.capacity() {
        let cap = need.max(v.capacity() + (v.capacity() / 8).max(8));
        v.reserve_exact(cap - v.len());
    }
}

fn fill<T: Copy>(v: &mut Vec<T>, x: T, n: usize) {
    reserve(v, n);
    v.resize(v.len() + n, x);
}

/// A run of the tail's rows (the open one, or a sealed one). Rows before `head` were dropped
/// from the window; they are reclaimed once they are half of the rows.
// the rarely present vectors are boxed on purpose: 8 bytes instead of 24 in every group's part
#[allow(clippy::box_collection)]
#[derive(Debug, Default)]
struct Part {
    /// (a u32 beside `mcode`: a part holds at most [`SEAL_ROWS`] rows)
    head: u32,
    /// (2 bytes a point for evenly spaced whole seconds: [`PackedTimes`])
    time: PackedTimes,
    /// the field's values (None while no row had it; its name is the tail's)
    field: Option<Vals>,
    /// per row, whether it has the field (None while every row has it)
    /// (boxed, as `codes`: rare, and a window keeps one open part per group)
    valid: Option<Box<Vec<bool>>>,
    /// the rows' measurement dictionary, the code every row has, and per-row codes once they differ
    mdict: Option<Arc<Vec<String>>>,
    mcode: u32,
    codes: Option<Box<Vec<u32>>>,
    series_keys: Option<Arc<Vec<String>>>,
}

/// A copy of the live rows only (the open part of a checkpoint's copy): the dropped rows before
/// `head` and the buffers' spare room are not copied.
impl Clone for Part {
    fn clone(&self) -> Self {
        let h = self.head();
        Part {
            head: 0,
            time: self.time.clone_from_index(h),
            field: self.field.as_ref().map(|v| match v {
                Vals::F(x) => Vals::F(x[h..].to_vec()),
                Vals::I(x) => Vals::I(x[h..].to_vec()),
                Vals::U(x) => Vals::U(x[h..].to_vec()),
                Vals::B(x) => Vals::B(x[h..].to_vec()),
            }),
            valid: self.valid.as_ref().map(|v| Box::new(v[h..].to_vec())),
            mdict: self.mdict.clone(),
            mcode: self.mcode,
            codes: self.codes.as_ref().map(|c| Box::new(c[h..].to_vec())),
            series_keys: self.series_keys.clone(),
        }
    }
}

impl Part {
    /// Live rows.
    pub fn len(&self) -> usize {
        self.time.len() - self.head()
    }

    /// The first live row.
    fn head(&self) -> usize {
        self.head as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether rows `lo..hi` of a narrow part can join: no tags, at most one field, numeric and
    /// the tail's own where those rows have it, and the tail's measurement dictionary.
    pub fn accepts(&self, part: &Src, lo: usize, hi: usize) -> bool {
        if let Some(c) = part.field {
            if part.any_valid(c, lo, hi) {
                match &self.field {
                    // (the field's name: WindowTail::accepts)
                    Some(vals) if vals.kind() != c.data.kind() => return false,
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
    pub fn append(&mut self, part: &Src, lo: usize, hi: usize) {
        if hi <= lo {
            return;
        }
        if self.is_empty() {
            self.clear();
        }
        let before = self.time.len();
        let n = hi - lo;
        match part.idx {
            Some(idx) => self.time.extend(idx[lo..hi].iter().map(|&i| part.time[i])),
            None => self.time.extend(part.time[lo..hi].iter().copied()),
        }
        let codes = &part.measurement.codes;
        if self.mdict.is_none() {
            self.mdict = Some(part.measurement.dict.clone());
            self.series_keys = Some(part.series_keys.clone());
            self.mcode = codes[part.row(lo)];
        }
        match &mut self.codes {
            Some(c) => part.extend_into(c, codes, lo, hi),
            None if part.all_code(self.mcode, lo, hi) => {}
            None => {
                let mut c = vec![self.mcode; before];
                part.extend_into(&mut c, codes, lo, hi);
                self.codes = Some(Box::new(c));
            }
        }
        let col = part.field.filter(|c| part.any_valid(c, lo, hi));
        if let (None, Some(c)) = (&self.field, col) {
            let mut vals = Vals::of(c.data.kind()).expect("accepts() checked the kind");
            vals.extend(None, 0, before);
            self.field = Some(vals);
            if before > 0 {
                self.valid = Some(Box::new(vec![false; before]));
            }
        }
        let Some(vals) = &mut self.field else {
            return; // no row has had the field yet
        };
        vals.extend(col.map(|c| (&c.data, part)), lo, hi);
        match (&mut self.valid, col) {
            (Some(v), Some(c)) => part.extend_into(v, &c.valid, lo, hi),
            (Some(v), None) => fill(v, false, n),
            (None, Some(c)) if part.all_valid(c, lo, hi) => {}
            (None, c) => {
                let mut v = vec![true; before];
                match c {
                    Some(c) => part.extend_into(&mut v, &c.valid, lo, hi),
                    None => fill(&mut v, false, n),
                }
                self.valid = Some(Box::new(v));
            }
        }
    }

    /// Forgets every row (and the buffers' room).
    pub fn clear(&mut self) {
        *self = Part::default();
    }

    /// Drops leading rows until the first one whose time `keep`s; the number dropped.
    pub fn purge(&mut self, keep: impl Fn(i64) -> bool) -> usize {
        let k = self
            .time
            .position_from(self.head(), keep)
            .map_or(self.len(), |i| i - self.head());
        self.drop_front(k);
        k
    }

    /// Frees the dropped rows before `head`.
    fn compact(&mut self) {
        if self.head > 0 {
            let h = std::mem::take(&mut self.head) as usize;
            self.time.drain_front(h);
            if let Some(v) = &mut self.field {
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

    /// Frees the buffers' spare room (a part being sealed).
    fn shrink_to_fit(&mut self) {
        self.time.shrink_to_fit();
        if let Some(v) = &mut self.field {
            match v {
                Vals::F(x) => x.shrink_to_fit(),
                Vals::I(x) => x.shrink_to_fit(),
                Vals::U(x) => x.shrink_to_fit(),
                Vals::B(x) => x.shrink_to_fit(),
            }
        }
        if let Some(v) = &mut self.valid {
            v.shrink_to_fit();
        }
        if let Some(c) = &mut self.codes {
            c.shrink_to_fit();
        }
    }

    /// Drops the first `k` live rows.
    pub fn drop_front(&mut self, k: usize) {
        // (within the part's rows, at most SEAL_ROWS: a u32)
        self.head += k.min(self.len()) as u32;
        if self.is_empty() {
            self.clear();
        } else if self.head() * 2 >= self.time.len() && self.head >= 64 {
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
    /// None while there is none (most windows: boxed, as a window keeps a tail per group)
    sealed: Option<Box<Sealed>>,
    open: Part,
    /// the field's name (shared by the groups' tails: [`shared_field`]) and kind once a row had
    /// it, for every part (an open part starts blank)
    field: Option<Arc<(String, FieldKind)>>,
}

/// A tail's sealed parts.
#[derive(Debug, Default, Clone)]
struct Sealed {
    parts: VecDeque<Arc<Part>>,
    /// live rows of the parts, and rows of the first one dropped (its own `head` aside: a
    /// sealed part is never changed)
    rows: usize,
    first_dropped: usize,
}

impl Sealed {
    /// Drops leading rows until the first one whose time `keep`s: the number dropped, and
    /// whether such a row was found.
    fn purge(&mut self, keep: &impl Fn(i64) -> bool) -> (usize, bool) {
        let mut dropped = 0;
        while let Some(first) = self.parts.front() {
            let from = first.head() + self.first_dropped;
            match first.time.position_from(from, keep) {
                Some(i) => {
                    let k = i - from;
                    self.first_dropped += k;
                    self.rows -= k;
                    return (dropped + k, true);
                }
                None => {
                    dropped += first.time.len() - from;
                    self.pop();
                }
            }
        }
        (dropped, false)
    }

    /// Drops up to `k` leading rows; how many of `k` are left to drop.
    fn drop_front(&mut self, mut k: usize) -> usize {
        while let Some(first) = self.parts.front() {
            let live = first.len() - self.first_dropped;
            if k < live {
                self.first_dropped += k;
                self.rows -= k;
                return 0;
            }
            k -= live;
            self.pop();
        }
        k
    }

    fn pop(&mut self) {
        if let Some(first) = self.parts.pop_front() {
            self.rows -= first.len() - self.first_dropped;
            self.first_dropped = 0;
        }
    }
}

impl WindowTail {
    /// Live rows.
    pub fn len(&self) -> usize {
        self.sealed.as_ref().map_or(0, |s| s.rows) + self.open.len()
    }

    fn first_sealed(&self) -> Option<&Arc<Part>> {
        self.sealed.as_ref().and_then(|s| s.parts.front())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether rows `lo..hi` of a narrow part can join (as [`Part::accepts`], over every part).
    pub fn accepts(&self, part: &Src, lo: usize, hi: usize) -> bool {
        if !self.open.accepts(part, lo, hi) {
            return false;
        }
        if let (Some(f), Some(c)) = (&self.field, part.field) {
            let (name, kind) = &**f;
            if part.any_valid(c, lo, hi) && (*name != c.name || *kind != c.data.kind()) {
                return false;
            }
        }
        match self.first_sealed() {
            Some(first) if self.open.is_empty() => match &first.mdict {
                Some(d) => Arc::ptr_eq(d, &part.measurement.dict) || **d == *part.measurement.dict,
                None => true,
            },
            _ => true,
        }
    }

    /// Appends rows `lo..hi` of a part it [`accepts`](Self::accepts).
    pub fn append(&mut self, part: &Src, lo: usize, hi: usize) {
        if self.is_empty() {
            self.clear();
        }
        let mut lo = lo;
        while lo < hi {
            let n = (SEAL_ROWS - self.open.len()).min(hi - lo);
            self.open.append(part, lo, lo + n);
            lo += n;
            if self.field.is_none() {
                if let (Some(vals), Some(c)) = (&self.open.field, part.field) {
                    // the column the open part took its field from
                    self.field = Some(shared_field(&c.name, vals.kind()));
                }
            }
            if self.open.len() >= SEAL_ROWS {
                let mut full = std::mem::take(&mut self.open);
                full.compact();
                full.shrink_to_fit();
                let sealed = self.sealed.get_or_insert_with(Box::default);
                sealed.rows += full.len();
                sealed.parts.push_back(Arc::new(full));
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
        if let Some(sealed) = &mut self.sealed {
            let (k, found) = sealed.purge(&keep);
            if found {
                return k;
            }
            dropped = k;
            self.sealed = None;
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
        if let Some(sealed) = &mut self.sealed {
            k = sealed.drop_front(k);
            if sealed.parts.is_empty() {
                self.sealed = None;
            }
        }
        if k > 0 {
            self.open.drop_front(k);
        }
        if self.is_empty() {
            self.clear();
        }
    }

    /// The live rows as a narrow batch (as [`PointBatch::take_narrow`] would cut them).
    pub fn batch(&self) -> PointBatch {
        let n = self.len();
        // every part's live rows, from its first live row
        let mut runs: Vec<(&Part, usize)> = Vec::new();
        if let Some(s) = &self.sealed {
            for (i, p) in s.parts.iter().enumerate() {
                runs.push((p, p.head() + if i == 0 { s.first_dropped } else { 0 }));
            }
        }
        if !self.open.is_empty() {
            runs.push((&self.open, self.open.head()));
        }
        let mut time = Vec::with_capacity(n);
        let mut codes = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        let mut vals = self.field.as_ref().and_then(|f| Vals::of(f.1));
        for &(p, h) in &runs {
            let rows = p.time.len() - h;
            p.time.extend_into(h, &mut time);
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
                    Some(v) => out.extend_from(v, h),
                    None => out.extend(None, 0, rows),
                }
            }
        }
        let fields = match (&self.field, vals) {
            (Some(f), Some(v)) if valid.iter().any(|&k| k) => vec![Column {
                name: f.0.clone(),
                data: v.into_data(),
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
        let src = Src::of(&b).unwrap();
        assert!(tail.accepts(&src, 0, b.len()));
        tail.append(&src, 0, b.len());
        (tail, b)
    }

    #[test]
    fn a_copy_shares_the_sealed_parts_and_keeps_the_rows_of_its_time() {
        let (mut tail, b) = tail_of(0..23);
        let parts = |t: &WindowTail| t.sealed.as_ref().map_or(0, |s| s.parts.len());
        assert_eq!(parts(&tail), 23 / SEAL_ROWS);
        let copy = tail.clone();
        let (mine, theirs) = (tail.sealed.as_ref().unwrap(), copy.sealed.as_ref().unwrap());
        assert!(mine
            .parts
            .iter()
            .zip(&theirs.parts)
            .all(|(x, y)| Arc::ptr_eq(x, y)));
        let before = tail.batch();
        // the original goes on: purged into its second part, more rows, dropped rows
        assert_eq!(tail.purge(|t| t >= 7), 7);
        tail.append(&Src::of(&b).unwrap(), 0, 9);
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
        assert!(tail.is_empty() && tail.sealed.is_none());
    }
}
