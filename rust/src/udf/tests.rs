use super::*;
use crate::batch::BatchBuilder;

fn sample() -> PointBatch {
    let mut b = BatchBuilder::new();
    b.push_row(
        "cpu",
        &[("host", "a"), ("dc", "x")],
        &[("v", Value::Float(1.5)), ("n", Value::Int(3))],
        10,
    )
    .unwrap();
    b.push_row(
        "cpu",
        &[("host", "b")],
        &[("s", Value::Str("hi".into())), ("ok", Value::Bool(true))],
        20,
    )
    .unwrap();
    b.finish()
}

#[test]
fn stream_points_round_trip() {
    let b = sample();
    let groups = vec![
        GroupKey {
            id: "host=a".into(),
            dims: vec!["host".into()],
            by_name: false,
        },
        GroupKey {
            id: "host=b".into(),
            dims: vec!["host".into()],
            by_name: false,
        },
    ];
    let mut out = Vec::new();
    encode_stream(&mut out, &b, &[0, 1], &groups, "db", "rp");
    // requests and responses share the point's field number: a mirror sends back these bytes
    let mut d = Decoder::new();
    let events = d.feed(&out).unwrap();
    assert_eq!(events.len(), 1);
    let Event::Points(run) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(run.db, "db");
    assert_eq!(run.rp, "rp");
    assert_eq!(run.codes, vec![0, 1]);
    assert_eq!(
        run.groups[1],
        (String::new(), vec![("host".into(), "b".into())], false)
    );
    assert!(run.batch.same_points(&b));
}

#[test]
fn split_frames_are_kept_across_reads() {
    let b = sample();
    let groups = vec![GroupKey {
        id: String::new(),
        dims: vec![],
        by_name: false,
    }];
    let mut out = Vec::new();
    encode_stream(&mut out, &b, &[0, 0], &groups, "", "");
    encode_request(
        &mut out,
        request::Message::Keepalive(proto::KeepaliveRequest { time: 7 }),
    );
    let mut d = Decoder::new();
    let mut rows = 0;
    let mut kept = Vec::new();
    for chunk in out.chunks(3) {
        for ev in d.feed(chunk).unwrap() {
            match ev {
                Event::Points(r) => rows += r.batch.len(),
                Event::Keepalive(t) => kept.push(t),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(rows, 2);
    assert_eq!(kept, vec![7]);
    assert_eq!(d.pending(), 0);
}

#[test]
fn batch_round_trip_takes_name_and_tags_from_end() {
    let b = sample();
    let tags: HashMap<String, String> = [("host".to_string(), "a".to_string())].into();
    let mut out = Vec::new();
    encode_batch(&mut out, "cpu", "host=a", &tags, false, 99, &b);
    let mut d = Decoder::new();
    let events = d.feed(&out).unwrap();
    let [Event::Batch(batch)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(batch.name, "cpu");
    assert_eq!(batch.tmax, 99);
    assert_eq!(batch.tags, vec![("host".to_string(), "a".to_string())]);
    assert_eq!(batch.points.len(), 2);
    assert_eq!(batch.points.time, vec![10, 20]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let mut d = Decoder::new();
    assert!(d.feed(&[0xff; 12]).is_err());
    let mut d = Decoder::new();
    assert!(d.feed(&[3, 0xff, 0xff, 0xff]).is_err());
    let mut d = Decoder::new();
    // a huge length is refused before any allocation
    assert!(d.feed(&[0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
}

#[test]
fn pointless_points_are_counted_not_fatal() {
    let mut out = Vec::new();
    Response {
        message: Some(response::Message::Point(proto::Point {
            name: "m".into(),
            ..Default::default()
        })),
    }
    .encode_length_delimited(&mut out)
    .unwrap();
    let mut d = Decoder::new();
    let events = d.feed(&out).unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::Skipped { count: 1, .. }]
    ));
}

#[test]
fn fast_point_frames_are_what_prost_writes_and_reads() {
    let b = sample();
    let groups = vec![GroupKey {
        id: "host=a".into(),
        dims: vec!["host".into()],
        by_name: true,
    }];
    let mut fast = Vec::new();
    encode_stream(&mut fast, &b, &[0, 0], &groups, "db", "rp");
    // the same requests through prost's derived messages
    let mut buf = &fast[..];
    let mut n = 0;
    while !buf.is_empty() {
        let req = Request::decode_length_delimited(&mut buf).unwrap();
        let Some(request::Message::Point(p)) = req.message else {
            panic!("{req:?}")
        };
        assert_eq!(p.group, "host=a");
        assert_eq!(p.dimensions, vec!["host".to_string()]);
        assert!(p.by_name);
        assert_eq!(
            (p.database.as_str(), p.retention_policy.as_str()),
            ("db", "rp")
        );
        if n == 0 {
            assert_eq!(p.time, 10);
            assert_eq!(p.fields_double["v"], 1.5);
            assert_eq!(p.fields_int["n"], 3);
            assert_eq!(p.tags["dc"], "x");
        } else {
            assert_eq!(p.fields_string["s"], "hi");
            assert!(p.fields_bool["ok"]);
        }
        n += 1;
    }
    assert_eq!(n, 2);
    // and prost-written responses read by the fast path give the same batch
    let mut slow = Vec::new();
    for i in 0..2 {
        let mut p = proto::Point {
            time: b.time[i],
            name: "cpu".into(),
            ..Default::default()
        };
        for (k, v) in b.row_tags(i) {
            p.tags.insert(k.into(), v.into());
        }
        for (k, v) in b.row_fields(i) {
            match v {
                Value::Float(x) => p.fields_double.insert(k.into(), x).map(|_| ()),
                Value::Int(x) => p.fields_int.insert(k.into(), x).map(|_| ()),
                Value::Str(x) => p.fields_string.insert(k.into(), x).map(|_| ()),
                Value::Bool(x) => p.fields_bool.insert(k.into(), x).map(|_| ()),
                Value::UInt(_) => unreachable!(),
            };
        }
        Response {
            message: Some(response::Message::Point(p)),
        }
        .encode_length_delimited(&mut slow)
        .unwrap();
    }
    let events = Decoder::new().feed(&slow).unwrap();
    let [Event::Points(run)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert!(run.batch.same_points(&b));
}
