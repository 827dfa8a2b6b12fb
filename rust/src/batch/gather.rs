//! [`gather`]: rows of several batches, in order, as one batch with compact dictionaries, in one
//! pass and without an intermediate copy per part. The same points as `concat` of each part's
//! `take`, for the common case where every field keeps one type across the parts (a window cut
//! from the pieces a group buffered); other cases go that slower exact way.

use std::collections::HashMap;

use super::{concat, Column, ColumnData, DictColumn, PointBatch, StrColumn, NO_TAG};

/// Up to this many entries a dictionary is searched by comparing strings: a window's dictionaries
/// hold a handful of values, cheaper to scan than to hash.
const SCAN: usize = 16;

/// Interns the entries rows use into one output dictionary, in first-seen order. Entries are
/// borrowed from the sources until [`DictOut::finish`].
struct DictOut<'a> {
    dict: Vec<&'a str>,
    /// built once the dictionary outgrows [`SCAN`]
    index: Option<HashMap<&'a str, u32>>,
}

impl<'a> DictOut<'a> {
    fn new() -> Self {
        DictOut {
            dict: Vec::new(),
            index: None,
        }
    }

    fn intern(&mut self, s: &'a str) -> u32 {
        let next = self.dict.len() as u32;
        if let Some(index) = &mut self.index {
            return *index.entry(s).or_insert_with(|| {
                self.dict.push(s);
                next
            });
        }
        if let Some(c) = self.dict.iter().position(|&d| d == s) {
            return c as u32;
        }
        self.dict.push(s);
        if self.dict.len() > SCAN {
            let index = self.dict.iter().enumerate().map(|(i, &d)| (d, i as u32));
            self.index = Some(index.collect());
        }
        next
    }

    /// Codes of `idx` rows of `src` appended to `codes`; `map` is scratch (reused, no allocation
    /// per column and part).
    fn extend(
        &mut self,
        codes: &mut Vec<u32>,
        src: &'a DictColumn,
        idx: &[usize],
        map: &mut Vec<u32>,
    ) {
        map.clear();
        map.resize(src.dict.len(), NO_TAG);
        for &i in idx {
            codes.push(match src.codes[i] {
                NO_TAG => NO_TAG,
                c => self.code(map, &src.dict, c),
            });
        }
    }

    /// The output code of entry `c` of `src`; `map` caches them, one slot per entry.
    fn code(&mut self, map: &mut [u32], src: &'a [String], c: u32) -> u32 {
        let m = &mut map[c as usize];
        if *m == NO_TAG {
            *m = self.intern(src[c as usize].as_str());
        }
        *m
    }

    fn finish(self) -> Vec<String> {
        self.dict.into_iter().map(str::to_owned).collect()
    }
}

/// Rows `idx` of each part, in order. Fields and tags no gathered row has are left out.
pub fn gather(parts: &[(&PointBatch, &[usize])]) -> PointBatch {
    match fast_fields(parts) {
        Some(names) => gather_fast(parts, &names),
        None => {
            let taken: Vec<PointBatch> = parts.iter().map(|(b, idx)| b.take(idx)).collect();
            concat(&taken.iter().collect::<Vec<_>>())
        }
    }
}

/// The field names of the parts, sorted, when no name has two types or a mixed column among the
/// rows gathered (else `None`).
fn fast_fields<'a>(parts: &[(&'a PointBatch, &[usize])]) -> Option<Vec<&'a str>> {
    let mut names: Vec<&str> = Vec::new();
    for (b, _) in parts {
        names.extend(b.fields.iter().map(|c| c.name.as_str()));
    }
    names.sort_unstable();
    names.dedup();
    for name in &names {
        let mut kind = None;
        for (b, idx) in parts {
            let Some(c) = b.field(name) else { continue };
            if !idx.iter().any(|&i| c.valid[i]) {
                continue;
            }
            let k = c.data.kind();
            if matches!(c.data, ColumnData::Mixed(_)) || kind.is_some_and(|x| x != k) {
                return None;
            }
            kind = Some(k);
        }
    }
    Some(names)
}

fn gather_fast(parts: &[(&PointBatch, &[usize])], names: &[&str]) -> PointBatch {
    let rows: usize = parts.iter().map(|(_, idx)| idx.len()).sum();
    let mut time = Vec::with_capacity(rows);
    for (b, idx) in parts {
        time.extend(idx.iter().map(|&i| b.time[i]));
    }
    let mut map = Vec::new();
    let mut mcodes = Vec::with_capacity(rows);
    let mut mdict = DictOut::new();
    for (b, idx) in parts {
        mdict.extend(&mut mcodes, &b.measurement, idx, &mut map);
    }
    let mut keys: Vec<&str> = Vec::new();
    for (b, _) in parts {
        keys.extend(b.tag_keys.iter().map(|k| k.as_str()));
    }
    keys.sort_unstable();
    keys.dedup();
    let mut tag_keys = Vec::new();
    let mut tags = Vec::new();
    for key in keys {
        let mut codes = Vec::with_capacity(rows);
        let mut d = DictOut::new();
        for (b, idx) in parts {
            match b.tag(key) {
                Some(col) => d.extend(&mut codes, col, idx, &mut map),
                None => codes.resize(codes.len() + idx.len(), NO_TAG),
            }
        }
        if codes.iter().any(|&c| c != NO_TAG) {
            tag_keys.push(key.to_owned());
            tags.push(DictColumn {
                codes,
                dict: d.finish().into(),
            });
        }
    }
    let fields = names
        .iter()
        .filter_map(|name| gather_field(parts, name, rows))
        .collect();
    let mut series = Vec::with_capacity(rows);
    let mut sdict = DictOut::new();
    for (b, idx) in parts {
        map.clear();
        map.resize(b.series_keys.len(), NO_TAG);
        for &i in *idx {
            series.push(sdict.code(&mut map, &b.series_keys, b.series[i]));
        }
    }
    PointBatch {
        time,
        measurement: DictColumn {
            codes: mcodes,
            dict: mdict.finish().into(),
        },
        tag_keys,
        tags,
        fields,
        series,
        series_keys: sdict.finish().into(),
    }
}

