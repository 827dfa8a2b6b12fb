//! Table tests of the evaluator: every operator × type pair, every built-in function, error
//! texts, missing values, stateful functions, chunking and the typed/fallback paths.

use crate::batch::{PointBatch, Value};

use super::ast::Node;
use super::program::{EvalOutput, OutValues, Program};
use super::state::EvalState;
use super::testutil::*;
use super::types::{BinOp, Scalar, Type};

const S: i64 = 1_000_000_000;
/// 2017-11-02T13:45:30Z, a Thursday.
const T0: i64 = 1_509_630_330 * S;

fn row_value(out: &EvalOutput, i: usize) -> Option<Scalar> {
    if !out.valid[i] {
        return None;
    }
    let ty = out.ty?;
    Some(match (&out.values, ty) {
        (OutValues::Float(v), _) => Scalar::Float(v[i]),
        (OutValues::Bool(v), _) => Scalar::Bool(v[i]),
        (OutValues::Str(v), _) => Scalar::Str(v[i].clone()),
        (OutValues::Int(v), Type::Duration) => Scalar::Duration(v[i]),
        (OutValues::Int(v), Type::Time) => Scalar::Time(v[i]),
        (OutValues::Int(v), _) => Scalar::Int(v[i]),
    })
}

fn run(node: &Node, b: &PointBatch) -> EvalOutput {
    let p = Program::compile(node).unwrap_or_else(|e| panic!("{}: {e}", node.source()));
    p.eval(b, &mut EvalState::new(), None, 7 * S).expect("eval")
}

/// The sample row used by most tests.
fn sample() -> PointBatch {
    batch(&[(
        T0,
        vec![
            ("f", Value::Float(1.5)),
            ("i", Value::Int(2)),
            ("s", Value::Str("abc".into())),
            ("b", Value::Bool(true)),
            ("zero", Value::Int(0)),
            ("u", Value::UInt(5)),
            ("big", Value::UInt(u64::MAX)),
            ("dup", Value::Float(1.0)),
        ],
        vec![("t", "web01"), ("dup", "x")],
    )])
}

/// Evaluates on the sample row: the value or the row's error text.
fn one(node: Node) -> Result<Scalar, String> {
    let out = run(&node, &sample());
    match row_value(&out, 0) {
        Some(v) => {
            assert_eq!(out.error_count, 0);
            Ok(v)
        }
        None => {
            assert_eq!(out.error_count, 1);
            Err(out.first_error.expect("an error text"))
        }
    }
}

/// Compiles literal-only expressions: folded value or compile error.
fn folded(node: Node) -> Result<Scalar, String> {
    let out = Program::compile(&node).map(|p| {
        p.eval(&sample(), &mut EvalState::new(), None, 0)
            .expect("eval")
    })?;
    Ok(row_value(&out, 0).expect("a value"))
}

// ---- operators --------------------------------------------------------------------------------

/// Sample operands per type letter: a field reference (dynamic) and/or a literal (static).
fn operand(t: char, as_ref: bool) -> Node {
    match (t, as_ref) {
        ('F', true) => r("f"),
        ('I', true) => r("i"),
        ('S', true) => r("s"),
        ('B', true) => r("b"),
        ('F', false) => f(1.5),
        ('I', false) => i(2),
        ('S', false) => s("abc"),
        ('B', false) => b(true),
        ('D', _) => d(3 * S),
        ('R', _) => re("b"),
        ('T', _) => r("time"),
        _ => unreachable!(),
    }
}

fn type_name(t: char) -> &'static str {
    match t {
        'F' => "float",
        'I' => "int",
        'S' => "string",
        'B' => "boolean",
        'D' => "duration",
        'R' => "regex",
        _ => "time",
    }
}

/// Which operators each type appears with in Kapacitor's evaluation table (written out by hand,
/// independently of `ops::result_type`).
fn supports(t: char, op: &str) -> bool {
    let ops: &[&str] = match t {
        'F' | 'D' => &["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!="],
        'I' => &["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!="],
        'S' => &["+", "<", "<=", ">", ">=", "==", "!=", "=~", "!~"],
        'B' => &["==", "!=", "AND", "OR"],
        'R' => &["=~", "!~"],
        _ => &[],
    };
    ops.contains(&op)
}

fn cmp(op: &str, a: f64, b: f64) -> bool {
    match op {
        "==" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        _ => a >= b,
    }
}

/// The expected value of `sample(l) op sample(r)`, or None when the pair is a type error.
fn expected(op: &str, l: char, r: char) -> Option<Scalar> {
    use Scalar::*;
    let num = |t: char| if t == 'F' { 1.5 } else { 2.0 };
    Some(match (op, l, r) {
        ("+", 'F', 'F') => Float(3.0),
        ("-", 'F', 'F') => Float(0.0),
        ("*", 'F', 'F') => Float(2.25),
        ("/", 'F', 'F') => Float(1.0),
        ("+", 'I', 'I') => Int(4),
        ("-", 'I', 'I') => Int(0),
        ("*", 'I', 'I') => Int(4),
        ("/", 'I', 'I') => Int(1),
        ("%", 'I', 'I') => Int(0),
        ("+", 'S', 'S') => Str("abcabc".into()),
        ("+", 'D', 'D') => Duration(6 * S),
        ("-", 'D', 'D') => Duration(0),
        ("*", 'D', 'I') | ("*", 'I', 'D') => Duration(6 * S),
        ("*", 'D', 'F') | ("*", 'F', 'D') => Duration(4 * S + S / 2),
        ("/", 'D', 'I') => Duration(S + S / 2),
        ("/", 'D', 'F') => Duration(2 * S),
        ("/", 'D', 'D') => Int(1),
        ("==" | "!=" | "<" | "<=" | ">" | ">=", 'F' | 'I', 'F' | 'I') => {
            Bool(cmp(op, num(l), num(r)))
        }
        ("==" | "!=" | "<" | "<=" | ">" | ">=", 'S', 'S')
        | ("==" | "!=" | "<" | "<=" | ">" | ">=", 'D', 'D') => Bool(cmp(op, 0.0, 0.0)),
        ("==" | "!=", 'B', 'B') => Bool(op == "=="),
        ("=~", 'S', 'R') => Bool(true),
        ("!~", 'S', 'R') => Bool(false),
        ("AND" | "OR", 'B', 'B') => Bool(true),
        _ => return None,
    })
}

