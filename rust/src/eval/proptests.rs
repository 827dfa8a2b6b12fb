//! Property test: column-at-a-time evaluation agrees with evaluating the same expression one
//! row at a time (the row interpreter as the reference) on random batches and expressions —
//! values, validity, error counts, the first error's text, and stateful functions' state.

use proptest::prelude::*;

use crate::batch::{PointBatch, Value};

use super::ast::Node;
use super::program::{OutValues, Program};
use super::scalar::{self, BatchCtx};
use super::state::EvalState;
use super::testutil::*;
use super::types::{Scalar, Type};

fn value_strategy(col: &'static str) -> BoxedStrategy<Option<Value>> {
    let v: BoxedStrategy<Value> = match col {
        "f" => prop_oneof![
            Just(0.0),
            Just(-1.5),
            Just(2.5),
            Just(100.0),
            Just(f64::NAN),
            -1e3f64..1e3
        ]
        .prop_map(Value::Float)
        .boxed(),
        "i" => (-3i64..4).prop_map(Value::Int).boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        "s" => prop_oneof![Just(""), Just("a"), Just("web1"), Just("B b")]
            .prop_map(|s| Value::Str(s.to_owned()))
            .boxed(),
        "u" => prop_oneof![Just(0u64), Just(7), Just(u64::MAX)]
            .prop_map(Value::UInt)
            .boxed(),
        _ => prop_oneof![
            (-2i64..3).prop_map(Value::Int),
            (-2.0f64..2.0).prop_map(Value::Float),
            Just(Value::Str("web1".into())),
            any::<bool>().prop_map(Value::Bool),
        ]
        .boxed(),
    };
    prop_oneof![1 => Just(None), 4 => v.prop_map(Some)].boxed()
}

type RowSpec = (Vec<Option<Value>>, Option<&'static str>, u8, i64);

fn row_strategy() -> impl Strategy<Value = RowSpec> {
    (
        (
            value_strategy("f"),
            value_strategy("i"),
            value_strategy("b"),
            value_strategy("s"),
            value_strategy("u"),
            value_strategy("m"),
        )
            .prop_map(|(a, b, c, d, e, f)| vec![a, b, c, d, e, f]),
        prop_oneof![
            Just(None),
            Just(Some("web1")),
            Just(Some("db22")),
            Just(Some("x"))
        ],
        0u8..4,
        -2_000_000_000_000i64..4_000_000_000_000_000_000,
    )
}

fn build(rows: &[RowSpec]) -> PointBatch {
    let names = ["f", "i", "b", "s", "u", "m"];
    let built: Vec<Row> = rows
        .iter()
        .map(|(vals, tag, dup, t)| {
            let mut fields: Vec<(&str, Value)> = names
                .iter()
                .zip(vals)
                .filter_map(|(n, v)| v.clone().map(|v| (*n, v)))
                .collect();
            let mut tags = Vec::new();
            if let Some(tv) = tag {
                tags.push(("t", *tv));
            }
            // "dup" is a field on some rows, a tag on others, both on a few.
            if dup & 1 == 1 {
                fields.push(("dup", Value::Float(1.0)));
            }
            if dup & 2 == 2 {
                tags.push(("dup", "d"));
            }
            (*t, fields, tags)
        })
        .collect();
    batch(&built)
}

fn leaf() -> BoxedStrategy<Node> {
    prop_oneof![
        8 => prop_oneof![
            Just("f"),
            Just("i"),
            Just("b"),
            Just("s"),
            Just("u"),
            Just("m"),
            Just("t"),
            Just("dup"),
            Just("nope"),
            Just("time")
        ]
        .prop_map(r),
        1 => prop_oneof![Just(0.0), Just(1.5), Just(-2.0), Just(50.0)].prop_map(f),
        1 => (-2i64..3).prop_map(i),
        1 => prop_oneof![Just("web1"), Just("a"), Just("")].prop_map(s),
        1 => any::<bool>().prop_map(b),
        1 => prop_oneof![Just(0i64), Just(1_000_000_000), Just(-60_000_000_000)].prop_map(d),
        1 => prop_oneof![Just("^web[0-9]+$"), Just("b"), Just("^$")].prop_map(re),
    ]
    .boxed()
}

const OPS: [&str; 15] = [
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "AND", "OR",
];

const FUNCS1: [&str; 16] = [
    "abs",
    "sqrt",
    "floor",
    "string",
    "int",
    "float",
    "bool",
    "strLength",
    "isPresent",
    "hour",
    "weekday",
    "sigma",
    "spread",
    "humanBytes",
    "strToUpper",
    "unixNano",
];

fn expr() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (prop_oneof![Just("-"), Just("!")], inner.clone()).prop_map(|(op, x)| un(op, x)),
            (0..OPS.len(), inner.clone(), inner.clone()).prop_map(|(k, l, r)| bin(OPS[k], l, r)),
            (0..FUNCS1.len(), inner.clone()).prop_map(|(k, x)| call(FUNCS1[k], vec![x])),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| call("if", vec![c, a, b])),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| call("strContains", vec![a, b])),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| call("max", vec![a, b])),
            Just(call("count", vec![])),
            inner.prop_map(|x| bin("+", x, call("count", vec![]))),
        ]
    })
}

