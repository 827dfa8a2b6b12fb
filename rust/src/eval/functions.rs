//! The built-in functions of lambda expressions (Kapacitor's `tick/stateful/functions.go`):
//! name lookup, declared signatures (checked at compile time when argument types are known and
//! per row otherwise) and the stateless implementations on single values. Stateful functions
//! (`sigma count spread rand`) keep their state in [`super::state`].

use super::gofmt;
use super::time;
use super::types::{Scalar, Type};

/// A built-in function.
#[derive(Clone, Copy)]
pub enum Func {
    Bool,
    Int,
    Float,
    String,
    Duration,
    Math1(fn(f64) -> f64),
    Math2(fn(f64, f64) -> f64),
    Pow10,
    MathIF(fn(i32, f64) -> f64),
    Str2Bool(fn(&str, &str) -> bool),
    Str2Int(fn(&str, &str) -> i64),
    Str2Str(fn(&str, &str) -> String),
    Str1Str(fn(&str) -> String),
    StrLength,
    StrReplace,
    StrSubstring,
    RegexReplace,
    IsPresent,
    If,
    /// A field of the row time (`minute hour weekday day month year unixNano`).
    Time(fn(i64) -> i64),
    Now,
    HumanBytes,
    Sigma,
    Count,
    Spread,
    Rand,
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Func")
    }
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        a.min(b)
    }
}

fn go_logb(x: f64) -> f64 {
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_infinite() {
        f64::INFINITY
    } else if x.is_nan() {
        x
    } else {
        libm::ilogb(x) as f64
    }
}

fn pow10(n: i64) -> f64 {
    if n < -323 {
        0.0
    } else if n > 308 {
        f64::INFINITY
    } else {
        10f64.powi(n as i32)
    }
}

fn index_any(s: &str, chars: &str) -> i64 {
    s.char_indices()
        .find(|(_, c)| chars.contains(*c))
        .map_or(-1, |(i, _)| i as i64)
}

fn last_index_any(s: &str, chars: &str) -> i64 {
    s.char_indices()
        .rev()
        .find(|(_, c)| chars.contains(*c))
        .map_or(-1, |(i, _)| i as i64)
}

fn str_count(s: &str, sub: &str) -> i64 {
    if sub.is_empty() {
        s.chars().count() as i64 + 1
    } else {
        s.matches(sub).count() as i64
    }
}

