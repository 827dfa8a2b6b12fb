//! Tests of the public API over whole batches: every function on every field type, empty and
//! single-point windows, missing values, mixed types, row subsets and chunked transformations.

use crate::batch::{FieldKind, PointBatch, Value};

use super::testutil::{batch, floats, s, Row};
use super::*;

fn call(name: &str, args: &[Arg]) -> Call {
    Call::parse(name, args).unwrap()
}

fn values(r: &Reduction) -> Vec<Value> {
    r.points.iter().map(|p| p.value.clone()).collect()
}

fn one(name: &str, args: &[Arg], b: &PointBatch) -> Option<Reduced> {
    let r = reduce(&call(name, args), b, "f").unwrap();
    assert!(r.points.len() <= 1, "{name}: {r:?}");
    r.points.into_iter().next()
}

fn ints(values: &[i64]) -> PointBatch {
    let rows: Vec<Row<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (s(i as i64), &[][..], vec![("f", Value::Int(v))]))
        .collect();
    batch(&rows)
}

fn strs(values: &[&str]) -> PointBatch {
    let rows: Vec<Row<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (s(i as i64), &[][..], vec![("f", Value::Str(v.into()))]))
        .collect();
    batch(&rows)
}

fn bools(values: &[bool]) -> PointBatch {
    let rows: Vec<Row<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (s(i as i64), &[][..], vec![("f", Value::Bool(v))]))
        .collect();
    batch(&rows)
}

#[test]
fn aggregates_on_floats_and_ints() {
    let fb = floats(&[4.0, 1.0, 3.0, 1.0]);
    let ib = ints(&[4, 1, 3, 1]);
    let table: Vec<(&str, Value, Value)> = vec![
        ("count", Value::Int(4), Value::Int(4)),
        ("sum", Value::Float(9.0), Value::Int(9)),
        ("mean", Value::Float(2.25), Value::Float(2.25)),
        ("median", Value::Float(2.0), Value::Float(2.0)),
        ("mode", Value::Float(1.0), Value::Int(1)),
        ("spread", Value::Float(3.0), Value::Int(3)),
        // Deviations from 2.25 squared sum to 6.75; 6.75 / (4 - 1) = 2.25.
        ("stddev", Value::Float(1.5), Value::Float(1.5)),
    ];
    for (name, want_f, want_i) in table {
        let got = one(name, &[], &fb).unwrap();
        assert_eq!(
            (got.value, got.row, got.time),
            (want_f, None, None),
            "{name} float"
        );
        let got = one(name, &[], &ib).unwrap();
        assert_eq!(
            (got.value, got.row, got.time),
            (want_i, None, None),
            "{name} int"
        );
    }
}

#[test]
fn selectors_keep_the_selected_row_and_time() {
    let fb = floats(&[4.0, 1.0, 3.0, 1.0]);
    let ib = ints(&[4, 1, 3, 1]);
    for b in [&fb, &ib] {
        let pick = |name: &str, args: &[Arg]| {
            let r = one(name, args, b).unwrap();
            (r.row, r.time)
        };
        assert_eq!(pick("first", &[]), (Some(0), Some(s(0))));
        assert_eq!(pick("last", &[]), (Some(3), Some(s(3))));
        assert_eq!(pick("min", &[]), (Some(1), Some(s(1))));
        assert_eq!(pick("max", &[]), (Some(0), Some(s(0))));
    }
    // Percentile: InfluxDB keeps the point time for floats only.
    let p = one("percentile", &[Arg::Float(75.0)], &fb).unwrap();
    assert_eq!(
        (p.value, p.row, p.time),
        (Value::Float(3.0), Some(2), Some(s(2)))
    );
    let p = one("percentile", &[Arg::Float(75.0)], &ib).unwrap();
    assert_eq!((p.value, p.row, p.time), (Value::Int(3), Some(2), None));
    assert_eq!(one("percentile", &[Arg::Float(1.0)], &fb), None);
}

#[test]
fn strings_and_booleans() {
    let sb = strs(&["b", "a", "b"]);
    let bb = bools(&[true, false, false]);
    assert_eq!(one("count", &[], &sb).unwrap().value, Value::Int(3));
    assert_eq!(
        one("first", &[], &sb).unwrap().value,
        Value::Str("b".into())
    );
    assert_eq!(one("last", &[], &sb).unwrap().row, Some(2));
    assert_eq!(one("mode", &[], &sb).unwrap().value, Value::Str("b".into()));
    assert_eq!(one("count", &[], &bb).unwrap().value, Value::Int(3));
    assert_eq!(one("last", &[], &bb).unwrap().value, Value::Bool(false));
    assert_eq!(one("mode", &[], &bb).unwrap().value, Value::Bool(false));
    let d = reduce(&call("distinct", &[]), &sb, "f").unwrap();
    assert_eq!(
        values(&d),
        vec![Value::Str("b".into()), Value::Str("a".into())]
    );
    for name in ["mean", "sum", "median", "spread", "stddev", "min", "max"] {
        let err = reduce(&call(name, &[]), &sb, "f").unwrap_err();
        assert_eq!(
            err,
            Error::UnsupportedType {
                func: Func::parse(name).unwrap(),
                field: "f".into(),
                kind: FieldKind::Str
            }
        );
        assert!(
            reduce(&call(name, &[]), &bb, "f").is_err(),
            "{name} of booleans"
        );
    }
    let err = reduce(&call("mean", &[]), &sb, "f")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cannot apply mean to field \"f\": its values are of type string"
    );
}

