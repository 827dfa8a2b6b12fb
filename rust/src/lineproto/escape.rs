//! Escaping rules of InfluxDB 1.x line protocol, both ways.
//!
//! * measurement: `\,` and `\ ` are written; `\,` `\ ` `\=` `\"` are read (InfluxDB's
//!   `Name()` unescapes all four: `cpu\=load` is `cpu=load`);
//! * tag keys and values: `\,` `\ ` `\=`;
//! * field keys: `\,` `\ ` `\=` `\"`;
//! * string field values: `\"` and `\\`.
//!
//! Any other backslash is a literal backslash (`C:\temp` stays as written), exactly as InfluxDB
//! 1.x reads it. A consequence InfluxDB shares: a name that *ends* in a backslash cannot be
//! written (the backslash would escape the separator after it), and neither can a field key
//! with an odd run of backslashes right before an escapable character. [`check_name`] reports
//! those instead of writing text that would read back differently; the parser never produces
//! them.
//!
//! Bytes that are not UTF-8 in a measurement, tag or string value are kept, as InfluxDB 1.x
//! keeps them (a field key must be UTF-8: InfluxDB cannot store another): the parser maps each byte of
//! an invalid sequence to a private-use character (`U+10FF00 + byte`, [`decode_lossless`]) and
//! the writer maps those back to the byte ([`write_raw`]), so a Latin-1 tag value is its own
//! group and goes out as it came in. Kapacitor and InfluxDB 1.x (whose `validate-keys` is off
//! by default, and absent before 1.8) accept such lines, so kapfast does too. Text that really
//! holds one of the 128 plane-16 private-use characters the writer reads as raw bytes is kept as
//! its four bytes the same way, so it also goes out unchanged (the fuzzer's round-trip case).

use std::borrow::Cow;

pub const MEASUREMENT_SPECIALS: &[u8] = b", ";
/// What a measurement's backslash escapes when read (InfluxDB's `escape.Unescape`).
pub const MEASUREMENT_UNESCAPES: &[u8] = b", =\"";
pub const TAG_SPECIALS: &[u8] = b", =";
pub const FIELD_KEY_SPECIALS: &[u8] = b", =\"";
pub const STRING_SPECIALS: &[u8] = b"\"\\";

/// Which part of a line a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Measurement,
    Tag,
    FieldKey,
}

impl NameKind {
    fn specials(self) -> &'static [u8] {
        match self {
            NameKind::Measurement => MEASUREMENT_SPECIALS,
            NameKind::Tag => TAG_SPECIALS,
            NameKind::FieldKey => FIELD_KEY_SPECIALS,
        }
    }
}