/// Every built-in by its TICKscript name.
pub const FUNCTIONS: &[(&str, Func)] = &[
    ("bool", Func::Bool),
    ("int", Func::Int),
    ("float", Func::Float),
    ("string", Func::String),
    ("duration", Func::Duration),
    ("abs", Func::Math1(f64::abs)),
    ("acos", Func::Math1(f64::acos)),
    ("acosh", Func::Math1(f64::acosh)),
    ("asin", Func::Math1(f64::asin)),
    ("asinh", Func::Math1(f64::asinh)),
    ("atan", Func::Math1(f64::atan)),
    ("atanh", Func::Math1(f64::atanh)),
    ("cbrt", Func::Math1(f64::cbrt)),
    ("ceil", Func::Math1(f64::ceil)),
    ("cos", Func::Math1(f64::cos)),
    ("cosh", Func::Math1(f64::cosh)),
    ("erf", Func::Math1(libm::erf)),
    ("erfc", Func::Math1(libm::erfc)),
    ("exp", Func::Math1(f64::exp)),
    ("exp2", Func::Math1(f64::exp2)),
    ("expm1", Func::Math1(f64::exp_m1)),
    ("floor", Func::Math1(f64::floor)),
    ("gamma", Func::Math1(libm::tgamma)),
    ("log", Func::Math1(f64::ln)),
    ("log10", Func::Math1(f64::log10)),
    ("log1p", Func::Math1(f64::ln_1p)),
    ("log2", Func::Math1(f64::log2)),
    ("logb", Func::Math1(go_logb)),
    ("sin", Func::Math1(f64::sin)),
    ("sinh", Func::Math1(f64::sinh)),
    ("sqrt", Func::Math1(f64::sqrt)),
    ("tan", Func::Math1(f64::tan)),
    ("tanh", Func::Math1(f64::tanh)),
    ("trunc", Func::Math1(f64::trunc)),
    ("j0", Func::Math1(libm::j0)),
    ("j1", Func::Math1(libm::j1)),
    ("y0", Func::Math1(libm::y0)),
    ("y1", Func::Math1(libm::y1)),
    ("atan2", Func::Math2(f64::atan2)),
    ("hypot", Func::Math2(f64::hypot)),
    ("max", Func::Math2(go_max)),
    ("min", Func::Math2(go_min)),
    ("mod", Func::Math2(|a, b| a % b)),
    ("pow", Func::Math2(f64::powf)),
    ("pow10", Func::Pow10),
    ("jn", Func::MathIF(libm::jn)),
    ("yn", Func::MathIF(libm::yn)),
    ("strContains", Func::Str2Bool(|s, t| s.contains(t))),
    (
        "strContainsAny",
        Func::Str2Bool(|s, chars| s.chars().any(|c| chars.contains(c))),
    ),
    ("strHasPrefix", Func::Str2Bool(|s, t| s.starts_with(t))),
    ("strHasSuffix", Func::Str2Bool(|s, t| s.ends_with(t))),
    ("strCount", Func::Str2Int(str_count)),
    (
        "strIndex",
        Func::Str2Int(|s, t| s.find(t).map_or(-1, |i| i as i64)),
    ),
    ("strIndexAny", Func::Str2Int(index_any)),
    (
        "strLastIndex",
        Func::Str2Int(|s, t| s.rfind(t).map_or(-1, |i| i as i64)),
    ),
    ("strLastIndexAny", Func::Str2Int(last_index_any)),
    ("strLength", Func::StrLength),
    ("strReplace", Func::StrReplace),
    ("strSubstring", Func::StrSubstring),
    ("strToLower", Func::Str1Str(str::to_lowercase)),
    ("strToUpper", Func::Str1Str(str::to_uppercase)),
    ("strTrimSpace", Func::Str1Str(|s| s.trim().to_owned())),
    (
        "strTrim",
        Func::Str2Str(|s, cut| s.trim_matches(|c| cut.contains(c)).to_owned()),
    ),
    (
        "strTrimLeft",
        Func::Str2Str(|s, cut| s.trim_start_matches(|c| cut.contains(c)).to_owned()),
    ),
    (
        "strTrimRight",
        Func::Str2Str(|s, cut| s.trim_end_matches(|c| cut.contains(c)).to_owned()),
    ),
    (
        "strTrimPrefix",
        Func::Str2Str(|s, p| s.strip_prefix(p).unwrap_or(s).to_owned()),
    ),
    (
        "strTrimSuffix",
        Func::Str2Str(|s, p| s.strip_suffix(p).unwrap_or(s).to_owned()),
    ),
    ("regexReplace", Func::RegexReplace),
    ("isPresent", Func::IsPresent),
    ("if", Func::If),
    ("minute", Func::Time(time::minute)),
    ("hour", Func::Time(time::hour)),
    ("weekday", Func::Time(time::weekday)),
    ("day", Func::Time(|ns| time::civil(ns).day)),
    ("month", Func::Time(|ns| time::civil(ns).month)),
    ("year", Func::Time(|ns| time::civil(ns).year)),
    ("unixNano", Func::Time(|ns| ns)),
    ("now", Func::Now),
    ("humanBytes", Func::HumanBytes),
    ("sigma", Func::Sigma),
    ("count", Func::Count),
    ("spread", Func::Spread),
    ("rand", Func::Rand),
];

