//! The hot path of the protocol, one `Point` per row, written and read with prost's wire
//! primitives straight from and into columns: no message struct, no map and no string allocated
//! per point (the derived messages in `proto` serve every other message). The bytes are exactly
//! what prost writes for `Request{point}` / reads for `Response{point}`.

use prost::encoding::{
    decode_key, decode_varint, encode_key, encode_varint, encoded_len_varint, key_len, WireType,
};

use super::DecodeError;
use crate::batch::{ColumnData, PointBatch, Value};

/// `Request.point` / `Response.point`.
pub const POINT_TAG: u32 = 17;

fn put_str(buf: &mut Vec<u8>, tag: u32, s: &str) {
    if !s.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(s.len() as u64, buf);
        buf.extend_from_slice(s.as_bytes());
    }
}

fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        key_len(tag) + encoded_len_varint(s.len() as u64) + s.len()
    }
}

/// A map entry `{key: string = 1, value = 2}` of field `tag`; `value` writes field 2.
fn put_entry(
    buf: &mut Vec<u8>,
    tag: u32,
    key: &str,
    value_len: usize,
    value: impl FnOnce(&mut Vec<u8>),
) {
    let len = str_len(1, key) + value_len;
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
    put_str(buf, 1, key);
    value(buf);
}

fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

fn put_varint_field(buf: &mut Vec<u8>, tag: u32, v: u64) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

/// What a stream point carries besides its row (a batch point leaves the strings empty).
pub struct PointHead<'a> {
    pub name: &'a str,
    pub database: &'a str,
    pub retention_policy: &'a str,
    pub group: &'a str,
    pub dimensions: &'a [String],
    pub by_name: bool,
}

/// Appends one framed `Request{point}` for row `i` of `b`; `scratch` is reused between rows.
pub fn write_point(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    head: &PointHead<'_>,
    b: &PointBatch,
    i: usize,
) {
    let buf = scratch;
    buf.clear();
    put_varint_field(buf, 1, b.time[i] as u64);
    put_str(buf, 2, head.name);
    put_str(buf, 3, head.database);
    put_str(buf, 4, head.retention_policy);
    put_str(buf, 5, head.group);
    for d in head.dimensions {
        // a repeated string keeps empty elements
        encode_key(6, WireType::LengthDelimited, buf);
        encode_varint(d.len() as u64, buf);
        buf.extend_from_slice(d.as_bytes());
    }
    for (k, col) in b.tag_keys.iter().zip(&b.tags) {
        if let Some(v) = col.get(i) {
            put_entry(buf, 7, k, str_len(2, v), |buf| put_str(buf, 2, v));
        }
    }
    for col in &b.fields {
        if !col.valid[i] {
            continue;
        }
        let value = match &col.data {
            ColumnData::Float(v) => Value::Float(v[i]),
            ColumnData::Int(v) => Value::Int(v[i]),
            // the protocol has no unsigned type: Kapacitor's agents see an int
            ColumnData::UInt(v) => Value::Int(v[i] as i64),
            ColumnData::Bool(v) => Value::Bool(v[i]),
            ColumnData::Str(v) => {
                let s = v.get(i);
                put_entry(buf, 10, &col.name, str_len(2, s), |buf| put_str(buf, 2, s));
                continue;
            }
            ColumnData::Mixed(v) => match &v[i] {
                Some(Value::UInt(x)) => Value::Int(*x as i64),
                Some(Value::Str(s)) => {
                    put_entry(buf, 10, &col.name, str_len(2, s), |buf| put_str(buf, 2, s));
                    continue;
                }
                Some(x) => x.clone(),
                None => continue,
            },
        };
        match value {
            Value::Float(x) => {
                let len = if x.to_bits() == 0 { 0 } else { 9 };
                put_entry(buf, 8, &col.name, len, |buf| {
                    if len > 0 {
                        encode_key(2, WireType::SixtyFourBit, buf);
                        buf.extend_from_slice(&x.to_le_bytes());
                    }
                });
            }
            Value::Int(x) => {
                let v = x as u64;
                put_entry(buf, 9, &col.name, varint_field_len(2, v), |buf| {
                    put_varint_field(buf, 2, v)
                });
            }
            Value::Bool(x) => {
                let v = u64::from(x);
                put_entry(buf, 12, &col.name, varint_field_len(2, v), |buf| {
                    put_varint_field(buf, 2, v)
                });
            }
            Value::UInt(_) | Value::Str(_) => unreachable!("handled above"),
        }
    }
    put_varint_field(buf, 11, u64::from(head.by_name));
    let request_len = key_len(POINT_TAG) + encoded_len_varint(buf.len() as u64) + buf.len();
    encode_varint(request_len as u64, out);
    encode_key(POINT_TAG, WireType::LengthDelimited, out);
    encode_varint(buf.len() as u64, out);
    out.extend_from_slice(buf);
}

/// A response point read in place: strings borrow the frame.
#[derive(Debug, Default)]
pub struct PointRef<'a> {
    pub time: i64,
    pub name: &'a str,
    pub database: &'a str,
    pub retention_policy: &'a str,
    pub dimensions: Vec<&'a str>,
    pub tags: Vec<(&'a str, &'a str)>,
    pub fields: Vec<(&'a str, Value)>,
    pub by_name: bool,
}

