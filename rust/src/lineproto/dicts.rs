//! The dictionaries of a series table: every measurement, tag key and tag value its series use,
//! each once, and each series' codes in them. A body's own dictionaries (first-seen order over the series it
//! uses, what [`SeriesCodes::new`] builds from the strings) are then gathered code by code
//! through flat arrays instead of hashing every string of every used series again.
//!
//! Measured (#20): a 5,000-line body over ~1,500 distinct series of a warm index spent ~25 % of
//! its parse interning those strings (7,500 hash probes and compares per body) and in the
//! allocator; the same points parsed as one large body pay that once.

use std::collections::HashMap;

use super::assemble::{intern, SeriesCodes};
use super::hash::RawMap;
use crate::batch::NO_TAG;

/// Strings, each once, by code.
#[derive(Default)]
pub struct Interner {
    pub strings: Vec<String>,
    map: RawMap,
}

impl Interner {
    /// `s`'s code, added when new; the second value: whether it was.
    pub fn code(&mut self, s: &str) -> (u32, bool) {
        let before = self.strings.len();
        let c = intern(&mut self.map, &mut self.strings, s);
        (c, self.strings.len() > before)
    }
}

/// Estimated heap bytes one new interned string costs: its text twice (the string and the
/// map's arena), the `String` header, two hash slots and a scratch entry.
pub fn interned_bytes(s: &str) -> usize {
    2 * s.len() + 24 + 2 * 16 + 4
}

/// A table's dictionaries, each series' codes in them, and scratch for
/// [`TableDicts::body_codes`] (indexed by code, all `u32::MAX` between uses).
///
/// A series' codes sit in one flat array rather than in its [`SeriesInfo`]: a body's
/// ~1,500 series in random order would otherwise cost two cache misses each (the info, then its
/// codes' own allocation).
#[derive(Default)]
pub struct TableDicts {
    pub measurements: Interner,
    pub tag_keys: Interner,
    /// Per tag key code: its values.
    pub tag_values: Vec<Interner>,
    /// Per series id: where its codes start in `codes`, and its set of tag keys.
    series: Vec<(u32, u32)>,
    /// Per series: its measurement's code, then its tag values' codes in key order.
    codes: Vec<u32>,
    /// Sets of tag keys (their codes, sorted as the key strings) by id.
    keysets: Vec<Box<[u32]>>,
    keyset_ids: HashMap<Box<[u32]>, u32>,
    local_m: Vec<u32>,
    local_v: Vec<Vec<u32>>,
    col_of_key: Vec<u32>,
    /// Per key set: where its columns start in a body's column list.
    keyset_cols: Vec<u32>,
}

const FREE: u32 = u32::MAX;

impl TableDicts {
    /// Records the codes of the next series (its id: the number recorded before) from its
    /// measurement and sorted tags; returns the heap bytes that cost.
    pub fn add_series(&mut self, measurement: &str, tags: &[(String, String)]) -> usize {
        let mut bytes = 8 + 4 * (1 + tags.len());
        let start = self.codes.len() as u32;
        let (mcode, new) = self.measurements.code(measurement);
        if new {
            bytes += interned_bytes(measurement);
        }
        self.codes.push(mcode);
        let mut keys = Vec::with_capacity(tags.len());
        for (k, v) in tags {
            let (kc, new) = self.tag_keys.code(k);
            if new {
                bytes += interned_bytes(k);
                self.tag_values.push(Interner::default());
            }
            let (vc, new) = self.tag_values[kc as usize].code(v);
            if new {
                bytes += interned_bytes(v);
            }
            keys.push(kc);
            self.codes.push(vc);
        }
        let keys = keys.into_boxed_slice();
        let keyset = match self.keyset_ids.get(&keys) {
            Some(&id) => id,
            None => {
                let id = self.keysets.len() as u32;
                bytes += 2 * (4 * keys.len() + 16) + 32;
                self.keysets.push(keys.clone());
                self.keyset_ids.insert(keys, id);
                id
            }
        };
        self.series.push((start, keyset));
        bytes
    }