pub fn lookup(name: &str) -> Option<Func> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The types `if` can return.
const IF_TYPES: [Type; 7] = [
    Type::Float,
    Type::Int,
    Type::Str,
    Type::Bool,
    Type::Regex,
    Type::Time,
    Type::Duration,
];

impl Func {
    pub fn is_stateful(self) -> bool {
        matches!(self, Func::Sigma | Func::Count | Func::Spread | Func::Rand)
    }

    /// Whether a call with literal arguments may be computed once at compile time.
    pub fn is_pure(self) -> bool {
        !self.is_stateful() && !matches!(self, Func::Now)
    }

    /// The declared signatures: argument types → result type.
    pub fn signatures(self) -> Vec<(Vec<Type>, Type)> {
        use Type::*;
        let one = |args: &[Type], ret: Type| -> Vec<(Vec<Type>, Type)> {
            args.iter().map(|&a| (vec![a], ret)).collect()
        };
        match self {
            Func::Bool => one(&[Bool, Str, Int, Float], Bool),
            // Kapacitor's Call also converts a duration to its nanoseconds.
            Func::Int => one(&[Bool, Str, Int, Float, Duration], Int),
            Func::Float => one(&[Bool, Str, Int, Float], Float),
            Func::String => one(&[Bool, Str, Int, Float, Duration], Str),
            Func::Duration => vec![
                (vec![Duration], Duration),
                (vec![Int, Duration], Duration),
                (vec![Float, Duration], Duration),
                (vec![Str, Duration], Duration),
            ],
            Func::Math1(_) => vec![(vec![Float], Float)],
            Func::Math2(_) => vec![(vec![Float, Float], Float)],
            Func::Pow10 => vec![(vec![Int], Float)],
            Func::MathIF(_) => vec![(vec![Int, Float], Float)],
            Func::Str2Bool(_) => vec![(vec![Str, Str], Bool)],
            Func::Str2Int(_) => vec![(vec![Str, Str], Int)],
            Func::Str2Str(_) => vec![(vec![Str, Str], Str)],
            Func::Str1Str(_) => vec![(vec![Str], Str)],
            Func::StrLength => vec![(vec![Str], Int)],
            Func::StrReplace => vec![(vec![Str, Str, Str, Int], Str)],
            Func::StrSubstring => vec![(vec![Str, Int, Int], Str)],
            Func::RegexReplace => vec![(vec![Regex, Str, Str], Str)],
            Func::IsPresent => one(&[Missing, Bool, Str, Int, Float, Duration, Time], Bool),
            Func::If => IF_TYPES.iter().map(|&t| (vec![Bool, t, t], t)).collect(),
            Func::Time(_) => vec![(vec![Time], Int)],
            Func::Now => vec![(vec![], Time)],
            Func::HumanBytes => one(&[Float, Int], Str),
            Func::Sigma | Func::Spread => vec![(vec![Float], Float)],
            Func::Count => vec![(vec![], Int)],
            Func::Rand => vec![(vec![], Int), (vec![Int], Int)],
        }
    }
}

