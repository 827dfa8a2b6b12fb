//! `window`: stream points of every group → one batch per group per window, as Kapacitor's
//! windowByTime and windowByCount, for all groups of a chunk in one pass.
//!
//! A group's buffer is a queue of pieces (row ranges of that group's compact part of a chunk), in
//! arrival order; a window is cut from it with one take/concat. Rules (Kapacitor's):
//! * time, `every > 0`: the first point fixes the first emit time (`now + every`, or with
//!   `fillPeriod` `now + period`; `align` truncates to `every`); a point at or past it emits the
//!   buffer purged of points older than `emit - period` (leading points, arrival order), stamped
//!   with the emit time, then starts the new buffer; the next emit is that point's time + every;
//! * time, `every == 0`: every point not older than the last emitting one emits the buffer (itself
//!   included) purged of points at or before `t - period`, stamped with its time;
//! * count: the last `period` points, every `every` points (the first after `period` with
//!   `fillPeriod`), stamped with the last point's time.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::batch::{
    gather, one_empty_series_key, CodeMap, Column, ColumnData, DictColumn, FieldKind, PointBatch,
};
use crate::groups::IntMap;
use crate::stateops::snapshot;
use crate::stateops::window_tail::{Src, WindowTail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowSpec {
    Time {
        period: i64,
        every: i64,
        align: bool,
        fill: bool,
    },
    Count {
        period: usize,
        every: usize,
        fill: bool,
    },
}

/// A piece this short is merged with the one before it ([`GroupWindow::compact_tail`]) ...
const SMALL_PIECE: usize = 64;
/// ... into pieces of at most this many points (so no point is copied more than a few times).
const MERGED_PIECE: usize = 1024;

/// A group's rows of a chunk: a part cut of them, or (a narrow window whose tail takes them
/// all) the chunk's rows read in place, without a part.
enum GroupRows<'a> {
    Part(&'a Arc<PointBatch>),
    Direct(Src<'a>),
}

impl GroupRows<'_> {
    fn len(&self) -> usize {
        match self {
            GroupRows::Part(p) => p.len(),
            GroupRows::Direct(s) => s.len(),
        }
    }

    fn time(&self, j: usize) -> i64 {
        match self {
            GroupRows::Part(p) => p.time[j],
            GroupRows::Direct(s) => s.time[s.row(j)],
        }
    }
}

#[derive(Debug, Clone)]
struct Piece {
    part: Arc<PointBatch>,
    lo: usize,
    hi: usize,
}

/// A window's pieces: boxed, and none at all while empty (a narrow window keeps its points in
/// its tail and has none): 8 bytes in every group's window instead of a `VecDeque`'s 32.
#[allow(clippy::box_collection)] // boxed on purpose: see above
#[derive(Debug, Clone, Default)]
struct Pieces(Option<Box<VecDeque<Piece>>>);

static NO_PIECES: VecDeque<Piece> = VecDeque::new();

impl Pieces {
    fn of(pieces: VecDeque<Piece>) -> Pieces {
        Pieces(Some(Box::new(pieces)))
    }

    /// Frees the box once no piece is left.
    fn tidy(&mut self) {
        if self.0.as_ref().is_some_and(|p| p.is_empty()) {
            self.0 = None;
        }
    }
}

impl Deref for Pieces {
    type Target = VecDeque<Piece>;
    fn deref(&self) -> &VecDeque<Piece> {
        self.0.as_deref().unwrap_or(&NO_PIECES)
    }
}

impl DerefMut for Pieces {
    /// (makes the box: callers that may leave it empty [`tidy`](Pieces::tidy) it)
    fn deref_mut(&mut self) -> &mut VecDeque<Piece> {
        self.0.get_or_insert_with(Box::default)
    }
}

// every group has one (thousands of them): its size is the window's cost per group
#[derive(Debug, Clone)]
struct GroupWindow {
    /// the measurement, shared by the groups that have the same one (not a string per group;
    /// a thin pointer)
    name: Arc<String>,
    pieces: Pieces,
    /// time windows: the next emit time; count windows: the point count that emits next
    next_emit: i64,
    /// count windows: points seen (those buffered are `held`)
    count: i64,
    /// its parts are narrow ([`Windows::narrow`])
    narrow: bool,
    /// points in `pieces` and `tail` (kept as they come and go, so that the node's buffered
    /// points are counted per group, not per piece)
    held: usize,
    /// narrow windows: the newest points, by column, after those of `pieces`
    tail: WindowTail,
}

/// One window that closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub group: u32,
    pub name: String,
    pub tmax: i64,
    pub points: PointBatch,
    /// the chunk row whose point closed it
    pub row: usize,
}

/// Go's `Time.Truncate` for positive `d` (floor towards the past); `d <= 0` leaves `t`.
fn trunc(t: i64, d: i64) -> i64 {
    if d > 0 {
        t - t.rem_euclid(d)
    } else {
        t
    }
}

