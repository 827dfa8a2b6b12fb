//! Rows of a batch with compact dictionaries: a group's part of a chunk stays small however many
//! groups (tag values, series) the chunk has. A plain `take` keeps the whole dictionaries.

use std::collections::HashMap;

use super::{DictColumn, PointBatch, NO_TAG};

/// A dictionary column of rows `idx` whose dictionary holds only the values those rows use.
fn take_dict(col: &DictColumn, idx: &[usize]) -> DictColumn {
    let mut remap: HashMap<u32, u32> = HashMap::new();
    let mut dict = Vec::new();
    let codes = idx
        .iter()
        .map(|&i| match col.codes[i] {
            NO_TAG => NO_TAG,
            c => *remap.entry(c).or_insert_with(|| {
                dict.push(col.dict[c as usize].clone());
                (dict.len() - 1) as u32
            }),
        })
        .collect();
    DictColumn { codes, dict }
}

impl PointBatch {
    /// Rows `idx`, with only the measurements, tag values and series keys they use; fields all
    /// null and tags absent in those rows are left out.
    pub fn take_compact(&self, idx: &[usize]) -> PointBatch {
        let fields = self
            .fields
            .iter()
            .map(|c| c.take(idx))
            .filter(|c| c.valid.iter().any(|&v| v))
            .collect();
        let (tag_keys, tags) = self
            .tag_keys
            .iter()
            .zip(&self.tags)
            .map(|(k, c)| (k.clone(), take_dict(c, idx)))
            .filter(|(_, c)| c.codes.iter().any(|&x| x != NO_TAG))
            .unzip();
        // Series codes are never NO_TAG: every used series key is copied once.
        let mut remap: HashMap<u32, u32> = HashMap::new();
        let mut series_keys = Vec::new();
        let series = idx
            .iter()
            .map(|&i| {
                let c = self.series[i];
                *remap.entry(c).or_insert_with(|| {
                    series_keys.push(self.series_keys[c as usize].clone());
                    (series_keys.len() - 1) as u32
                })
            })
            .collect();
        PointBatch {
            time: idx.iter().map(|&i| self.time[i]).collect(),
            measurement: take_dict(&self.measurement, idx),
            tag_keys,
            tags,
            fields,
            series,
            series_keys,
        }
    }
}