#[test]
fn empty_windows_emit_only_count_and_sum() {
    let empty = batch(&[]);
    let no_field = batch(&[(0, &[], vec![("other", Value::Float(1.0))])]);
    for b in [&empty, &no_field] {
        assert_eq!(one("count", &[], b).unwrap().value, Value::Int(0));
        assert_eq!(one("sum", &[], b).unwrap().value, Value::Float(0.0));
        for f in Func::ALL {
            if f.shape() == Shape::Transform || f.emits_when_empty() {
                continue;
            }
            let args: &[Arg] = match f {
                Func::Percentile => &[Arg::Float(50.0)],
                Func::Top | Func::Bottom => &[Arg::Int(2)],
                Func::HoltWinters | Func::HoltWintersWithFit => {
                    &[Arg::Int(1), Arg::Int(0), Arg::Int(s(1))]
                }
                _ => &[],
            };
            let r = reduce(&call(f.name(), args), b, "f").unwrap();
            assert!(r.points.is_empty(), "{f}: {r:?}");
        }
    }
}

#[test]
fn single_point_windows() {
    let b = floats(&[7.5]);
    for (name, want) in [
        ("count", Value::Int(1)),
        ("sum", Value::Float(7.5)),
        ("mean", Value::Float(7.5)),
        ("median", Value::Float(7.5)),
        ("mode", Value::Float(7.5)),
        ("spread", Value::Float(0.0)),
        ("stddev", Value::Float(0.0)),
        ("first", Value::Float(7.5)),
        ("last", Value::Float(7.5)),
        ("min", Value::Float(7.5)),
        ("max", Value::Float(7.5)),
    ] {
        assert_eq!(one(name, &[], &b).unwrap().value, want, "{name}");
    }
    assert_eq!(
        one("percentile", &[Arg::Float(50.0)], &b).unwrap().row,
        Some(0)
    );
    let hw = reduce(
        &call("holtWinters", &[Arg::Int(2), Arg::Int(0), Arg::Int(s(1))]),
        &b,
        "f",
    );
    assert!(hw.unwrap().points.is_empty());
}

#[test]
fn missing_values_are_skipped() {
    let b = batch(&[
        (s(0), &[], vec![("f", Value::Float(1.0))]),
        (s(1), &[], vec![("g", Value::Float(100.0))]),
        (s(2), &[], vec![("f", Value::Float(3.0))]),
    ]);
    assert_eq!(one("count", &[], &b).unwrap().value, Value::Int(2));
    assert_eq!(one("mean", &[], &b).unwrap().value, Value::Float(2.0));
    assert_eq!(one("last", &[], &b).unwrap().row, Some(2));
    let t = transform(&call("difference", &[]), &b, "f").unwrap();
    assert_eq!(t.points, vec![(2, Value::Float(2.0))]);
}

#[test]
fn mixed_types_keep_the_first_usable_type() {
    // Kapacitor's TestStream_Aggregate_Changing_Type data: a field that is sometimes a string.
    let b = batch(&[
        (s(0), &[], vec![("f", Value::Str("x".into()))]),
        (s(1), &[], vec![("f", Value::Int(2))]),
        (s(2), &[], vec![("f", Value::Float(10.0))]),
        (s(3), &[], vec![("f", Value::Int(4))]),
    ]);
    let r = reduce(&call("sum", &[]), &b, "f").unwrap();
    assert_eq!((values(&r), r.skipped), (vec![Value::Int(6)], 2));
    let r = reduce(&call("count", &[]), &b, "f").unwrap();
    assert_eq!((values(&r), r.skipped), (vec![Value::Int(1)], 3));
    let r = reduce(&call("last", &[]), &b, "f").unwrap();
    assert_eq!(r.points[0].row, Some(0));
}

