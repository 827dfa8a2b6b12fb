//! The dictionaries of a series table: every measurement, tag key and tag value its series use,
//! each once, with each series holding its codes ([`SeriesInfo::mcode`],
//! [`SeriesInfo::tcodes`]). A body's own dictionaries (first-seen order over the series it
//! uses, what [`SeriesCodes::new`] builds from the strings) are then gathered code by code
//! through flat arrays instead of hashing every string of every used series again.
//!
//! Measured (#20): a 5,000-line body over ~1,500 distinct series of a warm index spent ~25 % of
//! its parse interning those strings (7,500 hash probes and compares per body) and in the
//! allocator; the same points parsed as one large body pay that once.

use super::assemble::{intern, SeriesCodes};
use super::hash::RawMap;
use super::key::SeriesInfo;
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

/// A table's dictionaries, and scratch for [`TableDicts::body_codes`] (indexed by code, all
/// `u32::MAX` between uses).
#[derive(Default)]
pub struct TableDicts {
    pub measurements: Interner,
    pub tag_keys: Interner,
    /// Per tag key code: its values.
    pub tag_values: Vec<Interner>,
    local_m: Vec<u32>,
    local_v: Vec<Vec<u32>>,
    col_of_key: Vec<u32>,
}

const FREE: u32 = u32::MAX;

impl TableDicts {
    /// The codes of a new series' measurement and (sorted) tags, and the heap bytes the
    /// strings new to the table cost.
    pub fn series_codes(
        &mut self,
        measurement: &str,
        tags: &[(String, String)],
    ) -> (u32, Vec<(u32, u32)>, usize) {
        let mut bytes = 0;
        let (mcode, new) = self.measurements.code(measurement);
        if new {
            bytes += interned_bytes(measurement);
        }
        let mut tcodes = Vec::with_capacity(tags.len());
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
            tcodes.push((kc, vc));
        }
        (mcode, tcodes, bytes)
    }

    /// What [`SeriesCodes::new`] makes of `used` (series of this table), from their codes.
    pub fn body_codes(&mut self, used: &[&SeriesInfo]) -> SeriesCodes {
        // The tag keys used, sorted as their strings: series of one measurement mostly have the
        // same keys, so a series whose keys are the previous one's is skipped.
        self.col_of_key.resize(self.tag_keys.strings.len(), FREE);
        let mut keys: Vec<u32> = Vec::new();
        let mut last: &[(u32, u32)] = &[];
        for info in used {
            let t = info.tcodes.as_slice();
            if t.len() == last.len() && t.iter().zip(last).all(|(a, b)| a.0 == b.0) {
                continue;
            }
            for &(k, _) in t {
                if self.col_of_key[k as usize] == FREE {
                    self.col_of_key[k as usize] = 0;
                    keys.push(k);
                }
            }
            last = t;
        }
        let names = &self.tag_keys.strings;
        keys.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        for (c, &k) in keys.iter().enumerate() {
            self.col_of_key[k as usize] = c as u32;
        }
        let ntags = keys.len();
        self.local_m.resize(self.measurements.strings.len(), FREE);
        self.local_v.resize_with(self.tag_values.len(), Vec::new);
        for &k in &keys {
            let n = self.tag_values[k as usize].strings.len();
            self.local_v[k as usize].resize(n, FREE);
        }
        // Per dictionary column, the table's codes of its values in first-seen order.
        let mut m_codes: Vec<u32> = Vec::new();
        let mut v_codes: Vec<Vec<u32>> = vec![Vec::new(); ntags];
        let mut measurement_of = Vec::with_capacity(used.len());
        let mut tag_of = vec![NO_TAG; used.len() * ntags];
        for (s, info) in used.iter().enumerate() {
            measurement_of.push(local(&mut self.local_m, &mut m_codes, info.mcode));
            let row = &mut tag_of[s * ntags..(s + 1) * ntags];
            for &(k, v) in &info.tcodes {
                let c = self.col_of_key[k as usize] as usize;
                row[c] = local(&mut self.local_v[k as usize], &mut v_codes[c], v);
            }
        }
        // The dictionaries' strings; the scratch left clean.
        let measurements = strings(&m_codes, &self.measurements.strings, &mut self.local_m);
        let tag_dicts = keys
            .iter()
            .zip(&v_codes)
            .map(|(&k, codes)| {
                let k = k as usize;
                strings(codes, &self.tag_values[k].strings, &mut self.local_v[k])
            })
            .collect();
        let tag_keys = keys
            .iter()
            .map(|&k| {
                self.col_of_key[k as usize] = FREE;
                names[k as usize].clone()
            })
            .collect();
        SeriesCodes::from_parts(measurements, measurement_of, tag_keys, tag_dicts, tag_of)
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
    use crate::lineproto::key::SeriesTable;

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
            let used: Vec<&SeriesInfo> = (0..take).map(|_| &table.info[rng.below(n)]).collect();
            let want = SeriesCodes::new(&used);
            // one table's scratch throughout: each round finds it as clean as the first did
            assert_eq!(table.dicts.body_codes(&used), want, "round {round}");
        }
    }
}