/// Decodes `raw` into `out`: a backslash followed by one of `specials` stands for that byte.
pub fn unescape_into(raw: &[u8], specials: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() && specials.contains(&raw[i + 1]) {
            out.push(raw[i + 1]);
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
}

/// Appends `s` escaped for its place in a line. A field key is always UTF-8 (the parser
/// rejects any other), so its characters all go out as they are.
pub fn escape_into(s: &str, kind: NameKind, out: &mut Vec<u8>) {
    let start = out.len();
    escape_text(s, kind, out);
    if kind != NameKind::FieldKey {
        raw_bytes_from(out, start);
    }
}

/// As [`escape_into`], raw-byte characters left as they are (text: a series key).
fn escape_text(s: &str, kind: NameKind, out: &mut Vec<u8>) {
    if kind == NameKind::Measurement {
        escape_measurement(s.as_bytes(), out);
    } else {
        escape_bytes(s.as_bytes(), kind.specials(), out);
    }
}

/// Appends a string field value, quotes included.
pub fn quote_string_into(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let start = out.len();
    escape_bytes(s.as_bytes(), STRING_SPECIALS, out);
    raw_bytes_from(out, start);
    out.push(b'"');
}

fn escape_bytes(s: &[u8], specials: &[u8], out: &mut Vec<u8>) {
    if !s.iter().any(|b| specials.contains(b)) {
        out.extend_from_slice(s);
        return;
    }
    for &b in s {
        if specials.contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// `,` and space are escaped; `=` and `"` only after a backslash, which would otherwise read as
/// their escape (`a\=b` is written `a\\=b`: the first backslash stays literal).
fn escape_measurement(s: &[u8], out: &mut Vec<u8>) {
    let mut prev = 0u8;
    for &b in s {
        if MEASUREMENT_SPECIALS.contains(&b) || (prev == b'\\' && (b == b'=' || b == b'"')) {
            out.push(b'\\');
        }
        out.push(b);
        prev = b;
    }
}

/// `s` as UTF-8 text, every byte of an invalid sequence kept as `U+10FF00 + byte`. A valid
/// character that looks like one of those (U+10FF80..=U+10FFFF, which the writer would turn into
/// one byte) is kept as its four bytes the same way, so that it too goes out as it came in.
pub fn decode_lossless(s: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(s) {
        Ok(text) if !has_raw_lookalike(s) => Cow::Borrowed(text),
        _ => Cow::Owned(decode_slow(s)),
    }
}

/// [`decode_lossless`] of bytes already owned: no copy when they are plain UTF-8.
pub fn decode_lossless_owned(s: Vec<u8>) -> String {
    match String::from_utf8(s) {
        Ok(text) if !has_raw_lookalike(text.as_bytes()) => text,
        Ok(text) => decode_slow(text.as_bytes()),
        Err(e) => decode_slow(e.as_bytes()),
    }
}

/// True when `s` holds the UTF-8 form of U+10FF80..=U+10FFFF (`F4 8F BE|BF xx`), which
/// [`raw_bytes_from`] reads as a raw byte. Plain text has no 0xF4 byte: one memchr.
#[inline]
fn has_raw_lookalike(s: &[u8]) -> bool {
    let mut rest = s;
    while let Some(i) = memchr::memchr(0xF4, rest) {
        if rest.get(i + 1) == Some(&0x8F) && rest.get(i + 2).is_some_and(|&b| b >= 0xBE) {
            return true;
        }
        rest = &rest[i + 1..];
    }
    false
}

#[cold]
fn decode_slow(mut s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    loop {
        let (good, rest) = match std::str::from_utf8(s) {
            Ok(text) => (text, &[][..]),
            Err(e) => {
                let (good, rest) = s.split_at(e.valid_up_to());
                (std::str::from_utf8(good).unwrap_or_default(), rest)
            }
        };
        for c in good.chars() {
            if ('\u{10FF80}'..='\u{10FFFF}').contains(&c) {
                push_raw(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
            } else {
                out.push(c);
            }
        }
        if rest.is_empty() {
            return out;
        }
        let bad = std::str::from_utf8(rest)
            .err()
            .and_then(|e| e.error_len())
            .unwrap_or(rest.len());
        push_raw(&mut out, &rest[..bad]);
        s = &rest[bad..];
    }
}

/// Each byte of `bytes` as its raw-byte character.
fn push_raw(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from_u32(RAW_BASE + u32::from(b)).unwrap_or('\u{FFFD}'));
    }
}

const RAW_BASE: u32 = 0x10FF00;

/// Appends `s` as line protocol bytes: the characters [`decode_lossless`] made of raw bytes
/// become those bytes again.
pub fn write_raw(s: &str, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(s.as_bytes());
    raw_bytes_from(out, start);
}

/// Rewrites `out[start..]` in place, each raw-byte character back to its byte. Such a character
/// is 4 UTF-8 bytes starting 0xF4 0x8F, so text without a 0xF4 byte is left as it is.
fn raw_bytes_from(out: &mut Vec<u8>, start: usize) {
    if !out[start..].contains(&0xF4) {
        return;
    }
    let (mut r, mut w) = (start, start);
    while r < out.len() {
        let b = out[r];
        if b == 0xF4 && r + 3 < out.len() && out[r + 1] == 0x8F && out[r + 2] >= 0xBE {
            let c = ((u32::from(out[r + 2]) & 0x3F) << 6) | (u32::from(out[r + 3]) & 0x3F);
            // U+10FF80..U+10FFFF: bytes 0x80..0xFF (the only ones that can be invalid UTF-8)
            out[w] = (c & 0xFF) as u8;
            r += 4;
        } else {
            out[w] = b;
            r += 1;
        }
        w += 1;
    }
    out.truncate(w);
}

/// Why a name cannot be written as line protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    Newline,
    TrailingBackslash,
    BackslashBeforeSpecial,
    LeadingHash,
    LeadingTab,
}

impl NameProblem {
    pub fn message(self) -> &'static str {
        match self {
            NameProblem::Empty => "is empty",
            NameProblem::Newline => "contains a newline",
            NameProblem::TrailingBackslash => "ends with a backslash",
            NameProblem::BackslashBeforeSpecial => {
                "has a backslash before a comma, space, equals sign or quote"
            }
            NameProblem::LeadingHash => "starts with '#' (the line would be a comment)",
            NameProblem::LeadingTab => "starts with a tab (leading blanks are skipped)",
        }
    }
}

/// Checks that `s` can be written as a `kind` name and reads back unchanged.
pub fn check_name(s: &str, kind: NameKind) -> Result<(), NameProblem> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(NameProblem::Empty);
    }
    if b.contains(&b'\n') {
        return Err(NameProblem::Newline);
    }
    if kind == NameKind::Measurement && b[0] == b'#' {
        return Err(NameProblem::LeadingHash);
    }
    if kind == NameKind::Measurement && b[0] == b'\t' {
        // (a field key starting with a tab is written after one that does not: serialize.rs)
        return Err(NameProblem::LeadingTab);
    }
    if kind == NameKind::FieldKey {
        // A field key is scanned in backslash pairs (InfluxDB's scanFields): an even run of
        // backslashes before an escaped character or the `=` reads back; an odd one does not.
        let mut run = 0;
        for &c in b {
            if c == b'\\' {
                run += 1;
                continue;
            }
            if run % 2 == 1 && FIELD_KEY_SPECIALS.contains(&c) {
                return Err(NameProblem::BackslashBeforeSpecial);
            }
            run = 0;
        }
        if run % 2 == 1 {
            return Err(NameProblem::TrailingBackslash);
        }
        return Ok(());
    }
    if b[b.len() - 1] == b'\\' {
        return Err(NameProblem::TrailingBackslash);
    }
    Ok(())
}

/// The series key of a point: `measurement,k1=v1,k2=v2` with tags sorted by key, escaped.
pub fn series_key(measurement: &str, sorted_tags: &[(&str, &str)]) -> String {
    let mut out = Vec::with_capacity(measurement.len() + 16 * sorted_tags.len());
    escape_text(measurement, NameKind::Measurement, &mut out);
    for (k, v) in sorted_tags {
        out.push(b',');
        escape_text(k, NameKind::Tag, &mut out);
        out.push(b'=');
        escape_text(v, NameKind::Tag, &mut out);
    }
    // Only valid UTF-8 went in and only ASCII bytes were added: the raw-byte characters stay
    // characters here (a series key is text); the writer turns them back into bytes.
    String::from_utf8(out).unwrap_or_default()
}
