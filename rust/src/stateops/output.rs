//! Building a node's output batch from the input batch's columns: the rows that produced output,
//! with the node's result set as a field (replacing a field of that name).

// The hidden fields of `engine/rows.py` (a point that lost all its fields; the NUL-separated
// list of a row's null fields after a join's `.fill('null')`) are the batch module's.
use crate::batch::{Column, ColumnData, PointBatch, StrColumn};
pub use crate::batch::{NO_FIELDS, NULLS};

/// Rows `idx` of `b`; with `col` (one value per kept row) set as a field: a field-less point
/// placeholder goes, and the field stops being listed as null.
pub fn take_with(b: &PointBatch, idx: &[usize], col: Option<Column>) -> PointBatch {
    let mut out = b.take(idx);
    if let Some(col) = col {
        let name = col.name.clone();
        out = out.with_field_column(col);
        out.fields.retain(|c| c.name != NO_FIELDS);
        if let Some(pos) = out.fields.iter().position(|c| c.name == NULLS) {
            let cleared = without_null(&out.fields[pos], &name);
            if cleared.valid.iter().any(|&v| v) {
                out.fields[pos] = cleared;
            } else {
                out.fields.remove(pos);
            }
        }
    }
    out
}

/// The NULLS column with `name` taken out of every row's list (an emptied list: no NULLS field).
fn without_null(col: &Column, name: &str) -> Column {
    let ColumnData::Str(s) = &col.data else {
        return col.clone();
    };
    let mut data = StrColumn::new();
    let mut valid = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        let kept: Vec<&str> = s.get(i).split('\u{0}').filter(|k| *k != name).collect();
        let ok = col.valid[i] && !kept.is_empty();
        data.push(
            if ok {
                kept.join("\u{0}")
            } else {
                String::new()
            }
            .as_str(),
        );
        valid.push(ok);
    }
    Column {
        name: col.name.clone(),
        data: ColumnData::Str(data),
        valid,
    }
}

/// True when row `i` lists `field` as null in the NULLS column.
pub fn is_null(b: &PointBatch, i: usize, field: &str) -> bool {
    match b.field(NULLS) {
        Some(c) if c.valid[i] => match &c.data {
            ColumnData::Str(s) => s.get(i).split('\u{0}').any(|k| k == field),
            _ => false,
        },
        _ => false,
    }
}

/// `a / b` as Python's true division of two ints gives it (exact operands below 2^53, the
/// durations of a task; beyond that within one rounding step).
pub fn true_div(a: i64, b: i64) -> f64 {
    a as f64 / b as f64
}

/// Every point of `b` under the measurement `name` (`union().rename()`), fields and tags as
/// they were (hidden fields included, so field-less and null-carrying points stay so).
pub fn renamed(b: &PointBatch, name: &str) -> Result<PointBatch, crate::batch::BuildError> {
    let mut out = crate::batch::BatchBuilder::new();
    for i in 0..b.len() {
        let fields = b.row_fields(i);
        out.push_row(name, &b.row_tags(i), &fields, b.time[i])?;
    }
    Ok(out.finish())
}

/// Little-endian u32 of every index (the row lists handed back to Python).
pub fn u32_rows(rows: &[usize]) -> Vec<u32> {
    rows.iter().map(|&r| r as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Value;
    use crate::stateops::testutil::lp;

    #[test]
    fn a_set_field_is_no_longer_null_and_the_placeholder_goes() {
        let mut b = lp("m a=1 1\nm a=2 2\n");
        let mut nulls = StrColumn::new();
        nulls.push("x\u{0}y");
        nulls.push("x");
        // fields stay sorted by name: the hidden ones (NUL first) lead
        b.fields.insert(
            0,
            Column {
                name: NULLS.into(),
                data: ColumnData::Str(nulls),
                valid: vec![true, true],
            },
        );
        b.fields.insert(
            0,
            Column {
                name: NO_FIELDS.into(),
                data: ColumnData::Bool(vec![true, false]),
                valid: vec![true, false],
            },
        );
        let col = Column {
            name: "x".into(),
            data: ColumnData::Float(vec![5.0, 6.0]),
            valid: vec![true, true],
        };
        let out = take_with(&b, &[0, 1], Some(col));
        assert!(out.field(NO_FIELDS).is_none());
        assert_eq!(out.row_fields(0)[0], (NULLS, Value::Str("y".into())));
        // the second row had only x null: no NULLS field left on it
        assert!(!out.field(NULLS).unwrap().valid[1]);
        assert!(is_null(&out, 0, "y") && !is_null(&out, 0, "x"));
        assert_eq!(b.take_compact(&[1]).series_keys.len(), 1);
        assert_eq!(true_div(3, 2), 1.5);
        let r = renamed(&b, "n").unwrap();
        assert_eq!((r.measurement(1), r.len()), ("n", 2));
        assert_eq!(*r.series_keys, vec!["n".to_string()]);
        assert_eq!(r.row_fields(1), b.row_fields(1));
        assert!(renamed(&b, "").is_err());
    }
}
