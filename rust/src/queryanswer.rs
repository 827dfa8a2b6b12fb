//! InfluxDB 1.x `/query` answers (JSON) decoded straight into one [`PointBatch`] per series.
//!
//! A batch task's `query()` node turns every series of the answer into one batch, as Kapacitor's
//! `edge.ResultToBufferedBatches` does: the series' tags are every point's tags (and its group),
//! the `time` column is the point's time, every other column is a field whose `null`s are left
//! out, and a row left without any field is dropped. Kapacitor's client decodes JSON numbers as
//! `json.Number` and the query node turns each into a float64, so every number is a float field
//! here too (integers rounded as Go's `ParseFloat` and Python's `float()` round them); strings
//! and booleans keep their type. The batch's time is its latest kept point's (0 when empty).
//!
//! kapfast asks with `epoch=ns`, so times are integers; RFC 3339 text (an answer without
//! `epoch`) is read as well, with Go's rules (see [`parse_rfc3339_ns`]).
//!
//! The JSON is parsed by serde_json (`float_roundtrip`: numbers round exactly as Python's and
//! Go's parsers do); strings without escapes are borrowed from the body, never copied twice.
//! Nothing here knows about Python.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::batch::{BatchBuilder, DictColumn, FieldColumns, PointBatch};
use crate::lineproto::escape::series_key;

/// One series of an answer, ready to be a batch message.
#[derive(Debug)]
pub struct SeriesBatch {
    pub name: String,
    /// The series' tags in the answer's order (a tag given twice keeps its last value).
    pub tags: Vec<(String, String)>,
    /// The latest time of a kept point, 0 when none is later (Kapacitor's zero time).
    pub tmax: i64,
    pub batch: PointBatch,
}

/// One statement's result.
#[derive(Debug)]
pub struct StatementResult {
    pub statement_id: Option<i64>,
    /// The statement's `error`, as InfluxDB wrote it (JSON text when it is not a string).
    pub error: Option<String>,
    /// `(level, text)` of each of the statement's `messages`.
    pub messages: Vec<(String, String)>,
    /// Its series; empty for a result after the first one with an error (never read).
    pub series: Vec<SeriesBatch>,
}

/// A decoded answer: the request's own `error`, or its results in order.
#[derive(Debug)]
pub enum Answer {
    /// `{"error": "..."}`: the whole request failed.
    Failed(String),
    Results(Vec<StatementResult>),
}

/// An answer that is not what InfluxDB writes; the message says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError(pub String);

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AnswerError {}

