//! Transformations: functions that emit one value per incoming point, carrying state from point
//! to point (elapsed, difference, derivative, cumulativeSum, movingAverage).
//!
//! On a stream edge Kapacitor keeps one state per group for the life of the task; on a batch
//! edge it starts a fresh state for every batch. [`TransformState`] is that state: feed it
//! points in arrival order, one chunk after another, and it answers exactly as if it had seen
//! them all at once.

use serde::{Deserialize, Serialize};

use crate::batch::{FieldKind, Value};

use super::call::{Call, Error, Func, Shape};
use super::input::ValueRef;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Num {
    Float(f64),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Inner {
    /// Time of the previous point.
    Elapsed {
        prev: Option<i64>,
    },
    /// The previous point (a point at the same time as it is ignored).
    Difference {
        prev: Option<(i64, Num)>,
    },
    /// The previous point that had a numeric value.
    Derivative {
        prev: Option<(i64, f64)>,
    },
    CumulativeSum {
        sum: Option<Num>,
    },
    /// Ring buffer of the last `n` values and their running sum.
    MovingAverage {
        buf: Vec<Num>,
        pos: usize,
        sum: Num,
    },
}

/// A [`TransformState`] without its call, as a checkpoint stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformParts {
    kind: Option<FieldKind>,
    inner: Inner,
    errors: u64,
}

/// The running state of one transformation for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformState {
    call: Call,
    /// The value type, fixed by the first accepted value (Kapacitor builds a typed reducer then).
    kind: Option<FieldKind>,
    inner: Inner,
    errors: u64,
}

impl TransformState {
    /// A fresh state; an error when `call` is not a transformation.
    pub fn new(call: &Call) -> Result<TransformState, Error> {
        if call.func.shape() != Shape::Transform {
            return Err(Error::BadArguments {
                func: call.func,
                msg: "is not a transformation (it reduces a whole window)".to_owned(),
            });
        }
        let inner = match call.func {
            Func::Elapsed => Inner::Elapsed { prev: None },
            Func::Difference => Inner::Difference { prev: None },
            Func::Derivative => Inner::Derivative { prev: None },
            Func::CumulativeSum => Inner::CumulativeSum { sum: None },
            Func::MovingAverage => Inner::MovingAverage {
                buf: Vec::with_capacity(call.n),
                pos: 0,
                sum: Num::Float(0.0),
            },
            _ => unreachable!("checked above"),
        };
        Ok(TransformState {
            call: call.clone(),
            kind: None,
            inner,
            errors: 0,
        })
    }

    /// The running state without its call (a checkpoint: the call comes from the task).
    pub fn parts(&self) -> TransformParts {
        TransformParts {
            kind: self.kind,
            inner: self.inner.clone(),
            errors: self.errors,
        }
    }

    /// The state `parts` gave, for `call`; an error when they are of another function.
    pub fn from_parts(call: &Call, parts: TransformParts) -> Result<TransformState, String> {
        let fresh = TransformState::new(call).map_err(|e| e.to_string())?;
        if std::mem::discriminant(&fresh.inner) != std::mem::discriminant(&parts.inner) {
            return Err(format!("snapshot is not of a {:?} state", call.func));
        }
        Ok(TransformState {
            call: call.clone(),
            kind: parts.kind,
            inner: parts.inner,
            errors: parts.errors,
        })
    }

    pub fn call(&self) -> &Call {
        &self.call
    }

