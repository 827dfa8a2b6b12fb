//! The series key of a line: `measurement[,tag=value...]`, up to the first unescaped space.
//!
//! Parsed in full only the first time a raw key is seen; [`SeriesTable`] remembers raw key bytes
//! so that the millions of lines repeating a few thousand series cost one hash and one compare.
//! Scanning follows InfluxDB 1.x: a byte is escaped when the byte before it is a backslash.

use std::collections::HashMap;

use super::assemble::CodesCache;
use super::dicts::TableDicts;
use super::error::ErrorKind;
use super::escape::{
    decode_lossless_owned, series_key, unescape_into, MEASUREMENT_UNESCAPES, TAG_SPECIALS,
};
use super::hash::RawMap;
use super::Fail;

/// InfluxDB's limit on the length of a series key.
pub const MAX_KEY_LEN: usize = 65535;

/// One distinct series: its measurement and tags (sorted by key), unescaped.
#[derive(Debug)]
pub struct SeriesInfo {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub key: String,
}

/// Raw key bytes → series id, and the series themselves.
pub struct SeriesTable {
    raw: RawMap,
    canonical: HashMap<String, u32>,
    pub info: Vec<SeriesInfo>,
    /// Scratch for [`super::assemble::renumber`], all `u32::MAX` between uses.
    pub remap: Vec<u32>,
    /// Dictionaries of recent bodies, see [`super::assemble::assemble`].
    pub codes: CodesCache,
    /// Every measurement, tag key and value of `info`, each once.
    pub dicts: TableDicts,
    /// Estimated heap bytes held (see [`entry_bytes`]): what a [`super::SeriesIndex`] caps.
    bytes: usize,
}

impl Default for SeriesTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SeriesTable {
    pub fn new() -> Self {
        SeriesTable {
            raw: RawMap::new(),
            canonical: HashMap::new(),
            info: Vec::new(),
            remap: Vec::new(),
            codes: CodesCache::default(),
            dicts: TableDicts::default(),
            bytes: 0,
        }
    }

    /// Estimated heap bytes of the table (keys, strings, hash slots, cached dictionaries).
    pub fn bytes(&self) -> usize {
        self.bytes + self.codes.bytes()
    }

    /// The series id of the key `buf[start..end]`.
    #[inline]
    pub fn lookup(&mut self, buf: &[u8], start: usize, end: usize) -> Result<u32, Fail> {
        match self.raw.get(&buf[start..end]) {
            Some(id) => Ok(id),
            None => self.insert(buf, start, end),
        }
    }

    #[cold]
    fn insert(&mut self, buf: &[u8], start: usize, end: usize) -> Result<u32, Fail> {
        let (measurement, tags) = parse_key(buf, start, end)?;
        let sorted: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (&**k, &**v)).collect();
        let key = series_key(&measurement, &sorted);
        let id = match self.canonical.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.info.len() as u32;
                self.canonical.insert(key.clone(), id);
                let codes_bytes = self.dicts.add_series(&measurement, &tags);
                self.bytes += entry_bytes(end - start, &key, &measurement, &tags) + codes_bytes;
                self.info.push(SeriesInfo {
                    measurement,
                    tags,
                    key,
                });
                id
            }
        };
        self.raw.insert(&buf[start..end], id);
        Ok(id)
    }
}

/// Heap bytes one series costs a [`SeriesTable`], estimated: its raw key (arena) and two hash
/// slots, the canonical key twice (map and info), the measurement, each tag's key and value
/// with their `String` headers, and the `SeriesInfo` and `Vec` headers.
pub fn entry_bytes(
    raw_len: usize,
    key: &str,
    measurement: &str,
    tags: &[(String, String)],
) -> usize {
    const SLOT: usize = 16;
    const STRING: usize = 24;
    let tag_bytes: usize = tags
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2 * STRING)
        .sum();
    raw_len
        + 4 * SLOT
        + 2 * (key.len() + STRING)
        + 8
        + measurement.len()
        + tag_bytes
        + 3 * STRING
        + 24
}

