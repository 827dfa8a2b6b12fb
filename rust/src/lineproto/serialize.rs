//! [`PointBatch`] → line protocol, one line per row, tags sorted by key, fields by name.
//!
//! Floats are written in the shortest form that reads back to the same `f64` (`1`, `0.1`,
//! `1e+300`); a float is never given a suffix, integers get `i`, unsigned `u`. Names that line
//! protocol cannot carry (see [`super::escape::check_name`]) and non-finite floats are errors,
//! not silently different text.

use std::io::Write;

use super::escape::{check_name, escape_into, quote_string_into, write_raw, NameKind, NameProblem};
use super::number::Precision;
use crate::batch::{Column, ColumnData, PointBatch};

/// Why a batch cannot be written as line protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum SerializeError {
    Name {
        row: usize,
        what: &'static str,
        name: String,
        problem: NameProblem,
    },
    NonFinite {
        row: usize,
        field: String,
    },
    NoFields {
        row: usize,
    },
}

impl std::fmt::Display for SerializeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerializeError::Name {
                row,
                what,
                name,
                problem,
            } => write!(
                f,
                "row {row}: {what} {name:?} {} and cannot be written as line protocol",
                problem.message()
            ),
            SerializeError::NonFinite { row, field } => write!(
                f,
                "row {row}: field {field:?} is NaN or infinite, which line protocol cannot carry"
            ),
            SerializeError::NoFields { row } => {
                write!(f, "row {row}: a point needs at least one field")
            }
        }
    }
}

/// Writes every row of `batch`; times are divided by the precision (truncating toward zero,
/// as InfluxDB clients do).
pub fn serialize(batch: &PointBatch, precision: Precision) -> Result<Vec<u8>, SerializeError> {
    check_names(batch)?;
    let mut out = Vec::with_capacity(batch.len() * 64);
    let div = precision.nanos();
    // A field key starting with a tab cannot come first (the blanks before the fields are
    // skipped when read): such a row starts with a field that does not.
    let tabbed: Vec<bool> = batch
        .fields
        .iter()
        .map(|c| c.name.starts_with('\t'))
        .collect();
    let any_tabbed = tabbed.contains(&true);
    // Series keys are already escaped `measurement,tags` text: written as they are (raw bytes
    // back to bytes).
    for row in 0..batch.len() {
        write_raw(&batch.series_keys[batch.series[row] as usize], &mut out);
        out.push(b' ');
        let lead = if any_tabbed {
            let lead = (0..batch.fields.len()).find(|&c| batch.fields[c].valid[row] && !tabbed[c]);
            if lead.is_none() {
                if let Some(c) = batch.fields.iter().position(|c| c.valid[row]) {
                    let name = batch.fields[c].name.clone();
                    return Err(SerializeError::Name {
                        row,
                        what: "field key",
                        name,
                        problem: NameProblem::LeadingTab,
                    });
                }
            }
            lead
        } else {
            None
        };
        let mut first = true;
        let order = lead
            .into_iter()
            .chain((0..batch.fields.len()).filter(|&c| Some(c) != lead));
        for c in order {
            let col = &batch.fields[c];
            if !col.valid[row] {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            escape_into(&col.name, NameKind::FieldKey, &mut out);
            out.push(b'=');
            write_value(col, row, &mut out)?;
        }
        if first {
            return Err(SerializeError::NoFields { row });
        }
        out.push(b' ');
        write_i64(batch.time[row] / div, &mut out);
        out.push(b'\n');
    }
    Ok(out)
}

/// Measurements, tags and field names must survive the round trip; checked once per distinct
/// name, not per row.
fn check_names(batch: &PointBatch) -> Result<(), SerializeError> {
    let first_row = |codes: &[u32], c: usize| codes.iter().position(|&x| x as usize == c);
    for (c, m) in batch.measurement.dict.iter().enumerate() {
        if let Some(row) = first_row(&batch.measurement.codes, c) {
            check(m, NameKind::Measurement, "measurement", row)?;
        }
    }
    for (key, col) in batch.tag_keys.iter().zip(&batch.tags) {
        for (c, v) in col.dict.iter().enumerate() {
            if let Some(row) = first_row(&col.codes, c) {
                check(key, NameKind::Tag, "tag key", row)?;
                check(v, NameKind::Tag, "tag value", row)?;
            }
        }
    }
    for col in &batch.fields {
        if let Some(row) = col.valid.iter().position(|&v| v) {
            check(&col.name, NameKind::FieldKey, "field key", row)?;
        }
    }
    Ok(())
}

fn check(name: &str, kind: NameKind, what: &'static str, row: usize) -> Result<(), SerializeError> {
    check_name(name, kind).map_err(|problem| SerializeError::Name {
        row,
        what,
        name: name.to_owned(),
        problem,
    })
}

fn write_value(col: &Column, row: usize, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    match &col.data {
        ColumnData::Float(v) => write_float(v[row], col, row, out),
        ColumnData::Int(v) => {
            write_i64(v[row], out);
            out.push(b'i');
            Ok(())
        }
        ColumnData::UInt(v) => {
            write_u64(v[row], out);
            out.push(b'u');
            Ok(())
        }
        ColumnData::Bool(v) => {
            out.extend_from_slice(if v[row] { b"true" } else { b"false" });
            Ok(())
        }
        ColumnData::Str(v) => {
            quote_string_into(v.get(row), out);
            Ok(())
        }
        ColumnData::Mixed(v) => {
            use crate::batch::Value;
            match &v[row] {
                Some(Value::Float(x)) => write_float(*x, col, row, out),
                Some(Value::Int(x)) => {
                    let _ = write!(out, "{x}i");
                    Ok(())
                }
                Some(Value::UInt(x)) => {
                    let _ = write!(out, "{x}u");
                    Ok(())
                }
                Some(Value::Bool(x)) => {
                    out.extend_from_slice(if *x { b"true" } else { b"false" });
                    Ok(())
                }
                Some(Value::Str(s)) => {
                    quote_string_into(s, out);
                    Ok(())
                }
                None => Ok(()),
            }
        }
    }
}

/// Shortest text that reads back to exactly `x`; exponent form for very large or small
/// magnitudes so that `1e300` is not 301 digits.
fn write_float(x: f64, col: &Column, row: usize, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    if !x.is_finite() {
        return Err(SerializeError::NonFinite {
            row,
            field: col.name.clone(),
        });
    }
    let a = x.abs();
    if a != 0.0 && !(1e-5..1e16).contains(&a) {
        let _ = write!(out, "{x:e}");
    } else {
        let _ = write!(out, "{x}");
    }
    Ok(())
}

/// Decimal digits of `v` (the `fmt` machinery costs more than the digits).
fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(v: i64, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(v.unsigned_abs(), out);
}