    /// Points Kapacitor would have logged as errors and skipped: values of another type than the
    /// first one, and (derivative) points at the same time as the previous one.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Feeds one point. `value` is `None` when the point lacks the field: it is skipped and
    /// changes nothing. Returns the value to emit at this point's time, if any; an error when the
    /// value's type cannot be taken by the function at all (the point is skipped).
    pub fn push(&mut self, time: i64, value: Option<ValueRef<'_>>) -> Result<Option<Value>, Error> {
        let Some(value) = value else {
            return Ok(None);
        };
        let func = self.call.func;
        let kind = value.kind();
        if !func.accepts(kind) {
            self.errors += 1;
            return Err(Error::UnsupportedType {
                func,
                field: String::new(),
                kind,
            });
        }
        if func == Func::Derivative {
            // The derivative node converts every number to float; types may vary point to point.
            return Ok(self.derivative(time, value.as_f64().expect("accepted numbers")));
        }
        match self.kind {
            None => self.kind = Some(kind),
            Some(k) if k != kind => {
                self.errors += 1;
                return Ok(None);
            }
            Some(_) => {}
        }
        let num = match value {
            ValueRef::Float(v) => Num::Float(v),
            ValueRef::Int(v) => Num::Int(v),
            _ => Num::Int(0), // strings and booleans only reach elapsed, which ignores values
        };
        let unit = self.call.unit;
        let n = self.call.n;
        Ok(match &mut self.inner {
            Inner::Elapsed { prev } => {
                let out = prev.map(|p| Value::Int(time.wrapping_sub(p) / unit));
                *prev = Some(time);
                out
            }
            Inner::Difference { prev } => match *prev {
                Some((t, _)) if t == time => None,
                Some((_, p)) => {
                    *prev = Some((time, num));
                    Some(match (num, p) {
                        (Num::Float(a), Num::Float(b)) => Value::Float(a - b),
                        (Num::Int(a), Num::Int(b)) => Value::Int(a.wrapping_sub(b)),
                        _ => unreachable!("one kind per state"),
                    })
                }
                None => {
                    *prev = Some((time, num));
                    None
                }
            },
            Inner::CumulativeSum { sum } => {
                // InfluxDB starts the running sum at zero (so -0.0 becomes 0.0).
                let start = sum.unwrap_or(match num {
                    Num::Float(_) => Num::Float(0.0),
                    Num::Int(_) => Num::Int(0),
                });
                let next = match (start, num) {
                    (Num::Float(a), Num::Float(b)) => Num::Float(a + b),
                    (Num::Int(a), Num::Int(b)) => Num::Int(a.wrapping_add(b)),
                    _ => unreachable!("one kind per state"),
                };
                *sum = Some(next);
                Some(match next {
                    Num::Float(v) => Value::Float(v),
                    Num::Int(v) => Value::Int(v),
                })
            }
            Inner::MovingAverage { buf, pos, sum } => {
                if buf.is_empty() {
                    *sum = match num {
                        Num::Float(_) => Num::Float(0.0),
                        Num::Int(_) => Num::Int(0),
                    };
                }
                // Same order of operations as InfluxDB: take out the oldest, then add the newest.
                let old = if buf.len() < n {
                    buf.push(num);
                    None
                } else {
                    Some(std::mem::replace(&mut buf[*pos], num))
                };
                *sum = match (*sum, old, num) {
                    (Num::Float(s), Some(Num::Float(o)), Num::Float(v)) => Num::Float(s - o + v),
                    (Num::Float(s), None, Num::Float(v)) => Num::Float(s + v),
                    (Num::Int(s), Some(Num::Int(o)), Num::Int(v)) => {
                        Num::Int(s.wrapping_sub(o).wrapping_add(v))
                    }
                    (Num::Int(s), None, Num::Int(v)) => Num::Int(s.wrapping_add(v)),
                    _ => unreachable!("one kind per state"),
                };
                *pos = (*pos + 1) % n;
                if buf.len() < n {
                    None
                } else {
                    Some(Value::Float(match *sum {
                        Num::Float(s) => s / n as f64,
                        Num::Int(s) => s as f64 / n as f64,
                    }))
                }
            }
            Inner::Derivative { .. } => unreachable!("handled above"),
        })
    }

