//! The last step of a parse: per-row series ids → the batch's measurement and tag columns.
//!
//! While parsing, a row only records its series id; each distinct series knows its measurement
//! and tags. Here series are renumbered in first-seen order (dropping those only bad lines used),
//! dictionaries are built once per series, and the per-row codes are gathered column by column.

use std::collections::HashMap;
use std::sync::Arc;

use super::key::SeriesInfo;
use crate::batch::{Column, DictColumn, Interner, PointBatch, NO_TAG};

/// The batch of rows whose series ids (`series`) index `used`, which must be in first-seen
/// order (see [`renumber`]): dictionaries are built in that order.
pub fn assemble(
    time: Vec<i64>,
    series: Vec<u32>,
    used: &[&SeriesInfo],
    fields: Vec<Column>,
) -> PointBatch {
    let codes = SeriesCodes::new(used);
    let gathered = (0..codes.columns())
        .map(|c| codes.gather(&series, c))
        .collect();
    codes.into_batch(time, series, used, fields, gathered)
}

/// Renumbers `series` in first-seen order; returns the old id of each new id.
pub fn renumber(series: &mut [u32], known: usize) -> Vec<u32> {
    let mut remap = vec![u32::MAX; known];
    let mut order: Vec<u32> = Vec::new();
    for s in series.iter_mut() {
        let m = &mut remap[*s as usize];
        if *m == u32::MAX {
            *m = order.len() as u32;
            order.push(*s);
        }
        *s = *m;
    }
    order
}

/// Dictionaries of the used series, and each series' code in them.
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
        let mut gathered = gathered.into_iter();
        let mut measurement = self.measurements;
        measurement.codes = gathered.next().unwrap_or_default();
        let tags = self
            .tag_dicts
            .into_iter()
            .zip(gathered)
            .map(|(mut d, codes)| {
                d.codes = codes;
                d
            })
            .collect();
        PointBatch {
            time,
            measurement,
            tag_keys: self.tag_keys,
            tags,
            fields,
            series,
            series_keys: used
                .iter()
                .map(|i| i.key.clone())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    pub fn new(used: &[&SeriesInfo]) -> Self {
        let mut tag_keys: Vec<String> = used
            .iter()
            .flat_map(|i| i.tags.iter().map(|(k, _)| k.clone()))
            .collect();
        tag_keys.sort();
        tag_keys.dedup();
        let ntags = tag_keys.len();
        let key_pos: HashMap<&str, usize> = tag_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let mut measurements = DictColumn::default();
        let mut m_int = Interner::default();
        let mut tag_dicts: Vec<(DictColumn, Interner)> =
            (0..ntags).map(|_| Default::default()).collect();
        let mut measurement_of = Vec::with_capacity(used.len());
        let mut tag_of = vec![NO_TAG; used.len() * ntags];
        for (s, info) in used.iter().enumerate() {
            measurement_of
                .push(m_int.intern(Arc::make_mut(&mut measurements.dict), &info.measurement));
            for (k, v) in &info.tags {
                let kp = key_pos[k.as_str()];
                let (d, int) = &mut tag_dicts[kp];
                tag_of[s * ntags + kp] = int.intern(Arc::make_mut(&mut d.dict), v);
            }
        }
        SeriesCodes {
            measurements,
            measurement_of,
            tag_keys,
            tag_dicts: tag_dicts.into_iter().map(|(d, _)| d).collect(),
            tag_of,
        }
    }
}
