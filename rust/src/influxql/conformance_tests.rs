//! Kapacitor's own integration cases that use InfluxQL functions (../shared/conformance), with
//! each window worked out by hand from the case's data file and the kernel checked against the
//! value Kapacitor produced. Times are seconds after the replay's clock zero.

use crate::batch::Value;

use super::testutil::{batch, floats, s, Row};
use super::*;

fn call(name: &str, args: &[Arg]) -> Call {
    Call::parse(name, args).unwrap()
}

/// A batch of float field `value` at the given (second, value) pairs; `None` = the point has
/// only an unrelated field (the "value2=0" lines of the data files).
fn points(pts: &[(i64, Option<f64>)]) -> PointBatch {
    let rows: Vec<Row<'_>> = pts
        .iter()
        .map(|&(t, v)| match v {
            Some(v) => (s(t), &[][..], vec![("value", Value::Float(v))]),
            None => (s(t), &[][..], vec![("value2", Value::Float(0.0))]),
        })
        .collect();
    batch(&rows)
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// Runs a transformation over a stream, then an aggregate over the outputs in `[lo, hi)`, as
/// `|transform() |window() |aggregate()` does.
fn transform_then(tr: &Call, pts: &[(i64, Option<f64>)], lo: i64, hi: i64, agg: &str) -> Value {
    let b = points(pts);
    let out = transform(tr, &b, "value").unwrap();
    let window: Vec<f64> = out
        .points
        .iter()
        .filter(|(r, _)| (s(lo)..s(hi)).contains(&b.time[*r]))
        .map(|(_, v)| float(v))
        .collect();
    let r = reduce(&call(agg, &[]), &floats(&window), "f").unwrap();
    r.points[0].value.clone()
}

#[test]
fn test_stream_holt_winters() {
    // packets,host=serverA value=1000..1009 at 0..9 s; holtWinters('value', 3, 0, 1s).
    let t0 = 31_536_000; // 1971-01-01T00:00:00Z
    let vals = [
        1000., 1001., 1002., 1003., 1004., 1006., 1007., 1007., 1008., 1009.,
    ];
    let rows: Vec<Row<'_>> = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let t = s(t0 + i as i64);
            (
                t,
                &[("host", "serverA")][..],
                vec![("value", Value::Float(v))],
            )
        })
        .collect();
    let hw = call("holtWinters", &[Arg::Int(3), Arg::Int(0), Arg::Int(s(1))]);
    let r = reduce(&hw, &batch(&rows), "value").unwrap();
    let got: Vec<(i64, Value)> = r
        .points
        .iter()
        .map(|p| (p.time.unwrap(), p.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (s(t0 + 10), Value::Float(1009.324690106368)),
            (s(t0 + 11), Value::Float(1009.7524349889708)),
            (s(t0 + 12), Value::Float(1010.105056042826)),
        ]
    );
}

#[test]
fn test_stream_selectors() {
    // cpu,type=idle,host=serverA value=...,another=... at 0..9 s; |last('value') keeps the
    // selected point's other field: expected columns time, another=5, last=95.3.
    let vals = [97.1, 92.6, 95.6, 93.1, 92.6, 95.8, 92.7, 96.0, 93.4, 95.3];
    let another = [7., 2., 5., 3., 2., 5., 2., 6., 3., 5.];
    let tags = [("host", "serverA"), ("type", "idle")];
    let rows: Vec<Row<'_>> = (0..10)
        .map(|i| {
            let f = vec![
                ("another", Value::Float(another[i])),
                ("value", Value::Float(vals[i])),
            ];
            (s(i as i64), &tags[..], f)
        })
        .collect();
    let b = batch(&rows);
    let r = reduce(&call("last", &[]), &b, "value").unwrap();
    let p = &r.points[0];
    assert_eq!(p.value, Value::Float(95.3));
    let row = p.row.unwrap();
    assert_eq!(
        b.field("another").unwrap().get(row),
        Some(Value::Float(5.0))
    );
    assert_eq!(b.row_tags(row), vec![("host", "serverA"), ("type", "idle")]);
}

