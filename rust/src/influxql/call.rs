//! Which InfluxQL function to run and with which arguments, checked once when a task is built.

use std::fmt;

use crate::batch::FieldKind;

/// One second in nanoseconds: the default unit of `derivative`.
pub const SECOND: i64 = 1_000_000_000;

/// The InfluxQL functions of Kapacitor's TICKscript (`|count('f')`, `|top(3, 'f')`, ...), plus
/// the `derivative` node, whose per-point arithmetic is a transformation of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Count,
    Distinct,
    Mean,
    Median,
    Mode,
    Spread,
    Sum,
    First,
    Last,
    Min,
    Max,
    Percentile,
    Top,
    Bottom,
    Stddev,
    Elapsed,
    Difference,
    Derivative,
    CumulativeSum,
    MovingAverage,
    HoltWinters,
    HoltWintersWithFit,
}

/// How a function turns a window into output, which decides what the task engine does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value per window, stamped with the window's time (count, mean, ...).
    Aggregate,
    /// One selected point per window; with `.usePointTimes()` it keeps that point's time, and it
    /// always keeps that point's tags and other fields (first, last, min, max, percentile).
    Selector,
    /// Several points per window, emitted as a batch (distinct, top, bottom, holtWinters*).
    Multi,
    /// One output per input point (after the first few), state carried from point to point
    /// (elapsed, difference, derivative, cumulativeSum, movingAverage).
    Transform,
}

impl Func {
    pub const ALL: [Func; 22] = [
        Func::Count,
        Func::Distinct,
        Func::Mean,
        Func::Median,
        Func::Mode,
        Func::Spread,
        Func::Sum,
        Func::First,
        Func::Last,
        Func::Min,
        Func::Max,
        Func::Percentile,
        Func::Top,
        Func::Bottom,
        Func::Stddev,
        Func::Elapsed,
        Func::Difference,
        Func::Derivative,
        Func::CumulativeSum,
        Func::MovingAverage,
        Func::HoltWinters,
        Func::HoltWintersWithFit,
    ];

    /// The function named as in TICKscript (`cumulativeSum`, `holtWintersWithFit`, ...).
    pub fn parse(name: &str) -> Result<Func, Error> {
        Func::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| Error::UnknownFunction(name.to_owned()))
    }

    /// The TICKscript name, which is also the default output field name (`.as()`).
    pub fn name(self) -> &'static str {
        match self {
            Func::Count => "count",
            Func::Distinct => "distinct",
            Func::Mean => "mean",
            Func::Median => "median",
            Func::Mode => "mode",
            Func::Spread => "spread",
            Func::Sum => "sum",
            Func::First => "first",
            Func::Last => "last",
            Func::Min => "min",
            Func::Max => "max",
            Func::Percentile => "percentile",
            Func::Top => "top",
            Func::Bottom => "bottom",
            Func::Stddev => "stddev",
            Func::Elapsed => "elapsed",
            Func::Difference => "difference",
            Func::Derivative => "derivative",
            Func::CumulativeSum => "cumulativeSum",
            Func::MovingAverage => "movingAverage",
            Func::HoltWinters => "holtWinters",
            Func::HoltWintersWithFit => "holtWintersWithFit",
        }
    }

    pub fn shape(self) -> Shape {
        match self {
            Func::Count
            | Func::Mean
            | Func::Median
            | Func::Mode
            | Func::Spread
            | Func::Sum
            | Func::Stddev => Shape::Aggregate,
            Func::First | Func::Last | Func::Min | Func::Max | Func::Percentile => Shape::Selector,
            Func::Distinct
            | Func::Top
            | Func::Bottom
            | Func::HoltWinters
            | Func::HoltWintersWithFit => Shape::Multi,
            Func::Elapsed
            | Func::Difference
            | Func::Derivative
            | Func::CumulativeSum
            | Func::MovingAverage => Shape::Transform,
        }
    }

    /// Whether a window without any value of the field still emits (count → 0, sum → 0.0).
    pub fn emits_when_empty(self) -> bool {
        matches!(self, Func::Count | Func::Sum)
    }

    /// The field types the function accepts (Kapacitor's reducers; `mode` also takes strings and
    /// booleans, as InfluxDB's `mode()` does).
    pub fn accepts(self, kind: FieldKind) -> bool {
        use FieldKind::*;
        match self {
            Func::Count
            | Func::Distinct
            | Func::First
            | Func::Last
            | Func::Elapsed
            | Func::Mode => {
                matches!(kind, Float | Int | Str | Bool)
            }
            Func::Derivative => matches!(kind, Float | Int | UInt),
            _ => matches!(kind, Float | Int),
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A literal argument of a call, as the TICKscript compiler hands it over. Durations are
/// nanoseconds (`Int`).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl Arg {
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "integer",
            Arg::Float(_) => "float",
            Arg::Str(_) => "string",
            Arg::Bool(_) => "boolean",
        }
    }
}

