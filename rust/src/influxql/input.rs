//! Gathering one field of a window into a typed slice, with Kapacitor's typing rules.
//!
//! Kapacitor builds a typed reducer from the first point that has the field with a type the
//! function accepts; points without the field are skipped, and so are points whose value has
//! another type (each logged as an error). We do the same in one pass over the column.

use crate::batch::{Column, ColumnData, FieldKind, Value};

use super::call::{Error, Func};

/// One value of a column, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Float(f64),
    Int(i64),
    UInt(u64),
    Str(&'a str),
    Bool(bool),
}

impl<'a> ValueRef<'a> {
    pub fn kind(self) -> FieldKind {
        match self {
            ValueRef::Float(_) => FieldKind::Float,
            ValueRef::Int(_) => FieldKind::Int,
            ValueRef::UInt(_) => FieldKind::UInt,
            ValueRef::Str(_) => FieldKind::Str,
            ValueRef::Bool(_) => FieldKind::Bool,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Float(v) => Value::Float(v),
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::UInt(v) => Value::UInt(v),
            ValueRef::Str(v) => Value::Str(v.to_owned()),
            ValueRef::Bool(v) => Value::Bool(v),
        }
    }

    pub fn from_value(v: &'a Value) -> ValueRef<'a> {
        match v {
            Value::Float(v) => ValueRef::Float(*v),
            Value::Int(v) => ValueRef::Int(*v),
            Value::UInt(v) => ValueRef::UInt(*v),
            Value::Str(v) => ValueRef::Str(v),
            Value::Bool(v) => ValueRef::Bool(*v),
        }
    }

    /// The value as a number, for functions that mix integers and floats (derivative).
    pub fn as_f64(self) -> Option<f64> {
        match self {
            ValueRef::Float(v) => Some(v),
            ValueRef::Int(v) => Some(v as f64),
            ValueRef::UInt(v) => Some(v as f64),
            ValueRef::Str(_) | ValueRef::Bool(_) => None,
        }
    }
}

/// Row `i` of `col`, `None` when the row lacks the field.
pub fn value_at(col: &Column, i: usize) -> Option<ValueRef<'_>> {
    if !col.valid[i] {
        return None;
    }
    Some(match &col.data {
        ColumnData::Float(v) => ValueRef::Float(v[i]),
        ColumnData::Int(v) => ValueRef::Int(v[i]),
        ColumnData::UInt(v) => ValueRef::UInt(v[i]),
        ColumnData::Bool(v) => ValueRef::Bool(v[i]),
        ColumnData::Str(v) => ValueRef::Str(v.get(i)),
        ColumnData::Mixed(v) => return v[i].as_ref().map(ValueRef::from_value),
    })
}

/// The values of one type, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum Data<'a> {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Str(Vec<&'a str>),
    Bool(Vec<bool>),
}

impl Data<'_> {
    pub fn len(&self) -> usize {
        match self {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
            Data::Str(v) => v.len(),
            Data::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as an owned value.
    pub fn value(&self, i: usize) -> Value {
        match self {
            Data::Float(v) => Value::Float(v[i]),
            Data::Int(v) => Value::Int(v[i]),
            Data::Str(v) => Value::Str(v[i].to_owned()),
            Data::Bool(v) => Value::Bool(v[i]),
        }
    }
}

/// The usable values of a field in a window: `rows[k]` and `times[k]` go with element `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input<'a> {
    pub rows: Vec<usize>,
    pub times: Vec<i64>,
    pub data: Data<'a>,
    /// Values present but of another type than the one chosen (Kapacitor logs each as an error).
    pub skipped: usize,
}

/// Gathers `rows` (all rows when `None`) of `col`. `Ok(None)` when no row has the field; an
/// error when some rows have it but none with a type `func` accepts.
pub fn gather<'a>(
    func: Func,
    field: &str,
    col: Option<&'a Column>,
    time: &[i64],
    rows: Option<&[usize]>,
) -> Result<Option<Input<'a>>, Error> {
    let Some(col) = col else {
        return Ok(None);
    };
    match rows {
        Some(rows) => gather_from(func, field, col, time, rows.iter().copied()),
        None => gather_from(func, field, col, time, 0..time.len()),
    }
}

fn gather_from<'a>(
    func: Func,
    field: &str,
    col: &'a Column,
    time: &[i64],
    rows: impl Iterator<Item = usize>,
) -> Result<Option<Input<'a>>, Error> {
    // a float column (the common case): every present value is of the one type
    if let (ColumnData::Float(v), true) = (&col.data, func.accepts(FieldKind::Float)) {
        // sized once: a window of a few dozen points grew each vector 4 or 5 times (a
        // measurable part of reducing thousands of small windows at once)
        let n = rows.size_hint().1.unwrap_or(0);
        let mut input = Input {
            rows: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            data: Data::Float(Vec::new()),
            skipped: 0,
        };
        let mut data = Vec::with_capacity(n);
        for i in rows.filter(|&i| col.valid[i]) {
            data.push(v[i]);
            input.rows.push(i);
            input.times.push(time[i]);
        }
        if data.is_empty() {
            return Ok(None);
        }
        input.data = Data::Float(data);
        return Ok(Some(input));
    }
    let mut first_kind = None;
    let mut chosen = None;
    let mut skipped = 0;
    let mut input = Input {
        rows: Vec::new(),
        times: Vec::new(),
        data: Data::Float(Vec::new()),
        skipped: 0,
    };
    for i in rows {
        let Some(v) = value_at(col, i) else {
            continue;
        };
        let kind = v.kind();
        first_kind.get_or_insert(kind);
        match chosen {
            None if func.accepts(kind) => {
                chosen = Some(kind);
                input.data = match kind {
                    FieldKind::Int => Data::Int(Vec::new()),
                    FieldKind::Str => Data::Str(Vec::new()),
                    FieldKind::Bool => Data::Bool(Vec::new()),
                    _ => Data::Float(Vec::new()),
                };
            }
            Some(k) if k == kind => {}
            _ => {
                skipped += 1;
                continue;
            }
        }
        match (&mut input.data, v) {
            (Data::Float(d), ValueRef::Float(x)) => d.push(x),
            (Data::Float(d), ValueRef::UInt(x)) => d.push(x as f64),
            (Data::Int(d), ValueRef::Int(x)) => d.push(x),
            (Data::Str(d), ValueRef::Str(x)) => d.push(x),
            (Data::Bool(d), ValueRef::Bool(x)) => d.push(x),
            _ => unreachable!("the data vector matches the chosen kind"),
        }
        input.rows.push(i);
        input.times.push(time[i]);
    }
    match (chosen, first_kind) {
        (None, None) => Ok(None),
        (None, Some(kind)) => Err(Error::UnsupportedType {
            func,
            field: field.to_owned(),
            kind,
        }),
        (Some(_), _) => {
            input.skipped = skipped;
            Ok(Some(input))
        }
    }
}
