//! The last step of a parse: per-row series ids → the batch's measurement and tag columns.
//!
//! While parsing, a row only records its series id; each distinct series knows its measurement
//! and tags. Here series are renumbered in first-seen order (dropping those only bad lines used),
//! dictionaries are built once per series, and the per-row codes are gathered column by column.

use std::sync::Arc;

use super::dicts::TableDicts;
use super::hash::{bytes_eq, RawMap};
use super::key::SeriesInfo;
use crate::batch::{Column, DictColumn, PointBatch, NO_TAG};

/// The batch of rows whose series ids (`series`) index `order`, the ids in `info` of the
/// series used in first-seen order (see [`renumber`]): dictionaries are built in that order.
///
/// `cache` holds the dictionaries of recent bodies: a body whose rows use the same series in
/// the same first-seen order as one of them (a client sending its series again every
/// interval) reuses them, so its per-series cost is one compare of `order` instead of
/// building every dictionary and copying every series key again.
pub fn assemble(
    time: Vec<i64>,
    series: Vec<u32>,
    order: &[u32],
    info: &[SeriesInfo],
    fields: Vec<Column>,
    cache: &mut CodesCache,
    dicts: &mut TableDicts,
) -> PointBatch {
    let hash = order_hash(order);
    if let Some(e) = cache.find(hash, order) {
        return e.batch(time, series, fields);
    }
    let series_keys = order
        .iter()
        .map(|&s| info[s as usize].key.clone())
        .collect();
    let entry = CodesEntry {
        hash,
        order: Vec::new(),
        codes: dicts.body_codes(order),
        series_keys: Arc::new(series_keys),
        bytes: 0,
    };
    let batch = entry.batch(time, series, fields);
    cache.offer(entry, order);
    batch
}

/// Dictionaries of recent bodies by their series order, bounded in entries; replaced oldest
/// first. Its estimated heap bytes count towards a [`super::SeriesIndex`]'s cap.
///
/// An order is kept the second time it is seen (the first time only its hash is noted): bodies
/// whose series come in an order of their own every time (many clients' points mixed) would
/// otherwise fill it with dictionaries never used again, each freed, cold, 16 bodies later.
#[derive(Default)]
pub struct CodesCache {
    entries: Vec<CodesEntry>,
    next: usize,
    bytes: usize,
    /// Hashes of the orders of recent bodies not kept, oldest replaced first.
    seen: Vec<u64>,
    next_seen: usize,
}

struct CodesEntry {
    hash: u64,
    order: Vec<u32>,
    codes: SeriesCodes,
    series_keys: Arc<Vec<String>>,
    bytes: usize,
}

impl CodesEntry {
    fn batch(&self, time: Vec<i64>, series: Vec<u32>, fields: Vec<Column>) -> PointBatch {
        let gathered = (0..self.codes.columns())
            .map(|c| self.codes.gather(&series, c))
            .collect();
        self.codes
            .batch(time, series, self.series_keys.clone(), fields, gathered)
    }
}

/// Bodies whose dictionaries are kept (e.g. as many clients sending in turn).
const CACHED_BODIES: usize = 16;

impl CodesCache {
    /// Estimated heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn find(&self, hash: u64, order: &[u32]) -> Option<&CodesEntry> {
        self.entries
            .iter()
            .find(|e| e.hash == hash && e.order == order)
    }

    /// Keeps `entry` (just built for `order`) when its order was seen lately, else notes it.
    fn offer(&mut self, mut entry: CodesEntry, order: &[u32]) {
        if !self.seen.contains(&entry.hash) {
            if self.seen.len() < CACHED_BODIES {
                self.seen.push(entry.hash);
            } else {
                self.seen[self.next_seen] = entry.hash;
                self.next_seen = (self.next_seen + 1) % CACHED_BODIES;
            }
            return;
        }
        let codes = &entry.codes;
        const STRING: usize = 24;
        entry.bytes = order.len() * 4
            + (codes.measurement_of.len() + codes.tag_of.len()) * 4
            + entry
                .series_keys
                .iter()
                .map(|k| k.len() + STRING)
                .sum::<usize>()
            + std::iter::once(&codes.measurements)
                .chain(&codes.tag_dicts)
                .flat_map(|d| d.dict.iter())
                .map(|v| v.len() + STRING)
                .sum::<usize>();
        entry.order = order.to_vec();
        self.bytes += entry.bytes;
        if self.entries.len() < CACHED_BODIES {
            self.entries.push(entry);
        } else {
            let slot = self.next;
            self.next = (slot + 1) % CACHED_BODIES;
            self.bytes -= self.entries[slot].bytes;
            self.entries[slot] = entry;
        }
    }
}