/// A function with its arguments checked. Built once per node, used for every window.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: Func,
    /// `percentile`: the percentile in [0, 100].
    pub percentile: f64,
    /// `top`/`bottom`: how many points; `movingAverage`: the window length.
    pub n: usize,
    /// `top`/`bottom`: fields or tags whose value combinations each keep only their best point.
    pub fields_and_tags: Vec<String>,
    /// `elapsed`, `derivative`: the unit in nanoseconds; `holtWinters*`: the bucket interval.
    pub unit: i64,
    /// `derivative`: drop negative rates (`.nonNegative()`).
    pub non_negative: bool,
    /// `holtWinters*`: intervals to forecast and season length.
    pub h: i64,
    pub m: i64,
}

impl Call {
    /// A call of `func` with `args` in TICKscript order after the field name:
    ///
    /// | function | arguments |
    /// |---|---|
    /// | `percentile` | percentile (float or integer, 0–100) |
    /// | `top`, `bottom` | n (integer ≥ 1), then any number of field or tag names |
    /// | `elapsed` | unit (duration in ns, > 0) |
    /// | `derivative` | optional unit (duration in ns, > 0, default 1s), optional nonNegative (bool) |
    /// | `movingAverage` | window (integer ≥ 1) |
    /// | `holtWinters`, `holtWintersWithFit` | h (integer), m (integer), interval (ns, > 0) |
    /// | all others | none |
    pub fn new(func: Func, args: &[Arg]) -> Result<Call, Error> {
        let mut call = Call {
            func,
            percentile: 0.0,
            n: 0,
            fields_and_tags: Vec::new(),
            unit: 0,
            non_negative: false,
            h: 0,
            m: 0,
        };
        let bad = |msg: String| Error::BadArguments { func, msg };
        let arity = |lo: usize, hi: usize, sig: &str| {
            if args.len() < lo || args.len() > hi {
                Err(bad(format!(
                    "expects {sig}, got {} argument{}",
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                )))
            } else {
                Ok(())
            }
        };
        let int = |i: usize, what: &str| match &args[i] {
            Arg::Int(v) => Ok(*v),
            other => Err(bad(format!(
                "{what} must be an integer, got {}",
                other.type_name()
            ))),
        };
        let positive = |v: i64, what: &str| {
            if v > 0 {
                Ok(v)
            } else {
                Err(bad(format!("{what} must be greater than 0, got {v}")))
            }
        };
        match func {
            Func::Percentile => {
                arity(1, 1, "a percentile")?;
                let p = match &args[0] {
                    Arg::Float(v) => *v,
                    Arg::Int(v) => *v as f64,
                    other => {
                        return Err(bad(format!(
                            "the percentile must be a number, got {}",
                            other.type_name()
                        )))
                    }
                };
                if !(0.0..=100.0).contains(&p) {
                    return Err(bad(format!(
                        "the percentile must be within [0, 100], got {p}"
                    )));
                }
                call.percentile = p;
            }
            Func::Top | Func::Bottom => {
                arity(
                    1,
                    usize::MAX,
                    "a number of points and optional field or tag names",
                )?;
                call.n =
                    positive(int(0, "the number of points")?, "the number of points")? as usize;
                for a in &args[1..] {
                    match a {
                        Arg::Str(s) => call.fields_and_tags.push(s.clone()),
                        other => {
                            return Err(bad(format!(
                                "field and tag names must be strings, got {}",
                                other.type_name()
                            )))
                        }
                    }
                }
            }
            Func::Elapsed => {
                arity(1, 1, "a unit")?;
                call.unit = positive(int(0, "the unit")?, "the unit")?;
            }
            Func::Derivative => {
                arity(0, 2, "an optional unit and an optional nonNegative flag")?;
                call.unit = SECOND;
                if !args.is_empty() {
                    call.unit = positive(int(0, "the unit")?, "the unit")?;
                }
                if args.len() == 2 {
                    call.non_negative = match &args[1] {
                        Arg::Bool(b) => *b,
                        other => {
                            return Err(bad(format!(
                                "nonNegative must be a boolean, got {}",
                                other.type_name()
                            )))
                        }
                    };
                }
            }
            Func::MovingAverage => {
                arity(1, 1, "a window length")?;
                call.n = positive(int(0, "the window length")?, "the window length")? as usize;
            }
            Func::HoltWinters | Func::HoltWintersWithFit => {
                arity(3, 3, "h, m and an interval")?;
                call.h = int(0, "h")?;
                call.m = int(1, "m")?;
                call.unit = positive(int(2, "the interval")?, "the interval")?;
            }
            _ => arity(0, 0, "no arguments besides the field")?,
        }
        Ok(call)
    }

