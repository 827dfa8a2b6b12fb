//! The answer decoder against the row-by-row `BatchBuilder` (the batch it must equal) and
//! against what Kapacitor reads from the same JSON.

use super::*;
use crate::batch::{BatchBuilder, Value};

fn results(body: &str) -> Vec<StatementResult> {
    match decode(body.as_bytes()).expect("decodes") {
        Answer::Results(r) => r,
        Answer::Failed(e) => panic!("request failed: {e}"),
    }
}

fn only_series(body: &str) -> SeriesBatch {
    let mut r = results(body);
    assert_eq!(r.len(), 1);
    let mut s = std::mem::take(&mut r[0].series);
    assert_eq!(s.len(), 1);
    s.remove(0)
}

fn answer(series: &str) -> String {
    format!(r#"{{"results":[{{"statement_id":0,"series":[{series}]}}]}}"#)
}

/// The batch `BatchBuilder` makes of the same rows, one `push_row` each.
fn built(name: &str, tags: &[(&str, &str)], rows: &[(i64, Vec<(&str, Value)>)]) -> PointBatch {
    let mut b = BatchBuilder::new();
    for (t, fields) in rows {
        b.push_row(name, tags, fields, *t).unwrap();
    }
    b.finish()
}

#[test]
fn numbers_become_floats_nulls_are_skipped_and_empty_rows_dropped() {
    let s = only_series(&answer(
        r#"{"name":"cpu","tags":{"host":"a","dc":""},"columns":["time","n","s","gone"],
            "values":[[10,3,"x",null],[20,null,null,null],[30,4.5,null,null],[40,true,"y",null]]}"#,
    ));
    assert_eq!(s.name, "cpu");
    assert_eq!(
        s.tags,
        vec![("host".into(), "a".into()), ("dc".into(), "".into())]
    );
    assert_eq!(s.tmax, 40);
    let want = built(
        "cpu",
        &[("host", "a"), ("dc", "")],
        &[
            (
                10,
                vec![("n", Value::Float(3.0)), ("s", Value::Str("x".into()))],
            ),
            (30, vec![("n", Value::Float(4.5))]),
            (
                40,
                vec![("n", Value::Bool(true)), ("s", Value::Str("y".into()))],
            ),
        ],
    );
    assert_eq!(s.batch, want);
}

#[test]
fn huge_and_negative_integers_round_as_float64() {
    let s = only_series(&answer(
        r#"{"name":"m","columns":["time","a","b","c","d"],
            "values":[[1,9007199254740993,18446744073709551615,-9223372036854775808,123456789012345678901234567890]]}"#,
    ));
    let want = built(
        "m",
        &[],
        &[(
            1,
            vec![
                ("a", Value::Float(9_007_199_254_740_993u64 as f64)),
                ("b", Value::Float(u64::MAX as f64)),
                ("c", Value::Float(i64::MIN as f64)),
                ("d", Value::Float(1.234_567_890_123_456_8e29)),
            ],
        )],
    );
    assert_eq!(s.batch, want);
}