/// One field over all parts (its one type known), `None` when no gathered row has it.
fn gather_field(parts: &[(&PointBatch, &[usize])], name: &str, rows: usize) -> Option<Column> {
    let first = parts
        .iter()
        .filter_map(|(b, idx)| b.field(name).filter(|c| idx.iter().any(|&i| c.valid[i])))
        .next()?;
    let mut valid = Vec::with_capacity(rows);
    let mut data = match &first.data {
        ColumnData::Str(_) => ColumnData::Str(StrColumn::new()),
        d => ColumnData::empty(d.kind()),
    };
    for (b, idx) in parts {
        // a column with no gathered row valid is absent here, whatever its type
        let src = b.field(name).filter(|c| idx.iter().any(|&i| c.valid[i]));
        match src {
            Some(c) => {
                valid.extend(idx.iter().map(|&i| c.valid[i]));
                append_rows(&mut data, &c.data, idx);
            }
            None => {
                valid.resize(valid.len() + idx.len(), false);
                append_defaults(&mut data, idx.len());
            }
        }
    }
    Some(Column {
        name: name.to_owned(),
        data,
        valid,
    })
}

fn append_rows(dst: &mut ColumnData, src: &ColumnData, idx: &[usize]) {
    match (dst, src) {
        (ColumnData::Float(d), ColumnData::Float(s)) => d.extend(idx.iter().map(|&i| s[i])),
        (ColumnData::Int(d), ColumnData::Int(s)) => d.extend(idx.iter().map(|&i| s[i])),
        (ColumnData::UInt(d), ColumnData::UInt(s)) => d.extend(idx.iter().map(|&i| s[i])),
        (ColumnData::Bool(d), ColumnData::Bool(s)) => d.extend(idx.iter().map(|&i| s[i])),
        (ColumnData::Str(d), ColumnData::Str(s)) => idx.iter().for_each(|&i| d.push(s.get(i))),
        // fast_fields let no other pair through
        _ => unreachable!("gather: field types checked before"),
    }
}

fn append_defaults(dst: &mut ColumnData, n: usize) {
    match dst {
        ColumnData::Float(d) => d.resize(d.len() + n, 0.0),
        ColumnData::Int(d) => d.resize(d.len() + n, 0),
        ColumnData::UInt(d) => d.resize(d.len() + n, 0),
        ColumnData::Bool(d) => d.resize(d.len() + n, false),
        ColumnData::Str(d) => (0..n).for_each(|_| d.push("")),
        ColumnData::Mixed(d) => d.resize(d.len() + n, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::{parse, Precision};

    fn lp(text: &str) -> PointBatch {
        let out = parse(text.as_bytes(), Precision::Nanosecond, 0);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.batch
    }

    fn same_as_concat(parts: &[(&PointBatch, &[usize])]) {
        let taken: Vec<PointBatch> = parts.iter().map(|(b, idx)| b.take(idx)).collect();
        let want = concat(&taken.iter().collect::<Vec<_>>());
        let got = gather(parts);
        assert!(got.same_points(&want), "{got:?}\n!=\n{want:?}");
        assert_eq!(got.tag_keys, want.tag_keys);
        let names = |b: &PointBatch| b.fields.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got), names(&want));
        assert_eq!(got.series_keys, want.series_keys);
        assert_eq!(got.measurement.dict, want.measurement.dict);
    }

    #[test]
    fn matches_take_then_concat() {
        let a = lp("m,h=a,x=1 f=1,s=\"p\" 1\nn,h=b g=2i 2\nm,h=c f=3,b=true 3\n");
        let b = lp("m,h=c,y=2 f=4 4\nm g=5i,s=\"q\" 5\n");
        same_as_concat(&[(&a, &[0, 2]), (&b, &[1, 0])]);
        same_as_concat(&[(&a, &[1]), (&b, &[])]);
        same_as_concat(&[(&a, &[2, 2, 0]), (&b, &[1])]);
        same_as_concat(&[]);
        // a field of another type in a row not gathered: still the fast way
        let c = lp("m f=1i 1\nm f=2 2\n");
        let only_float = gather(&[(&a, &[0]), (&c, &[1])]);
        assert!(only_float.same_points(&concat(&[&a.take(&[0]), &c.take(&[1])])));
    }

    #[test]
    fn many_values_past_the_scan_limit() {
        let text: String = (0..100)
            .map(|i| format!("m,h=h{} f={i} {i}\n", i % 40))
            .collect();
        let a = lp(&text);
        let b = lp("m,h=h39 f=1 1\nm,h=new f=2 2\n");
        let all: Vec<usize> = (0..100).rev().collect();
        same_as_concat(&[(&a, &all), (&b, &[1, 0])]);
        assert_eq!(gather(&[(&a, &all), (&b, &[1, 0])]).tags[0].dict.len(), 41);
    }

    #[test]
    fn two_types_fall_back_to_mixed() {
        let a = lp("m f=1 1\n");
        let b = lp("m f=2i 2\n");
        same_as_concat(&[(&a, &[0]), (&b, &[0])]);
        assert_eq!(
            gather(&[(&a, &[0]), (&b, &[0])]).fields[0]
                .data
                .kind()
                .name(),
            "mixed"
        );
    }
}