/// Every group's window state.
#[derive(Debug, Clone)]
pub struct Windows {
    pub spec: WindowSpec,
    /// Boxed: a slot per int (free slots included), and an unboxed window (a few hundred
    /// bytes) in each cost more per group than its points.
    groups: IntMap<Box<GroupWindow>>,
    /// the newest measurement name a group window took (shared with the next that has it)
    last_name: Arc<String>,
    /// When set, only these fields (with time and measurement) are buffered: the window feeds an
    /// aggregate alone, which reads nothing else (see [`Windows::narrow`]).
    keep: Option<Vec<String>>,
}

impl Windows {
    pub fn new(spec: WindowSpec) -> Self {
        Windows {
            spec,
            groups: IntMap::default(),
            last_name: Arc::default(),
            keep: None,
        }
    }

    /// Buffer only time, measurement and the fields `keep` from now on (None: whole points).
    /// Windows then hold only those: for an aggregate, whose result does not depend on the
    /// rest, and which is cheaper to cut than whole points (no tags, no series keys).
    pub fn narrow(&mut self, keep: Option<Vec<String>>) {
        self.keep = keep;
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Points buffered in every group's window (one addition per group).
    pub fn held_points(&self) -> usize {
        self.groups.values().map(|w| w.held).sum()
    }

    /// Forget a group (DeleteGroup), or every group.
    pub fn reset(&mut self, group: Option<u32>) {
        match group {
            Some(g) => {
                self.groups.remove(g);
            }
            None => self.groups.clear(),
        }
    }

    fn first_emit(&self, now: i64) -> i64 {
        match self.spec {
            WindowSpec::Time {
                period,
                every,
                align,
                fill: true,
            } => {
                let first = now + period;
                if !align {
                    return first;
                }
                let t = trunc(first, every);
                if t > first {
                    t
                } else {
                    t + every
                }
            }
            WindowSpec::Time {
                every,
                align,
                fill: false,
                ..
            } => {
                if align {
                    trunc(now + every, every)
                } else {
                    now + every
                }
            }
            WindowSpec::Count {
                period,
                every,
                fill,
            } => (if fill { period } else { every }) as i64,
        }
    }

    /// The windows the chunk closes, in the order of the points that closed them.
    pub fn feed(&mut self, b: &PointBatch, groups: &[u32]) -> Vec<Emitted> {
        // rows of each group, groups in first-seen order (a group's slot: a table indexed by its
        // int, ints being dense; a hash map when they are not)
        let mut order: Vec<u32> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut slot_of_row: Vec<u32> = Vec::with_capacity(groups.len());
        let dense = groups
            .iter()
            .max()
            .is_some_and(|&m| (m as usize) < 4 * groups.len() + 64);
        let mut slot_of: Vec<u32> = Vec::new();
        let mut slot_map: CodeMap<u32, u32> = CodeMap::default();
        if dense {
            slot_of.resize(groups.iter().max().map_or(0, |&m| m as usize + 1), u32::MAX);
        }
        for &g in groups {
            let slot = if dense {
                &mut slot_of[g as usize]
            } else {
                slot_map.entry(g).or_insert(u32::MAX)
            };
            if *slot == u32::MAX {
                *slot = order.len() as u32;
                order.push(g);
                counts.push(0);
            }
            counts[*slot as usize] += 1;
            slot_of_row.push(*slot);
        }
        // every group's rows, in order, in one buffer (a counting sort, no vector per group)
        let mut start: Vec<usize> = Vec::with_capacity(counts.len() + 1);
        let mut total = 0;
        for &c in &counts {
            start.push(total);
            total += c;
        }
        start.push(total);
        let mut flat = vec![0usize; total];
        let mut next = start.clone();
        for (i, &slot) in slot_of_row.iter().enumerate() {
            let k = &mut next[slot as usize];
            flat[*k] = i;
            *k += 1;
        }
        let rows = start.windows(2).map(|w| &flat[w[0]..w[1]]);
        // a narrow window keeping at most one of the chunk's fields: the field, whose rows a
        // group's tail can take straight from the chunk (as from the part `take_narrow` cuts)
        let series_keys = one_empty_series_key();
        let kept: Option<Option<&Column>> = self.keep.as_ref().and_then(|keep| {
            let mut cols = b.fields.iter().filter(|c| keep.contains(&c.name));
            let first = cols.next();
            cols.next().is_none().then_some(first)
        });
        let mut out = Vec::new();
        for (g, idx) in order.into_iter().zip(rows) {
            if !self.groups.contains_key(g) {
                let m = b.measurement(idx[0]);
                if *self.last_name != m {
                    self.last_name = Arc::new(m.to_owned());
                }
                let w = Box::new(GroupWindow {
                    name: self.last_name.clone(),
                    pieces: Pieces::default(),
                    next_emit: self.first_emit(b.time[idx[0]]),
                    count: 0,
                    narrow: self.keep.is_some(),
                    held: 0,
                    tail: WindowTail::default(),
                });
                self.groups.insert(g, w);
            }
            let spec = self.spec;
            let w = self.groups.get_mut(g).expect("inserted above");
            let direct = kept.map(|field| Src {
                time: &b.time,
                measurement: &b.measurement,
                field,
                series_keys: &series_keys,
                idx: Some(idx),
            });
            let part;
            let rows = match direct {
                // (a tail that takes all the rows takes every run of them: GroupWindow::push)
                Some(src) if w.narrow && w.tail.accepts(&src, 0, idx.len()) => {
                    GroupRows::Direct(src)
                }
                _ => {
                    part = Arc::new(match &self.keep {
                        Some(keep) => b.take_narrow(idx, keep),
                        None if idx.len() == b.len() => b.clone(),
                        None => gather(&[(b, idx)]),
                    });
                    GroupRows::Part(&part)
                }
            };
            let mut closed = Vec::new();
            match spec {
                WindowSpec::Time { period, every, .. } if every > 0 => {
                    w.insert_every(&rows, period, spec, &mut closed)
                }
                WindowSpec::Time { period, .. } => w.insert_each(&rows, period, &mut closed),
                WindowSpec::Count { period, every, .. } => {
                    w.insert_count(&rows, period, every, &mut closed)
                }
            }
            if w.narrow {
                w.compact_tail();
            }
            for (j, tmax, points) in closed {
                out.push(Emitted {
                    group: g,
                    name: w.name.to_string(),
                    tmax,
                    points,
                    row: idx[j],
                });
            }
        }
        // one point closes at most one window of its group: the row orders them all
        out.sort_by_key(|e| e.row);
        out
    }

    /// A barrier of `group` at time `t` (Kapacitor's `windowByTime.Barrier`): the group's window
    /// closes as a point of that time would close it, without the point; `None` when the window
    /// is not due yet, when the group has no window, and for count windows (Kapacitor passes
    /// barriers through them). `row` of the result is 0.
    pub fn barrier(&mut self, group: u32, t: i64) -> Option<Emitted> {
        let WindowSpec::Time {
            period,
            every,
            align,
            ..
        } = self.spec
        else {
            return None;
        };
        let w = self.groups.get_mut(group)?;
        if t < w.next_emit {
            return None;
        }
        let tmax = if every > 0 {
            let oldest = w.next_emit - period;
            w.purge(|x| x >= oldest);
            let tmax = w.next_emit;
            let next = t + every;
            w.next_emit = if align { trunc(next, every) } else { next };
            tmax
        } else {
            let oldest = t - period;
            w.purge(|x| x > oldest);
            w.next_emit = t;
            t
        };
        Some(Emitted {
            group,
            name: w.name.to_string(),
            tmax,
            points: w.points(),
            row: 0,
        })
    }
}

/// A group's window in a checkpoint: its buffered points in one compact batch.
#[derive(Serialize, Deserialize)]
struct GroupWindowSnap {
    group: u32,
    name: String,
    points: PointBatch,
    next_emit: i64,
    count: i64,
    buffered: usize,
    narrow: bool,
}

#[derive(Serialize, Deserialize)]
struct WindowsSnap {
    spec: WindowSpec,
    keep: Option<Vec<String>>,
    groups: Vec<GroupWindowSnap>,
}

impl Windows {
    /// Every group's buffered points and next boundary, as checkpoint bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut ids: Vec<(u32, &GroupWindow)> =
            self.groups.iter().map(|(g, w)| (g, &**w)).collect();
        ids.sort_by_key(|(g, _)| *g);
        let groups = ids
            .into_iter()
            .map(|(g, w)| GroupWindowSnap {
                group: g,
                name: w.name.to_string(),
                points: snapshot::compact(&w.points()),
                next_emit: w.next_emit,
                count: w.count,
                buffered: w.held,
                narrow: w.narrow,
            })
            .collect();
        snapshot::encode(&WindowsSnap {
            spec: self.spec,
            keep: self.keep.clone(),
            groups,
        })
    }