    /// Kapacitor's derivative node: `(v - v_prev) / ((t - t_prev) / unit)`. A point at the same
    /// time as the previous one replaces it without output (an error in Kapacitor); with
    /// `nonNegative`, a decrease replaces it without output.
    fn derivative(&mut self, time: i64, value: f64) -> Option<Value> {
        let Inner::Derivative { prev } = &mut self.inner else {
            unreachable!("derivative state");
        };
        let last = prev.replace((time, value));
        let (t0, v0) = last?;
        let elapsed = time.wrapping_sub(t0) as f64;
        if elapsed == 0.0 {
            self.errors += 1;
            return None;
        }
        let diff = value - v0;
        if self.call.non_negative && diff < 0.0 {
            return None;
        }
        Some(Value::Float(diff / (elapsed / self.call.unit as f64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influxql::call::{Arg, SECOND};

    fn run(call: &Call, points: &[(i64, Option<ValueRef<'static>>)]) -> Vec<Option<Value>> {
        let mut st = TransformState::new(call).unwrap();
        points
            .iter()
            .map(|&(t, v)| st.push(t, v).unwrap_or(None))
            .collect()
    }

    fn f(v: f64) -> Option<ValueRef<'static>> {
        Some(ValueRef::Float(v))
    }
    fn i(v: i64) -> Option<ValueRef<'static>> {
        Some(ValueRef::Int(v))
    }

    #[test]
    fn elapsed_counts_units_between_points() {
        let c = Call::parse("elapsed", &[Arg::Int(SECOND / 1000)]).unwrap();
        let s = SECOND;
        let got = run(
            &c,
            &[
                (0, f(1.0)),
                (2 * s, f(1.0)),
                (2 * s, f(3.0)),
                (5 * s + 1, None),
            ],
        );
        assert_eq!(
            got,
            vec![None, Some(Value::Int(2000)), Some(Value::Int(0)), None]
        );
        let c = Call::parse("elapsed", &[Arg::Int(s)]).unwrap();
        let strs = [
            (0, Some(ValueRef::Str("a"))),
            (1500 * SECOND / 1000, Some(ValueRef::Str("b"))),
        ];
        assert_eq!(run(&c, &strs), vec![None, Some(Value::Int(1))]);
    }

    #[test]
    fn difference_keeps_type_and_skips_same_time() {
        let c = Call::parse("difference", &[]).unwrap();
        let got = run(
            &c,
            &[
                (1, i(5)),
                (2, i(8)),
                (2, i(100)),
                (3, i(4)),
                (4, None),
                (5, i(4)),
            ],
        );
        assert_eq!(
            got,
            vec![
                None,
                Some(Value::Int(3)),
                None,
                Some(Value::Int(-4)),
                None,
                Some(Value::Int(0))
            ]
        );
        let got = run(&c, &[(1, f(1.5)), (2, f(1.0))]);
        assert_eq!(got, vec![None, Some(Value::Float(-0.5))]);
    }

    #[test]
    fn a_type_change_is_skipped_and_counted() {
        let c = Call::parse("cumulativeSum", &[]).unwrap();
        let mut st = TransformState::new(&c).unwrap();
        assert_eq!(st.push(1, i(2)), Ok(Some(Value::Int(2))));
        assert_eq!(st.push(2, f(2.5)), Ok(None));
        assert_eq!(st.push(3, i(3)), Ok(Some(Value::Int(5))));
        assert!(st.push(4, Some(ValueRef::Str("x"))).is_err());
        assert_eq!(st.errors(), 2);
    }

    #[test]
    fn derivative_node_semantics() {
        let s = SECOND;
        let c = Call::parse("derivative", &[]).unwrap();
        let got = run(
            &c,
            &[
                (0, f(10.0)),
                (2 * s, i(11)),
                (2 * s, f(20.0)),
                (4 * s, f(18.0)),
            ],
        );
        assert_eq!(
            got,
            vec![
                None,
                Some(Value::Float(0.5)),
                None,
                Some(Value::Float(-1.0))
            ]
        );
        let c = Call::parse("derivative", &[Arg::Int(10 * s), Arg::Bool(true)]).unwrap();
        let got = run(&c, &[(0, f(10.0)), (s, f(5.0)), (2 * s, f(6.0))]);
        assert_eq!(got, vec![None, None, Some(Value::Float(10.0))]);
    }

    #[test]
    fn moving_average_emits_once_full() {
        let c = Call::parse("movingAverage", &[Arg::Int(2)]).unwrap();
        let got = run(&c, &[(1, i(1)), (2, i(2)), (3, i(4)), (4, None), (5, i(5))]);
        let want = [None, Some(1.5), Some(3.0), None, Some(4.5)];
        assert_eq!(got, want.map(|v| v.map(Value::Float)).to_vec());
        let c = Call::parse("movingAverage", &[Arg::Int(1)]).unwrap();
        assert_eq!(run(&c, &[(1, f(0.25))]), vec![Some(Value::Float(0.25))]);
    }

    #[test]
    fn not_a_transformation() {
        let c = Call::parse("mean", &[]).unwrap();
        assert!(TransformState::new(&c).is_err());
    }
}