/// The reference: the row interpreter on each row in order, then the same one-type-per-result
/// rule the batch output follows.
fn reference(
    p: &Program,
    bt: &PointBatch,
    groups: &[u32],
) -> (Vec<Option<Scalar>>, usize, Option<String>) {
    let cx = BatchCtx::new(bt, p.compiled(), Some(groups), 99);
    let mut st = EvalState::new();
    let raw: Vec<Result<Scalar, String>> = (0..bt.len())
        .map(|row| scalar::eval_top(&p.compiled().expr, &cx, row, &mut st, true))
        .collect();
    let ty = p
        .result_type()
        .or_else(|| raw.iter().find_map(|r| r.as_ref().ok().map(Scalar::ty)));
    let mut out = Vec::new();
    let mut errors = 0;
    let mut first = None;
    for r in raw {
        match r {
            Ok(v) if Some(v.ty()) == ty && v.ty() != Type::Regex => out.push(Some(v)),
            Ok(v) => {
                errors += 1;
                first.get_or_insert_with(|| {
                    format!(
                        "expression returned unexpected type {}, expected {}",
                        v.ty(),
                        ty.map_or("a value", |t| t.name())
                    )
                });
                out.push(None);
            }
            Err(e) => {
                errors += 1;
                first.get_or_insert(e);
                out.push(None);
            }
        }
    }
    (out, errors, first)
}

