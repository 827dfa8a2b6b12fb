//! `join` of stream parents: Kapacitor's matching of points per group at their time rounded to
//! the tolerance, with `.on()` (points of a more specific group pick up the less specific ones of
//! another parent), `.fill()` and `.streamName()`; and the output points built from the input
//! columns (fields prefixed with `.as()` names and the delimiter).
//!
//! Groups are ints; the engine gives a group and an `.on()` group id that are the same string
//! the same int, so a DeleteGroup clears both. A set goes out when every parent contributed, or
//! when every parent moved past its time (then `.fill()` decides; the inner join drops it).
//! Buffered points keep their chunk's batch alive until their set went out.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::batch::{BatchBuilder, CodeMap, PointBatch, Value};
use crate::batch::{NO_FIELDS, NULLS};
use crate::stateops::snapshot;

/// Go's `Time.Round(d)`: half away from zero; `d <= 0` leaves `t`.
pub fn round_to(t: i64, d: i64) -> i64 {
    if d <= 0 {
        return t;
    }
    let r = t.rem_euclid(d);
    if r + r >= d {
        t - r + d
    } else {
        t - r
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// inner join: an incomplete set is dropped
    None,
    Null,
    Value(Value),
}

#[derive(Debug, Clone)]
pub struct JoinSpec {
    pub prefixes: Vec<String>,
    pub delimiter: String,
    pub tolerance: i64,
    pub fill: Fill,
    pub stream_name: String,
    /// `.on()` was given
    pub on: bool,
    pub delete_all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "MsgSnap", from = "MsgSnap")]
struct Msg {
    src: usize,
    time: i64,
    group: u32,
    batch: Arc<PointBatch>,
    row: usize,
}

/// A buffered point in a checkpoint: its own compact one-row batch, not its whole chunk.
#[derive(Serialize, Deserialize)]
struct MsgSnap {
    src: usize,
    time: i64,
    group: u32,
    point: PointBatch,
}

impl From<Msg> for MsgSnap {
    fn from(m: Msg) -> Self {
        MsgSnap {
            src: m.src,
            time: m.time,
            group: m.group,
            point: m.batch.take_compact(&[m.row]),
        }
    }
}

impl From<MsgSnap> for Msg {
    fn from(m: MsgSnap) -> Self {
        // an inconsistent point is dropped whole (Join::restore refuses the snapshot)
        let point = if m.point.len() == 1 && snapshot::is_consistent(&m.point) {
            m.point
        } else {
            PointBatch::default()
        };
        Msg {
            src: m.src,
            time: m.time,
            group: m.group,
            batch: Arc::new(point),
            row: 0,
        }
    }
}

/// What a checkpoint keeps of a [`Join`]: every buffer (not the spec, which the task gives).
#[derive(Serialize, Deserialize)]
struct JoinSnap {
    groups: Vec<(u32, JoinGroup)>,
    low_marks: Vec<((usize, u32), i64)>,
    match_buf: Vec<(u32, VecDeque<Msg>)>,
    specific_buf: Vec<(u32, VecDeque<Msg>)>,
    reported: Vec<usize>,
    all_reported: bool,
    tags: Vec<(u32, Vec<(String, String)>)>,
    seq: u64,
}

