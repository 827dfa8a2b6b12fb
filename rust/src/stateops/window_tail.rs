//! A group's newest buffered points in a narrow window ([`super::windows::Windows::narrow`]),
//! stored by column: a time and a value per point, nothing else while every point has the field
//! and the same measurement.
//!
//! Kept as pieces of chunk parts, a group holding a few points of each of many chunks paid for a
//! whole batch per piece (its vectors, its series keys, a measurement code and a series id per
//! point): about 90 bytes per buffered point over 4,000 series. Here a point costs its time and
//! its value (16 bytes for a float field), plus one validity byte only once a point lacks the
//! field and one measurement code only once two measurements share the group.

use std::sync::Arc;

use crate::batch::{Column, ColumnData, DictColumn, FieldKind, PointBatch};

/// The values of the tail's field.
#[derive(Debug)]
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

/// See the module's documentation. Rows before `head` were dropped from the window; they are
/// reclaimed once they are half of the rows.
#[derive(Debug, Default)]
pub struct WindowTail {
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

impl WindowTail {
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
        *self = WindowTail::default();
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

    /// Drops the first `k` live rows.
    pub fn drop_front(&mut self, k: usize) {
        self.head += k.min(self.len());
        if self.is_empty() {
            self.clear();
        } else if self.head * 2 >= self.time.len() && self.head >= 64 {
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

    /// The live rows as a narrow batch (as [`PointBatch::take_narrow`] would cut them).
    pub fn batch(&self) -> PointBatch {
        let (h, n) = (self.head, self.len());
        let valid: Vec<bool> = match &self.valid {
            Some(v) => v[h..].to_vec(),
            None => vec![true; n],
        };
        let fields = match &self.field {
            Some((name, vals)) if valid.iter().any(|&k| k) => vec![Column {
                name: name.to_string(),
                data: vals.data(h),
                valid,
            }],
            _ => Vec::new(),
        };
        PointBatch {
            time: self.time[h..].to_vec(),
            measurement: DictColumn {
                codes: match &self.codes {
                    Some(c) => c[h..].to_vec(),
                    None => vec![self.mcode; n],
                },
                dict: self.mdict.clone().unwrap_or_default(),
            },
            tag_keys: Vec::new(),
            tags: Vec::new(),
            fields,
            series: vec![0; n],
            series_keys: self
                .series_keys
                .clone()
                .unwrap_or_else(crate::batch::one_empty_series_key),
        }
    }
}