    /// What [`SeriesCodes::new`] makes of the series `order` (ids of this table), from their
    /// codes.
    pub fn body_codes(&mut self, order: &[u32]) -> SeriesCodes {
        let TableDicts {
            measurements,
            tag_keys,
            tag_values,
            series,
            codes,
            keysets,
            local_m,
            local_v,
            col_of_key,
            keyset_cols,
            ..
        } = self;
        // The key sets and tag keys used; keys sorted as their strings.
        col_of_key.resize(tag_keys.strings.len(), FREE);
        keyset_cols.resize(keysets.len(), FREE);
        let (mut sets, mut keys): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let mut last = FREE;
        for &s in order {
            let ks = series[s as usize].1;
            if ks == last || keyset_cols[ks as usize] != FREE {
                last = ks;
                continue;
            }
            last = ks;
            keyset_cols[ks as usize] = 0;
            sets.push(ks);
            for &k in keysets[ks as usize].iter() {
                if col_of_key[k as usize] == FREE {
                    col_of_key[k as usize] = 0;
                    keys.push(k);
                }
            }
        }
        let names = &tag_keys.strings;
        keys.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        for (c, &k) in keys.iter().enumerate() {
            col_of_key[k as usize] = c as u32;
        }
        // Each key set's columns, one list.
        let mut cols: Vec<u32> = Vec::new();
        for &ks in &sets {
            keyset_cols[ks as usize] = cols.len() as u32;
            cols.extend(keysets[ks as usize].iter().map(|&k| col_of_key[k as usize]));
        }
        let ntags = keys.len();
        local_m.resize(measurements.strings.len(), FREE);
        local_v.resize_with(tag_values.len(), Vec::new);
        for &k in &keys {
            local_v[k as usize].resize(tag_values[k as usize].strings.len(), FREE);
        }
        // Per dictionary column, the table's codes of its values in first-seen order.
        let mut m_codes: Vec<u32> = Vec::new();
        let mut v_codes: Vec<Vec<u32>> = vec![Vec::new(); ntags];
        let mut measurement_of = Vec::with_capacity(order.len());
        let mut tag_of = vec![NO_TAG; order.len() * ntags];
        for (i, &s) in order.iter().enumerate() {
            let (start, ks) = series[s as usize];
            let set = &keysets[ks as usize];
            let c = &codes[start as usize..start as usize + 1 + set.len()];
            measurement_of.push(local(local_m, &mut m_codes, c[0]));
            let set_cols = &cols[keyset_cols[ks as usize] as usize..][..set.len()];
            let row = &mut tag_of[i * ntags..(i + 1) * ntags];
            for ((&k, &col), &v) in set.iter().zip(set_cols).zip(&c[1..]) {
                let col = col as usize;
                row[col] = local(&mut local_v[k as usize], &mut v_codes[col], v);
            }
        }
        // The dictionaries' strings; the scratch left clean.
        let m_dict = strings(&m_codes, &measurements.strings, local_m);
        let tag_dicts = keys
            .iter()
            .zip(&v_codes)
            .map(|(&k, vc)| {
                let k = k as usize;
                strings(vc, &tag_values[k].strings, &mut local_v[k])
            })
            .collect();
        for &ks in &sets {
            keyset_cols[ks as usize] = FREE;
        }
        let key_names = keys
            .iter()
            .map(|&k| {
                col_of_key[k as usize] = FREE;
                names[k as usize].clone()
            })
            .collect();
        SeriesCodes::from_parts(m_dict, measurement_of, key_names, tag_dicts, tag_of)
    }
}

/// The body's code of table code `g`, appended to `codes` when new (`map` indexes by `g`).
#[inline]
fn local(map: &mut [u32], codes: &mut Vec<u32>, g: u32) -> u32 {
    let m = &mut map[g as usize];
    if *m == FREE {
        *m = codes.len() as u32;
        codes.push(g);
    }
    *m
}

/// The strings of `codes`, each entry of `map` they set freed again.
fn strings(codes: &[u32], table: &[String], map: &mut [u32]) -> Vec<String> {
    codes
        .iter()
        .map(|&g| {
            map[g as usize] = FREE;
            table[g as usize].clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::key::{SeriesInfo, SeriesTable};

    /// xorshift: reproducible draws without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn body_codes_equal_codes_built_from_the_strings() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut table = SeriesTable::new();
        let keys = ["cpu", "dc", "host", "region", "zone"];
        for _ in 0..400 {
            let mut line = format!("m{}", rng.below(3));
            for k in keys {
                // each tag key in about half of the series, values shared between them
                if rng.below(2) == 0 {
                    line.push_str(&format!(",{k}=v{}", rng.below(12)));
                }
            }
            table.lookup(line.as_bytes(), 0, line.len()).unwrap();
        }
        let n = table.info.len();
        for round in 0..200 {
            let take = 1 + rng.below(n);
            let order: Vec<u32> = (0..take).map(|_| rng.below(n) as u32).collect();
            let used: Vec<&SeriesInfo> = order.iter().map(|&s| &table.info[s as usize]).collect();
            let want = SeriesCodes::new(&used);
            // one table's scratch throughout: each round finds it as clean as the first did
            assert_eq!(table.dicts.body_codes(&order), want, "round {round}");
        }
    }
}