    /// Replaces every group's state with a checkpoint's; an error (state unchanged) for bytes
    /// that are not a snapshot of windows like these.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let snap: WindowsSnap = snapshot::decode(bytes, "window")?;
        if !snap
            .groups
            .iter()
            .all(|g| snapshot::is_consistent(&g.points))
        {
            return Err("window snapshot is malformed: inconsistent points".to_owned());
        }
        if snap.spec != self.spec {
            return Err(format!(
                "window snapshot is of another window ({:?}, this one is {:?})",
                snap.spec, self.spec
            ));
        }
        self.keep = snap.keep;
        self.groups = snap
            .groups
            .into_iter()
            .map(|s| {
                // (a count window's buffered points are its points: `held`, from them)
                let mut w = Box::new(GroupWindow {
                    name: Arc::new(s.name),
                    pieces: Pieces::default(),
                    next_emit: s.next_emit,
                    count: s.count,
                    narrow: s.narrow,
                    held: 0,
                    tail: WindowTail::default(),
                });
                let n = s.points.len();
                w.push(&Arc::new(s.points), 0, n);
                (s.group, w)
            })
            .collect();
        Ok(())
    }
}

impl Piece {
    fn whole(b: PointBatch) -> Piece {
        let hi = b.len();
        Piece {
            part: Arc::new(b),
            lo: 0,
            hi,
        }
    }
}