#[test]
fn row_subsets_index_the_batch() {
    let b = floats(&[5.0, 1.0, 9.0, 2.0]);
    let r = reduce_rows(&call("max", &[]), &b, "f", &[1, 3]).unwrap();
    assert_eq!(
        (r.points[0].row, r.points[0].value.clone()),
        (Some(3), Value::Float(2.0))
    );
    let r = reduce_rows(&call("count", &[]), &b, "f", &[]).unwrap();
    assert_eq!(values(&r), vec![Value::Int(0)]);
    let err = reduce_rows(&call("count", &[]), &b, "f", &[0, 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 4 is out of range for a batch of 4 rows"
    );
    let mut st = TransformState::new(&call("difference", &[])).unwrap();
    assert!(st.feed(&b, "f", Some(&[9])).is_err());
}

#[test]
fn top_and_bottom_with_tags_and_fields() {
    let rows: Vec<Row<'_>> = vec![
        (
            s(1),
            &[("host", "a")],
            vec![("f", Value::Float(5.0)), ("k", Value::Int(1))],
        ),
        (
            s(2),
            &[("host", "b")],
            vec![("f", Value::Float(7.0)), ("k", Value::Int(1))],
        ),
        (
            s(3),
            &[("host", "a")],
            vec![("f", Value::Float(9.0)), ("k", Value::Int(2))],
        ),
        (
            s(4),
            &[("host", "b")],
            vec![("f", Value::Float(1.0)), ("k", Value::Int(2))],
        ),
        (
            s(5),
            &[],
            vec![("f", Value::Float(3.0)), ("k", Value::Int(2))],
        ),
    ];
    let b = batch(&rows);
    let rows_of = |r: Reduction| r.points.iter().map(|p| p.row.unwrap()).collect::<Vec<_>>();
    let top = |args: &[Arg]| rows_of(reduce(&call("top", args), &b, "f").unwrap());
    let bottom = |args: &[Arg]| rows_of(reduce(&call("bottom", args), &b, "f").unwrap());
    assert_eq!(top(&[Arg::Int(2)]), vec![1, 2]);
    assert_eq!(bottom(&[Arg::Int(2)]), vec![3, 4]);
    // One point per host ("" for the row without one).
    assert_eq!(top(&[Arg::Int(3), Arg::Str("host".into())]), vec![1, 2, 4]);
    assert_eq!(
        bottom(&[Arg::Int(3), Arg::Str("host".into())]),
        vec![0, 3, 4]
    );
    // A field works too; so does a pair.
    assert_eq!(top(&[Arg::Int(9), Arg::Str("k".into())]), vec![1, 2]);
    let pair = [Arg::Int(9), Arg::Str("host".into()), Arg::Str("k".into())];
    assert_eq!(top(&pair), vec![0, 1, 2, 3, 4]);
    let r = reduce(&call("top", &[Arg::Int(1)]), &ints(&[3, 8, 8]), "f").unwrap();
    assert_eq!(
        r.points,
        vec![Reduced {
            value: Value::Int(8),
            row: Some(1),
            time: Some(s(1))
        }]
    );
}

#[test]
fn transformations_are_refused_by_reduce() {
    assert!(reduce(&call("difference", &[]), &floats(&[1.0]), "f").is_err());
}

#[test]
fn chunked_transformations_match_one_pass() {
    let vals: Vec<f64> = (0..40).map(|i| ((i * 37) % 11) as f64 - 3.0).collect();
    let b = floats(&vals);
    let calls = [
        call("elapsed", &[Arg::Int(s(1) / 10)]),
        call("difference", &[]),
        call("derivative", &[Arg::Int(s(2)), Arg::Bool(true)]),
        call("cumulativeSum", &[]),
        call("movingAverage", &[Arg::Int(3)]),
    ];
    for c in &calls {
        let whole = transform(c, &b, "f").unwrap();
        let mut st = TransformState::new(c).unwrap();
        let mut chunked = Vec::new();
        for chunk in (0..40).collect::<Vec<usize>>().chunks(7) {
            chunked.extend(st.feed(&b, "f", Some(chunk)).unwrap().points);
        }
        assert_eq!(whole.points, chunked, "{}", c.func);
        assert!(!whole.points.is_empty());
    }
}

#[test]
fn transform_type_errors() {
    let err = transform(&call("difference", &[]), &strs(&["a", "b"]), "f").unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot apply difference to field \"f\""),
        "{err}"
    );
    let t = transform(&call("elapsed", &[Arg::Int(s(1))]), &strs(&["a", "b"]), "f").unwrap();
    assert_eq!(t.points, vec![(1, Value::Int(1))]);
    let t = transform(&call("cumulativeSum", &[]), &ints(&[1, 2, 3]), "nope").unwrap();
    assert!(t.points.is_empty());
}

#[test]
fn holt_winters_with_fit_covers_the_input() {
    let b = floats(&[10.0, 12.0, 14.0, 16.0, 18.0, 20.0]);
    let hw = call(
        "holtWintersWithFit",
        &[Arg::Int(2), Arg::Int(0), Arg::Int(s(1))],
    );
    let r = reduce(&hw, &b, "f").unwrap();
    let times: Vec<i64> = r.points.iter().map(|p| p.time.unwrap()).collect();
    assert_eq!(times, (0..8).map(s).collect::<Vec<_>>());
    assert_eq!(r.points[0].value, Value::Float(10.0));
    // A straight line is forecast as (nearly) a straight line.
    let Value::Float(last) = r.points[7].value else {
        panic!()
    };
    assert!((last - 24.0).abs() < 1.0, "{last}");
    // Seasonal: m = 2 over an alternating series.
    let b = floats(&[1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0]);
    let hw = call("holtWinters", &[Arg::Int(2), Arg::Int(2), Arg::Int(s(1))]);
    let r = reduce(&hw, &b, "f").unwrap();
    assert_eq!(r.points.len(), 2);
    let Value::Float(a) = r.points[0].value else {
        panic!()
    };
    let Value::Float(c) = r.points[1].value else {
        panic!()
    };
    assert!(a < c, "{a} {c}");
}
