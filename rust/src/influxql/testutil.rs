//! Building small batches by hand for the tests of this module.

use crate::batch::{
    Column, ColumnData, DictColumn, FieldKind, Interner, PointBatch, StrColumn, Value, NO_TAG,
};

/// One point: time (ns), tags, fields.
pub type Row<'a> = (i64, &'a [(&'a str, &'a str)], Vec<(&'a str, Value)>);

/// A batch of measurement `m` holding `rows` in order. A field seen with two types becomes a
/// mixed column, as the line-protocol parser makes it.
pub fn batch(rows: &[Row<'_>]) -> PointBatch {
    let mut field_names: Vec<&str> = rows.iter().flat_map(|r| r.2.iter().map(|f| f.0)).collect();
    field_names.sort_unstable();
    field_names.dedup();
    let mut tag_keys: Vec<&str> = rows.iter().flat_map(|r| r.1.iter().map(|t| t.0)).collect();
    tag_keys.sort_unstable();
    tag_keys.dedup();

    let fields = field_names
        .iter()
        .map(|&name| {
            let vals: Vec<Option<&Value>> = rows
                .iter()
                .map(|r| r.2.iter().find(|f| f.0 == name).map(|f| &f.1))
                .collect();
            let mut kinds: Vec<FieldKind> = vals.iter().flatten().map(|v| v.kind()).collect();
            kinds.dedup();
            let valid = vals.iter().map(|v| v.is_some()).collect();
            let kind = if kinds.iter().all(|&k| k == kinds[0]) {
                kinds[0]
            } else {
                FieldKind::Mixed
            };
            let data = match kind {
                FieldKind::Float => ColumnData::Float(
                    vals.iter()
                        .map(|v| match v {
                            Some(Value::Float(x)) => *x,
                            _ => 0.0,
                        })
                        .collect(),
                ),
                FieldKind::Int => ColumnData::Int(
                    vals.iter()
                        .map(|v| match v {
                            Some(Value::Int(x)) => *x,
                            _ => 0,
                        })
                        .collect(),
                ),
                FieldKind::UInt => ColumnData::UInt(
                    vals.iter()
                        .map(|v| match v {
                            Some(Value::UInt(x)) => *x,
                            _ => 0,
                        })
                        .collect(),
                ),
                FieldKind::Bool => ColumnData::Bool(
                    vals.iter()
                        .map(|v| matches!(v, Some(Value::Bool(true))))
                        .collect(),
                ),
                FieldKind::Str => {
                    let mut s = StrColumn::new();
                    for v in &vals {
                        s.push(match v {
                            Some(Value::Str(x)) => x,
                            _ => "",
                        });
                    }
                    ColumnData::Str(s)
                }
                FieldKind::Mixed => ColumnData::Mixed(vals.iter().map(|v| v.cloned()).collect()),
            };
            Column {
                name: name.to_owned(),
                data,
                valid,
            }
        })
        .collect();

    let tags = tag_keys
        .iter()
        .map(|&key| {
            let mut col = DictColumn::default();
            let mut interner = Interner::default();
            for r in rows {
                let code = match r.1.iter().find(|t| t.0 == key) {
                    Some(t) => interner.intern(std::sync::Arc::make_mut(&mut col.dict), t.1),
                    None => NO_TAG,
                };
                col.codes.push(code);
            }
            col
        })
        .collect();

    PointBatch {
        time: rows.iter().map(|r| r.0).collect(),
        measurement: DictColumn {
            codes: vec![0; rows.len()],
            dict: vec!["m".to_owned()].into(),
        },
        tag_keys: tag_keys.iter().map(|k| k.to_string()).collect(),
        tags,
        fields,
        series: vec![0; rows.len()],
        series_keys: vec!["m".to_owned()].into(),
    }
}

/// Seconds to nanoseconds.
pub fn s(secs: i64) -> i64 {
    secs * 1_000_000_000
}

/// A batch with one float field `f`, one point per second from 0.
pub fn floats(values: &[f64]) -> PointBatch {
    let rows: Vec<Row<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (s(i as i64), &[][..], vec![("f", Value::Float(v))]))
        .collect();
    batch(&rows)
}