impl GroupWindow {
    /// A window of narrow `pieces` alone, to cut points from.
    fn narrow_of(pieces: VecDeque<Piece>) -> GroupWindow {
        GroupWindow {
            name: Arc::default(),
            pieces: Pieces::of(pieces),
            next_emit: 0,
            count: 0,
            narrow: true,
            held: 0,
            tail: WindowTail::default(),
        }
    }

    /// Rows `lo..hi` of a group's rows of a chunk.
    fn push_rows(&mut self, rows: &GroupRows, lo: usize, hi: usize) {
        match rows {
            GroupRows::Part(p) => self.push(p, lo, hi),
            GroupRows::Direct(src) => {
                if hi > lo {
                    self.held += hi - lo;
                    self.tail.append(src, lo, hi);
                }
            }
        }
    }

    fn push(&mut self, part: &Arc<PointBatch>, lo: usize, hi: usize) {
        if hi > lo {
            self.held += hi - lo;
            if self.narrow {
                if let Some(src) = Src::of(part).filter(|s| self.tail.accepts(s, lo, hi)) {
                    self.tail.append(&src, lo, hi);
                    return;
                }
                // rows the tail cannot hold (another field type or measurement dictionary):
                // the tail becomes a piece, and they follow it as one
                if !self.tail.is_empty() {
                    self.pieces.push_back(Piece::whole(self.tail.batch()));
                    self.tail.clear();
                }
            }
            // extend the last piece when it is the same part and adjacent
            if let Some(last) = self.pieces.back_mut() {
                if Arc::ptr_eq(&last.part, part) && last.hi == lo {
                    last.hi = hi;
                    return;
                }
            }
            self.pieces.push_back(Piece {
                part: part.clone(),
                lo,
                hi,
            });
        }
    }

    /// Merges the newest pieces while the last is small and at least half the size of the one
    /// before.
    ///
    /// A chunk adds a piece of a few points to each of its groups; with thousands of groups
    /// each piece's own vectors cost more than its points (about 370 bytes per buffered point
    /// over 4,000 series). Merged like a binary counter up to [`MERGED_PIECE`] points, a window
    /// keeps few pieces and a point is copied at most about log2(MERGED_PIECE) times, which is
    /// cheap for narrow parts (a time, a measurement code and one value per point).
    fn compact_tail(&mut self) {
        while self.pieces.len() >= 2 {
            let n = self.pieces.len();
            let last = self.pieces[n - 1].hi - self.pieces[n - 1].lo;
            let prev = self.pieces[n - 2].hi - self.pieces[n - 2].lo;
            // pieces of a few dozen points already carry their own overhead well
            if last * 2 < prev || last >= SMALL_PIECE || last + prev > MERGED_PIECE {
                return;
            }
            let merged = GroupWindow::narrow_of(self.pieces.split_off(n - 2)).points();
            self.pieces.push_back(Piece::whole(merged));
        }
    }

    /// Drops leading points until the first one that `keep`s.
    fn purge(&mut self, keep: impl Fn(i64) -> bool) {
        while let Some(p) = self.pieces.0.as_deref_mut().and_then(VecDeque::front_mut) {
            match (p.lo..p.hi).find(|&i| keep(p.part.time[i])) {
                Some(k) => {
                    self.held -= k - p.lo;
                    p.lo = k;
                    return;
                }
                None => {
                    self.held -= p.hi - p.lo;
                    self.pieces.pop_front();
                }
            }
        }
        self.pieces.tidy();
        self.held -= self.tail.purge(keep);
    }

    /// Drops the first point (count windows).
    fn drop_first(&mut self) {
        if let Some(p) = self.pieces.0.as_deref_mut().and_then(VecDeque::front_mut) {
            self.held -= 1;
            p.lo += 1;
            if p.lo >= p.hi {
                self.pieces.pop_front();
                self.pieces.tidy();
            }
        } else if !self.tail.is_empty() {
            self.held -= 1;
            self.tail.drop_front(1);
        }
    }

    fn points(&self) -> PointBatch {
        if !self.tail.is_empty() {
            if self.pieces.is_empty() {
                return self.tail.batch();
            }
            // pieces, then the tail as one more
            let mut pieces: VecDeque<Piece> = (*self.pieces).clone();
            pieces.push_back(Piece::whole(self.tail.batch()));
            return GroupWindow::narrow_of(pieces).points();
        }
        if let [p] = self.pieces.as_slices().0 {
            if self.pieces.len() == 1 && p.lo == 0 && p.hi == p.part.len() {
                return (*p.part).clone();
            }
        }
        if self.narrow {
            if let Some(b) = self.narrow_points() {
                return b;
            }
        }
        let idx: Vec<Vec<usize>> = self.pieces.iter().map(|p| (p.lo..p.hi).collect()).collect();
        let parts: Vec<(&PointBatch, &[usize])> = self
            .pieces
            .iter()
            .zip(&idx)
            .map(|(p, i)| (&*p.part, i.as_slice()))
            .collect();
        gather(&parts)
    }