fn sorted<K: Ord + Copy, V: Clone>(m: &CodeMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinSet {
    values: Vec<Option<Msg>>,
    size: usize,
    first: usize,
    time: i64,
}

impl JoinSet {
    fn new(n: usize, time: i64) -> Self {
        JoinSet {
            values: vec![None; n],
            size: 0,
            first: n,
            time,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinGroup {
    /// creation order: at the end, groups flush in the order they appeared
    seq: u64,
    sets: BTreeMap<i64, VecDeque<JoinSet>>,
    head: Vec<Option<i64>>,
    oldest: Option<i64>,
}

/// A chunk group: its int, its `.on()` group's int, and whether it is more specific than `.on()`.
#[derive(Debug, Clone)]
pub struct ChunkGroup {
    pub group: u32,
    pub on_group: u32,
    pub specific: bool,
    pub tags: Vec<(String, String)>,
}

/// The points a call emitted, and the group int of each.
#[derive(Debug, Default)]
pub struct Joined {
    pub batch: PointBatch,
    pub groups: Vec<u32>,
}

#[derive(Debug)]
pub struct Join {
    spec: JoinSpec,
    n: usize,
    // keyed by group ints: the fast code hasher, not SipHash (a lookup per point)
    groups: CodeMap<u32, JoinGroup>,
    low_marks: CodeMap<(usize, u32), i64>,
    match_buf: CodeMap<u32, VecDeque<Msg>>,
    specific_buf: CodeMap<u32, VecDeque<Msg>>,
    reported: HashSet<usize>,
    all_reported: bool,
    tags: CodeMap<u32, Vec<(String, String)>>,
    out: Vec<JoinSet>,
    out_groups: Vec<u32>,
    seq: u64,
    /// join groups that got messages during a feed
    touched: Vec<u32>,
}

impl Join {
    pub fn new(spec: JoinSpec) -> Self {
        Join {
            n: spec.prefixes.len(),
            spec,
            groups: CodeMap::default(),
            low_marks: CodeMap::default(),
            match_buf: CodeMap::default(),
            specific_buf: CodeMap::default(),
            reported: HashSet::new(),
            all_reported: false,
            tags: CodeMap::default(),
            out: Vec::new(),
            out_groups: Vec::new(),
            seq: 0,
            touched: Vec::new(),
        }
    }

    fn group(&mut self, id: u32) -> &mut JoinGroup {
        let (n, seq) = (self.n, self.seq);
        self.seq += 1;
        self.groups.entry(id).or_insert_with(|| JoinGroup {
            seq,
            sets: BTreeMap::new(),
            head: vec![None; n],
            oldest: None,
        })
    }

    /// Every buffered point, set and mark as checkpoint bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut reported: Vec<usize> = self.reported.iter().copied().collect();
        reported.sort_unstable();
        snapshot::encode(&JoinSnap {
            groups: sorted(&self.groups),
            low_marks: sorted(&self.low_marks),
            match_buf: sorted(&self.match_buf),
            specific_buf: sorted(&self.specific_buf),
            reported,
            all_reported: self.all_reported,
            tags: sorted(&self.tags),
            seq: self.seq,
        })
    }

    /// Replaces every buffer with a checkpoint's (an error for another number of parents).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let s: JoinSnap = snapshot::decode(bytes, "join")?;
        let msgs_ok = |q: &VecDeque<Msg>| q.iter().all(|m| m.batch.len() == 1 && m.src < self.n);
        let sets_ok = |g: &JoinGroup| {
            g.sets.values().flatten().all(|set| {
                set.values.len() == self.n
                    && set.values.iter().flatten().all(|m| m.batch.len() == 1)
            })
        };
        let bad = s
            .groups
            .iter()
            .any(|(_, g)| g.head.len() != self.n || !sets_ok(g))
            || s.reported.iter().any(|&r| r >= self.n)
            || !s.match_buf.iter().all(|(_, q)| msgs_ok(q))
            || !s.specific_buf.iter().all(|(_, q)| msgs_ok(q));
        if bad {
            return Err(format!(
                "join snapshot is not of a join of {} parents",
                self.n
            ));
        }
        self.groups = s.groups.into_iter().collect();
        self.low_marks = s.low_marks.into_iter().collect();
        self.match_buf = s.match_buf.into_iter().collect();
        self.specific_buf = s.specific_buf.into_iter().collect();
        self.reported = s.reported.into_iter().collect();
        self.all_reported = s.all_reported;
        self.tags = s.tags.into_iter().collect();
        self.seq = s.seq;
        Ok(())
    }

    /// Groups with pending sets (working cardinality).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Points waiting: in open join sets and in the `.on()` match buffers (one addition per
    /// group and open set, nothing per point).
    pub fn held_points(&self) -> usize {
        let sets: usize = self
            .groups
            .values()
            .flat_map(|g| g.sets.values().flat_map(|q| q.iter().map(|s| s.size)))
            .sum();
        let bufs: usize = self
            .match_buf
            .values()
            .chain(self.specific_buf.values())
            .map(VecDeque::len)
            .sum();
        sets + bufs
    }

    /// The points of `b` from parent `src`; row `i` is of chunk group `groups[codes[i]]`.
    pub fn feed(
        &mut self,
        src: usize,
        b: &Arc<PointBatch>,
        codes: &[u32],
        groups: &[ChunkGroup],
    ) -> Joined {
        for g in groups {
            // a group int's tags never change (one int per group id, the id names the tags)
            self.tags.entry(g.group).or_insert_with(|| g.tags.clone());
        }
        for (row, &c) in codes.iter().enumerate() {
            let cg = &groups[c as usize];
            let m = Msg {
                src,
                time: b.time[row],
                group: cg.group,
                batch: b.clone(),
                row,
            };
            if self.spec.on {
                self.matched(m, cg.on_group, cg.specific);
            } else {
                self.collect(m);
            }
        }
        let out = self.take_output();
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        let mut on: Vec<u32> = groups.iter().map(|g| g.on_group).collect();
        on.sort_unstable();
        on.dedup();
        self.compact_retained(b, &touched, &on);
        out
    }

    /// The messages waiting in the join groups `groups` and the `.on()` buffers `on`.
    fn pending_mut<'a>(
        &'a mut self,
        groups: &'a [u32],
        on: &'a [u32],
    ) -> impl Iterator<Item = &'a mut Msg> + 'a {
        let in_sets = self
            .groups
            .iter_mut()
            .filter(|(id, _)| groups.binary_search(id).is_ok())
            .flat_map(|(_, g)| g.sets.values_mut())
            .flat_map(|q| q.iter_mut())
            .flat_map(|s| s.values.iter_mut().flatten());
        let in_bufs = self
            .match_buf
            .iter_mut()
            .chain(self.specific_buf.iter_mut())
            .filter(|(id, _)| on.binary_search(id).is_ok())
            .flat_map(|(_, q)| q.iter_mut());
        in_sets.chain(in_bufs)
    }

    /// Points of chunk `b` still waiting (they can only be in the groups this chunk's points
    /// went to) move to a compact batch of their own, so that a few waiting points do not keep a
    /// whole chunk alive. When a quarter or more of the chunk waits, the chunk stays (at most 4x
    /// the memory of a copy, and no copying).
    fn compact_retained(&mut self, b: &Arc<PointBatch>, groups: &[u32], on: &[u32]) {
        if Arc::strong_count(b) == 1 {
            return; // nothing of it waits
        }
        let mut rows: Vec<usize> = self
            .pending_mut(groups, on)
            .filter(|m| Arc::ptr_eq(&m.batch, b))
            .map(|m| m.row)
            .collect();
        if rows.is_empty() || rows.len() * 4 >= b.len() {
            return;
        }
        rows.sort_unstable();
        rows.dedup();
        let compact = Arc::new(b.take_compact(&rows));
        for m in self.pending_mut(groups, on) {
            if Arc::ptr_eq(&m.batch, b) {
                m.row = rows.binary_search(&m.row).expect("collected above");
                m.batch = compact.clone();
            }
        }
    }

    /// Time reached `time` for `group` on parent `src` (a barrier).
    pub fn barrier(&mut self, src: usize, group: u32, time: i64) -> Joined {
        let t = round_to(time, self.spec.tolerance);
        let g = self.group(group);
        if g.oldest.is_none_or(|o| t < o) {
            g.oldest = Some(t);
        }
        g.head[src] = Some(t);
        let ready = only_ready(g);
        self.emit_group(group, ready);
        self.take_output()
    }

    /// Forget a group (DeleteGroup from parent `src`).
    pub fn delete(&mut self, src: usize, group: u32) {
        self.groups.remove(&group);
        self.match_buf.remove(&group);
        self.specific_buf.remove(&group);
        self.tags.remove(&group);
        if self.spec.delete_all {
            self.low_marks.clear();
        } else {
            self.low_marks.remove(&(src, group));
        }
    }

    /// Every parent ended: every pending set goes out (filled or dropped).
    pub fn finish(&mut self) -> Joined {
        let mut ids: Vec<(u64, u32)> = self.groups.iter().map(|(&id, g)| (g.seq, id)).collect();
        ids.sort_unstable();
        for (_, id) in ids {
            while self.groups.get(&id).is_some_and(|g| !g.sets.is_empty()) {
                self.emit_group(id, false);
            }
        }
        self.take_output()
    }

    fn collect(&mut self, m: Msg) {
        let n = self.n;
        let t = round_to(m.time, self.spec.tolerance);
        let id = m.group;
        let src = m.src;
        self.touched.push(id);
        let g = self.group(id);
        if g.oldest.is_none_or(|o| t < o) {
            g.oldest = Some(t);
        }
        let q = g
            .sets
            .entry(t)
            .or_insert_with(|| VecDeque::from([JoinSet::new(n, t)]));
        let pos = match q.iter().position(|s| s.values[src].is_none()) {
            Some(p) => p,
            None => {
                q.push_back(JoinSet::new(n, t));
                q.len() - 1
            }
        };
        let s = &mut q[pos];
        s.first = s.first.min(src);
        s.values[src] = Some(m);
        s.size += 1;
        g.head[src] = Some(t);
        let ready = only_ready(g);
        self.emit_group(id, ready);
    }

    fn emit_group(&mut self, id: u32, mut ready_only: bool) {
        let n = self.n;
        let Some(g) = self.groups.get_mut(&id) else {
            return;
        };
        while !g.sets.is_empty() {
            let oldest = g.oldest.expect("sets exist");
            // a barrier may have moved `oldest` before every set: nothing waits there (Go's nil)
            let mut q = g.sets.remove(&oldest).unwrap_or_default();
            while let Some(s) = q.front() {
                if s.size == n || !ready_only {
                    let s = q.pop_front().expect("front exists");
                    self.out_groups.push(id);
                    self.out.push(s);
                } else {
                    break;
                }
            }
            if !q.is_empty() {
                g.sets.insert(oldest, q);
            }
            g.oldest = g.sets.keys().next().copied();
            if ready_only || g.oldest.is_none() {
                return;
            }
            ready_only = only_ready(g);
        }
    }

    fn matched(&mut self, p: Msg, on: u32, specific: bool) {
        if !self.all_reported {
            self.reported.insert(p.src);
            self.all_reported = self.reported.len() == self.n;
        }
        let tol = self.spec.tolerance;
        let t = round_to(p.time, tol);
        self.low_marks.insert((p.src, on), t);
        let mut low = None;
        if self.all_reported {
            low = (0..self.n)
                .map(|s| self.low_marks.get(&(s, on)).copied().unwrap_or(0))
                .min();
            if let Some(lo) = low {
                while let Some(front) = self.specific_buf.get_mut(&on).and_then(|b| {
                    if b.front().is_some_and(|m| round_to(m.time, tol) < lo) {
                        b.pop_front()
                    } else {
                        None
                    }
                }) {
                    self.collect(front);
                }
            }
        }
        if specific {
            let mut matched = false;
            let mut pairs = Vec::new();
            if let Some(matches) = self.match_buf.get_mut(&on) {
                let mut i = 0;
                while i < matches.len() {
                    let mt = round_to(matches[i].time, tol);
                    if mt == t {
                        pairs.push(matches[i].clone());
                        matched = true;
                    }
                    if low.is_none_or(|lo| mt >= lo) {
                        break;
                    }
                    i += 1;
                }
                if self.all_reported {
                    matches.drain(..i);
                }
            }
            for m in pairs {
                self.send_match(p.clone(), m);
            }
            if !matched {
                if self.all_reported && low.is_some_and(|lo| t < lo) {
                    self.collect(p);
                } else {
                    self.specific_buf.entry(on).or_default().push_back(p);
                }
            }
        } else {
            self.match_buf.entry(on).or_default().push_back(p.clone());
            while let Some(s) = self.specific_buf.get_mut(&on).and_then(|b| {
                if b.front().is_some_and(|m| round_to(m.time, tol) == t) {
                    b.pop_front()
                } else {
                    None
                }
            }) {
                self.send_match(s, p.clone());
            }
        }
    }

    fn send_match(&mut self, specific: Msg, mut matched: Msg) {
        matched.group = specific.group;
        self.collect(specific);
        self.collect(matched);
    }

    fn take_output(&mut self) -> Joined {
        let sets = std::mem::take(&mut self.out);
        let ids = std::mem::take(&mut self.out_groups);
        let mut b = BatchBuilder::new();
        let mut groups = Vec::new();
        let none = Vec::new();
        let mut cache = Vec::new();
        for (s, id) in sets.into_iter().zip(ids) {
            let tags = self.tags.get(&id).unwrap_or(&none);
            if let Some(()) = build_point(&self.spec, &s, tags, &mut cache, &mut b) {
                groups.push(id);
            }
        }
        Joined {
            batch: b.finish(),
            groups,
        }
    }
}

/// Only complete sets may go: some parent has not moved past the oldest time yet.
fn only_ready(g: &JoinGroup) -> bool {
    let oldest = g.oldest.expect("set just now");
    g.head.iter().any(|h| h.is_none_or(|h| h <= oldest))
}

/// The fields of row `i` of `b` as the row helpers give them: real fields by name, then the
/// fields listed as null (`None`), in that order; hidden fields left out.
pub fn row_fields(b: &PointBatch, i: usize) -> Vec<(String, Option<Value>)> {
    let mut out: Vec<(String, Option<Value>)> = b
        .fields
        .iter()
        .filter(|c| c.name != NO_FIELDS && c.name != NULLS)
        .filter_map(|c| c.get(i).map(|v| (c.name.clone(), Some(v))))
        .collect();
    if let Some(Value::Str(nulls)) = b.field(NULLS).and_then(|c| c.get(i)) {
        for k in nulls.split('\u{0}') {
            match out.iter_mut().find(|(name, _)| name == k) {
                Some(e) => e.1 = None,
                None => out.push((k.to_owned(), None)),
            }
        }
    }
    out
}

/// Sets `key` keeping the first position of a key set twice (a Python dict's order).
fn put(fields: &mut Vec<(String, Option<Value>)>, key: String, v: Option<Value>) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = v,
        None => fields.push((key, v)),
    }
}