fn batch_values(o: &super::program::EvalOutput) -> Vec<Option<Scalar>> {
    (0..o.valid.len())
        .map(|k| {
            if !o.valid[k] {
                return None;
            }
            Some(match (&o.values, o.ty) {
                (OutValues::Float(v), _) => Scalar::Float(v[k]),
                (OutValues::Bool(v), _) => Scalar::Bool(v[k]),
                (OutValues::Str(v), _) => Scalar::Str(v[k].clone()),
                (OutValues::Int(v), Some(Type::Duration)) => Scalar::Duration(v[k]),
                (OutValues::Int(v), Some(Type::Time)) => Scalar::Time(v[k]),
                (OutValues::Int(v), _) => Scalar::Int(v[k]),
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn batch_evaluation_matches_row_evaluation(
        rows in proptest::collection::vec(row_strategy(), 0..30),
        node in expr(),
        chunk in 1usize..9,
    ) {
        let Ok(p) = Program::compile(&node) else { return Ok(()); };
        let bt = build(&rows);
        let groups: Vec<u32> = rows.iter().map(|r| (r.2 % 2) as u32).collect();
        let out = p
            .run(&bt, &mut EvalState::new(), Some(&groups), 99, p.result_type(), chunk)
            .expect("eval");
        let (want, errors, first) = reference(&p, &bt, &groups);
        let src = node.source();
        prop_assert_eq!(batch_values(&out), want, "{}", src);
        prop_assert_eq!(out.error_count, errors, "{}", src);
        prop_assert_eq!(out.first_error, first, "{}", src);
    }
}

/// The generator must produce expressions that compile and rows that evaluate, or the
/// property above would hold vacuously.
#[test]
fn generator_exercises_valid_and_failing_rows() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut compiled, mut with_values, mut with_errors) = (0, 0, 0);
    for _ in 0..300 {
        let node = expr().new_tree(&mut runner).unwrap().current();
        let rows = proptest::collection::vec(row_strategy(), 10..20)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let Ok(p) = Program::compile(&node) else {
            continue;
        };
        compiled += 1;
        let out = p
            .eval(&build(&rows), &mut EvalState::new(), None, 0)
            .unwrap();
        if out.valid.iter().any(|&v| v) {
            with_values += 1;
        }
        if out.error_count > 0 {
            with_errors += 1;
        }
    }
    let counts =
        format!("{compiled} compiled, {with_values} with values, {with_errors} with errors");
    assert!(
        compiled > 75 && with_values > 40 && with_errors > 30,
        "{counts}"
    );
}

/// `ref op literal` in either order: the shapes the direct mask kernels take (float and int
/// fields, tags, regexes), and near misses that must go the general way.
fn simple_cmp() -> impl Strategy<Value = Node> {
    let name = prop_oneof![
        Just("f"),
        Just("i"),
        Just("t"),
        Just("s"),
        Just("dup"),
        Just("nope")
    ];
    let op = prop_oneof![
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">="),
        Just("=="),
        Just("!="),
        Just("=~"),
        Just("!~")
    ];
    let lit = prop_oneof![
        prop_oneof![Just(0.0), Just(2.5), Just(-1e3), Just(f64::NAN)].prop_map(f),
        (-2i64..3).prop_map(i),
        prop_oneof![Just("web1"), Just("db22"), Just("")].prop_map(s),
        prop_oneof![Just("^web[0-9]+$"), Just("b")].prop_map(re),
    ];
    (name, op, lit, any::<bool>()).prop_map(|(n, op, l, lit_first)| {
        if lit_first {
            bin(op, l, r(n))
        } else {
            bin(op, r(n), l)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Masks (`where`, alert levels) agree with the row interpreter: true where the row's value
    /// is true, the failing rows counted and the first one worded; batches long enough for the
    /// vector loops (16 rows a step) and their tails.
    #[test]
    fn masks_match_row_evaluation(
        rows in proptest::collection::vec(row_strategy(), 0..70),
        node in prop_oneof![simple_cmp(), expr()],
        chunk in prop_oneof![Just(1usize), Just(7), Just(4096)],
    ) {
        let Ok(p) = Program::compile(&node) else { return Ok(()); };
        // (a statically unknown type makes the reference pick the first row's type)
        if p.result_type() != Some(Type::Bool) {
            return Ok(());
        }
        let bt = build(&rows);
        let groups: Vec<u32> = rows.iter().map(|r| (r.2 % 2) as u32).collect();
        let m = p
            .run_mask(&bt, &mut EvalState::new(), Some(&groups), 99, chunk)
            .expect("mask");
        let (want, errors, first) = reference(&p, &bt, &groups);
        let want_mask: Vec<bool> = want.iter().map(|v| *v == Some(Scalar::Bool(true))).collect();
        let src = node.source();
        prop_assert_eq!(m.mask, want_mask, "{}", src);
        prop_assert_eq!(m.error_count, errors, "{}", src);
        prop_assert_eq!(m.first_error, first, "{}", src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `where()`'s selection (bits written straight from the column for the direct shapes, the
    /// byte mask packed otherwise) keeps the rows the byte mask keeps, with the same errors, and
    /// the batch compacted by it is `take` of those rows. Batches past one 64-row word and with
    /// every row holding `f` and `t` (the kernels' dense path) as well as with gaps.
    #[test]
    fn selections_match_masks(
        rows in proptest::collection::vec(row_strategy(), 0..200),
        node in prop_oneof![simple_cmp(), expr()],
        dense in any::<bool>(),
    ) {
        let Ok(p) = Program::compile(&node) else { return Ok(()); };
        if p.result_type() != Some(Type::Bool) {
            return Ok(());
        }
        let mut rows = rows;
        if dense {
            for r in &mut rows {
                r.0[0].get_or_insert(Value::Float(1.0));
                r.1.get_or_insert("x");
            }
        }
        let bt = build(&rows);
        let groups: Vec<u32> = rows.iter().map(|r| (r.2 % 2) as u32).collect();
        let m = p.mask(&bt, &mut EvalState::new(), Some(&groups), 99).expect("mask");
        let s = p.select(&bt, &mut EvalState::new(), Some(&groups), 99).expect("select");
        let src = node.source();
        prop_assert_eq!(s.sel.to_bools(), m.mask.clone(), "{}", src);
        prop_assert_eq!(s.error_count, m.error_count, "{}", src);
        prop_assert_eq!(s.first_error, m.first_error, "{}", src);
        let idx: Vec<usize> = (0..bt.len()).filter(|&i| m.mask[i]).collect();
        // (as text: a NaN value is not equal to itself)
        let (got, want) = (bt.select(&s.sel), bt.take(&idx));
        prop_assert_eq!(format!("{got:?}"), format!("{want:?}"), "{}", src);
    }
}