#[test]
fn test_stream_cumulative_sum() {
    let pts: Vec<(i64, Option<f64>)> = [0., 0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, Some(v)))
        .collect();
    let b = points(&pts);
    let out = transform(&call("cumulativeSum", &[]), &b, "value").unwrap();
    let window: Vec<f64> = out.points[..10].iter().map(|(_, v)| float(v)).collect();
    assert_eq!(window, vec![0., 0., 1., 3., 6., 10., 15., 21., 28., 36.]);
    assert_eq!(out.points[9].0, 9);
}

#[test]
fn test_stream_moving_average() {
    let vals = [
        1000., 1001., 1002., 1003., 1014., 1015., 1016., 1017., 1018., 1019., 1020., 1021., 1022.,
        1023., 1024.,
    ];
    let pts: Vec<(i64, Option<f64>)> = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, Some(v)))
        .collect();
    let b = points(&pts);
    let out = transform(&call("movingAverage", &[Arg::Int(4)]), &b, "value").unwrap();
    // The window [3 s, 13 s) of the outputs.
    let got: Vec<(i64, f64)> = out
        .points
        .iter()
        .filter(|(r, _)| b.time[*r] < s(13))
        .map(|(r, v)| (b.time[*r] / s(1), float(v)))
        .collect();
    let want = [
        1001.5, 1005.0, 1008.5, 1012.0, 1015.5, 1016.5, 1017.5, 1018.5, 1019.5, 1020.5,
    ];
    assert_eq!(got, (3..13).zip(want).collect::<Vec<_>>());
}

#[test]
fn test_stream_elapsed() {
    // Points at 0..5, 9..11 s; |elapsed('value', 1s) |window(10s) from 1 s |max('elapsed') = 4.
    let b = points(&[0, 1, 2, 3, 4, 5, 9, 10, 11].map(|t| (t, Some(1000.0))));
    let out = transform(&call("elapsed", &[Arg::Int(s(1))]), &b, "value").unwrap();
    let rows: Vec<Row<'_>> = out
        .points
        .iter()
        .filter(|(r, _)| b.time[*r] < s(11))
        .map(|(r, v)| (b.time[*r], &[][..], vec![("elapsed", v.clone())]))
        .collect();
    let r = reduce(&call("max", &[]), &batch(&rows), "elapsed").unwrap();
    assert_eq!(r.points[0].value, Value::Int(4));
}

#[test]
fn test_stream_derivative_family() {
    let data: Vec<(i64, Option<f64>)> = vec![
        (0, Some(1000.)),
        (1, Some(1001.)),
        (2, None),
        (3, Some(1003.)),
        (4, Some(1004.)),
        (5, Some(1006.)),
        (6, Some(1007.)),
        (7, Some(1007.)),
        (8, Some(1008.)),
        (9, Some(1009.)),
        (10, Some(1010.)),
        (11, Some(1011.)),
    ];
    let d = call("derivative", &[]);
    assert_eq!(transform_then(&d, &data, 1, 11, "mean"), Value::Float(1.0));
    let d10 = call("derivative", &[Arg::Int(s(10))]);
    assert_eq!(
        transform_then(&d10, &data, 1, 11, "mean"),
        Value::Float(10.0)
    );

    // TestStream_DerivativeN / NN.
    let nn: Vec<(i64, Option<f64>)> = [
        1000., 1001., 1002., 1003., 1004., 1005., 6., 0., 1., 2., 3., 4.,
    ]
    .iter()
    .enumerate()
    .map(|(i, &v)| (i as i64, Some(v)))
    .collect();
    let Value::Float(mean) = transform_then(&d, &nn, 1, 11, "mean") else {
        panic!()
    };
    assert!((mean - -99.7).abs() < 1e-9, "{mean}");
    let dnn = call("derivative", &[Arg::Int(s(1)), Arg::Bool(true)]);
    assert_eq!(transform_then(&dnn, &nn, 1, 11, "mean"), Value::Float(1.0));

    // TestStream_DerivativeZeroElapsed: two points at 1 s; the second yields nothing.
    let mut z = data.clone();
    z[2] = (1, Some(1002.));
    assert_eq!(transform_then(&d, &z, 1, 11, "count"), Value::Int(9));
}

