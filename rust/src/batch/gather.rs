//! [`gather`]: rows of several batches, in order, as one batch with compact dictionaries, in one
//! pass and without an intermediate copy per part. The same points as `concat` of each part's
//! `take`, for the common case where every field keeps one type across the parts (a window cut
//! from the pieces a group buffered); other cases go that slower exact way.

use std::collections::HashMap;
use std::sync::Arc;

use super::{concat, Column, ColumnData, DictColumn, FieldKind, PointBatch, StrColumn, NO_TAG};

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

/// `concat(batches).take(order)` (`order`: each row number of the batches' concatenation once,
/// in the order wanted) without the concatenation: the rows are gathered from the batches
/// straight into the output, one copy instead of two (`union`'s time merge). Dictionaries are
/// the concatenation's (entries in the order rows of the batches, in turn, first use them), so
/// the result equals the two-step one exactly. A field with two types (or mixed) among the
/// batches takes the two-step way, whose column turns mixed.
pub fn concat_take(batches: &[&PointBatch], order: &[usize]) -> PointBatch {
    let mut names: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.fields.iter().map(|c| c.name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let one_kind = names.iter().all(|name| {
        let mut kinds = batches
            .iter()
            .filter_map(|b| b.field(name))
            .map(|c| c.data.kind());
        let first = kinds.next();
        first != Some(FieldKind::Mixed) && kinds.all(|k| Some(k) == first)
    });
    if !one_kind {
        return concat(batches).take(order);
    }
    // (batch, row) of each output row
    let mut starts = Vec::with_capacity(batches.len());
    let mut total = 0;
    for b in batches {
        starts.push(total);
        total += b.len();
    }
    let at: Vec<(usize, usize)> = order
        .iter()
        .map(|&k| {
            let p = starts.partition_point(|&s| s <= k) - 1;
            (p, k - starts[p])
        })
        .collect();
    let time = at.iter().map(|&(p, i)| batches[p].time[i]).collect();
    let measurement = dict_take(
        &batches
            .iter()
            .map(|b| Some(&b.measurement))
            .collect::<Vec<_>>(),
        &at,
    );
    let mut keys: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.tag_keys.iter().map(|k| k.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut tag_keys = Vec::new();
    let mut tags = Vec::new();
    for key in keys {
        let cols: Vec<Option<&DictColumn>> = batches.iter().map(|b| b.tag(key)).collect();
        let col = dict_take(&cols, &at);
        if col.codes.iter().any(|&c| c != NO_TAG) {
            tag_keys.push(key.to_owned());
            tags.push(col);
        }
    }
    let fields = names
        .iter()
        .filter_map(|name| {
            let cols: Vec<Option<&Column>> = batches.iter().map(|b| b.field(name)).collect();
            field_take(name, &cols, &at)
        })
        .collect();
    // series keys: the concatenation's, in the order rows first use them
    let parts: Vec<Option<CodedPart<'_>>> = batches
        .iter()
        .map(|b| Some((b.series.as_slice(), &b.series_keys)))
        .collect();
    let (maps, series_keys) = first_use(&parts);
    let series = at
        .iter()
        .map(|&(p, i)| maps[p][batches[p].series[i] as usize])
        .collect();
    PointBatch {
        time,
        measurement,
        tag_keys,
        tags,
        fields,
        series,
        series_keys: series_keys.into(),
    }
}

/// A part's codes and the dictionary they index.
type CodedPart<'a> = (&'a [u32], &'a Arc<Vec<String>>);

/// The entries of the parts' dictionaries their codes use, in the order the parts' codes, in
/// turn, first use them (`None`: a part without the column), and per part the map from its codes
/// to the merged dictionary's. Parts sharing one dictionary (the parts of one batch a `where`
/// split: the common case) are mapped code by code, without hashing a string; others by string.
/// Both give the same dictionary: the entries of a dictionary are distinct (builders intern).
fn first_use(parts: &[Option<CodedPart<'_>>]) -> (Vec<Vec<u32>>, Vec<String>) {
    let mut dicts = parts.iter().flatten().map(|(_, d)| *d);
    let shared = dicts
        .next()
        .filter(|first| dicts.all(|d| Arc::ptr_eq(d, first)));
    if let Some(dict) = shared {
        let mut map = vec![NO_TAG; dict.len()];
        let mut out = Vec::new();
        for (codes, _) in parts.iter().flatten() {
            for &c in *codes {
                if c != NO_TAG && map[c as usize] == NO_TAG {
                    map[c as usize] = out.len() as u32;
                    out.push(dict[c as usize].clone());
                }
            }
        }
        let maps = parts
            .iter()
            .map(|p| if p.is_some() { map.clone() } else { Vec::new() })
            .collect();
        return (maps, out);
    }
    let mut d = DictOut::new();
    let maps = parts
        .iter()
        .map(|part| {
            let Some((codes, dict)) = part else {
                return Vec::new();
            };
            let mut map = vec![NO_TAG; dict.len()];
            for &c in *codes {
                if c != NO_TAG {
                    d.code(&mut map, dict, c);
                }
            }
            map
        })
        .collect();
    (maps, d.finish())
}

/// One dictionary column over the batches (`None`: a batch without it, no value there), its
/// dictionary in the order the batches' rows, in turn, first use the entries.
fn dict_take(cols: &[Option<&DictColumn>], at: &[(usize, usize)]) -> DictColumn {
    let parts: Vec<Option<CodedPart<'_>>> = cols
        .iter()
        .map(|c| c.map(|c| (c.codes.as_slice(), &c.dict)))
        .collect();
    let (maps, dict) = first_use(&parts);
    let codes = at
        .iter()
        .map(|&(p, i)| match cols[p] {
            Some(col) => match col.codes[i] {
                NO_TAG => NO_TAG,
                c => maps[p][c as usize],
            },
            None => NO_TAG,
        })
        .collect();
    DictColumn {
        codes,
        dict: dict.into(),
    }
}

/// One field (of one type in every batch that has it) over the rows `at`; `None` when no row
/// has it. Rows without it hold the padding `concat` gives them (0, false, "").
fn field_take(name: &str, cols: &[Option<&Column>], at: &[(usize, usize)]) -> Option<Column> {
    let first = cols.iter().flatten().next()?;
    let valid: Vec<bool> = at
        .iter()
        .map(|&(p, i)| cols[p].is_some_and(|c| c.valid[i]))
        .collect();
    if !valid.iter().any(|&v| v) {
        return None;
    }
    macro_rules! gather_as {
        ($variant:ident, $default:expr) => {{
            let data = at
                .iter()
                .map(|&(p, i)| match cols[p].map(|c| &c.data) {
                    Some(ColumnData::$variant(v)) => v[i],
                    _ => $default,
                })
                .collect();
            ColumnData::$variant(data)
        }};
    }
    let data = match &first.data {
        ColumnData::Float(_) => gather_as!(Float, 0.0),
        ColumnData::Int(_) => gather_as!(Int, 0),
        ColumnData::UInt(_) => gather_as!(UInt, 0),
        ColumnData::Bool(_) => gather_as!(Bool, false),
        ColumnData::Str(_) => {
            let mut out = StrColumn::new();
            for &(p, i) in at {
                match cols[p].map(|c| &c.data) {
                    Some(ColumnData::Str(s)) => out.push(s.get(i)),
                    _ => out.push(""),
                }
            }
            ColumnData::Str(out)
        }
        ColumnData::Mixed(_) => unreachable!("concat_take: mixed columns take the two-step way"),
    };
    Some(Column {
        name: name.to_owned(),
        data,
        valid,
    })
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

    fn same_as_concat_take(batches: &[&PointBatch], order: &[usize]) {
        let want = concat(batches).take(order);
        assert_eq!(concat_take(batches, order), want);
    }

    #[test]
    fn concat_take_is_concat_then_take() {
        let a = lp("m,h=a,x=1 f=1,s=\"p\" 1\nn,h=b g=2i 3\nm,h=c f=3,b=true 5\n");
        let b = lp("m,h=c,y=2 f=4 2\nm g=5i,s=\"q\" 4\nm,h=a,x=1 f=6 6\n");
        same_as_concat_take(&[&a, &b], &[0, 3, 1, 4, 2, 5]);
        same_as_concat_take(&[&b, &a], &[3, 0, 4, 1, 5, 2]);
        same_as_concat_take(&[&a, &b], &[0, 1, 2, 3, 4, 5]);
        same_as_concat_take(&[&a], &[2, 1, 0]);
        same_as_concat_take(&[], &[]);
        let c = lp("z,k=v u=7u,t=\"\" 1\n");
        same_as_concat_take(&[&a, &c, &b], &[6, 0, 3, 1, 4, 5, 2]);
        // a field with two types: the column turns mixed, as concat makes it
        let d = lp("m f=1i 1\n");
        same_as_concat_take(&[&a, &d], &[3, 0, 1, 2]);
        let mixed = concat(&[&a, &d]);
        same_as_concat_take(&[&mixed, &b], &[4, 0, 5, 1, 2, 6, 3]);
        // parts of one batch share its dictionaries (mapped code by code)
        let whole = lp("m,h=a f=1 1\nm,h=b f=2 2\nm,h=c f=3 3\nm,h=a f=4 4\n");
        let (odd, even) = (whole.take(&[1, 3]), whole.take(&[0, 2]));
        assert!(Arc::ptr_eq(&odd.tags[0].dict, &even.tags[0].dict));
        same_as_concat_take(&[&odd, &even], &[2, 0, 3, 1]);
        same_as_concat_take(&[&odd, &even, &b], &[4, 2, 0, 5, 3, 1, 6]);
    }
}