#[test]
fn a_series_without_tags_columns_or_values_is_an_empty_batch() {
    let s = only_series(&answer(r#"{"name":"cpu"}"#));
    assert!(s.tags.is_empty());
    assert_eq!(s.tmax, 0);
    assert_eq!(s.batch, BatchBuilder::new().finish());
    let s = only_series(&answer(
        r#"{"name":"cpu","tags":null,"columns":["time","v"],"values":null}"#,
    ));
    assert_eq!(s.batch.len(), 0);
    assert!(results(r#"{"results":[{"statement_id":0}]}"#)[0]
        .series
        .is_empty());
}

#[test]
fn text_times_are_read_as_rfc3339_and_negative_times_leave_tmax_at_zero() {
    let s = only_series(&answer(
        r#"{"name":"m","columns":["time","v"],"values":[["1970-01-01T00:00:01.5Z",1],[-5,2]]}"#,
    ));
    assert_eq!(s.batch.time, vec![1_500_000_000, -5]);
    assert_eq!(s.tmax, 1_500_000_000);
    let s = only_series(&answer(
        r#"{"name":"m","columns":["time","v"],"values":[[-5,2]]}"#,
    ));
    assert_eq!(s.tmax, 0);
}

#[test]
fn a_column_changing_type_is_mixed_as_the_builder_makes_it() {
    let s = only_series(&answer(
        r#"{"name":"m","columns":["time","v"],"values":[[1,1],[2,"two"],[3,false]]}"#,
    ));
    let want = built(
        "m",
        &[],
        &[
            (1, vec![("v", Value::Float(1.0))]),
            (2, vec![("v", Value::Str("two".into()))]),
            (3, vec![("v", Value::Bool(false))]),
        ],
    );
    assert_eq!(s.batch, want);
}

#[test]
fn escaped_strings_and_tags_match() {
    let s = only_series(&answer(
        r#"{"name":"we ird,m","tags":{"k":"v\"1","k":"v2"},"columns":["time","s"],"values":[[1,"a\nb\u00e9"]]}"#,
    ));
    assert_eq!(s.tags, vec![("k".into(), "v2".into())]);
    let want = built(
        "we ird,m",
        &[("k", "v2")],
        &[(1, vec![("s", Value::Str("a\nb\u{e9}".into()))])],
    );
    assert_eq!(s.batch, want);
}

#[test]
fn errors_of_the_request_and_of_statements() {
    match decode(br#"{"error":"database not found: x"}"#).unwrap() {
        Answer::Failed(e) => assert_eq!(e, "database not found: x"),
        other => panic!("{other:?}"),
    }
    let r = results(
        r#"{"results":[{"statement_id":0,"series":[{"name":"a","columns":["time","v"],"values":[[1,1]]}]},
                       {"statement_id":1,"error":"boom","messages":[{"level":"warning","text":"w"}]},
                       {"statement_id":2,"series":[{"name":"","columns":["time","v"],"values":[[1,1]]}]}]}"#,
    );
    assert_eq!(r[0].series.len(), 1);
    assert_eq!(r[1].error.as_deref(), Some("boom"));
    assert_eq!(r[1].statement_id, Some(1));
    assert_eq!(r[1].messages, vec![("warning".into(), "w".into())]);
    // after a failed statement nothing is built (a name-less series there is not an error)
    assert!(r[2].series.is_empty());
}

#[test]
fn malformed_answers_say_what_is_wrong() {
    let err = |body: &str| decode(body.as_bytes()).unwrap_err().0;
    assert!(
        err(r#"{"results":[{"series":[{"name":"m","values":[[1,2]"#).starts_with("bad JSON: EOF")
    );
    assert!(
        err("5").starts_with("bad JSON: invalid type: integer"),
        "{}",
        err("5")
    );
    assert!(
        err("nope").starts_with("bad JSON: expected"),
        "{}",
        err("nope")
    );
    assert_eq!(err("{}"), "query answer has no results");
    assert!(err(&answer(r#"{"name":"m","tags":{"k":1}}"#)).contains("invalid type: integer"));
    assert_eq!(
        err(&answer(
            r#"{"name":"m","columns":["time","v"],"values":[[1,[1,2]]]}"#
        )),
        "series \"m\", row 0: column \"v\" holds an array, not a field value"
    );
    assert_eq!(
        err(&answer(
            r#"{"name":"m","columns":["time","v"],"values":[[null,1]]}"#
        )),
        "series \"m\", row 0: time is null"
    );
    assert_eq!(
        err(&answer(
            r#"{"name":"m","columns":["time","v"],"values":[["yesterday",1]]}"#
        )),
        "series \"m\", row 0: invalid time \"yesterday\" in the answer: not an RFC 3339 time"
    );
    assert_eq!(
        err(&answer(
            r#"{"name":"","columns":["time","v"],"values":[[1,1]]}"#
        )),
        "series \"\": missing measurement"
    );
}

#[test]
fn rfc3339_as_go_reads_it() {
    let p = |s: &str| parse_rfc3339_ns(s);
    assert_eq!(p("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(p("2015-10-30T17:14:12.5Z"), Ok(1_446_225_252_500_000_000));
    assert_eq!(
        p("2015-10-30t17:14:12.1234567891z"),
        Ok(1_446_225_252_123_456_789)
    );
    assert_eq!(
        p("2015-10-30T19:14:12+02:00"),
        Ok(1_446_225_252_000_000_000)
    );
    assert_eq!(p("1969-12-31T23:59:59.9Z"), Ok(-100_000_000));
    assert_eq!(p("2000-02-29T00:00:00Z"), Ok(951_782_400_000_000_000));
    assert!(p("2001-02-29T00:00:00Z").is_err());
    assert!(p("2001-01-01T24:00:00Z").is_err());
    assert!(p("2001-01-01T00:00:00").is_err());
    assert!(p("2001-01-01T00:00:00.Z").is_err());
    assert!(p("3000-01-01T00:00:00Z").is_err());
    assert!(p("2001-01-01 00:00:00Z").is_err());
}
