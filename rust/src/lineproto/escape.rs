//! Escaping rules of InfluxDB 1.x line protocol, both ways.
//!
//! * measurement: `\,` and `\ ` are escapes;
//! * tag keys and values: `\,` `\ ` `\=`;
//! * field keys: `\,` `\ ` `\=` `\"`;
//! * string field values: `\"` and `\\`.
//!
//! Any other backslash is a literal backslash (`C:\temp` stays as written), exactly as InfluxDB
//! 1.x reads it. A consequence InfluxDB shares: a name that *ends* in a backslash cannot be
//! written (the backslash would escape the separator after it), and neither can a field key
//! with a backslash right before an escapable character. [`check_name`] reports those instead
//! of writing text that would read back differently.

pub const MEASUREMENT_SPECIALS: &[u8] = b", ";
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

/// Appends `s` escaped for its place in a line.
pub fn escape_into(s: &str, kind: NameKind, out: &mut Vec<u8>) {
    escape_bytes(s.as_bytes(), kind.specials(), out);
}

/// Appends a string field value, quotes included.
pub fn quote_string_into(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape_bytes(s.as_bytes(), STRING_SPECIALS, out);
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
    if b[b.len() - 1] == b'\\' {
        return Err(NameProblem::TrailingBackslash);
    }
    if kind == NameKind::Measurement && b[0] == b'#' {
        return Err(NameProblem::LeadingHash);
    }
    if kind != NameKind::Tag && b[0] == b'\t' {
        return Err(NameProblem::LeadingTab);
    }
    if kind == NameKind::FieldKey
        && b.windows(2)
            .any(|w| w[0] == b'\\' && FIELD_KEY_SPECIALS.contains(&w[1]))
    {
        return Err(NameProblem::BackslashBeforeSpecial);
    }
    Ok(())
}

/// The series key of a point: `measurement,k1=v1,k2=v2` with tags sorted by key, escaped.
pub fn series_key(measurement: &str, sorted_tags: &[(&str, &str)]) -> String {
    let mut out = Vec::with_capacity(measurement.len() + 16 * sorted_tags.len());
    escape_into(measurement, NameKind::Measurement, &mut out);
    for (k, v) in sorted_tags {
        out.push(b',');
        escape_into(k, NameKind::Tag, &mut out);
        out.push(b'=');
        escape_into(v, NameKind::Tag, &mut out);
    }
    // Only valid UTF-8 went in and only ASCII bytes were added.
    String::from_utf8(out).unwrap_or_default()
}