/// Decodes a whole `/query` answer body.
pub fn decode(body: &[u8]) -> Result<Answer, AnswerError> {
    let raw: RawAnswer<'_> =
        serde_json::from_slice(body).map_err(|e| AnswerError(format!("bad JSON: {e}")))?;
    if let Some(error) = raw.error {
        return Ok(Answer::Failed(error));
    }
    let Some(results) = raw.results else {
        return Err(AnswerError("query answer has no results".to_owned()));
    };
    let mut out = Vec::with_capacity(results.len());
    let mut failed = false;
    for r in results {
        let error = r.error.map(|e| match e {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        let mut series = Vec::new();
        if !failed && error.is_none() {
            series.reserve(r.series.len());
            for s in r.series {
                series.push(series_batch(s)?);
            }
        }
        failed |= error.is_some();
        out.push(StatementResult {
            statement_id: r.statement_id.as_ref().and_then(serde_json::Value::as_i64),
            error,
            messages: r
                .messages
                .into_iter()
                .map(|m| (text_of(m.level), text_of(m.text)))
                .collect(),
            series,
        });
    }
    Ok(Answer::Results(out))
}

fn text_of(v: Option<serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// One series as a batch (see the module's doc for how it is read).
fn series_batch(s: RawSeries<'_>) -> Result<SeriesBatch, AnswerError> {
    let name = s.name.unwrap_or_default();
    let tags = s.tags.map(|t| t.0).unwrap_or_default();
    let columns = s.columns.unwrap_or_default();
    let mut fields = FieldColumns::new();
    fields.reserve_rows(s.values.len());
    // Field column of each answer column, made when its first value arrives (as a row-by-row
    // builder makes it), so a column's type is its first value's.
    let mut col_of: Vec<Option<usize>> = vec![None; columns.len()];
    let mut time = Vec::with_capacity(s.values.len());
    let mut tmax = 0i64;
    let where_ = |i: usize| format!("series {name:?}, row {i}");
    for (i, row) in s.values.into_iter().enumerate() {
        let r = time.len();
        let mut t = 0i64;
        let mut any = false;
        for (c, (column, cell)) in columns.iter().zip(row).enumerate() {
            if column == "time" {
                t = cell_time(cell).map_err(|e| AnswerError(format!("{}: {e}", where_(i))))?;
                continue;
            }
            if matches!(cell, Cell::Null) {
                continue;
            }
            let kind = cell_kind(&cell);
            let col = *col_of[c].get_or_insert_with(|| fields.column(column, kind));
            any = true;
            match cell {
                Cell::Int(v) => fields.push_float(col, r, v as f64),
                Cell::UInt(v) => fields.push_float(col, r, v as f64),
                Cell::Float(v) => fields.push_float(col, r, v),
                Cell::Bool(v) => fields.push_bool(col, r, v),
                Cell::Str(v) => fields.push_str(col, r, &v),
                Cell::Nested(what) => {
                    return Err(AnswerError(format!(
                        "{}: column {column:?} holds {what}, not a field value",
                        where_(i)
                    )))
                }
                Cell::Null => unreachable!("skipped above"),
            }
        }
        if any {
            tmax = tmax.max(t);
            time.push(t);
        }
    }
    let batch = assemble(&name, &tags, time, fields)?;
    Ok(SeriesBatch {
        name,
        tags,
        tmax,
        batch,
    })
}

fn cell_kind(cell: &Cell<'_>) -> crate::batch::FieldKind {
    use crate::batch::FieldKind;
    match cell {
        Cell::Bool(_) => FieldKind::Bool,
        Cell::Str(_) => FieldKind::Str,
        _ => FieldKind::Float,
    }
}

/// The batch of one series' kept rows: every row has the series' name and tags (as
/// `BatchBuilder` would make it row by row, without a series key per row).
fn assemble(
    name: &str,
    tags: &[(String, String)],
    time: Vec<i64>,
    fields: FieldColumns,
) -> Result<PointBatch, AnswerError> {
    let rows = time.len();
    if rows == 0 {
        return Ok(BatchBuilder::new().finish());
    }
    let fail = |e: String| AnswerError(format!("series {name:?}: {e}"));
    if name.is_empty() {
        return Err(fail("missing measurement".to_owned()));
    }
    // Tags with an empty value are no tag, as in InfluxDB (and BatchBuilder).
    let mut sorted: Vec<(&str, &str)> = tags
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    if sorted.iter().any(|(k, _)| k.is_empty()) {
        return Err(fail("missing tag key".to_owned()));
    }
    let fields = fields.finish(rows);
    if fields.iter().any(|c| c.name.is_empty()) {
        return Err(fail("missing field key".to_owned()));
    }
    let same = |value: &str| DictColumn {
        codes: vec![0; rows],
        dict: Arc::new(vec![value.to_owned()]),
    };
    Ok(PointBatch {
        time,
        measurement: same(name),
        tag_keys: sorted.iter().map(|(k, _)| (*k).to_owned()).collect(),
        tags: sorted.iter().map(|(_, v)| same(v)).collect(),
        fields,
        series: vec![0; rows],
        series_keys: Arc::new(vec![series_key(name, &sorted)]),
    })
}

/// A `time` cell: integer ns (`epoch=ns`), or RFC 3339 text.
fn cell_time(cell: Cell<'_>) -> Result<i64, String> {
    match cell {
        Cell::Int(v) => Ok(v),
        Cell::UInt(v) => i64::try_from(v).map_err(|_| format!("time {v} is out of range")),
        // A float time is cut to its integer part (Python's int()), when it fits: i64's range
        // is [-2^63, 2^63), both ends exact as floats.
        Cell::Float(v) if (-(2f64.powi(63))..2f64.powi(63)).contains(&v) => Ok(v as i64),
        Cell::Float(v) => Err(format!("time {v} is out of range")),
        Cell::Str(s) => {
            parse_rfc3339_ns(&s).map_err(|e| format!("invalid time {s:?} in the answer: {e}"))
        }
        Cell::Null => Err("time is null".to_owned()),
        Cell::Bool(b) => Err(format!("time is {b}, not a time")),
        Cell::Nested(what) => Err(format!("time is {what}, not a time")),
    }
}

/// `2015-10-30T17:14:12.5Z` (any offset, any fraction length) as ns since the epoch, read as
/// `kapfast.timefmt.parse_rfc3339_ns` reads it: digits past the ninth are cut (as Go does), `t`
/// and `z` may be lower case. Hand-written rather than a date crate's, because those round
/// long fractions or refuse what Go accepts; it is one regular shape and a day count.
pub fn parse_rfc3339_ns(s: &str) -> Result<i64, String> {
    let bad = || "not an RFC 3339 time".to_owned();
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, chars: &[u8]| b.get(i).is_some_and(|c| chars.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (year, month, day, hour, minute, second)
    else {
        return Err(bad());
    };
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return Err(bad());
        }
        let digits = &b[start..end.min(start + 9)];
        frac_ns = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
            * 10i64.pow(9 - digits.len() as u32);
        i = end;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (Some(h), Some(m)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                return Err(bad());
            };
            let off = h * 3600 + m * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(bad()),
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year == 0 || !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return Err(format!("{} (day is out of range for month)", bad()));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{} (time of day out of range)", bad()));
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or_else(|| "outside the range of int64 nanoseconds (1677..2262)".to_owned())
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// --- the JSON shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawAnswer<'a> {
    #[serde(default, borrow)]
    results: Option<Vec<RawResult<'a>>>,
    /// Only a string is the request's error (anything else is not InfluxDB's).
    #[serde(default, deserialize_with = "string_or_none")]
    error: Option<String>,
}

#[derive(Deserialize)]
struct RawResult<'a> {
    #[serde(default)]
    statement_id: Option<serde_json::Value>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    series: Vec<RawSeries<'a>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    messages: Vec<RawMessage>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    level: Option<serde_json::Value>,
    #[serde(default)]
    text: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeries<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    values: Vec<Vec<Cell<'a>>>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn string_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// A series' tags in the answer's order; a key given twice keeps its first place and its last
/// value (as a Python dict or Go map read of the same JSON keeps one).
struct Tags(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string tag values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    match out.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(Tags(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One value of a row.
#[derive(Debug)]
enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(Cow<'a, str>),
    /// An array or an object (skipped over): no field value.
    Nested(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Cell<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell<'de>, E> {
                Ok(Cell::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell<'de>, E> {
                Ok(Cell::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell<'de>, E> {
                Ok(Cell::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell<'de>, E> {
                Ok(Cell::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cell<'de>, E> {
                Ok(Cell::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell<'de>, E> {
                Ok(Cell::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Cell<'de>, E> {
                Ok(Cell::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Cell::Nested("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Cell::Nested("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests;
