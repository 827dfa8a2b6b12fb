//! [`GroupTransforms::feed`] (one pass over the rows) against the per-group feed it replaced
//! ([`GroupTransforms::feed_reference`]) on random chunks: many groups, floats, integers,
//! strings, booleans, -0.0 and missing fields (line protocol has no NaN), repeated times, chunks of 1, 7 and whole.

use super::{Arg, Call, GroupTransforms};
use crate::lineproto::{parse, Precision};

fn lp(text: &str) -> crate::batch::PointBatch {
    let out = parse(text.as_bytes(), Precision::Nanosecond, 0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.batch
}

/// A small deterministic generator (the tests need no crate for it).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn random_lines(rng: &mut Lcg, n: usize, groups: u64, mixed: bool) -> (String, Vec<u32>) {
    let mut text = String::new();
    let mut gs = Vec::new();
    let mut t = 0i64;
    for _ in 0..n {
        let g = rng.next(groups);
        t += rng.next(3) as i64; // repeated times now and then
        let value = match rng.next(if mixed { 10 } else { 6 }) {
            0 => "x=-0.0".to_owned(),
            1 => "other=1".to_owned(), // the field is missing from this point
            6 | 7 => format!("x={}i", rng.next(100)),
            8 => "x=\"s\"".to_owned(),
            9 => "x=true".to_owned(),
            _ => format!("x={}.5", rng.next(100)),
        };
        text.push_str(&format!("m,g=g{g} {value} {t}\n"));
        gs.push(g as u32);
    }
    (text, gs)
}

#[test]
fn one_pass_feed_matches_the_per_group_feed() {
    let calls = [
        ("difference", vec![]),
        ("movingAverage", vec![Arg::Int(3)]),
        ("movingAverage", vec![Arg::Int(10)]),
        ("cumulativeSum", vec![]),
        ("elapsed", vec![Arg::Int(1)]),
        ("derivative", vec![]),
    ];
    let mut rng = Lcg(7);
    for (name, args) in &calls {
        for &mixed in &[false, true] {
            for &size in &[1usize, 7, 0] {
                for &groups in &[1u64, 5, 300] {
                    let call = Call::parse(name, args).unwrap();
                    let mut a = GroupTransforms::new(call.clone(), "x".into(), "y".into()).unwrap();
                    let mut b = GroupTransforms::new(call, "x".into(), "y".into()).unwrap();
                    let (text, gs) = random_lines(&mut rng, 400, groups, mixed);
                    let batch = lp(&text);
                    let step = if size == 0 { batch.len() } else { size };
                    for start in (0..batch.len()).step_by(step) {
                        let rows: Vec<usize> = (start..(start + step).min(batch.len())).collect();
                        let part = batch.take(&rows);
                        let g = &gs[start..start + rows.len()];
                        let got = a.feed(&part, g);
                        let want = b.feed_reference(&part, g);
                        let ctx =
                            format!("{name} {args:?} mixed={mixed} size={size} groups={groups}");
                        assert_eq!(got.rows, want.rows, "{ctx}");
                        assert_eq!(got.batch, want.batch, "{ctx}");
                        assert_eq!(got.skipped, want.skipped, "{ctx}");
                        assert_eq!(got.failed, want.failed, "{ctx}");
                        assert_eq!(
                            got.error.map(|e| e.to_string()),
                            want.error.map(|e| e.to_string()),
                            "{ctx}"
                        );
                    }
                    assert_eq!(a.len(), b.len());
                    assert_eq!(a.snapshot(), b.snapshot());
                }
            }
        }
    }
}
