//! The last step of a parse: per-row series ids → the batch's measurement and tag columns.
//!
//! While parsing, a row only records its series id; each distinct series knows its measurement
//! and tags. Here series are renumbered in first-seen order (dropping those only bad lines used),
//! dictionaries are built once per series, and the per-row codes are gathered column by column.

use std::collections::HashMap;
use std::sync::Arc;

use super::key::{SeriesInfo, SeriesTable};
use crate::batch::{DictColumn, FieldColumns, Interner, PointBatch, NO_TAG};

pub fn assemble(
    time: Vec<i64>,
    mut series: Vec<u32>,
    keys: &SeriesTable,
    fields: FieldColumns,
) -> PointBatch {
    let rows = time.len();
    let used: Vec<&SeriesInfo> = renumber(&mut series, keys.info.len())
        .into_iter()
        .map(|s| &keys.info[s as usize])
        .collect();
    let codes = SeriesCodes::new(&used);
    let mut measurement = codes.measurements;
    measurement.codes = series
        .iter()
        .map(|&s| codes.measurement_of[s as usize])
        .collect();
    let ntags = codes.tag_keys.len();
    let tags = codes
        .tag_dicts
        .into_iter()
        .enumerate()
        .map(|(k, mut d)| {
            d.codes = series
                .iter()
                .map(|&s| codes.tag_of[s as usize * ntags + k])
                .collect();
            d
        })
        .collect();
    PointBatch {
        time,
        measurement,
        tag_keys: codes.tag_keys,
        tags,
        fields: fields.finish(rows),
        series,
        series_keys: used
            .iter()
            .map(|i| i.key.clone())
            .collect::<Vec<_>>()
            .into(),
    }
}

/// Renumbers `series` in first-seen order; returns the old id of each new id.
fn renumber(series: &mut [u32], known: usize) -> Vec<u32> {
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
struct SeriesCodes {
    measurements: DictColumn,
    measurement_of: Vec<u32>,
    tag_keys: Vec<String>,
    tag_dicts: Vec<DictColumn>,
    /// `tag_of[series * tag_keys.len() + key]`: the series' code for that key, or NO_TAG.
    tag_of: Vec<u32>,
}

impl SeriesCodes {
    fn new(used: &[&SeriesInfo]) -> Self {
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