fn sig_text(sigs: &[(Vec<Type>, Type)]) -> String {
    let parts: Vec<String> = sigs
        .iter()
        .map(|(args, ret)| {
            let a: Vec<&str> = args.iter().map(|t| t.name()).collect();
            format!("({}) {}", a.join(", "), ret.name())
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The error for arguments that match none of the declared signatures.
pub fn signature_error(name: &str, func: Func, args: &[Option<Type>]) -> String {
    let got: Vec<&str> = args
        .iter()
        .map(|t| t.map_or("dynamic", |t| t.name()))
        .collect();
    format!(
        "Cannot call function \"{}\" with args ({}), available signatures are {}.",
        name,
        got.join(", "),
        sig_text(&func.signatures())
    )
}

/// Checks argument types against the declared signatures. `None` entries are types known only
/// per row. Returns the result type when it is the same for every signature that may match.
pub fn check_signature(
    name: &str,
    func: Func,
    args: &[Option<Type>],
) -> Result<Option<Type>, String> {
    if let (Func::If, [_, Some(a), Some(b)]) = (func, args) {
        if a != b && IF_TYPES.contains(a) && IF_TYPES.contains(b) {
            return Err(format!(
                "error calling \"if\": Different return types are not supported - second argument is {} and third argument is {}",
                a.go_name(),
                b.go_name()
            ));
        }
    }
    let sigs = func.signatures();
    let matching: Vec<&(Vec<Type>, Type)> = sigs
        .iter()
        .filter(|(types, _)| {
            types.len() == args.len()
                && types
                    .iter()
                    .zip(args)
                    .all(|(want, got)| got.is_none_or(|g| g == *want))
        })
        .collect();
    match matching.as_slice() {
        [] => Err(signature_error(name, func, args)),
        [first, rest @ ..] if rest.iter().all(|(_, r)| *r == first.1) => Ok(Some(first.1)),
        _ => Ok(None),
    }
}

/// The allowed argument counts, for the compile-time arity check.
pub fn arities(func: Func) -> Vec<usize> {
    let mut n: Vec<usize> = func.signatures().iter().map(|(a, _)| a.len()).collect();
    n.sort_unstable();
    n.dedup();
    n
}

/// Calls a stateless function on argument values that already passed the missing-value and
/// signature checks. Errors are Kapacitor's `Call` errors (wrapped by the caller).
pub fn call(func: Func, args: &[Scalar], now_ns: i64) -> Result<Scalar, String> {
    use Scalar as S;
    let v = match (func, args) {
        (Func::Bool, [a]) => S::Bool(match a {
            S::Bool(b) => *b,
            S::Str(s) => gofmt::parse_bool(s)?,
            S::Int(0) => false,
            S::Int(1) => true,
            S::Int(i) => return Err(format!("cannot convert {i} to boolean")),
            S::Float(f) if *f == 0.0 => false,
            S::Float(f) if *f == 1.0 => true,
            S::Float(f) => {
                return Err(format!(
                    "cannot convert {} to boolean",
                    gofmt::format_float(*f)
                ))
            }
            other => {
                return Err(format!(
                    "cannot convert {} to boolean",
                    other.ty().go_name()
                ))
            }
        }),
        (Func::Int, [a]) => S::Int(match a {
            S::Int(i) => *i,
            S::Float(f) => *f as i64,
            S::Str(s) => gofmt::parse_int(s)?,
            S::Bool(b) => *b as i64,
            S::Duration(d) => *d,
            other => {
                return Err(format!(
                    "cannot convert {} to integer",
                    other.ty().go_name()
                ))
            }
        }),
        (Func::Float, [a]) => S::Float(match a {
            S::Int(i) => *i as f64,
            S::Float(f) => *f,
            S::Str(s) => gofmt::parse_float(s)?,
            S::Bool(b) => *b as i64 as f64,
            other => return Err(format!("cannot convert {} to float", other.ty().go_name())),
        }),
        (Func::String, [a]) => S::Str(match a {
            S::Int(i) => i.to_string(),
            S::Float(f) => gofmt::format_float(*f),
            S::Bool(b) => b.to_string(),
            S::Duration(d) => gofmt::format_duration(*d),
            S::Str(s) => s.clone(),
            other => return Err(format!("cannot convert {} to string", other.ty().go_name())),
        }),
        (Func::Duration, [S::Duration(d)]) => S::Duration(*d),
        (Func::Duration, [S::Duration(d), S::Duration(_)]) => S::Duration(*d),
        (Func::Duration, [S::Int(i), S::Duration(unit)]) => S::Duration(i.wrapping_mul(*unit)),
        (Func::Duration, [S::Float(f), S::Duration(unit)]) => {
            S::Duration((f * *unit as f64) as i64)
        }
        (Func::Duration, [S::Str(s), ..]) => match gofmt::parse_duration(s) {
            Some(d) => S::Duration(d),
            None => return Err(format!("invalid duration string {}", gofmt::go_quote(s))),
        },
        (Func::Duration, [S::Int(_) | S::Float(_)]) => {
            return Err("duration expects unit argument for int and float values".to_owned())
        }
        (Func::Math1(f), [S::Float(x)]) => S::Float(f(*x)),
        (Func::Math2(f), [S::Float(x), S::Float(y)]) => S::Float(f(*x, *y)),
        (Func::Pow10, [S::Int(n)]) => S::Float(pow10(*n)),
        (Func::MathIF(f), [S::Int(n), S::Float(x)]) => {
            S::Float(f((*n).clamp(i32::MIN as i64, i32::MAX as i64) as i32, *x))
        }
        (Func::Str2Bool(f), [S::Str(a), S::Str(b)]) => S::Bool(f(a, b)),
        (Func::Str2Int(f), [S::Str(a), S::Str(b)]) => S::Int(f(a, b)),
        (Func::Str2Str(f), [S::Str(a), S::Str(b)]) => S::Str(f(a, b)),
        (Func::Str1Str(f), [S::Str(a)]) => S::Str(f(a)),
        (Func::StrLength, [S::Str(a)]) => S::Int(a.len() as i64),
        (Func::StrReplace, [S::Str(s), S::Str(old), S::Str(new), S::Int(n)]) => S::Str(if *n < 0 {
            s.replace(old.as_str(), new)
        } else {
            s.replacen(old.as_str(), new, usize::try_from(*n).unwrap_or(usize::MAX))
        }),
        (Func::StrSubstring, [S::Str(s), S::Int(start), S::Int(stop)]) => {
            S::Str(substring(s, *start, *stop)?)
        }
        (Func::RegexReplace, [S::Regex(re), S::Str(src), S::Str(repl)]) => {
            S::Str(re.replace_all(src, repl.as_str()).into_owned())
        }
        (Func::IsPresent, [a]) => S::Bool(!matches!(a, S::Missing(_))),
        (Func::If, [S::Bool(c), a, b]) => {
            if a.ty() != b.ty() {
                return Err(format!(
                    "Different return types are not supported - second argument is {} and third argument is {}",
                    a.ty().go_name(),
                    b.ty().go_name()
                ));
            }
            if *c {
                a.clone()
            } else {
                b.clone()
            }
        }
        (Func::Time(f), [S::Time(t)]) => S::Int(f(*t)),
        (Func::Now, []) => S::Time(now_ns),
        (Func::HumanBytes, [S::Float(f)]) => S::Str(gofmt::human_bytes(*f as u64)),
        (Func::HumanBytes, [S::Int(i)]) => S::Str(gofmt::human_bytes(*i as u64)),
        _ => {
            let types: Vec<Option<Type>> = args.iter().map(|a| Some(a.ty())).collect();
            return Err(signature_error("function", func, &types));
        }
    };
    Ok(v)
}

/// `strSubstring`: Kapacitor's index checks, plus `start > stop` as an error where Go panics.
fn substring(s: &str, start: i64, stop: i64) -> Result<String, String> {
    if start < 0 {
        return Err(format!("found negative index for strSubstring: {start}"));
    }
    if stop < 0 {
        return Err(format!("found negative index for strSubstring: {stop}"));
    }
    if stop as u64 >= s.len() as u64 {
        return Err(format!(
            "stop index too large for string in strSubstring: {stop}"
        ));
    }
    if start > stop {
        return Err(format!(
            "start index {start} is after stop index {stop} in strSubstring"
        ));
    }
    let bytes = &s.as_bytes()[start as usize..stop as usize];
    // Go slices bytes; a cut inside a UTF-8 sequence yields replacement characters here.
    Ok(String::from_utf8_lossy(bytes).into_owned())
}