/// Field names prefixed for one source, per column of one input batch: made once per batch and
/// parent in an output call instead of once per point.
struct Prefixed {
    /// held so that the batch (and its address) stays the same while the cache lives
    batch: Arc<PointBatch>,
    src: usize,
    names: Vec<String>,
}

fn prefixed_names<'c>(
    cache: &'c [Prefixed],
    batch: &Arc<PointBatch>,
    src: usize,
) -> Option<&'c [String]> {
    cache
        .iter()
        .find(|p| Arc::ptr_eq(&p.batch, batch) && p.src == src)
        .map(|p| p.names.as_slice())
}

/// Sets `key` keeping the first position of a key set twice (a Python dict's order).
fn put_cow<'a>(
    fields: &mut Vec<(Cow<'a, str>, Option<Value>)>,
    key: Cow<'a, str>,
    v: Option<Value>,
) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = v,
        None => fields.push((key, v)),
    }
}

/// Appends the point of a set: `None` when the inner join drops it.
fn build_point(
    spec: &JoinSpec,
    s: &JoinSet,
    tags: &[(String, String)],
    cache: &mut Vec<Prefixed>,
    out: &mut BatchBuilder,
) -> Option<()> {
    let first = s.values[s.first].as_ref()?;
    for (i, m) in s.values.iter().enumerate() {
        let Some(m) = m else { continue };
        if prefixed_names(cache, &m.batch, i).is_none() {
            let pre = format!("{}{}", spec.prefixes[i], spec.delimiter);
            cache.push(Prefixed {
                batch: m.batch.clone(),
                src: i,
                names: m
                    .batch
                    .fields
                    .iter()
                    .map(|c| format!("{pre}{}", c.name))
                    .collect(),
            });
        }
    }
    let first_name = first.batch.measurement(first.row);
    let name = if spec.stream_name.is_empty() {
        first_name
    } else {
        spec.stream_name.as_str()
    };
    let mut fields: Vec<(Cow<'_, str>, Option<Value>)> = Vec::new();
    for (i, v) in s.values.iter().enumerate() {
        match v {
            None => {
                let fill = match &spec.fill {
                    Fill::None => return None,
                    Fill::Null => None,
                    Fill::Value(x) => Some(x.clone()),
                };
                let pre = format!("{}{}", spec.prefixes[i], spec.delimiter);
                for (k, _) in row_fields(&first.batch, first.row) {
                    put_cow(&mut fields, Cow::Owned(format!("{pre}{k}")), fill.clone());
                }
            }
            Some(m) => {
                let names = prefixed_names(cache, &m.batch, i).expect("made above");
                for (c, col) in m.batch.fields.iter().enumerate() {
                    if col.valid[m.row] && col.name != NO_FIELDS && col.name != NULLS {
                        put_cow(
                            &mut fields,
                            Cow::Borrowed(names[c].as_str()),
                            col.data.value(m.row),
                        );
                    }
                }
                if let Some(Value::Str(nulls)) = m.batch.field(NULLS).and_then(|c| c.get(m.row)) {
                    for k in nulls.split('\u{0}') {
                        let key = format!("{}{}{k}", spec.prefixes[i], spec.delimiter);
                        put_cow(&mut fields, Cow::Owned(key), None);
                    }
                }
            }
        }
    }
    push_point(out, name, tags, &fields, s.time);
    Some(())
}

/// A point with possibly-null fields: nulls go to the NULLS field, no fields to NO_FIELDS.
pub fn push_point<K: AsRef<str>>(
    out: &mut BatchBuilder,
    name: &str,
    tags: &[(String, String)],
    fields: &[(K, Option<Value>)],
    time: i64,
) {
    let nulls: Vec<&str> = fields
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_ref())
        .collect();
    let mut vals: Vec<(&str, Value)> = fields
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.as_ref(), v)))
        .collect();
    let joined = nulls.join("\u{0}");
    if !nulls.is_empty() {
        vals.push((NULLS, Value::Str(joined)));
    }
    if vals.is_empty() {
        vals.push((NO_FIELDS, Value::Bool(true)));
    }
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // the measurement is never empty (it comes from a point) and prefixed keys are never empty
    let _ = out.push_row(name, &tags, &vals, time);
}