    /// Parses the function name, then checks the arguments.
    pub fn parse(name: &str, args: &[Arg]) -> Result<Call, Error> {
        Call::new(Func::parse(name)?, args)
    }
}

/// Why a call cannot be built or run.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    UnknownFunction(String),
    BadArguments {
        func: Func,
        msg: String,
    },
    /// The field holds values of a type the function cannot take (e.g. `mean` of strings).
    UnsupportedType {
        func: Func,
        field: String,
        kind: FieldKind,
    },
    /// A row index past the end of the batch.
    RowOutOfRange {
        row: usize,
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownFunction(name) => {
                let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
                write!(
                    f,
                    "unknown InfluxQL function {name:?}; known functions: {}",
                    names.join(", ")
                )
            }
            Error::BadArguments { func, msg } => write!(f, "{func}: {msg}"),
            Error::UnsupportedType { func, field, kind } => write!(
                f,
                "cannot apply {func} to field {field:?}: its values are of type {}",
                kind.name()
            ),
            Error::RowOutOfRange { row, len } => {
                write!(f, "row {row} is out of range for a batch of {len} rows")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back() {
        for f in Func::ALL {
            assert_eq!(Func::parse(f.name()), Ok(f));
        }
        let err = Func::parse("avg").unwrap_err().to_string();
        assert!(
            err.contains("\"avg\"") && err.contains("movingAverage"),
            "{err}"
        );
    }

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            Call::parse("percentile", &[Arg::Float(95.0)])
                .unwrap()
                .percentile,
            95.0
        );
        assert_eq!(
            Call::parse("percentile", &[Arg::Int(50)])
                .unwrap()
                .percentile,
            50.0
        );
        let e = Call::parse("percentile", &[Arg::Float(101.0)]).unwrap_err();
        assert!(e.to_string().contains("[0, 100]"), "{e}");
        let top = Call::parse("top", &[Arg::Int(2), Arg::Str("host".into())]).unwrap();
        assert_eq!((top.n, top.fields_and_tags), (2, vec!["host".to_owned()]));
        assert!(Call::parse("top", &[Arg::Int(0)]).is_err());
        assert!(Call::parse("top", &[]).is_err());
        assert!(Call::parse("bottom", &[Arg::Int(1), Arg::Int(3)]).is_err());
        assert_eq!(
            Call::parse("elapsed", &[Arg::Int(1000)]).unwrap().unit,
            1000
        );
        assert!(Call::parse("elapsed", &[Arg::Int(0)]).is_err());
        assert!(Call::parse("elapsed", &[]).is_err());
        let d = Call::parse("derivative", &[]).unwrap();
        assert_eq!((d.unit, d.non_negative), (SECOND, false));
        let d = Call::parse("derivative", &[Arg::Int(10 * SECOND), Arg::Bool(true)]).unwrap();
        assert_eq!((d.unit, d.non_negative), (10 * SECOND, true));
        assert!(Call::parse("derivative", &[Arg::Float(1.0)]).is_err());
        assert_eq!(Call::parse("movingAverage", &[Arg::Int(4)]).unwrap().n, 4);
        assert!(Call::parse("movingAverage", &[Arg::Int(-1)]).is_err());
        let hw = Call::parse("holtWinters", &[Arg::Int(3), Arg::Int(0), Arg::Int(SECOND)]).unwrap();
        assert_eq!((hw.h, hw.m, hw.unit), (3, 0, SECOND));
        assert!(Call::parse("holtWinters", &[Arg::Int(3), Arg::Int(0), Arg::Int(0)]).is_err());
        let e = Call::parse("mean", &[Arg::Int(1)]).unwrap_err().to_string();
        assert_eq!(
            e,
            "mean: expects no arguments besides the field, got 1 argument"
        );
    }
}