    /// The window cut from narrow parts (no tags, at most one field: [`Windows::narrow`]) by
    /// copying row ranges: when the parts have equal measurement dictionaries and the field one
    /// numeric type among the window's rows. None otherwise ([`gather`] does it).
    fn narrow_points(&self) -> Option<PointBatch> {
        let first = &self.pieces.front()?.part;
        let mdict = &first.measurement.dict;
        let mut field: Option<(&str, FieldKind)> = None;
        let mut n = 0;
        for p in self.pieces.iter() {
            let part = &p.part;
            if !part.tags.is_empty() || part.fields.len() > 1 {
                return None;
            }
            if !Arc::ptr_eq(&part.measurement.dict, mdict) && part.measurement.dict != *mdict {
                return None;
            }
            n += p.hi - p.lo;
            let Some(c) = part.fields.first() else {
                continue;
            };
            if !c.valid[p.lo..p.hi].iter().any(|&v| v) {
                continue;
            }
            let kind = c.data.kind();
            let numeric = matches!(
                kind,
                FieldKind::Float | FieldKind::Int | FieldKind::UInt | FieldKind::Bool
            );
            if !numeric || field.is_some_and(|(name, k)| name != c.name || k != kind) {
                return None;
            }
            field = Some((&c.name, kind));
        }
        let mut time = Vec::with_capacity(n);
        let mut codes = Vec::with_capacity(n);
        for p in self.pieces.iter() {
            time.extend_from_slice(&p.part.time[p.lo..p.hi]);
            codes.extend_from_slice(&p.part.measurement.codes[p.lo..p.hi]);
        }
        let mut fields = Vec::new();
        if let Some((name, kind)) = field {
            let mut valid = Vec::with_capacity(n);
            let mut data = ColumnData::empty(kind);
            for p in self.pieces.iter() {
                let (lo, hi) = (p.lo, p.hi);
                let col = p.part.fields.first();
                match col.filter(|c| c.valid[lo..hi].iter().any(|&v| v)) {
                    Some(c) => {
                        valid.extend_from_slice(&c.valid[lo..hi]);
                        match (&mut data, &c.data) {
                            (ColumnData::Float(d), ColumnData::Float(s)) => {
                                d.extend_from_slice(&s[lo..hi])
                            }
                            (ColumnData::Int(d), ColumnData::Int(s)) => {
                                d.extend_from_slice(&s[lo..hi])
                            }
                            (ColumnData::UInt(d), ColumnData::UInt(s)) => {
                                d.extend_from_slice(&s[lo..hi])
                            }
                            (ColumnData::Bool(d), ColumnData::Bool(s)) => {
                                d.extend_from_slice(&s[lo..hi])
                            }
                            _ => unreachable!("one numeric type checked above"),
                        }
                    }
                    None => {
                        valid.resize(valid.len() + (hi - lo), false);
                        match &mut data {
                            ColumnData::Float(d) => d.resize(d.len() + (hi - lo), 0.0),
                            ColumnData::Int(d) => d.resize(d.len() + (hi - lo), 0),
                            ColumnData::UInt(d) => d.resize(d.len() + (hi - lo), 0),
                            ColumnData::Bool(d) => d.resize(d.len() + (hi - lo), false),
                            _ => unreachable!("a numeric type"),
                        }
                    }
                }
            }
            fields.push(Column {
                name: name.to_owned(),
                data,
                valid,
            });
        }
        Some(PointBatch {
            time,
            measurement: DictColumn {
                codes,
                dict: mdict.clone(),
            },
            tag_keys: Vec::new(),
            tags: Vec::new(),
            fields,
            series: vec![0; n],
            series_keys: first.series_keys.clone(),
        })
    }

    fn insert_every(
        &mut self,
        rows: &GroupRows,
        period: i64,
        spec: WindowSpec,
        out: &mut Vec<(usize, i64, PointBatch)>,
    ) {
        let WindowSpec::Time { every, align, .. } = spec else {
            return;
        };
        let n = rows.len();
        let mut pos = 0;
        while pos < n {
            let Some(j) = (pos..n).find(|&j| rows.time(j) >= self.next_emit) else {
                self.push_rows(rows, pos, n);
                break;
            };
            self.push_rows(rows, pos, j);
            let oldest = self.next_emit - period;
            self.purge(|t| t >= oldest);
            out.push((j, self.next_emit, self.points()));
            let next = rows.time(j) + every;
            self.next_emit = if align { trunc(next, every) } else { next };
            // the closing point starts the new buffer
            self.push_rows(rows, j, j + 1);
            pos = j + 1;
        }
    }

    fn insert_each(
        &mut self,
        rows: &GroupRows,
        period: i64,
        out: &mut Vec<(usize, i64, PointBatch)>,
    ) {
        for j in 0..rows.len() {
            let t = rows.time(j);
            self.push_rows(rows, j, j + 1);
            if t >= self.next_emit {
                let oldest = t - period;
                self.purge(|x| x > oldest);
                out.push((j, t, self.points()));
                self.next_emit = t;
            }
        }
    }