#[test]
fn test_stream_influxql_node_missing_value() {
    // |mean('is_missing_value') on a stream: points with the same time form one window; only
    // the one at 10 s has the field.
    let rows: Vec<Row<'_>> = vec![
        (s(9), &[], vec![("value", Value::Float(1009.))]),
        (s(10), &[], vec![("is_missing_value", Value::Float(1011.))]),
        (s(10), &[], vec![("value", Value::Float(1010.))]),
    ];
    let b = batch(&rows);
    let mean = call("mean", &[]);
    assert!(reduce_rows(&mean, &b, "is_missing_value", &[0])
        .unwrap()
        .points
        .is_empty());
    let r = reduce_rows(&mean, &b, "is_missing_value", &[1, 2]).unwrap();
    assert_eq!(r.points[0].value, Value::Float(1011.0));
    // The batch variant: derivative('value') outputs no such field → the window emits nothing.
    let r = reduce(&mean, &floats(&[1.0, 1.0]), "is_missing_value").unwrap();
    assert!(r.points.is_empty());
}

#[test]
fn test_batch_transformations() {
    // TestBatch_Difference and TestBatch_Elapsed: values at 0, 2, 4, 6, 8 s.
    let b = points(&[
        (0, Some(1000.)),
        (2, Some(1005.)),
        (4, Some(1008.)),
        (6, Some(1009.)),
        (8, Some(1004.)),
    ]);
    let out = transform(&call("difference", &[]), &b, "value").unwrap();
    let want = [(1, 5.0), (2, 3.0), (3, 1.0), (4, -5.0)].map(|(r, v)| (r, Value::Float(v)));
    assert_eq!(out.points, want.to_vec());
    let out = transform(&call("elapsed", &[Arg::Int(1_000_000)]), &b, "value").unwrap();
    assert_eq!(
        out.points,
        (1..5).map(|r| (r, Value::Int(2000))).collect::<Vec<_>>()
    );

    // TestBatch_Derivative (and .unit(2s)): a point without the field at 5 s is skipped.
    let b = points(&[
        (0, Some(1000.)),
        (2, Some(1001.)),
        (4, Some(1002.)),
        (5, None),
        (6, Some(1003.)),
        (8, Some(1005.)),
    ]);
    let got = |c: &Call| {
        let out = transform(c, &b, "value").unwrap();
        out.points
            .iter()
            .map(|(r, v)| (*r, float(v)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        got(&call("derivative", &[])),
        vec![(1, 0.5), (2, 0.5), (4, 0.5), (5, 1.0)]
    );
    assert_eq!(
        got(&call("derivative", &[Arg::Int(s(2))])),
        vec![(1, 1.), (2, 1.), (4, 1.), (5, 2.)]
    );

    // TestBatch_DerivativeN / NN.
    let b = points(&[
        (0, Some(1000.)),
        (2, Some(1001.)),
        (4, Some(1002.)),
        (5, None),
        (6, Some(0.)),
        (8, Some(1.)),
    ]);
    let out = transform(&call("derivative", &[]), &b, "value").unwrap();
    let vals: Vec<f64> = out.points.iter().map(|(_, v)| float(v)).collect();
    assert_eq!(vals, vec![0.5, 0.5, -501.0, 0.5]);
    let nn = call("derivative", &[Arg::Int(s(1)), Arg::Bool(true)]);
    let out = transform(&nn, &b, "value").unwrap();
    assert_eq!(
        out.points.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![1, 2, 5]
    );
}

#[test]
fn test_batch_aggregates() {
    // TestBatch_CountEmptyBatch: every point filtered out → count 0.
    let r = reduce(&call("count", &[]), &batch(&[]), "mean").unwrap();
    assert_eq!(r.points[0].value, Value::Int(0));
    // TestBatch_DefaultEmptyTag: the last batch after default(mean=90.0) → sum 441.
    let r = reduce(&call("sum", &[]), &floats(&[90., 86., 91., 85., 89.]), "f").unwrap();
    assert_eq!(r.points[0].value, Value::Float(441.0));
    // TestStream_SimpleMR: ten points of serverA in the window → count 10.
    let r = reduce(&call("count", &[]), &floats(&[1.0; 10]), "f").unwrap();
    assert_eq!(r.points[0].value, Value::Int(10));
}