/// The first unescaped space at or after `start`, or the end of the line (`\n` or end of body).
/// Eight bytes at a time until a space, newline or backslash shows up (SWAR), then byte by byte.
#[inline]
pub fn key_end(buf: &[u8], start: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn has(w: u64, b: u8) -> u64 {
        let x = w ^ (LO * b as u64);
        x.wrapping_sub(LO) & !x & HI
    }
    let mut i = start;
    while i + 8 <= buf.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let m = has(w, b' ') | has(w, b'\n') | has(w, b'\\');
        if m != 0 {
            i += (m.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while i < buf.len() {
        let b = buf[i];
        if b == b' ' {
            if i == start || buf[i - 1] != b'\\' {
                return i;
            }
        } else if b == b'\n' {
            return i;
        }
        i += 1;
    }
    i
}

type Tags = Vec<(String, String)>;

/// Parses `buf[start..end]` (the key region) into the measurement and sorted tags.
fn parse_key(buf: &[u8], start: usize, end: usize) -> Result<(String, Tags), Fail> {
    if end > start && buf[end - 1] == b'\\' {
        return Err(Fail::at(ErrorKind::InvalidEscape, end - 1));
    }
    if end - start > MAX_KEY_LEN {
        return Err(Fail::at(ErrorKind::KeyTooLong, start));
    }
    let m_end = measurement_end(buf, start, end)?;
    let measurement = unescaped(buf, start, m_end, MEASUREMENT_UNESCAPES)?;
    let mut tags: Vec<(String, String, usize)> = Vec::new();
    let mut i = m_end;
    while i < end {
        // buf[i] is the comma before a tag.
        let (k_end, v_end) = tag_pair(buf, i + 1, end)?;
        let key = unescaped(buf, i + 1, k_end, TAG_SPECIALS)?;
        let value = unescaped(buf, k_end + 1, v_end, TAG_SPECIALS)?;
        tags.push((key, value, i + 1));
        i = v_end;
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = tags.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Fail::at(ErrorKind::DuplicateTags, w[0].2.max(w[1].2)));
    }
    Ok((
        measurement,
        tags.into_iter().map(|(k, v, _)| (k, v)).collect(),
    ))
}

fn measurement_end(buf: &[u8], start: usize, end: usize) -> Result<usize, Fail> {
    if start >= end || buf[start] == b',' {
        return Err(Fail::at(ErrorKind::MissingMeasurement, start));
    }
    let mut i = start + 1;
    while i < end && !(buf[i] == b',' && buf[i - 1] != b'\\') {
        i += 1;
    }
    Ok(i)
}

/// Scans `key=value` at `start`; returns the positions of the `=` and of the end of the value.
fn tag_pair(buf: &[u8], start: usize, end: usize) -> Result<(usize, usize), Fail> {
    if start >= end || buf[start] == b',' || buf[start] == b'=' {
        return Err(Fail::at(ErrorKind::MissingTagKey, start));
    }
    let mut i = start + 1;
    loop {
        if i >= end || (buf[i] == b',' && buf[i - 1] != b'\\') {
            return Err(Fail::at(ErrorKind::MissingTagValue, i));
        }
        if buf[i] == b'=' && buf[i - 1] != b'\\' {
            break;
        }
        i += 1;
    }
    let eq = i;
    let v = eq + 1;
    if v >= end || buf[v] == b',' {
        return Err(Fail::at(ErrorKind::MissingTagValue, v));
    }
    let mut j = v + 1;
    while j < end {
        let unescaped = buf[j - 1] != b'\\';
        if buf[j] == b'=' && unescaped {
            return Err(Fail::at(ErrorKind::InvalidTagFormat, j));
        }
        if buf[j] == b',' && unescaped {
            break;
        }
        j += 1;
    }
    Ok((eq, j))
}

fn unescaped(buf: &[u8], start: usize, end: usize, specials: &[u8]) -> Result<String, Fail> {
    let mut out = Vec::with_capacity(end - start);
    unescape_into(&buf[start..end], specials, &mut out);
    // not UTF-8: the bytes are kept, as InfluxDB 1.x keeps them (escape.rs)
    Ok(decode_lossless_owned(out))
}