fn order_hash(order: &[u32]) -> u64 {
    let mut h = order.len() as u64;
    for &s in order {
        h = (h.rotate_left(5) ^ s as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    h
}

/// Renumbers `series` in first-seen order; returns the old id of each new id. `remap` is
/// scratch indexed by old id, all `u32::MAX` on entry and on return (it only grows, so a series
/// table kept across bodies does not cost an allocation of its size per body).
pub fn renumber(series: &mut [u32], known: usize, remap: &mut Vec<u32>) -> Vec<u32> {
    if remap.len() < known {
        remap.resize(known, u32::MAX);
    }
    let mut order: Vec<u32> = Vec::new();
    for s in series.iter_mut() {
        let m = &mut remap[*s as usize];
        if *m == u32::MAX {
            *m = order.len() as u32;
            order.push(*s);
        }
        *s = *m;
    }
    for &old in &order {
        remap[old as usize] = u32::MAX;
    }
    order
}

/// Dictionaries of the used series, and each series' code in them.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub struct SeriesCodes {
    measurements: DictColumn,
    measurement_of: Vec<u32>,
    tag_keys: Vec<String>,
    tag_dicts: Vec<DictColumn>,
    /// `tag_of[series * tag_keys.len() + key]`: the series' code for that key, or NO_TAG.
    tag_of: Vec<u32>,
}

impl SeriesCodes {
    /// Dictionary columns: the measurement, then one per tag key.
    pub fn columns(&self) -> usize {
        1 + self.tag_keys.len()
    }

    /// Series `s`'s code in dictionary column `col` (see [`SeriesCodes::gather`]).
    pub fn code(&self, s: u32, col: usize) -> u32 {
        if col == 0 {
            self.measurement_of[s as usize]
        } else {
            self.tag_of[s as usize * self.tag_keys.len() + col - 1]
        }
    }

    /// The per-row codes of dictionary column `col` (0: measurement, `k + 1`: tag key `k`).
    pub fn gather(&self, series: &[u32], col: usize) -> Vec<u32> {
        if col == 0 {
            return series
                .iter()
                .map(|&s| self.measurement_of[s as usize])
                .collect();
        }
        let ntags = self.tag_keys.len();
        series
            .iter()
            .map(|&s| self.tag_of[s as usize * ntags + col - 1])
            .collect()
    }

    /// The batch, given the [`SeriesCodes::gather`] of every column in order.
    pub fn into_batch(
        self,
        time: Vec<i64>,
        series: Vec<u32>,
        used: &[&SeriesInfo],
        fields: Vec<Column>,
        gathered: Vec<Vec<u32>>,
    ) -> PointBatch {
        let keys = used.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        self.batch(time, series, Arc::new(keys), fields, gathered)
    }

    /// [`SeriesCodes::into_batch`] sharing the dictionaries (and the given series keys).
    pub fn batch(
        &self,
        time: Vec<i64>,
        series: Vec<u32>,
        series_keys: Arc<Vec<String>>,
        fields: Vec<Column>,
        gathered: Vec<Vec<u32>>,
    ) -> PointBatch {
        let mut gathered = gathered.into_iter();
        let dict = |d: &DictColumn, codes: Option<Vec<u32>>| DictColumn {
            codes: codes.unwrap_or_default(),
            dict: d.dict.clone(),
        };
        let measurement = dict(&self.measurements, gathered.next());
        let tags = self
            .tag_dicts
            .iter()
            .map(|d| dict(d, gathered.next()))
            .collect();
        PointBatch {
            time,
            measurement,
            tag_keys: self.tag_keys.clone(),
            tags,
            fields,
            series,
            series_keys,
        }
    }

    /// The codes [`SeriesCodes::new`] would make, made elsewhere ([`TableDicts::body_codes`]).
    pub fn from_parts(
        measurements: Vec<String>,
        measurement_of: Vec<u32>,
        tag_keys: Vec<String>,
        tag_dicts: Vec<Vec<String>>,
        tag_of: Vec<u32>,
    ) -> Self {
        let dict = |d: Vec<String>| DictColumn {
            codes: Vec::new(),
            dict: Arc::new(d),
        };
        SeriesCodes {
            measurements: dict(measurements),
            measurement_of,
            tag_keys,
            tag_dicts: tag_dicts.into_iter().map(dict).collect(),
            tag_of,
        }
    }

    pub fn new(used: &[&SeriesInfo]) -> Self {
        let keys = distinct_tag_keys(used);
        let tag_keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let ntags = tag_keys.len();
        let (mut m_dict, mut m_int) = (Vec::new(), RawMap::new());
        let mut tag_dicts: Vec<(Vec<String>, RawMap)> =
            (0..ntags).map(|_| (Vec::new(), RawMap::new())).collect();
        let mut measurement_of = Vec::with_capacity(used.len());
        let mut tag_of = vec![NO_TAG; used.len() * ntags];
        for (s, info) in used.iter().enumerate() {
            measurement_of.push(intern(&mut m_int, &mut m_dict, &info.measurement));
            // A series' tags are sorted by key, as `keys` is: one merge walk, no lookups.
            let mut kp = 0;
            for (k, v) in &info.tags {
                while !bytes_eq(keys[kp].as_bytes(), k.as_bytes()) {
                    kp += 1;
                }
                let (d, int) = &mut tag_dicts[kp];
                tag_of[s * ntags + kp] = intern(int, d, v);
            }
        }
        let dict = |d: Vec<String>| DictColumn {
            codes: Vec::new(),
            dict: Arc::new(d),
        };
        SeriesCodes {
            measurements: dict(m_dict),
            measurement_of,
            tag_keys,
            tag_dicts: tag_dicts.into_iter().map(|(d, _)| dict(d)).collect(),
            tag_of,
        }
    }
}

/// The tag keys of `used`, sorted, each once. Tag keys are few and series of one measurement
/// mostly have the same ones: a series whose keys are the previous series' is skipped, the
/// others are merged by a linear search.
fn distinct_tag_keys<'a>(used: &[&'a SeriesInfo]) -> Vec<&'a str> {
    let mut keys: Vec<&'a str> = Vec::new();
    let mut last: Option<&'a [(String, String)]> = None;
    for info in used {
        let tags = info.tags.as_slice();
        let same = last
            .is_some_and(|l| l.len() == tags.len() && l.iter().zip(tags).all(|(a, b)| a.0 == b.0));
        if !same {
            for (k, _) in tags {
                if !keys.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
            last = Some(tags);
        }
    }
    keys.sort_unstable();
    keys
}

