//! One test per grammar rule and per error message (exact text and column).

use super::*;
use crate::batch::{FieldKind, PointBatch, Value};

const NOW: i64 = 1_700_000_000_123_456_789;

fn parse_ns(s: &str) -> ParseOutput {
    parse(s.as_bytes(), Precision::Nanosecond, NOW)
}

/// The single point of a one-line body that must parse.
fn one(s: &str) -> PointBatch {
    let out = parse_ns(s);
    assert!(out.errors.is_empty(), "{s:?}: {:?}", out.errors);
    assert_eq!(out.batch.len(), 1, "{s:?}");
    out.batch
}

/// The single error of a one-line body that must fail: "line:column: message".
fn fail(s: &str) -> String {
    let out = parse_ns(s);
    assert_eq!(out.batch.len(), 0, "{s:?} parsed");
    assert_eq!(out.errors.len(), 1, "{s:?}: {:?}", out.errors);
    out.errors[0].to_string()
}

fn field(b: &PointBatch, name: &str) -> Value {
    b.field(name).unwrap().get(0).unwrap()
}

fn tags(b: &PointBatch) -> Vec<(String, String)> {
    b.row_tags(0)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn t(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

// ---- structure ---------------------------------------------------------------------------

#[test]
fn minimal_point() {
    let b = one("cpu value=1 10");
    assert_eq!(b.measurement(0), "cpu");
    assert_eq!(field(&b, "value"), Value::Float(1.0));
    assert_eq!(b.time, vec![10]);
    assert_eq!(*b.series_keys, vec!["cpu"]);
}

#[test]
fn tags_are_sorted_in_series_key_and_columns() {
    let b = one("cpu,zone=z,host=a,dc=x v=1 1");
    assert_eq!(*b.series_keys, vec!["cpu,dc=x,host=a,zone=z"]);
    assert_eq!(b.tag_keys, vec!["dc", "host", "zone"]);
    assert_eq!(tags(&b), vec![t("dc", "x"), t("host", "a"), t("zone", "z")]);
}

#[test]
fn fields_are_sorted_by_name() {
    let b = one("m z=1,a=2i,m=\"s\" 1");
    let names: Vec<&str> = b.fields.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["a", "m", "z"]);
}

#[test]
fn same_series_with_tags_in_other_order_is_one_series() {
    let out = parse_ns("cpu,b=2,a=1 v=1 1\ncpu,a=1,b=2 v=2 2\n");
    assert!(out.errors.is_empty());
    assert_eq!(out.batch.series, vec![0, 0]);
    assert_eq!(*out.batch.series_keys, vec!["cpu,a=1,b=2"]);
}

#[test]
fn missing_tags_are_no_tag_codes() {
    let out = parse_ns("cpu,host=a v=1 1\ncpu v=2 2\nmem,dc=x v=3 3\n");
    let b = out.batch;
    assert_eq!(
        b.tag("host").unwrap().codes,
        vec![0, crate::batch::NO_TAG, crate::batch::NO_TAG]
    );
    assert_eq!(b.tag("dc").unwrap().get(2), Some("x"));
    assert_eq!(b.distinct_measurements(), vec!["cpu", "mem"]);
}

#[test]
fn absent_fields_are_invalid_rows() {
    let out = parse_ns("m a=1 1\nm b=2i 2\n");
    let b = out.batch;
    assert_eq!(b.field("a").unwrap().valid, vec![true, false]);
    assert_eq!(b.field("b").unwrap().valid, vec![false, true]);
}

#[test]
fn duplicate_field_last_wins() {
    let b = one("m a=1,a=2 1");
    assert_eq!(field(&b, "a"), Value::Float(2.0));
    assert_eq!(b.field("a").unwrap().data.kind(), FieldKind::Float);
    let b = one("m a=1,a=\"x\" 1");
    assert_eq!(field(&b, "a"), Value::Str("x".into()));
}

#[test]
fn field_with_two_types_in_one_body_is_mixed() {
    let out = parse_ns("m a=1 1\nn a=2i 2\no a=true 3\n");
    assert!(out.errors.is_empty());
    let c = out.batch.field("a").unwrap();
    assert_eq!(c.data.kind(), FieldKind::Mixed);
    assert_eq!(c.get(0), Some(Value::Float(1.0)));
    assert_eq!(c.get(1), Some(Value::Int(2)));
    assert_eq!(c.get(2), Some(Value::Bool(true)));
}

// ---- values ------------------------------------------------------------------------------

#[test]
fn float_spellings() {
    for (text, v) in [
        ("1", 1.0),
        ("-1.5", -1.5),
        ("0.1", 0.1),
        (".5", 0.5),
        ("5.", 5.0),
        ("-0", -0.0),
        ("1e3", 1000.0),
        ("1E+3", 1000.0),
        ("2.5e-3", 0.0025),
        ("12345678901234567890", 12345678901234567890.0),
        ("1.7976931348623157e308", f64::MAX),
        ("0.30000000000000004", 0.30000000000000004),
        ("123456789012345678.25", 123456789012345678.25),
    ] {
        let b = one(&format!("m v={text} 1"));
        match field(&b, "v") {
            Value::Float(x) => assert_eq!(x.to_bits(), v.to_bits(), "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn integer_and_unsigned() {
    assert_eq!(field(&one("m v=-42i 1"), "v"), Value::Int(-42));
    assert_eq!(
        field(&one("m v=9223372036854775807i"), "v"),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        field(&one("m v=-9223372036854775808i"), "v"),
        Value::Int(i64::MIN)
    );
    assert_eq!(
        field(&one("m v=18446744073709551615u"), "v"),
        Value::UInt(u64::MAX)
    );
    assert_eq!(field(&one("m v=0u"), "v"), Value::UInt(0));
}

#[test]
fn booleans_in_every_spelling() {
    for (s, v) in [
        ("t", true),
        ("T", true),
        ("true", true),
        ("True", true),
        ("TRUE", true),
        ("f", false),
        ("F", false),
        ("false", false),
        ("False", false),
        ("FALSE", false),
    ] {
        assert_eq!(
            field(&one(&format!("m v={s} 1")), "v"),
            Value::Bool(v),
            "{s}"
        );
    }
}

#[test]
fn strings_with_escapes_and_newlines() {
    assert_eq!(
        field(&one(r#"m v="a b,c=d" 1"#), "v"),
        Value::Str("a b,c=d".into())
    );
    assert_eq!(
        field(&one(r#"m v="say \"hi\"" 1"#), "v"),
        Value::Str("say \"hi\"".into())
    );
    assert_eq!(
        field(&one(r#"m v="back\\slash" 1"#), "v"),
        Value::Str("back\\slash".into())
    );
    assert_eq!(
        field(&one(r#"m v="C:\temp" 1"#), "v"),
        Value::Str("C:\\temp".into())
    );
    assert_eq!(
        field(&one("m v=\"two\nlines\" 1"), "v"),
        Value::Str("two\nlines".into())
    );
    assert_eq!(field(&one(r#"m v="" 1"#), "v"), Value::Str("".into()));
    assert_eq!(
        field(&one("m v=\"ünï ☃\" 1"), "v"),
        Value::Str("ünï ☃".into())
    );
}

#[test]
fn escapes_in_names() {
    let b = one(r"my\ cpu\,x,ho\ st=a\,b\=c\ d my\ f\=\,=1 1");
    assert_eq!(b.measurement(0), "my cpu,x");
    assert_eq!(tags(&b), vec![t("ho st", "a,b=c d")]);
    assert_eq!(b.fields[0].name, "my f=,");
    assert_eq!(*b.series_keys, vec![r"my\ cpu\,x,ho\ st=a\,b\=c\ d"]);
}

#[test]
fn unknown_escapes_are_literal_backslashes() {
    let b = one(r"m\q,path=C:\temp\n f\q=1 1");
    assert_eq!(b.measurement(0), r"m\q");
    assert_eq!(tags(&b), vec![t("path", r"C:\temp\n")]);
    assert_eq!(b.fields[0].name, r"f\q");
}

#[test]
fn a_measurement_reads_escapes_as_influxdb_name() {
    // InfluxDB's Point.Name() unescapes `\,` `\ ` `\=` `\"`
    assert_eq!(one(r"cpu\=load v=1 1").measurement(0), "cpu=load");
    assert_eq!(one(r#"m\"q v=1 1"#).measurement(0), "m\"q");
    let b = one(r"a\\=b v=1 1");
    assert_eq!(b.measurement(0), r"a\=b");
    let text = serialize(&b, Precision::Nanosecond).unwrap();
    assert_eq!(
        one(std::str::from_utf8(&text).unwrap()).measurement(0),
        r"a\=b"
    );
}

#[test]
fn a_byte_after_a_backslash_is_escaped_in_keys_as_in_influxdb() {
    // InfluxDB scans measurement and tags by "is the previous byte a backslash", so `\\,` is a
    // literal backslash followed by an escaped comma, and `\\ ` does not end the key.
    let b = one(r"cpu\\,x,t=a\\,b v=1 1");
    assert_eq!(b.measurement(0), r"cpu\,x");
    assert_eq!(tags(&b), vec![t("t", r"a\,b")]);
    let b = one(r"cpu,t=a\\ b v=1");
    assert_eq!(tags(&b), vec![t("t", r"a\ b")]);
}

#[test]
fn field_key_may_escape_quote() {
    assert_eq!(one(r#"m a\"b=1 1"#).fields[0].name, "a\"b");
}

// ---- lines, whitespace, comments, time -----------------------------------------------------

#[test]
fn blank_lines_comments_and_crlf() {
    let body =
        "# a comment\n\n   \ncpu v=1 1\r\n\t# indented comment\r\ncpu v=2 2\r\n\r\ncpu v=3\r\n";
    let out = parse_ns(body);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.time, vec![1, 2, NOW]);
}

#[test]
fn whitespace_rules() {
    let b = one("  cpu   v=1   5   ");
    assert_eq!(b.time, vec![5]);
    let b = one("cpu\tx v=1 5");
    assert_eq!(b.measurement(0), "cpu\tx");
    // A tab is not a field separator (InfluxDB agrees).
    assert_eq!(fail("cpu v=1\t5"), "1:7: invalid number");
}

#[test]
fn missing_timestamp_uses_now_truncated_to_precision() {
    let out = parse(b"m v=1", Precision::Second, NOW);
    assert_eq!(out.batch.time, vec![1_700_000_000_000_000_000]);
    assert_eq!(one("m v=1").time, vec![NOW]);
}

#[test]
fn precisions() {
    for (p, mult) in [
        ("ns", 1i64),
        ("n", 1),
        ("", 1),
        ("u", 1_000),
        ("us", 1_000),
        ("µ", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ] {
        let prec = Precision::parse(p).unwrap();
        let out = parse(b"m v=1 7", prec, NOW);
        assert_eq!(out.batch.time, vec![7 * mult], "{p}");
    }
    assert_eq!(Precision::parse("x"), None);
    assert_eq!(Precision::parse("sec"), None);
}

#[test]
fn negative_and_extreme_timestamps() {
    assert_eq!(one("m v=1 -5").time, vec![-5]);
    assert_eq!(one("m v=1 9223372036854775806").time, vec![i64::MAX - 1]);
    assert_eq!(one("m v=1 -9223372036854775806").time, vec![i64::MIN + 2]);
}

// ---- errors: exact text and column ----------------------------------------------------------

#[test]
fn error_messages_and_columns() {
    let cases: &[(&str, &str)] = &[
        ("cpu", "1:4: missing fields"),
        ("cpu ", "1:5: missing fields"),
        ("cpu,host=a", "1:11: missing fields"),
        (",host=a v=1", "1:1: missing measurement"),
        ("cpu, v=1", "1:5: missing tag key"),
        ("cpu,=a v=1", "1:5: missing tag key"),
        ("cpu,host v=1", "1:9: missing tag value"),
        ("cpu,host= v=1", "1:10: missing tag value"),
        ("cpu,host=,x=1 v=1", "1:10: missing tag value"),
        ("cpu,host=a=b v=1", "1:11: invalid tag format"),
        ("cpu,a=1,b=2,a=3 v=1", "1:13: duplicate tags"),
        ("cpu =1", "1:5: missing field key"),
        ("cpu v=1,=2", "1:9: missing field key"),
        ("cpu v=", "1:7: missing field value"),
        ("cpu v=,w=1", "1:7: missing field value"),
        ("cpu v= 1", "1:7: missing field value"),
        ("cpu v=1,", "1:9: invalid field format"),
        ("cpu v", "1:6: invalid field format"),
        ("cpu v w=1", "1:6: invalid field format"),
        ("cpu v=1, w=2", "1:9: invalid field format"),
        ("cpu v=\"abc\"x 1", "1:12: invalid field format"),
        ("cpu v=\"abc", "1:7: unbalanced quotes"),
        ("cpu v=1.5i", "1:7: invalid number"),
        ("cpu v=1.2.3", "1:7: invalid number"),
        ("cpu v=1x", "1:7: invalid number"),
        ("cpu v=-", "1:7: invalid number"),
        ("cpu v=.", "1:7: invalid number"),
        ("cpu v=-i", "1:7: invalid number"),
        ("cpu v=NaN", "1:7: invalid number"),
        ("cpu v=nan", "1:7: invalid number"),
        ("cpu v=-1u", "1:7: invalid number"),
        ("cpu v=1e", "1:7: invalid float"),
        ("cpu v=1e999", "1:7: invalid float"),
        (
            "cpu v=9223372036854775808i",
            "1:7: unable to parse integer: value out of range",
        ),
        (
            "cpu v=-9223372036854775809i",
            "1:7: unable to parse integer: value out of range",
        ),
        (
            "cpu v=18446744073709551616u",
            "1:7: unable to parse unsigned: value out of range",
        ),
        ("cpu v=tru", "1:7: invalid boolean"),
        ("cpu v=yes", "1:7: invalid boolean"),
        ("cpu v=+1", "1:7: invalid boolean"),
        ("cpu v=1 12a", "1:9: bad timestamp"),
        ("cpu v=1 abc", "1:9: bad timestamp"),
        ("cpu v=1 -", "1:9: bad timestamp"),
        (
            "cpu v=1 9223372036854775807",
            "1:9: time outside range -9223372036854775806 - 9223372036854775806",
        ),
        (
            "cpu v=1 99999999999999999999",
            "1:9: time outside range -9223372036854775806 - 9223372036854775806",
        ),
        (
            "cpu v=1 1 2",
            "1:11: point is invalid: unexpected text after the timestamp",
        ),
        ("cpu\\", "1:4: invalid escape: backslash at end of line"),
        ("cpu,h=a\\", "1:8: invalid escape: backslash at end of line"),
        ("cpu v\\", "1:6: invalid escape: backslash at end of line"),
    ];
    for (line, want) in cases {
        assert_eq!(fail(line), *want, "{line:?}");
    }
}

#[test]
fn time_overflow_from_precision() {
    let out = parse(b"m v=1 9223372036854775", Precision::Second, NOW);
    assert_eq!(
        out.errors[0].kind,
        ErrorKind::TimeOutOfRange,
        "{:?}",
        out.errors
    );
}

#[test]
fn invalid_utf8_is_kept_as_influxdb_keeps_it() {
    let body: &[u8] = b"m v=\"\xff\" 1\nm\xfe v=1 2\nm,t=caf\xe9 v=2 4\n";
    let out = parse(body, Precision::Nanosecond, 0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.time, vec![1, 2, 4]);
    assert_eq!(out.batch.distinct_series().len(), 3);
    // written back byte for byte (fields sorted by name, as the serializer writes them)
    let text = serialize(&out.batch, Precision::Nanosecond).unwrap();
    let back = parse(&text, Precision::Nanosecond, 0);
    assert!(back.errors.is_empty() && out.batch.same_points(&back.batch));
    assert!(text.windows(5).any(|w| w == b"v=\"\xff\""));
    assert!(text.windows(5).any(|w| w == b"caf\xe9 "));
}

#[test]
fn a_field_key_that_is_not_utf8_rejects_its_line_only() {
    // InfluxDB 1.x answers such a write with a 500 (`field "tsdb.Field.Name" contains invalid
    // UTF-8`) and stores none of it; kapfast rejects the line and keeps the others.
    let body: &[u8] = b"m v=1 1\nm \xfd=1 2\nm ok=1,a\\\xc3=2 3\nm caf\xc3\xa9=4 4\nm \xfd=1 5\n";
    let out = parse(body, Precision::Nanosecond, 0);
    let errs: Vec<_> = out
        .errors
        .iter()
        .map(|e| (e.line, e.column, e.kind))
        .collect();
    let kind = ErrorKind::InvalidFieldKeyUtf8;
    assert_eq!(errs, vec![(2, 3, kind), (3, 8, kind), (5, 3, kind)]);
    assert_eq!(kind.message(), "invalid field key: not valid UTF-8");
    assert_eq!(out.batch.time, vec![1, 4]);
    assert_eq!(
        out.batch.field("café").unwrap().get(1),
        Some(Value::Float(4.0))
    );
    assert!(out.batch.field("ok").is_none());
    // The fuzzer's case: a key holding the private-use characters that stand for raw bytes in
    // names (U+10FFC3 U+10FFA9 went out as the bytes C3 A9, which read back as `é`).
    let body = "m \u{10FFC3}\u{10FFA9}=1 1\n".as_bytes();
    let out = parse(body, Precision::Nanosecond, 0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let text = serialize(&out.batch, Precision::Nanosecond).unwrap();
    assert_eq!(text, body.to_vec());
}

#[test]
fn a_field_key_starting_with_a_tab_is_written_after_another() {
    let out = parse(b"cpu v=1,\tx=2 10\n", Precision::Nanosecond, 0);
    assert!(out.errors.is_empty());
    let text = serialize(&out.batch, Precision::Nanosecond).unwrap();
    assert_eq!(text, b"cpu v=1,\tx=2 10\n".to_vec());
}

#[test]
fn key_too_long() {
    let line = format!("m,t={} v=1 1", "x".repeat(70_000));
    assert_eq!(fail(&line), "1:1: max key length exceeded: > 65535");
}

#[test]
fn bad_lines_keep_the_good_ones_and_report_line_and_column() {
    let body = "cpu v=1 1\ncpu v=x 2\ncpu v=3 3\nbad\ncpu,h=é v=\"ü\",w=1z 4\ncpu v=5 5\n";
    let out = parse_ns(body);
    let got: Vec<String> = out.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        got,
        vec![
            "2:7: invalid boolean",
            "4:4: missing fields",
            "5:17: invalid number"
        ]
    );
    assert_eq!(out.batch.time, vec![1, 3, 5]);
    // The failed line wrote v="ü" before failing; nothing of it may remain.
    assert_eq!(out.batch.fields.len(), 1);
    assert_eq!(out.batch.field("v").unwrap().data.kind(), FieldKind::Float);
    assert_eq!(*out.batch.series_keys, vec!["cpu"]);
    assert!(out.batch.tag_keys.is_empty());
}

#[test]
fn unbalanced_quote_loses_only_its_line() {
    let out = parse_ns("m v=\"abc 1\nm v=2 2\n");
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].to_string(), "1:5: unbalanced quotes");
    assert_eq!(out.batch.time, vec![2]);
}

#[test]
fn error_after_multiline_string_resyncs_after_it() {
    let out = parse_ns("m a=bad,b=\"x\ny\" 1\nm v=2 2\n");
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert_eq!(out.batch.time, vec![2]);
}

#[test]
fn error_column_counts_characters() {
    let out = parse_ns("m,t=ééé v=x 1");
    assert_eq!(out.errors[0].to_string(), "1:11: invalid boolean");
}

// ---- serialize ----------------------------------------------------------------------------

fn round_trip(body: &str) -> PointBatch {
    let a = parse_ns(body);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    let text = serialize(&a.batch, Precision::Nanosecond).unwrap();
    let b = parse(&text, Precision::Nanosecond, 0);
    assert!(b.errors.is_empty(), "{:?}", String::from_utf8_lossy(&text));
    assert!(
        a.batch.same_points(&b.batch),
        "{}",
        String::from_utf8_lossy(&text)
    );
    a.batch
}

#[test]
fn serialize_writes_canonical_lines() {
    let out = parse_ns("cpu,z=1,a=x\\ y b=true,a=1,c=2i,d=3u,e=\"q\\\"\\\\\" 5\n");
    let text = serialize(&out.batch, Precision::Nanosecond).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "cpu,a=x\\ y,z=1 a=1,b=true,c=2i,d=3u,e=\"q\\\"\\\\\" 5\n"
    );
}

#[test]
fn serialize_round_trips_tricky_values() {
    round_trip(
        "m\\ x\\,y,k\\=1=v\\ 2 f\\ 1=0.1,f2=1e300,f3=-0,f4=5e-324,f5=\"a\nb\",f6=-9223372036854775808i 1\n",
    );
    round_trip("m,path=C:\\temp v=\"x\\\\\\\"\" -1\n");
}

#[test]
fn serialize_floats_stay_floats() {
    let b = round_trip("m v=1 1\n");
    let text = serialize(&b, Precision::Nanosecond).unwrap();
    assert_eq!(text, b"m v=1 1\n");
}

#[test]
fn serialize_with_precision_truncates() {
    let out = parse_ns("m v=1 1500000000\nm v=1 -1500000000\n");
    let text = serialize(&out.batch, Precision::Second).unwrap();
    assert_eq!(text, b"m v=1 1\nm v=1 -1\n");
}

#[test]
fn serialize_refuses_what_line_protocol_cannot_carry() {
    let mut b = crate::batch::BatchBuilder::new();
    b.push_row("m", &[("t", "ends\\")], &[("v", Value::Float(1.0))], 0)
        .unwrap();
    let err = serialize(&b.finish(), Precision::Nanosecond).unwrap_err();
    assert!(err.to_string().contains("ends with a backslash"), "{err}");
    let mut b = crate::batch::BatchBuilder::new();
    b.push_row("m", &[], &[("v", Value::Float(f64::NAN))], 0)
        .unwrap();
    let err = serialize(&b.finish(), Precision::Nanosecond).unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");
    let mut b = crate::batch::BatchBuilder::new();
    b.push_row("#m", &[], &[("v", Value::Float(1.0))], 0)
        .unwrap();
    assert!(serialize(&b.finish(), Precision::Nanosecond).is_err());
}

// ---- properties and fuzzing ---------------------------------------------------------------

mod props {
    use super::*;
    use crate::batch::BatchBuilder;
    use crate::lineproto::escape::{check_name, NameKind};
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-c ,=\"\\\\#\t é☃]{1,6}").unwrap()
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(Value::Float),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::UInt),
            any::<bool>().prop_map(Value::Bool),
            proptest::string::string_regex("[a-c ,=\"\\\\\n\r#é☃]{0,8}")
                .unwrap()
                .prop_map(Value::Str),
        ]
    }

    type Row = (String, Vec<(String, String)>, Vec<(String, Value)>, i64);

    fn row() -> impl Strategy<Value = Row> {
        (
            name().prop_filter("measurement", |m| {
                check_name(m, NameKind::Measurement).is_ok()
            }),
            proptest::collection::vec(
                (name(), name()).prop_filter("tag", |(k, v)| {
                    check_name(k, NameKind::Tag).is_ok() && check_name(v, NameKind::Tag).is_ok()
                }),
                0..3,
            ),
            proptest::collection::vec(
                (
                    name().prop_filter("field key", |k| check_name(k, NameKind::FieldKey).is_ok()),
                    value(),
                ),
                1..4,
            )
            // a key starting with a tab needs another field to be written first
            .prop_filter("a field not starting with a tab", |f| {
                f.iter().any(|(k, _)| !k.starts_with('\t'))
            }),
            number::MIN_TIME..=number::MAX_TIME,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn serialize_then_parse_is_identity(rows in proptest::collection::vec(row(), 1..6)) {
            let mut b = BatchBuilder::new();
            for (m, tags, fields, t) in &rows {
                let mut tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                tags.sort();
                tags.dedup_by(|a, b| a.0 == b.0);
                let fields: Vec<(&str, Value)> = fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                b.push_row(m, &tags, &fields, *t).unwrap();
            }
            let batch = b.finish();
            let text = serialize(&batch, Precision::Nanosecond).unwrap();
            let back = parse(&text, Precision::Nanosecond, 0);
            prop_assert!(back.errors.is_empty(), "{:?} in {:?}", back.errors, String::from_utf8_lossy(&text));
            prop_assert!(batch.same_points(&back.batch), "{:?}", String::from_utf8_lossy(&text));
            prop_assert_eq!(batch.distinct_series(), back.batch.distinct_series());
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b','), Just(b'='), Just(b'"'), Just(b'\\'), Just(b'\n'),
                        Just(b'\r'), Just(b'#'), Just(b'i'), Just(b'u'), Just(b't'), Just(b'.'),
                        Just(b'-'), Just(b'e'), b'0'..=b'9', any::<u8>()], 0..80)) {
            let out = parse(&body, Precision::Nanosecond, 0);
            check_batch_invariants(&out.batch);
            for e in &out.errors {
                prop_assert!(e.line >= 1 && e.column >= 1);
            }
        }
    }

    pub(super) fn check_batch_invariants(b: &PointBatch) {
        let n = b.len();
        assert_eq!(b.series.len(), n);
        assert_eq!(b.measurement.codes.len(), n);
        assert!(b.tags.iter().all(|c| c.codes.len() == n));
        assert!(b
            .fields
            .iter()
            .all(|c| c.valid.len() == n && c.data.len() == n));
        assert!(b.fields.iter().all(|c| c.valid.iter().any(|&v| v)));
        assert!(b.tag_keys.windows(2).all(|w| w[0] < w[1]));
        assert!(b.fields.windows(2).all(|w| w[0].name < w[1].name));
        assert!((0..n).all(|i| !b.row_fields(i).is_empty()));
    }
}

/// A bounded random-bytes fuzz run (cargo-fuzz has the unbounded one in fuzz/).
#[test]
fn random_mutations_of_valid_lines_never_panic() {
    let seed_lines: &[&[u8]] = &[
        b"cpu,host=a,region=x usage=1.5,count=3i,ok=true,msg=\"a \\\"q\\\" b\" 1700000000000000000\n",
        b"m\\ x,k\\=1=v\\ 2 f\\ 1=0.1,f2=1e300,u=3u 1\r\n# c\n\n",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut body: Vec<u8> = seed_lines[(next() % 2) as usize].to_vec();
        for _ in 0..(next() % 6) {
            let pos = (next() as usize) % (body.len() + 1);
            match next() % 3 {
                0 if pos < body.len() => body[pos] = next() as u8,
                1 => {
                    let specials = b" ,=\"\\\n\ri.-e9#";
                    body.insert(pos, specials[(next() as usize) % specials.len()])
                }
                _ if pos < body.len() => {
                    body.remove(pos);
                }
                _ => {}
            }
        }
        let out = parse(&body, Precision::Nanosecond, 0);
        props::check_batch_invariants(&out.batch);
        if out.errors.is_empty() && !out.batch.is_empty() {
            if let Ok(text) = serialize(&out.batch, Precision::Nanosecond) {
                let again = parse(&text, Precision::Nanosecond, 0);
                assert!(
                    again.errors.is_empty(),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
                assert!(again.batch.same_points(&out.batch));
            }
        }
    }
}

#[test]
fn private_use_text_that_looks_like_a_raw_byte_round_trips() {
    // The fuzzer's case: valid UTF-8 holding U+10FF80..=U+10FFFF (the characters that stand for
    // raw bytes) in a measurement, tag key, tag value or string value went out as one byte each
    // and read back as other points. Each such character is kept as its four bytes instead.
    let body: &[u8] = b"c\x98\xf4\x8f\xbf\xb1\x9eon=\x7f usagE=0. 1\n\
        m,t\xf4\x8f\xbe\x80=v\xf4\x8f\xbf\xbf,u=\xe9\xf4\x8f\xbf\xb1 s=\"\xf4\x8f\xbe\x81x\xff\" 2\n\
        \xf4\x8f\xbf\xb1 v=1 3\n";
    let out = parse(body, Precision::Nanosecond, 0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.batch.time, vec![1, 2, 3]);
    let text = serialize(&out.batch, Precision::Nanosecond).unwrap();
    let back = parse(&text, Precision::Nanosecond, 0);
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    assert!(out.batch.same_points(&back.batch));
    assert_eq!(out.batch.series_keys, back.batch.series_keys);
    // the bytes go out as they came in
    for raw in [
        &b"c\x98\xf4\x8f\xbf\xb1\x9e"[..],
        b"t\xf4\x8f\xbe\x80=v\xf4\x8f\xbf\xbf",
        b"\xe9\xf4\x8f\xbf\xb1",
        b"s=\"\xf4\x8f\xbe\x81x\xff\"",
        b"\n\xf4\x8f\xbf\xb1 v=1",
    ] {
        assert!(
            text.windows(raw.len()).any(|w| w == raw),
            "{raw:?} in {text:?}"
        );
    }
    // plain text, including other private-use characters, is untouched
    let out = parse(
        "m,t=\u{10FF7F}é v=\"\u{10FFFF}\u{E000}\" 1\n".as_bytes(),
        Precision::Nanosecond,
        0,
    );
    assert_eq!(out.batch.tag("t").unwrap().get(0), Some("\u{10FF7F}é"));
}