fn bad(what: &str) -> DecodeError {
    DecodeError(format!("failed to decode response: invalid point: {what}"))
}

fn take<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let len = decode_varint(buf).map_err(|_| bad("length"))? as usize;
    if len > buf.len() {
        return Err(bad("truncated"));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn take_str<'a>(buf: &mut &'a [u8]) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(take(buf)?).map_err(|_| bad("invalid UTF-8"))
}

fn skip(buf: &mut &[u8], wt: WireType) -> Result<(), DecodeError> {
    match wt {
        WireType::Varint => {
            decode_varint(buf).map_err(|_| bad("varint"))?;
        }
        WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
            let n = if wt == WireType::SixtyFourBit { 8 } else { 4 };
            if buf.len() < n {
                return Err(bad("truncated"));
            }
            *buf = &buf[n..];
        }
        WireType::LengthDelimited => {
            take(buf)?;
        }
        WireType::StartGroup | WireType::EndGroup => return Err(bad("groups are not proto3")),
    }
    Ok(())
}

/// What value a map entry holds.
#[derive(Clone, Copy)]
enum Entry {
    Str,
    Double,
    Int,
    Bool,
}

fn entry(mut e: &[u8], kind: Entry) -> Result<(&str, Option<Value>, &str), DecodeError> {
    let (mut key, mut text) = ("", "");
    let mut value = None;
    while !e.is_empty() {
        let (tag, wt) = decode_key(&mut e).map_err(|_| bad("map entry"))?;
        match (tag, wt, kind) {
            (1, WireType::LengthDelimited, _) => key = take_str(&mut e)?,
            (2, WireType::LengthDelimited, Entry::Str) => text = take_str(&mut e)?,
            (2, WireType::SixtyFourBit, Entry::Double) => {
                if e.len() < 8 {
                    return Err(bad("truncated"));
                }
                let (b, rest) = e.split_at(8);
                value = Some(Value::Float(f64::from_le_bytes(
                    b.try_into().expect("8 bytes"),
                )));
                e = rest;
            }
            (2, WireType::Varint, Entry::Int) => {
                value = Some(Value::Int(
                    decode_varint(&mut e).map_err(|_| bad("varint"))? as i64,
                ));
            }
            (2, WireType::Varint, Entry::Bool) => {
                value = Some(Value::Bool(
                    decode_varint(&mut e).map_err(|_| bad("varint"))? != 0,
                ));
            }
            (_, wt, _) => skip(&mut e, wt)?,
        }
    }
    // a missing value is the type's zero (proto3)
    let value = match kind {
        Entry::Str => None,
        Entry::Double => Some(value.unwrap_or(Value::Float(0.0))),
        Entry::Int => Some(value.unwrap_or(Value::Int(0))),
        Entry::Bool => Some(value.unwrap_or(Value::Bool(false))),
    };
    Ok((key, value, text))
}

fn set<'a, V>(list: &mut Vec<(&'a str, V)>, key: &'a str, v: V) {
    // a repeated map key keeps the last value, as protobuf decoders do
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = v,
        None => list.push((key, v)),
    }
}

/// The point of a frame holding only `Response.point`; None when the frame is another message.
pub fn read_point(frame: &[u8]) -> Result<Option<PointRef<'_>>, DecodeError> {
    let mut buf = frame;
    let Ok((tag, wt)) = decode_key(&mut buf) else {
        return Ok(None);
    };
    if tag != POINT_TAG || wt != WireType::LengthDelimited {
        return Ok(None);
    }
    let mut body = take(&mut buf)?;
    if !buf.is_empty() {
        return Ok(None); // more fields after it: let the full decoder apply protobuf's rules
    }
    let mut p = PointRef::default();
    while !body.is_empty() {
        let (tag, wt) = decode_key(&mut body).map_err(|_| bad("field key"))?;
        match (tag, wt) {
            (1, WireType::Varint) => {
                p.time = decode_varint(&mut body).map_err(|_| bad("time"))? as i64
            }
            (2, WireType::LengthDelimited) => p.name = take_str(&mut body)?,
            (3, WireType::LengthDelimited) => p.database = take_str(&mut body)?,
            (4, WireType::LengthDelimited) => p.retention_policy = take_str(&mut body)?,
            (6, WireType::LengthDelimited) => p.dimensions.push(take_str(&mut body)?),
            (7, WireType::LengthDelimited) => {
                let (k, _, v) = entry(take(&mut body)?, Entry::Str)?;
                set(&mut p.tags, k, v);
            }
            (8..=10 | 12, WireType::LengthDelimited) => {
                let kind = match tag {
                    8 => Entry::Double,
                    9 => Entry::Int,
                    10 => Entry::Str,
                    _ => Entry::Bool,
                };
                let (k, v, text) = entry(take(&mut body)?, kind)?;
                set(
                    &mut p.fields,
                    k,
                    v.unwrap_or_else(|| Value::Str(text.to_owned())),
                );
            }
            (11, WireType::Varint) => {
                p.by_name = decode_varint(&mut body).map_err(|_| bad("byName"))? != 0
            }
            (_, wt) => skip(&mut body, wt)?,
        }
    }
    Ok(Some(p))
}