/// `s`'s code in `dict`, appended when new; `map` indexes `dict` by the string's bytes.
#[inline]
pub(super) fn intern(map: &mut RawMap, dict: &mut Vec<String>, s: &str) -> u32 {
    if let Some(c) = map.get(s.as_bytes()) {
        return c;
    }
    let c = dict.len() as u32;
    dict.push(s.to_owned());
    map.insert(s.as_bytes(), c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(m: &str, tags: &[(&str, &str)]) -> SeriesInfo {
        SeriesInfo {
            measurement: m.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            key: m.into(),
        }
    }

    #[test]
    fn renumber_is_first_seen_and_leaves_scratch_clean() {
        let mut remap = Vec::new();
        let mut series = vec![7, 3, 7, 0, 3];
        assert_eq!(renumber(&mut series, 8, &mut remap), vec![7, 3, 0]);
        assert_eq!(series, vec![0, 1, 0, 2, 1]);
        assert!(remap.iter().all(|&m| m == u32::MAX));
        let mut again = vec![0, 0, 1];
        assert_eq!(renumber(&mut again, 2, &mut remap), vec![0, 1]);
        assert_eq!(again, vec![0, 0, 1]);
    }

    #[test]
    fn codes_walk_sorted_keys_and_share_values() {
        let a = info("cpu", &[("host", "a"), ("zone", "z")]);
        let b = info("mem", &[("cpu", "c0"), ("host", "a")]);
        let c = info("cpu", &[("host", "b")]);
        let codes = SeriesCodes::new(&[&a, &b, &c]);
        assert_eq!(codes.tag_keys, vec!["cpu", "host", "zone"]);
        assert_eq!(codes.gather(&[0, 1, 2], 0), vec![0, 1, 0]);
        assert_eq!(codes.gather(&[0, 1, 2], 1), vec![NO_TAG, 0, NO_TAG]);
        assert_eq!(codes.gather(&[0, 1, 2], 2), vec![0, 0, 1]);
        assert_eq!(codes.gather(&[0, 1, 2], 3), vec![0, NO_TAG, NO_TAG]);
        assert_eq!(*codes.tag_dicts[1].dict, vec!["a", "b"]);
    }

    #[test]
    fn distinct_tag_keys_are_sorted_and_unique() {
        let a = info("cpu", &[("host", "a"), ("zone", "z")]);
        let b = info("cpu", &[("host", "b"), ("zone", "y")]);
        let c = info("mem", &[("cpu", "c0"), ("host", "a")]);
        let d = info("net", &[]);
        assert_eq!(
            distinct_tag_keys(&[&a, &b, &c, &d, &a]),
            vec!["cpu", "host", "zone"]
        );
        assert!(distinct_tag_keys(&[&d]).is_empty());
        assert!(distinct_tag_keys(&[]).is_empty());
    }

    #[test]
    fn intern_appends_once() {
        let (mut map, mut dict) = (RawMap::new(), Vec::new());
        assert_eq!(intern(&mut map, &mut dict, "x"), 0);
        assert_eq!(intern(&mut map, &mut dict, "y"), 1);
        assert_eq!(intern(&mut map, &mut dict, "x"), 0);
        assert_eq!(dict, vec!["x", "y"]);
    }
}