    fn insert_count(
        &mut self,
        rows: &GroupRows,
        period: usize,
        every: usize,
        out: &mut Vec<(usize, i64, PointBatch)>,
    ) {
        for j in 0..rows.len() {
            let t = rows.time(j);
            self.push_rows(rows, j, j + 1);
            if self.held > period {
                self.drop_first();
            }
            self.count += 1;
            if self.count == self.next_emit {
                self.next_emit += every as i64;
                out.push((j, t, self.points()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn pts(times: &[i64]) -> PointBatch {
        let text: String = times.iter().map(|t| format!("m v=1 {t}\n")).collect();
        lp(&text)
    }

    fn time_spec(period: i64, every: i64) -> WindowSpec {
        WindowSpec::Time {
            period,
            every,
            align: false,
            fill: false,
        }
    }

    fn summary(out: &[Emitted]) -> Vec<(u32, i64, Vec<i64>, usize)> {
        out.iter()
            .map(|e| (e.group, e.tmax, e.points.time.clone(), e.row))
            .collect()
    }

    #[test]
    fn a_restored_window_carries_on_as_the_uninterrupted_one() {
        for spec in [
            time_spec(10, 5),
            time_spec(10, 0),
            WindowSpec::Count {
                period: 3,
                every: 2,
                fill: false,
            },
        ] {
            let mut whole = Windows::new(spec);
            let mut first = Windows::new(spec);
            let a = (pts(&[0, 3, 1, 4]), [0u32, 1, 0, 1]);
            let b = (pts(&[7, 9, 12, 15, 21]), [0u32, 1, 1, 0, 1]);
            whole.feed(&a.0, &a.1);
            first.feed(&a.0, &a.1);
            let mut second = Windows::new(spec);
            second.restore(&first.snapshot()).unwrap();
            assert_eq!(
                summary(&second.feed(&b.0, &b.1)),
                summary(&whole.feed(&b.0, &b.1))
            );
        }
        let mut other = Windows::new(time_spec(20, 5));
        let err = other
            .restore(&Windows::new(time_spec(10, 5)).snapshot())
            .unwrap_err();
        assert!(err.contains("another window"), "{err}");
    }

    /// Every group's held count against its pieces, and the points its window would hold.
    fn check_held(w: &Windows) {
        let pieces: usize = w
            .groups
            .values()
            .flat_map(|g| g.pieces.iter().map(|p| p.hi - p.lo))
            .sum::<usize>()
            + w.groups.values().map(|g| g.tail.len()).sum::<usize>();
        let points: usize = w.groups.values().map(|g| g.points().len()).sum();
        assert_eq!(w.held_points(), pieces);
        assert_eq!(w.held_points(), points);
    }

    #[test]
    fn held_points_follow_every_window_kind() {
        for (spec, narrow) in [
            (time_spec(10, 5), false),
            (time_spec(10, 0), false),
            (time_spec(100, 30), true),
            (
                WindowSpec::Count {
                    period: 3,
                    every: 2,
                    fill: false,
                },
                false,
            ),
        ] {
            let mut w = Windows::new(spec);
            if narrow {
                w.narrow(Some(vec!["v".to_owned()]));
            }
            for k in 0..40i64 {
                let times: Vec<i64> = (0..5).map(|i| k * 5 + i).collect();
                let groups: Vec<u32> = (0..5).map(|i| ((k + i) % 3) as u32).collect();
                w.feed(&pts(&times), &groups);
                check_held(&w);
            }
            assert!(w.held_points() > 0);
            w.barrier(0, 10_000);
            check_held(&w);
            let mut back = Windows::new(spec);
            back.restore(&w.snapshot()).unwrap();
            assert_eq!(back.held_points(), w.held_points());
            w.reset(Some(1));
            check_held(&w);
            w.reset(None);
            assert_eq!(w.held_points(), 0);
        }
    }

    #[test]
    fn a_group_window_stays_small() {
        // thousands of groups each keep one (issue #20's memory per buffered point)
        assert!(std::mem::size_of::<GroupWindow>() <= 184);
    }

    #[test]
    fn empty_chunk() {
        let mut w = Windows::new(time_spec(10, 10));
        assert!(w.feed(&PointBatch::default(), &[]).is_empty());
        assert!(w.is_empty());
    }

    #[test]
    fn time_every_per_group_resumes_across_chunks() {
        let mut w = Windows::new(time_spec(10, 10));
        assert!(w.feed(&pts(&[0, 3, 1]), &[0, 0, 1]).is_empty());
        let out = w.feed(&pts(&[10, 12, 11, 25]), &[0, 1, 1, 0]);
        assert_eq!(
            summary(&out),
            vec![
                (0, 10, vec![0, 3], 0),
                (1, 11, vec![1], 1),
                (0, 20, vec![10], 3)
            ]
        );
        assert_eq!(out[0].name, "m");
        w.reset(Some(0));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn time_fill_and_align() {
        let mut w = Windows::new(WindowSpec::Time {
            period: 10,
            every: 5,
            align: true,
            fill: true,
        });
        // first emit: 3 + 10 = 13, aligned to 5 → 15 (> 13)
        let out = w.feed(&pts(&[3, 7, 14, 15, 19, 21]), &[0; 6]);
        assert_eq!(
            summary(&out),
            vec![(0, 15, vec![7, 14], 3), (0, 20, vec![14, 15, 19], 5)]
        );
    }

    #[test]
    fn every_zero_emits_on_each_point_in_order() {
        let mut w = Windows::new(time_spec(10, 0));
        let out = w.feed(&pts(&[0, 5, 3, 12]), &[0; 4]);
        // 3 is older than the last emit (5): buffered, no window
        assert_eq!(
            summary(&out),
            vec![
                (0, 0, vec![0], 0),
                (0, 5, vec![0, 5], 1),
                (0, 12, vec![5, 3, 12], 3)
            ]
        );
    }

    #[test]
    fn barrier_closes_a_due_time_window_only() {
        let mut w = Windows::new(time_spec(10, 10));
        let out = w.feed(&pts(&[0, 3, 5]), &[1, 1, 1]);
        assert!(out.is_empty());
        assert!(w.barrier(1, 9).is_none(), "not due before next emit (10)");
        assert!(
            w.barrier(2, 100).is_none(),
            "no window for an unknown group"
        );
        let e = w.barrier(1, 12).expect("due");
        assert_eq!((e.tmax, e.points.time.clone()), (10, vec![0, 3, 5]));
        // next emit follows the barrier's time; the buffer still holds what is in the period
        let e = w.barrier(1, 22).expect("due again");
        assert_eq!((e.tmax, e.points.time.clone()), (22, vec![]));
        let mut c = Windows::new(WindowSpec::Count {
            period: 2,
            every: 2,
            fill: false,
        });
        c.feed(&pts(&[1]), &[0]);
        assert!(
            c.barrier(0, 100).is_none(),
            "count windows pass barriers on"
        );
    }

    #[test]
    fn count_windows() {
        let mut w = Windows::new(WindowSpec::Count {
            period: 3,
            every: 2,
            fill: false,
        });
        let out = w.feed(&pts(&[1, 2, 3]), &[0; 3]);
        assert_eq!(summary(&out), vec![(0, 2, vec![1, 2], 1)]);
        let out = w.feed(&pts(&[4, 5, 6]), &[0; 3]);
        assert_eq!(
            summary(&out),
            vec![(0, 4, vec![2, 3, 4], 0), (0, 6, vec![4, 5, 6], 2)]
        );
        let mut f = Windows::new(WindowSpec::Count {
            period: 3,
            every: 1,
            fill: true,
        });
        let out = f.feed(&pts(&[1, 2, 3, 4]), &[0, 0, 0, 0]);
        assert_eq!(
            summary(&out),
            vec![(0, 3, vec![1, 2, 3], 2), (0, 4, vec![2, 3, 4], 3)]
        );
    }

    #[test]
    fn narrow_windows_keep_time_measurement_and_the_field() {
        let text = "m,h=a v=1,w=2i 0\nm,h=b w=3i 1\nm,h=a v=4,w=5i 2\nm,h=a v=6 11\n";
        let b = lp(text);
        let mut full = Windows::new(time_spec(10, 10));
        let mut narrow = Windows::new(time_spec(10, 10));
        narrow.narrow(Some(vec!["v".to_owned()]));
        let want = full.feed(&b, &[0, 0, 0, 0]);
        let got = narrow.feed(&b, &[0, 0, 0, 0]);
        assert_eq!(summary(&got), summary(&want));
        let p = &got[0].points;
        assert_eq!(p.measurement(1), "m");
        assert!(p.tag_keys.is_empty() && p.field("w").is_none());
        assert_eq!(p.field("v"), want[0].points.field("v"));
    }

    #[test]
    fn narrow_windows_of_many_small_chunks_match_whole_ones() {
        // a point or two per chunk and group: the pieces are merged (compact_tail) many times
        for (period, every) in [(100, 100), (100, 30), (50, 0)] {
            let mut full = Windows::new(time_spec(period, every));
            let mut narrow = Windows::new(time_spec(period, every));
            narrow.narrow(Some(vec!["v".to_owned()]));
            let mut windows = 0;
            for t in 0..400i64 {
                let v = if t % 7 == 0 {
                    format!("{}i", t)
                } else {
                    format!("{}.5", t)
                };
                let text = if t % 5 == 0 {
                    format!("m,h=a w=1 {t}\nm,h=b v={v} {t}\n")
                } else {
                    format!("m,h=a v={v} {t}\nm,h=b v={v} {t}\n")
                };
                let b = lp(&text);
                let g = vec![0, 1];
                let want = full.feed(&b, &g);
                let got = narrow.feed(&b, &g);
                assert_eq!(summary(&got), summary(&want));
                for (x, y) in got.iter().zip(&want) {
                    assert_eq!(x.points.time, y.points.time);
                    assert_eq!(x.points.field("v"), y.points.field("v"));
                    windows += 1;
                }
            }
            assert!(windows > 4, "{period} {every}: {windows}");
        }
    }

    #[test]
    fn narrow_count_windows_and_two_measurements_match_whole_ones() {
        // the tail's rows dropped one by one (count windows), and a group of two measurements
        // (per-row measurement codes in the tail)
        let specs = [
            WindowSpec::Count {
                period: 5,
                every: 2,
                fill: false,
            },
            time_spec(60, 20),
        ];
        for spec in specs {
            let mut full = Windows::new(spec);
            let mut narrow = Windows::new(spec);
            narrow.narrow(Some(vec!["v".to_owned()]));
            let mut windows = 0;
            for t in 0..200i64 {
                // every chunk has the dictionary [m, n]; group 0 gets both now and then
                let m = if t % 3 == 0 { "n" } else { "m" };
                let text = format!("m,h=b v={t}.25 {t}\n{m},h=a v={t}.5 {t}\nn,h=c v=1 {t}\n");
                let b = lp(&text);
                let want = full.feed(&b, &[1, 0, 2]);
                let got = narrow.feed(&b, &[1, 0, 2]);
                assert_eq!(summary(&got), summary(&want));
                for (x, y) in got.iter().zip(&want) {
                    let names = |p: &PointBatch| {
                        (0..p.len())
                            .map(|i| p.measurement(i).to_owned())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(names(&x.points), names(&y.points));
                    assert_eq!(x.points.field("v"), y.points.field("v"));
                    windows += 1;
                }
                check_held(&narrow);
            }
            assert!(windows > 10, "{spec:?}: {windows}");
        }
    }

    #[test]
    fn narrow_windows_of_any_times_match_whole_ones() {
        // the tail packs times as multiples of their common unit: seconds, then a point 1 ns
        // off, late points, and spans past i32 seconds, all come out as they went in
        let s = 1_000_000_000i64;
        let t0 = 1_700_000_000 * s;
        let mut times: Vec<i64> = (0..40).map(|k| t0 + k * 10 * s).collect();
        times.extend([t0 + 395 * s + 1, t0 - 30 * s, t0 + 400 * s]);
        times.extend((0..20).map(|k| t0 + (1 << 32) * s + k * 7));
        times.push(t0);
        for spec in [time_spec(1 << 61, 1 << 61), time_spec(1_000 * s, 0)] {
            let mut full = Windows::new(spec);
            let mut narrow = Windows::new(spec);
            narrow.narrow(Some(vec!["v".to_owned()]));
            for c in times.chunks(3) {
                let text: String = c.iter().map(|t| format!("m,h=a v=1.5 {t}\n")).collect();
                let b = lp(&text);
                let g = vec![0; b.len()];
                assert_eq!(summary(&narrow.feed(&b, &g)), summary(&full.feed(&b, &g)));
            }
            let mut back = Windows::new(spec);
            back.restore(&narrow.snapshot()).unwrap();
            let copy = |w: &Windows| {
                w.groups
                    .values()
                    .map(|g| g.points().time)
                    .collect::<Vec<_>>()
            };
            assert_eq!(copy(&back), copy(&narrow));
            assert_eq!(copy(&narrow), copy(&full));
            assert!(copy(&full)[0].len() > 1);
        }
    }

    #[test]
    fn narrow_windows_across_chunks_match_whole_ones() {
        // ints, a gap without the field, then floats: one window of each kind mix
        let chunks = [
            "m,h=a v=1i 0\nm,h=a w=1 1\nm,h=a v=2i 2\n",
            "m,h=a w=2 3\nm,h=a v=3i 4\nm,h=a v=4i 11\n",
            "m,h=a v=5i 12\nm,h=a v=6 13\nm,h=a w=3 25\n",
            "m,h=a w=4 26\nm,h=a w=5 40\n",
        ];
        let mut full = Windows::new(time_spec(10, 10));
        let mut narrow = Windows::new(time_spec(10, 10));
        narrow.narrow(Some(vec!["v".to_owned()]));
        let mut windows = 0;
        for text in chunks {
            let b = lp(text);
            let g = vec![0; b.len()];
            let want = full.feed(&b, &g);
            let got = narrow.feed(&b, &g);
            assert_eq!(summary(&got), summary(&want));
            for (x, y) in got.iter().zip(&want) {
                assert_eq!(x.points.field("v"), y.points.field("v"));
                assert!(x.points.field("w").is_none());
                let names: Vec<&str> = (0..x.points.len())
                    .map(|i| x.points.measurement(i))
                    .collect();
                assert!(names.iter().all(|&m| m == "m"));
                windows += 1;
            }
        }
        assert_eq!(windows, 3);
    }

    #[test]
    fn sparse_group_ints() {
        let mut w = Windows::new(time_spec(10, 10));
        let big = u32::MAX - 1;
        assert!(w.feed(&pts(&[0, 1, 2]), &[big, 7, big]).is_empty());
        let out = w.feed(&pts(&[11, 12]), &[7, big]);
        assert_eq!(
            summary(&out),
            vec![(7, 11, vec![1], 0), (big, 10, vec![0, 2], 1)]
        );
    }

    #[test]
    fn many_groups_interleaved() {
        let mut w = Windows::new(WindowSpec::Count {
            period: 1,
            every: 1,
            fill: false,
        });
        let times: Vec<i64> = (0..1000).collect();
        let groups: Vec<u32> = (0..1000).map(|i| (i % 97) as u32).collect();
        let out = w.feed(&pts(&times), &groups);
        assert_eq!(out.len(), 1000);
        assert!(out.iter().enumerate().all(|(i, e)| e.row == i
            && e.group == (i % 97) as u32
            && e.points.time == vec![i as i64]));
    }
}