/// The join of one batch per parent (`None`: that parent's batch is missing from the set):
/// points are matched by rounded time in step through the batches; one output point per time.
pub fn join_batches(
    spec: &JoinSpec,
    batches: &[Option<&PointBatch>],
    name: &str,
    tags: &[(String, String)],
) -> PointBatch {
    let n = batches.len();
    let mut idx = vec![0usize; n];
    let mut empty = vec![false; n];
    let mut n_empty = 0;
    // Kapacitor fills with the field names of the first point it matched
    let mut field_names: Option<Vec<String>> = None;
    let mut out = BatchBuilder::new();
    while n_empty < n {
        let mut cur: Vec<Option<usize>> = vec![None; n];
        let mut set_time: Option<i64> = None;
        let mut count = 0;
        for i in 0..n {
            if empty[i] {
                continue;
            }
            let Some(b) = batches[i].filter(|b| idx[i] < b.len()) else {
                empty[i] = true;
                n_empty += 1;
                continue;
            };
            let t = round_to(b.time[idx[i]], spec.tolerance);
            let st = *set_time.get_or_insert(t);
            if t < st {
                set_time = Some(t);
                for j in 0..n {
                    if cur[j].take().is_some() {
                        idx[j] -= 1;
                    }
                }
                cur[i] = Some(idx[i]);
                idx[i] += 1;
                count = 1;
            } else if t == st {
                if field_names.is_none() {
                    field_names = Some(row_fields(b, idx[i]).into_iter().map(|(k, _)| k).collect());
                }
                cur[i] = Some(idx[i]);
                idx[i] += 1;
                count += 1;
            }
        }
        if count == 0 {
            continue;
        }
        let mut fields: Vec<(String, Option<Value>)> = Vec::new();
        let mut ok = true;
        for (i, got) in cur.iter().enumerate() {
            let pre = format!("{}{}", spec.prefixes[i], spec.delimiter);
            match (got, batches[i]) {
                (Some(r), Some(b)) => {
                    for (k, v) in row_fields(b, *r) {
                        put(&mut fields, format!("{pre}{k}"), v);
                    }
                }
                _ => {
                    let fill = match &spec.fill {
                        Fill::None => {
                            ok = false;
                            break;
                        }
                        Fill::Null => None,
                        Fill::Value(x) => Some(x.clone()),
                    };
                    for k in field_names.iter().flatten() {
                        put(&mut fields, format!("{pre}{k}"), fill.clone());
                    }
                }
            }
        }
        if ok {
            push_point(&mut out, name, tags, &fields, set_time.expect("count > 0"));
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn spec(on: bool, fill: Fill) -> JoinSpec {
        JoinSpec {
            prefixes: vec!["a".into(), "b".into()],
            delimiter: ".".into(),
            tolerance: 0,
            fill,
            stream_name: String::new(),
            on,
            delete_all: false,
        }
    }

    fn plain(group: u32) -> Vec<ChunkGroup> {
        vec![ChunkGroup {
            group,
            on_group: group,
            specific: false,
            tags: vec![("host".into(), "x".into())],
        }]
    }

    fn fields(b: &PointBatch) -> Vec<Vec<(&str, Value)>> {
        (0..b.len()).map(|i| b.row_fields(i)).collect()
    }

    #[test]
    fn round_like_go() {
        assert_eq!(round_to(15, 10), 20);
        assert_eq!(round_to(14, 10), 10);
        assert_eq!(round_to(-15, 10), -10);
        assert_eq!(round_to(7, 0), 7);
    }

    #[test]
    fn empty_chunk_and_inner_join_across_calls() {
        let mut j = Join::new(spec(false, Fill::None));
        let none = j.feed(0, &Arc::new(PointBatch::default()), &[], &plain(0));
        assert!(none.batch.is_empty());
        let a = Arc::new(lp("m v=1 1\nm v=2 2\n"));
        assert!(j.feed(0, &a, &[0, 0], &plain(0)).batch.is_empty());
        // both points wait: the chunk is kept as it is
        assert_eq!(Arc::strong_count(&a), 3);
        // b at 1 completes the set at 1; b at 3 moves b past 2: the set at 2 is dropped
        let b = Arc::new(lp("n w=1i 1\nn w=3i 3\n"));
        let out = j.feed(1, &b, &[0, 0], &plain(0));
        assert_eq!(out.batch.time, vec![1]);
        assert_eq!(out.groups, vec![0]);
        assert_eq!(out.batch.measurement(0), "m");
        assert_eq!(out.batch.row_tags(0), vec![("host", "x")]);
        assert_eq!(
            fields(&out.batch),
            vec![vec![("a.v", Value::Float(1.0)), ("b.w", Value::Int(1))]]
        );
        assert_eq!(j.len(), 1);
    }

    #[test]
    fn fill_null_and_value_and_finish() {
        let mut j = Join::new(spec(false, Fill::Null));
        let a = Arc::new(lp("m v=1 1\n"));
        j.feed(0, &a, &[0], &plain(3));
        let out = j.finish();
        assert_eq!(
            fields(&out.batch),
            vec![vec![
                ("\u{0}nulls", Value::Str("b.v".into())),
                ("a.v", Value::Float(1.0))
            ]]
        );
        let mut j = Join::new(spec(false, Fill::Value(Value::Float(0.0))));
        j.feed(0, &a, &[0], &plain(3));
        let out = j.finish();
        assert_eq!(
            fields(&out.batch),
            vec![vec![("a.v", Value::Float(1.0)), ("b.v", Value::Float(0.0))]]
        );
    }

    #[test]
    fn many_groups_and_delete() {
        let mut j = Join::new(spec(false, Fill::None));
        let groups: Vec<ChunkGroup> = (0..100).flat_map(plain).collect();
        let codes: Vec<u32> = (0..100).collect();
        let text: String = (0..100).map(|_| "m v=1 5\n").collect();
        let a = Arc::new(lp(&text));
        j.feed(0, &a, &codes, &groups);
        j.delete(0, 7);
        let out = j.feed(1, &a, &codes, &groups);
        // group 7 lost its point from a: its b point waits alone, in a copy of its own
        assert_eq!(out.batch.len(), 99);
        assert_eq!(Arc::strong_count(&a), 1);
        assert!(!out.groups.contains(&7));
        // groups stay known after their sets went out (working cardinality, as Kapacitor)
        assert_eq!(j.len(), 100);
    }

    #[test]
    fn on_matches_specific_with_less_specific() {
        let mut j = Join::new(spec(true, Fill::None));
        // parent 0: by host and cpu (specific); parent 1: by host (the .on() group, int 1)
        let specific = vec![ChunkGroup {
            group: 0,
            on_group: 1,
            specific: true,
            tags: vec![("cpu".into(), "c0".into()), ("host".into(), "h".into())],
        }];
        let general = vec![ChunkGroup {
            group: 1,
            on_group: 1,
            specific: false,
            tags: vec![("host".into(), "h".into())],
        }];
        let a = Arc::new(lp("m v=1 10\n"));
        assert!(j.feed(0, &a, &[0], &specific).batch.is_empty());
        let b = Arc::new(lp("t total=5 10\n"));
        let out = j.feed(1, &b, &[0], &general);
        assert_eq!(out.groups, vec![0]);
        assert_eq!(out.batch.row_tags(0), vec![("cpu", "c0"), ("host", "h")]);
        assert_eq!(
            fields(&out.batch),
            vec![vec![
                ("a.v", Value::Float(1.0)),
                ("b.total", Value::Float(5.0))
            ]]
        );
    }

    #[test]
    fn batches_step_by_time() {
        let a = lp("m v=1 1\nm v=2 2\nm v=3 4\n");
        let b = lp("m v=10 2\nm v=30 4\nm v=40 5\n");
        let out = join_batches(&spec(false, Fill::None), &[Some(&a), Some(&b)], "m", &[]);
        assert_eq!(out.time, vec![2, 4]);
        let out = join_batches(
            &spec(false, Fill::Value(Value::Int(0))),
            &[Some(&a), None],
            "m",
            &[],
        );
        assert_eq!(out.time, vec![1, 2, 4]);
        assert_eq!(
            out.row_fields(0),
            vec![("a.v", Value::Float(1.0)), ("b.v", Value::Int(0))]
        );
        assert!(join_batches(&spec(false, Fill::None), &[None, None], "m", &[]).is_empty());
    }
}