fn expected_error(op: &str, l: char, r: char) -> String {
    let kind = match op {
        "+" | "-" | "*" | "/" | "%" => "math",
        "AND" | "OR" => "logical",
        _ => "comparison",
    };
    if !supports(l, op) {
        format!("invalid {kind} operator {op} for type {}", type_name(l))
    } else {
        format!(
            "mismatched type to binary operator. got {} {op} {}. see bool(), int(), float(), string(), duration()",
            type_name(l),
            type_name(r)
        )
    }
}

#[test]
fn every_operator_and_type_pair_on_field_values() {
    let types = ['F', 'I', 'S', 'B'];
    let mut checked = 0;
    for op in BinOp::ALL {
        let sym = op.symbol();
        for l in types {
            for rt in types {
                let node = bin(sym, operand(l, true), operand(rt, true));
                let got = one(node.clone());
                if sym == "OR" && l == 'B' {
                    // kapfast short-circuits before looking at the right side's type (Kapacitor
                    // type-checks both sides first): TRUE OR anything is TRUE.
                    assert_eq!(got, Ok(Scalar::Bool(true)), "{}", node.source());
                    continue;
                }
                match expected(sym, l, rt) {
                    Some(v) => assert_eq!(got, Ok(v), "{}", node.source()),
                    None => assert_eq!(got, Err(expected_error(sym, l, rt)), "{}", node.source()),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 15 * 16 - 4);
}

#[test]
fn every_operator_and_type_pair_on_literals_is_checked_at_compile_time() {
    let types = ['F', 'I', 'S', 'B', 'D', 'R', 'T'];
    for op in BinOp::ALL {
        let sym = op.symbol();
        for l in types {
            for rt in types {
                let node = bin(sym, operand(l, false), operand(rt, false));
                let got = folded(node.clone());
                match expected(sym, l, rt) {
                    Some(v) => assert_eq!(got, Ok(v), "{}", node.source()),
                    None => assert_eq!(got, Err(expected_error(sym, l, rt)), "{}", node.source()),
                }
            }
        }
    }
}

#[test]
fn mixed_reference_and_literal_operands() {
    // One side a field, the other a literal: the typed kernels with a broadcast constant.
    for op in BinOp::ALL {
        let sym = op.symbol();
        for (l, rt) in [
            ('F', 'I'),
            ('I', 'F'),
            ('F', 'F'),
            ('I', 'I'),
            ('S', 'S'),
            ('B', 'B'),
            ('S', 'R'),
        ] {
            let want = expected(sym, l, rt).ok_or_else(|| expected_error(sym, l, rt));
            let mut nodes = vec![bin(sym, operand(l, true), operand(rt, false))];
            if rt != 'R' {
                nodes.push(bin(sym, operand(l, false), operand(rt, true)));
            }
            for node in nodes {
                match Program::compile(&node) {
                    // A literal operand that no type can combine with fails at compile time.
                    Err(_) => assert!(want.is_err(), "{}", node.source()),
                    Ok(_) if sym == "OR" && l == 'B' => {}
                    Ok(_) => assert_eq!(one(node.clone()), want, "{}", node.source()),
                }
            }
        }
    }
    assert_eq!(one(bin("*", r("i"), d(S))), Ok(Scalar::Duration(2 * S)));
    assert_eq!(one(bin("/", d(3 * S), r("f"))), Ok(Scalar::Duration(2 * S)));
}

#[test]
fn unary_operators() {
    assert_eq!(one(un("-", r("f"))), Ok(Scalar::Float(-1.5)));
    assert_eq!(one(un("-", r("i"))), Ok(Scalar::Int(-2)));
    assert_eq!(one(un("!", r("b"))), Ok(Scalar::Bool(false)));
    assert_eq!(folded(un("-", d(S))), Ok(Scalar::Duration(-S)));
    assert_eq!(
        one(un("-", r("s"))),
        Err("invalid unary operator - for type string".into())
    );
    assert_eq!(
        one(un("!", r("f"))),
        Err("invalid unary operator ! for type float".into())
    );
    assert_eq!(
        folded(un("!", i(1))),
        Err("invalid unary operator ! for type int".into())
    );
    assert_eq!(
        one(un("-", r("nope"))),
        Err("reference value \"nope\" is missing value".into())
    );
}

#[test]
fn tags_strings_and_regexes() {
    assert_eq!(one(bin("==", r("t"), s("web01"))), Ok(Scalar::Bool(true)));
    assert_eq!(one(bin("<", s("a"), r("t"))), Ok(Scalar::Bool(true)));
    assert_eq!(
        one(bin("=~", r("t"), re("^web[0-9]+$"))),
        Ok(Scalar::Bool(true))
    );
    assert_eq!(one(bin("!~", r("t"), re("^db"))), Ok(Scalar::Bool(true)));
    assert_eq!(
        one(bin("+", r("t"), r("s"))),
        Ok(Scalar::Str("web01abc".into()))
    );
    assert_eq!(one(bin("=~", r("s"), re("B"))), Ok(Scalar::Bool(false)));
    assert_eq!(one(bin("=~", r("s"), re("(?i)B"))), Ok(Scalar::Bool(true)));
}

#[test]
fn missing_values_and_conflicts() {
    assert_eq!(
        one(bin(">", r("nope"), i(1))),
        Err("left reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(bin(">", i(1), r("nope"))),
        Err("right reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(r("nope")),
        Err("reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(bin(">", r("dup"), i(1))),
        Err("cannot have field and tags with same name".into())
    );
    // Short circuit: the right side is not evaluated when the left decides.
    assert_eq!(
        one(bin("AND", b(false), bin(">", r("nope"), i(1)))),
        Ok(Scalar::Bool(false))
    );
    assert_eq!(
        one(bin(
            "OR",
            bin("==", r("i"), i(2)),
            bin(">", r("nope"), i(1))
        )),
        Ok(Scalar::Bool(true))
    );
    assert_eq!(
        one(bin(
            "AND",
            bin("==", r("i"), i(2)),
            bin(">", r("nope"), i(1))
        )),
        Err("left reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(bin("AND", r("nope"), b(true))),
        Err("left reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(bin("AND", r("i"), b(true))),
        Err("invalid logical operator AND for type int".into())
    );
}

#[test]
fn unsigned_fields_read_as_ints() {
    assert_eq!(one(bin("+", r("u"), i(1))), Ok(Scalar::Int(6)));
    assert_eq!(
        one(bin("+", r("big"), i(1))),
        Err("unsigned value 18446744073709551615 of \"big\" overflows int64".into())
    );
}

#[test]
fn integer_division_by_zero_is_a_row_error() {
    let rows: Vec<Row> = (0..5)
        .map(|k| {
            (
                k,
                vec![("a", Value::Int(10)), ("z", Value::Int(k % 2))],
                vec![],
            )
        })
        .collect();
    let bt = batch(&rows);
    for op in ["/", "%"] {
        let out = run(&bin(op, r("a"), r("z")), &bt);
        assert_eq!(out.valid, vec![false, true, false, true, false]);
        assert_eq!(out.error_count, 3);
        assert_eq!(out.first_error.as_deref(), Some("integer divide by zero"));
    }
    assert_eq!(
        folded(bin("/", i(1), i(0))),
        Err("integer divide by zero".into())
    );
    assert_eq!(
        one(bin("/", d(S), r("zero"))),
        Err("integer divide by zero".into())
    );
    // Float division by zero is IEEE infinity, like Go.
    assert_eq!(
        one(bin("/", r("f"), f(0.0))),
        Ok(Scalar::Float(f64::INFINITY))
    );
    // i64::MIN / -1 wraps like Go instead of trapping.
    assert_eq!(
        folded(bin("/", i(i64::MIN), i(-1))),
        Ok(Scalar::Int(i64::MIN))
    );
}

// ---- functions --------------------------------------------------------------------------------

/// Checks a function both with literal arguments (folded at compile time) and, where every
/// argument can be a field, with field references (evaluated per row).
fn check_fn(name: &str, args: Vec<Scalar>, want: Result<Scalar, &str>) {
    let lit = |v: &Scalar| -> Node {
        match v {
            Scalar::Float(x) => f(*x),
            Scalar::Int(x) => i(*x),
            Scalar::Str(x) => s(x),
            Scalar::Bool(x) => b(*x),
            Scalar::Duration(x) => d(*x),
            Scalar::Regex(x) => re(x.as_str()),
            _ => unreachable!(),
        }
    };
    let want = want.map_err(str::to_owned);
    let lits: Vec<Node> = args.iter().map(lit).collect();
    assert_eq!(folded(call(name, lits)), want, "{name}{args:?} literal");
    let mut fields = Vec::new();
    let mut nodes = Vec::new();
    let names = ["a0", "a1", "a2", "a3"];
    for (k, v) in args.iter().enumerate() {
        let fv = match v {
            Scalar::Float(x) => Some(Value::Float(*x)),
            Scalar::Int(x) => Some(Value::Int(*x)),
            Scalar::Str(x) => Some(Value::Str(x.clone())),
            Scalar::Bool(x) => Some(Value::Bool(*x)),
            _ => None,
        };
        match fv {
            Some(fv) => {
                fields.push((names[k], fv));
                nodes.push(r(names[k]));
            }
            None => nodes.push(lit(v)),
        }
    }
    let bt = batch(&[(T0, fields, vec![])]);
    let got = Program::compile(&call(name, nodes)).and_then(|p| {
        let out = p.eval(&bt, &mut EvalState::new(), None, 0).expect("eval");
        row_value(&out, 0).ok_or_else(|| out.first_error.clone().unwrap_or_default())
    });
    assert_eq!(got, want, "{name}{args:?} fields");
}

fn fl(x: f64) -> Scalar {
    Scalar::Float(x)
}
fn it(x: i64) -> Scalar {
    Scalar::Int(x)
}
fn st(x: &str) -> Scalar {
    Scalar::Str(x.to_owned())
}
fn bo(x: bool) -> Scalar {
    Scalar::Bool(x)
}
fn du(x: i64) -> Scalar {
    Scalar::Duration(x)
}
fn rx(p: &str) -> Scalar {
    Scalar::Regex(std::sync::Arc::new(regex::Regex::new(p).unwrap()))
}

#[test]
fn conversion_functions() {
    check_fn("bool", vec![st("true")], Ok(bo(true)));
    check_fn("bool", vec![it(1)], Ok(bo(true)));
    check_fn("bool", vec![fl(0.0)], Ok(bo(false)));
    check_fn("bool", vec![bo(true)], Ok(bo(true)));
    check_fn(
        "bool",
        vec![it(2)],
        Err("error calling \"bool\": cannot convert 2 to boolean"),
    );
    check_fn(
        "bool",
        vec![st("x")],
        Err("error calling \"bool\": strconv.ParseBool: parsing \"x\": invalid syntax"),
    );
    check_fn("int", vec![fl(1.9)], Ok(it(1)));
    check_fn("int", vec![st("12")], Ok(it(12)));
    check_fn("int", vec![bo(true)], Ok(it(1)));
    check_fn("int", vec![du(S)], Ok(it(S)));
    check_fn(
        "int",
        vec![st("a")],
        Err("error calling \"int\": strconv.ParseInt: parsing \"a\": invalid syntax"),
    );
    check_fn("float", vec![it(3)], Ok(fl(3.0)));
    check_fn("float", vec![st("2.5")], Ok(fl(2.5)));
    check_fn("float", vec![bo(false)], Ok(fl(0.0)));
    check_fn("string", vec![fl(1.5)], Ok(st("1.5")));
    check_fn("string", vec![it(2)], Ok(st("2")));
    check_fn("string", vec![bo(true)], Ok(st("true")));
    check_fn("string", vec![du(90 * 60 * S)], Ok(st("90m")));
    check_fn("duration", vec![du(5 * S)], Ok(du(5 * S)));
    check_fn("duration", vec![it(2), du(S)], Ok(du(2 * S)));
    check_fn("duration", vec![fl(1.5), du(S)], Ok(du(S + S / 2)));
    check_fn("duration", vec![st("1h30m"), du(S)], Ok(du(90 * 60 * S)));
    check_fn(
        "duration",
        vec![st("x"), du(S)],
        Err("error calling \"duration\": invalid duration string \"x\""),
    );
    check_fn(
        "float",
        vec![du(S)],
        Err("Cannot call function \"float\" with args (duration), available signatures are [(boolean) float, (string) float, (int) float, (float) float]."),
    );
}

#[test]
fn math_functions() {
    let y0_1 = libm::y0(1.0);
    let cases: &[(&str, f64, f64)] = &[
        ("abs", -2.0, 2.0),
        ("acos", 1.0, 0.0),
        ("acosh", 1.0, 0.0),
        ("asin", 0.0, 0.0),
        ("asinh", 0.0, 0.0),
        ("atan", 0.0, 0.0),
        ("atanh", 0.0, 0.0),
        ("cbrt", 27.0, 3.0),
        ("ceil", 1.2, 2.0),
        ("cos", 0.0, 1.0),
        ("cosh", 0.0, 1.0),
        ("erf", 0.0, 0.0),
        ("erfc", 0.0, 1.0),
        ("exp", 0.0, 1.0),
        ("exp2", 3.0, 8.0),
        ("expm1", 0.0, 0.0),
        ("floor", 1.5, 1.0),
        ("gamma", 5.0, 24.0),
        ("log", 1.0, 0.0),
        ("log10", 100.0, 2.0),
        ("log1p", 0.0, 0.0),
        ("log2", 8.0, 3.0),
        ("logb", 8.0, 3.0),
        ("sin", 0.0, 0.0),
        ("sinh", 0.0, 0.0),
        ("sqrt", 4.0, 2.0),
        ("tan", 0.0, 0.0),
        ("tanh", 0.0, 0.0),
        ("trunc", -1.5, -1.0),
        ("j0", 0.0, 1.0),
        ("j1", 0.0, 0.0),
        ("y0", 1.0, y0_1),
        ("y1", 1.0, libm::y1(1.0)),
    ];
    for &(name, x, want) in cases {
        check_fn(name, vec![fl(x)], Ok(fl(want)));
    }
    check_fn("logb", vec![fl(0.0)], Ok(fl(f64::NEG_INFINITY)));
    let two: &[(&str, f64, f64, f64)] = &[
        ("atan2", 0.0, 1.0, 0.0),
        ("hypot", 3.0, 4.0, 5.0),
        ("max", 1.0, 2.0, 2.0),
        ("min", 1.0, 2.0, 1.0),
        ("mod", 7.0, 4.0, 3.0),
        ("pow", 2.0, 10.0, 1024.0),
    ];
    for &(name, x, y, want) in two {
        check_fn(name, vec![fl(x), fl(y)], Ok(fl(want)));
    }
    check_fn("max", vec![fl(f64::NAN), fl(1.0)], Ok(fl(f64::NAN)));
    check_fn("pow10", vec![it(3)], Ok(fl(1000.0)));
    check_fn("jn", vec![it(0), fl(0.0)], Ok(fl(1.0)));
    check_fn("yn", vec![it(0), fl(1.0)], Ok(fl(y0_1)));
    check_fn(
        "abs",
        vec![it(2)],
        Err("Cannot call function \"abs\" with args (int), available signatures are [(float) float]."),
    );
    check_fn(
        "pow",
        vec![fl(2.0), it(2)],
        Err("Cannot call function \"pow\" with args (float, int), available signatures are [(float, float) float]."),
    );
}

#[test]
fn string_functions() {
    check_fn("strContains", vec![st("abc"), st("b")], Ok(bo(true)));
    check_fn("strContainsAny", vec![st("abc"), st("xyzc")], Ok(bo(true)));
    check_fn("strContainsAny", vec![st("abc"), st("")], Ok(bo(false)));
    check_fn("strHasPrefix", vec![st("abc"), st("ab")], Ok(bo(true)));
    check_fn("strHasSuffix", vec![st("abc"), st("ab")], Ok(bo(false)));
    check_fn("strCount", vec![st("cheese"), st("e")], Ok(it(3)));
    check_fn("strCount", vec![st("five"), st("")], Ok(it(5)));
    check_fn("strIndex", vec![st("chicken"), st("ken")], Ok(it(4)));
    check_fn("strIndex", vec![st("chicken"), st("dmr")], Ok(it(-1)));
    check_fn("strIndexAny", vec![st("golang"), st("xyzn")], Ok(it(4)));
    check_fn("strLastIndex", vec![st("go gopher"), st("go")], Ok(it(3)));
    check_fn(
        "strLastIndexAny",
        vec![st("go gopher"), st("go")],
        Ok(it(4)),
    );
    check_fn("strLength", vec![st("héllo")], Ok(it(6)));
    check_fn(
        "strReplace",
        vec![st("oink oink oink"), st("k"), st("ky"), it(2)],
        Ok(st("oinky oinky oink")),
    );
    check_fn(
        "strReplace",
        vec![st("oink oink oink"), st("oink"), st("moo"), it(-1)],
        Ok(st("moo moo moo")),
    );
    check_fn(
        "strSubstring",
        vec![st("abcdef"), it(1), it(3)],
        Ok(st("bc")),
    );
    check_fn(
        "strSubstring",
        vec![st("abc"), it(0), it(3)],
        Err("error calling \"strSubstring\": stop index too large for string in strSubstring: 3"),
    );
    check_fn(
        "strSubstring",
        vec![st("abc"), it(-1), it(1)],
        Err("error calling \"strSubstring\": found negative index for strSubstring: -1"),
    );
    check_fn(
        "strSubstring",
        vec![st("abcdef"), it(3), it(1)],
        Err("error calling \"strSubstring\": start index 3 is after stop index 1 in strSubstring"),
    );
    check_fn("strToLower", vec![st("ABC")], Ok(st("abc")));
    check_fn("strToUpper", vec![st("abc")], Ok(st("ABC")));
    check_fn("strTrimSpace", vec![st("  a \n")], Ok(st("a")));
    check_fn("strTrim", vec![st("xxaxx"), st("x")], Ok(st("a")));
    check_fn("strTrimLeft", vec![st("xxaxx"), st("x")], Ok(st("axx")));
    check_fn("strTrimRight", vec![st("xxaxx"), st("x")], Ok(st("xxa")));
    check_fn(
        "strTrimPrefix",
        vec![st("prefix-a"), st("prefix-")],
        Ok(st("a")),
    );
    check_fn("strTrimSuffix", vec![st("a.go"), st(".go")], Ok(st("a")));
    check_fn(
        "regexReplace",
        vec![rx("a(x*)b"), st("-ab-axxb-"), st("${1}W")],
        Ok(st("-W-xxW-")),
    );
    check_fn(
        "strLength",
        vec![it(1)],
        Err("Cannot call function \"strLength\" with args (int), available signatures are [(string) int]."),
    );
    check_fn("humanBytes", vec![fl(82_854_982.0)], Ok(st("83 MB")));
    check_fn("humanBytes", vec![it(1000)], Ok(st("1.0 kB")));
}

#[test]
fn conditional_presence_and_time_functions() {
    check_fn("if", vec![bo(true), it(1), it(2)], Ok(it(1)));
    check_fn("if", vec![bo(false), st("a"), st("b")], Ok(st("b")));
    // Branch types that differ are a compile error when known...
    assert_eq!(
        folded(call("if", vec![b(true), i(1), f(2.0)])),
        Err("error calling \"if\": Different return types are not supported - second argument is int64 and third argument is float64".into())
    );
    // ...and per row only the chosen branch is evaluated, so only its type is seen.
    assert_eq!(one(call("if", vec![r("b"), r("i"), r("f")])), Ok(it(2)));
    // Only the chosen branch is evaluated (Kapacitor evaluates both and fails the row).
    assert_eq!(
        one(call(
            "if",
            vec![call("isPresent", vec![r("nope")]), r("nope"), f(0.0)]
        )),
        Ok(fl(0.0))
    );
    assert_eq!(
        one(call("if", vec![b(true), r("nope"), f(0.0)])),
        Err(
            "Cannot call function \"if\" argument \"nope\" is missing, values in scope are []"
                .into()
        )
    );
    assert_eq!(
        one(call("if", vec![r("i"), f(1.0), f(0.0)])),
        Err("error calling \"if\": first argument to if must be a condition with type of bool - got int64".into())
    );
    assert_eq!(one(call("isPresent", vec![r("f")])), Ok(bo(true)));
    assert_eq!(one(call("isPresent", vec![r("nope")])), Ok(bo(false)));
    assert_eq!(one(call("isPresent", vec![r("t")])), Ok(bo(true)));
    assert_eq!(
        one(un("!", call("isPresent", vec![r("nope")]))),
        Ok(bo(true))
    );
    let t = r("time");
    assert_eq!(one(call("minute", vec![t.clone()])), Ok(it(45)));
    assert_eq!(one(call("hour", vec![t.clone()])), Ok(it(13)));
    assert_eq!(one(call("weekday", vec![t.clone()])), Ok(it(4)));
    assert_eq!(one(call("day", vec![t.clone()])), Ok(it(2)));
    assert_eq!(one(call("month", vec![t.clone()])), Ok(it(11)));
    assert_eq!(one(call("year", vec![t.clone()])), Ok(it(2017)));
    assert_eq!(one(call("unixNano", vec![t.clone()])), Ok(it(T0)));
    assert_eq!(one(call("now", vec![])), Ok(Scalar::Time(7 * S)));
    assert_eq!(
        one(call("unixNano", vec![call("now", vec![])])),
        Ok(it(7 * S))
    );
    assert_eq!(
        one(call("hour", vec![r("f")])),
        Err("Cannot call function \"hour\" with args (float), available signatures are [(time) int].".into())
    );
    assert_eq!(
        one(call("abs", vec![bin("+", r("nope"), un("-", r("f")))])),
        Err("Failed to handle 1 argument: left reference value \"nope\" is missing value".into())
    );
    assert_eq!(
        one(call("max", vec![r("f"), r("nope")])),
        Err(
            "Cannot call function \"max\" argument \"nope\" is missing, values in scope are [f]"
                .into()
        )
    );
    assert_eq!(
        one(call("abs", vec![bin("+", r("nope"), f(1.0))])),
        Err("Failed to handle 1 argument: left reference value \"nope\" is missing value".into())
    );
}

#[test]
fn compile_errors() {
    let err = |n: Node| Program::compile(&n).unwrap_err();
    assert_eq!(err(call("nope", vec![])), "undefined function: \"nope\"");
    assert_eq!(
        err(call("abs", vec![f(1.0), f(2.0)])),
        "function \"abs\" expects 1 argument(s), got 2"
    );
    assert_eq!(
        err(call("rand", vec![i(1), i(2)])),
        "function \"rand\" expects 0 or 1 argument(s), got 2"
    );
    assert!(err(re("(")).starts_with("invalid regex /(/:"));
    assert_eq!(
        err(re("a")),
        "a lambda expression cannot evaluate to a regex"
    );
    assert_eq!(
        err(bin("+", r("x"), b(true))),
        "Failed to handle 1 argument: x".replace(
            "Failed to handle 1 argument: x",
            "invalid math operator + for type boolean"
        )
    );
    assert_eq!(
        err(call("sigma", vec![i(1)])),
        "Cannot call function \"sigma\" with args (int), available signatures are [(float) float]."
    );
    // Regexes compile once, at compile time; a program is reusable.
    let p = Program::compile(&bin("=~", r("t"), re("^web"))).unwrap();
    assert_eq!(p.result_type(), Some(Type::Bool));
    assert_eq!(p.references(), vec!["t".to_owned()]);
    assert!(!p.is_stateful());
    assert!(Program::compile(&call("count", vec![]))
        .unwrap()
        .is_stateful());
}

// ---- stateful functions -----------------------------------------------------------------------

fn ints(out: &EvalOutput) -> Vec<Option<i64>> {
    match &out.values {
        OutValues::Int(v) => v
            .iter()
            .zip(&out.valid)
            .map(|(&x, &ok)| ok.then_some(x))
            .collect(),
        _ => panic!("not ints"),
    }
}

#[test]
fn count_is_per_group_and_resettable() {
    let rows: Vec<Row> = (0..6)
        .map(|k| (k, vec![("v", Value::Float(k as f64))], vec![]))
        .collect();
    let bt = batch(&rows);
    let p = Program::compile(&call("count", vec![])).unwrap();
    let mut st = EvalState::new();
    let groups = [0u32, 1, 0, 1, 1, 2];
    let out = p.eval(&bt, &mut st, Some(&groups), 0).unwrap();
    assert_eq!(
        ints(&out),
        vec![Some(1), Some(1), Some(2), Some(2), Some(3), Some(1)]
    );
    // State carries over to the next batch.
    let out = p.eval(&bt, &mut st, Some(&groups), 0).unwrap();
    assert_eq!(
        ints(&out),
        vec![Some(3), Some(4), Some(4), Some(5), Some(6), Some(2)]
    );
    st.reset(Some(1));
    let out = p.eval(&bt, &mut st, Some(&groups), 0).unwrap();
    assert_eq!(
        ints(&out),
        vec![Some(5), Some(1), Some(6), Some(2), Some(3), Some(3)]
    );
    st.reset(None);
    assert!(st.is_empty());
    assert!(p.eval(&bt, &mut st, Some(&groups[..2]), 0).is_err());
}

#[test]
fn stateful_calls_run_only_where_evaluated() {
    // count() on the right of AND advances only where the left side is true.
    let rows: Vec<Row> = (0..6)
        .map(|k| (k, vec![("v", Value::Int(k))], vec![]))
        .collect();
    let bt = batch(&rows);
    let node = bin(
        "AND",
        bin("==", bin("%", r("v"), i(2)), i(0)),
        bin("<=", call("count", vec![]), i(2)),
    );
    let p = Program::compile(&node).unwrap();
    let m = p.mask(&bt, &mut EvalState::new(), None, 0).unwrap();
    // Even rows 0, 2, 4 call count() → 1, 2, 3.
    assert_eq!(m.mask, vec![true, false, true, false, false, false]);
    assert_eq!(m.error_count, 0);
}

#[test]
fn sigma_and_spread() {
    let xs = [1.0, 2.0, 3.0, 10.0];
    let rows: Vec<Row> = xs
        .iter()
        .enumerate()
        .map(|(k, &x)| (k as i64, vec![("v", Value::Float(x))], vec![]))
        .collect();
    let bt = batch(&rows);
    let out = run(&call("sigma", vec![r("v")]), &bt);
    let OutValues::Float(v) = &out.values else {
        panic!()
    };
    // Running mean/stddev: n=2: mean 1.5, var 0.5 → |2-1.5|/0.707.
    assert_eq!(v[0], 0.0);
    assert!((v[1] - 0.5 / 0.5f64.sqrt()).abs() < 1e-12);
    let mean: f64 = xs.iter().sum::<f64>() / 4.0;
    let var: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0;
    assert!((v[3] - (10.0 - mean).abs() / var.sqrt()).abs() < 1e-12);
    let out = run(&call("spread", vec![r("v")]), &bt);
    assert_eq!(out.values, OutValues::Float(vec![0.0, 1.0, 2.0, 9.0]));
    let out = run(&call("sigma", vec![r("missing")]), &bt);
    assert_eq!(out.error_count, 4);
    assert_eq!(
        out.first_error.as_deref(),
        Some("Cannot call function \"sigma\" argument \"missing\" is missing, values in scope are []")
    );
}

#[test]
fn rand_is_deterministic_and_bounded() {
    let rows: Vec<Row> = (0..50).map(|k| (k, vec![], vec![])).collect();
    let bt = batch(&rows);
    let a = run(&call("rand", vec![i(10)]), &bt);
    let b2 = run(&call("rand", vec![i(10)]), &bt);
    assert_eq!(a, b2);
    let v = ints(&a);
    assert!(v.iter().all(|x| matches!(x, Some(0..=9))));
    assert!(v.iter().collect::<std::collections::HashSet<_>>().len() > 3);
    let unbounded = run(&call("rand", vec![]), &bt);
    assert!(ints(&unbounded).iter().all(|x| x.unwrap() >= 0));
    let bad = run(&call("rand", vec![i(0)]), &bt);
    assert_eq!(
        bad.first_error.as_deref(),
        Some("error calling \"rand\": rand bound must be positive, got 0")
    );
}

// ---- batches ----------------------------------------------------------------------------------

#[test]
fn large_batches_cross_chunk_boundaries() {
    let n = 10_000;
    let rows: Vec<Row> = (0..n)
        .map(|k| {
            let mut fields = vec![("x", Value::Float(k as f64))];
            if k % 7 != 0 {
                fields.push(("y", Value::Int(k)));
            }
            let host = if k % 3 == 0 { "web1" } else { "db1" };
            (k, fields, vec![("host", host)])
        })
        .collect();
    let bt = batch(&rows);
    let node = bin(
        "AND",
        bin(">", r("y"), i(10)),
        bin("=~", r("host"), re("^web")),
    );
    let p = Program::compile(&node).unwrap();
    let m = p.mask(&bt, &mut EvalState::new(), None, 0).unwrap();
    for k in 0..n as usize {
        let want = k % 7 != 0 && k > 10 && k % 3 == 0;
        assert_eq!(m.mask[k], want, "row {k}");
    }
    assert_eq!(m.error_count, (0..n).filter(|k| k % 7 == 0).count());
    assert_eq!(
        m.first_error.as_deref(),
        Some("left reference value \"y\" is missing value")
    );
    let (kept, _) = p.filter(&bt, &mut EvalState::new(), None, 0).unwrap();
    assert_eq!(kept.len(), m.mask.iter().filter(|&&x| x).count());
}

#[test]
fn fused_mask_hands_blocks_with_missing_fields_to_the_general_path() {
    // Long enough for several fused blocks; rows lacking `b` sit mid-batch and at the end.
    let n = 10_000usize;
    let gaps = [0usize, 2047, 2048, 5000, 5001, n - 1];
    let rows: Vec<Row> = (0..n)
        .map(|k| {
            let mut fields = vec![("a", Value::Float((k % 17) as f64))];
            if !gaps.contains(&k) {
                fields.push(("b", Value::Float((k % 29) as f64)));
            }
            (k as i64, fields, vec![])
        })
        .collect();
    let bt = batch(&rows);
    for logic in ["AND", "OR"] {
        let node = bin(logic, bin("<", r("a"), i(5)), bin(">", r("b"), f(20.0)));
        let p = Program::compile(&node).unwrap();
        for chunk in [1, 7, 4096, 1 << 20] {
            let m = p
                .run_mask(&bt, &mut EvalState::new(), None, 0, chunk)
                .unwrap();
            let mut errors = 0;
            for k in 0..n {
                let (a, b) = ((k % 17) as f64, (k % 29) as f64);
                let want = if gaps.contains(&k) {
                    // AND short-circuits on a false left side; OR on a true one.
                    let decided = if logic == "AND" { a >= 5.0 } else { a < 5.0 };
                    errors += usize::from(!decided);
                    decided && logic == "OR"
                } else if logic == "AND" {
                    a < 5.0 && b > 20.0
                } else {
                    a < 5.0 || b > 20.0
                };
                assert_eq!(m.mask[k], want, "{logic} chunk {chunk} row {k}");
            }
            assert_eq!(m.error_count, errors, "{logic} chunk {chunk}");
            assert_eq!(m.first_error.is_some(), errors > 0);
        }
    }
}

#[test]
fn fused_comparisons_match_the_row_interpreter() {
    // Complete float fields compared with numbers take the one-pass AND/OR kernel.
    let xs = [-1.0, 0.0, 0.5, 2.0, 10.0, f64::NAN, 50.0, 51.0];
    let rows: Vec<Row> = xs
        .iter()
        .enumerate()
        .map(|(k, &x)| {
            let y = xs[(k * 3 + 1) % xs.len()];
            (
                k as i64,
                vec![("a", Value::Float(x)), ("b", Value::Float(y))],
                vec![],
            )
        })
        .collect();
    let bt = batch(&rows);
    let cmps = ["==", "!=", "<", "<=", ">", ">="];
    for logic in ["AND", "OR"] {
        for c1 in cmps {
            for c2 in cmps {
                let node = bin(logic, bin(c1, r("a"), i(2)), bin(c2, f(10.0), r("b")));
                let p = Program::compile(&node).unwrap();
                let m = p.mask(&bt, &mut EvalState::new(), None, 0).unwrap();
                let cx = super::scalar::BatchCtx::new(&bt, p.compiled(), None, 0);
                for row in 0..bt.len() {
                    let want = super::scalar::eval_top(
                        &p.compiled().expr,
                        &cx,
                        row,
                        &mut EvalState::new(),
                        true,
                    );
                    assert_eq!(
                        Ok(Scalar::Bool(m.mask[row])),
                        want,
                        "{} row {row}",
                        node.source()
                    );
                }
            }
        }
    }
}

#[test]
fn mixed_type_columns_use_the_row_fallback() {
    let bt = batch(&[
        (1, vec![("v", Value::Float(1.5))], vec![]),
        (2, vec![("v", Value::Int(3))], vec![]),
        (3, vec![("v", Value::Str("x".into()))], vec![]),
        (4, vec![], vec![]),
    ]);
    let out = run(&bin(">", r("v"), i(1)), &bt);
    assert_eq!(out.valid, vec![true, true, false, false]);
    assert_eq!(
        out.first_error.as_deref(),
        Some("mismatched type to binary operator. got string > int. see bool(), int(), float(), string(), duration()")
    );
    // A result whose type changes by row keeps the first type; other rows are errors.
    let out = run(&r("v"), &bt);
    assert_eq!(out.ty, Some(Type::Float));
    assert_eq!(out.valid, vec![true, false, false, false]);
    assert_eq!(
        out.first_error.as_deref(),
        Some("expression returned unexpected type int, expected float")
    );
}

#[test]
fn results_become_fields() {
    let bt = sample();
    let out = run(&bin("*", r("f"), f(2.0)), &bt);
    let b2 = bt.with_field_column(out.to_column("g"));
    assert_eq!(b2.field("g").unwrap().get(0), Some(Value::Float(3.0)));
    let names: Vec<&str> = b2.fields.iter().map(|c| c.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let b3 = b2.with_field_column(run(&s("x"), &bt).to_column("g"));
    assert_eq!(b3.field("g").unwrap().get(0), Some(Value::Str("x".into())));
    assert_eq!(b3.fields.len(), b2.fields.len());
}

#[test]
fn mask_needs_a_boolean() {
    let p = Program::compile(&bin("+", r("f"), f(1.0))).unwrap();
    assert!(p.mask(&sample(), &mut EvalState::new(), None, 0).is_err());
    let p = Program::compile(&r("f")).unwrap();
    let m = p.mask(&sample(), &mut EvalState::new(), None, 0).unwrap();
    assert_eq!(m.mask, vec![false]);
    assert_eq!(
        m.first_error.as_deref(),
        Some("expression returned unexpected type float, expected boolean")
    );
}

#[test]
fn empty_batch() {
    let bt = batch(&[]);
    let out = run(&bin(">", r("f"), i(1)), &bt);
    assert_eq!(out.valid.len(), 0);
    assert_eq!(out.error_count, 0);
    assert_eq!(out.first_error, None);
}

/// Throughput of the benchmark predicates on 1M rows (run with
/// `cargo test --release --lib eval::tests::throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    use crate::batch::{Column, ColumnData, DictColumn};
    let n = 1_000_000usize;
    let mut seed = 42u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 10_000) as f64 / 100.0
    };
    let idle: Vec<f64> = (0..n).map(|_| rnd()).collect();
    let user: Vec<f64> = (0..n).map(|_| rnd()).collect();
    let sys: Vec<f64> = (0..n).map(|_| rnd()).collect();
    let hosts: Vec<String> = (0..200)
        .map(|h| format!("{}{h:02}", if h % 2 == 0 { "web" } else { "db" }))
        .collect();
    let col = |name: &str, v: Vec<f64>| Column {
        name: name.into(),
        data: ColumnData::Float(v),
        valid: vec![true; n],
    };
    let bt = PointBatch {
        time: (0..n as i64).collect(),
        measurement: DictColumn {
            codes: vec![0; n],
            dict: vec!["cpu".into()].into(),
        },
        tag_keys: vec!["host".into()],
        tags: vec![DictColumn {
            codes: (0..n).map(|k| (k % 200) as u32).collect(),
            dict: hosts.into(),
        }],
        fields: vec![
            col("usage_idle", idle),
            col("usage_system", sys),
            col("usage_user", user),
        ],
        series: vec![0; n],
        series_keys: vec!["cpu".into()].into(),
    };
    let cases = [
        (
            "A",
            bin(
                "AND",
                bin("<", r("usage_idle"), i(10)),
                bin(">", r("usage_user"), i(50)),
            ),
        ),
        ("lt", bin("<", r("usage_idle"), i(10))),
        ("lt_f", bin("<", r("usage_idle"), f(10.0))),
        (
            "and_lit",
            bin("AND", bin("<", r("usage_idle"), i(10)), b(true)),
        ),
        ("regex", bin("=~", r("host"), re("^web[0-9]+$"))),
        (
            "arith",
            bin("+", r("usage_user"), bin("*", r("usage_system"), f(2.0))),
        ),
    ];
    let only = std::env::var("EVAL_CASE").ok();
    for (name, node) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let p = Program::compile(&node).unwrap();
        let mut best = f64::MAX;
        let flush: Vec<u64> = vec![1; 16 << 20];
        for _ in 0..25 {
            // Evict the batch from the caches, as a real pipeline step would find it.
            std::hint::black_box(flush.iter().sum::<u64>());
            let t = std::time::Instant::now();
            let out = if name == "arith" {
                p.eval(&bt, &mut EvalState::new(), None, 0)
                    .unwrap()
                    .error_count
            } else {
                p.mask(&bt, &mut EvalState::new(), None, 0)
                    .unwrap()
                    .error_count
            };
            assert_eq!(out, 0);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name}: {:.2} ms = {:.0} M rows/s",
            best * 1e3,
            n as f64 / best / 1e6
        );
    }
}
