//! Rows of a batch with compact dictionaries: a group's part of a chunk stays small however many
//! groups (tag values, series) the chunk has. A plain `take` keeps the whole dictionaries.

use std::sync::{Arc, OnceLock};

use super::{DictColumn, PointBatch, NO_TAG};

/// The series keys of a narrow batch: one empty key, shared by every narrow batch (a window
/// keeps its parts' keys, and a vector of its own per group cost about 80 bytes a group).
pub fn one_empty_series_key() -> Arc<Vec<String>> {
    static KEYS: OnceLock<Arc<Vec<String>>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(vec![String::new()])).clone()
}

/// Old code → new code for the entries rows use, first-seen order. A dense table rather than a
/// hash map: dictionaries are small next to the cost of hashing every row (the hot path of
/// `window`, `join` and `barrier`, a group's part of every chunk).
struct Remap {
    map: Vec<u32>,
}

impl Remap {
    fn new(n: usize) -> Self {
        Remap {
            map: vec![NO_TAG; n],
        }
    }

    fn code(&mut self, c: u32, src: &[String], dict: &mut Vec<String>) -> u32 {
        let m = &mut self.map[c as usize];
        if *m == NO_TAG {
            *m = dict.len() as u32;
            dict.push(src[c as usize].clone());
        }
        *m
    }
}

/// A dictionary column of rows `idx` whose dictionary holds only the values those rows use.
fn take_dict(col: &DictColumn, idx: &[usize]) -> DictColumn {
    let mut remap = Remap::new(col.dict.len());
    let mut dict = Vec::new();
    let codes = idx
        .iter()
        .map(|&i| match col.codes[i] {
            NO_TAG => NO_TAG,
            c => remap.code(c, &col.dict, &mut dict),
        })
        .collect();
    DictColumn {
        codes,
        dict: dict.into(),
    }
}

impl PointBatch {
    /// Rows `idx` with only their time, measurement and the fields `keep` (those rows have):
    /// what an aggregate over a window reads. No tags; one empty series key for every row.
    pub fn take_narrow(&self, idx: &[usize], keep: &[String]) -> PointBatch {
        let fields = self
            .fields
            .iter()
            .filter(|c| keep.contains(&c.name))
            .map(|c| c.take(idx))
            .filter(|c| c.valid.iter().any(|&v| v))
            .collect();
        PointBatch {
            time: idx.iter().map(|&i| self.time[i]).collect(),
            // the chunk's measurement dictionary shared: windows cut from parts of one chunk or
            // of chunks with equal dictionaries then keep the codes as they are
            measurement: self.measurement.take(idx),
            tag_keys: Vec::new(),
            tags: Vec::new(),
            fields,
            series: vec![0; idx.len()],
            series_keys: one_empty_series_key(),
        }
    }

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
        let mut remap = Remap::new(self.series_keys.len());
        let mut series_keys = Vec::new();
        let series = idx
            .iter()
            .map(|&i| remap.code(self.series[i], &self.series_keys, &mut series_keys))
            .collect();
        PointBatch {
            time: idx.iter().map(|&i| self.time[i]).collect(),
            measurement: take_dict(&self.measurement, idx),
            tag_keys,
            tags,
            fields,
            series,
            series_keys: series_keys.into(),
        }
    }
}
