//! `derivative(field)`: per group, the rate of change between a point and the group's previous
//! point, `(v1 - v0) / ((t1 - t0) / unit)`, written to `.as()` (by default over the field).
//!
//! Kapacitor's rules: the first point of a group only starts it; a point without a numeric value
//! (missing, null, string or boolean) is an error and leaves the state alone; a point at the same
//! time as the previous one is skipped and does not replace it; with `nonNegative` a negative rate
//! is not emitted but the point still becomes the previous one.

use crate::batch::{CodeMap, Column, ColumnData, PointBatch, Value};
use crate::stateops::output::{take_with, true_div};

#[derive(Debug, Clone)]
pub struct Derivative {
    pub field: String,
    pub as_: String,
    /// nanoseconds; > 0
    pub unit: i64,
    pub non_negative: bool,
}

/// Per group: the previous point's value and time.
pub type DerivativeState = CodeMap<u32, (f64, i64)>;

/// What one chunk gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// input rows that produced a point, in order
    pub rows: Vec<usize>,
    pub batch: PointBatch,
    /// points without a numeric value of the field
    pub missing: usize,
}

/// The value of row `i` as a number: floats, integers and unsigned, never booleans or strings.
pub fn number_at(col: &Column, i: usize) -> Option<f64> {
    if !col.valid[i] {
        return None;
    }
    match &col.data {
        ColumnData::Float(v) => Some(v[i]),
        ColumnData::Int(v) => Some(v[i] as f64),
        ColumnData::UInt(v) => Some(v[i] as f64),
        ColumnData::Mixed(v) => match &v[i] {
            Some(Value::Float(x)) => Some(*x),
            Some(Value::Int(x)) => Some(*x as f64),
            Some(Value::UInt(x)) => Some(*x as f64),
            _ => None,
        },
        ColumnData::Bool(_) | ColumnData::Str(_) => None,
    }
}

impl Derivative {
    pub fn feed(&self, b: &PointBatch, groups: &[u32], state: &mut DerivativeState) -> Derived {
        let col = b.field(&self.field);
        let mut rows = Vec::new();
        let mut values = Vec::new();
        let mut missing = 0;
        // a float column (the common case) read directly, without a type match per row
        let floats = match col {
            Some(Column {
                data: ColumnData::Float(v),
                valid,
                ..
            }) => Some((v, valid)),
            _ => None,
        };
        for (i, (&g, &t)) in groups.iter().zip(&b.time).enumerate() {
            let value = match floats {
                Some((v, valid)) => valid[i].then(|| v[i]),
                None => col.and_then(|c| number_at(c, i)),
            };
            let Some(v1) = value else {
                missing += 1;
                continue;
            };
            // one lookup per point: the previous point updated in place
            let prev = match state.get_mut(&g) {
                Some(prev) => prev,
                None => {
                    state.insert(g, (v1, t));
                    continue;
                }
            };
            let (v0, t0) = *prev;
            let elapsed = t - t0;
            if elapsed == 0 {
                continue;
            }
            *prev = (v1, t);
            let diff = v1 - v0;
            if self.non_negative && diff < 0.0 {
                continue;
            }
            rows.push(i);
            values.push(diff / true_div(elapsed, self.unit));
        }
        let out = Column {
            name: self.as_.clone(),
            valid: vec![true; values.len()],
            data: ColumnData::Float(values),
        };
        Derived {
            batch: take_with(b, &rows, Some(out)),
            rows,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn node(non_negative: bool) -> Derivative {
        Derivative {
            field: "v".into(),
            as_: "d".into(),
            unit: 1_000_000_000,
            non_negative,
        }
    }

    fn floats(b: &PointBatch, f: &str) -> Vec<f64> {
        match &b.field(f).unwrap().data {
            ColumnData::Float(v) => v.clone(),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn empty_input_gives_nothing() {
        let mut st = DerivativeState::default();
        let out = node(false).feed(&PointBatch::default(), &[], &mut st);
        assert!(out.rows.is_empty() && out.batch.is_empty() && st.is_empty());
    }

    #[test]
    fn rates_per_group_int_and_float() {
        let b = lp("m v=1i 0\nm v=10 0\nm v=3i 2000000000\nm v=4 1000000000\n");
        let mut st = DerivativeState::default();
        let out = node(false).feed(&b, &[0, 1, 0, 1], &mut st);
        assert_eq!(out.rows, vec![2, 3]);
        assert_eq!(floats(&out.batch, "d"), vec![1.0, -6.0]);
        // the field itself stays as it was (mixed int and float: one column per kind kept)
        assert!(out.batch.field("v").is_some());
    }

    #[test]
    fn state_resumes_across_chunks() {
        let d = node(false);
        let mut st = DerivativeState::default();
        assert!(d.feed(&lp("m v=1 0\n"), &[7], &mut st).rows.is_empty());
        let out = d.feed(&lp("m v=3 500000000\n"), &[7], &mut st);
        assert_eq!(floats(&out.batch, "d"), vec![4.0]);
    }

    #[test]
    fn missing_same_time_and_negative() {
        let d = node(true);
        let mut st = DerivativeState::default();
        let b = lp("m v=5 0\nm x=1 1\nm v=\"s\" 2\nm v=9 0\nm v=1 1000000000\nm v=2 2000000000\n");
        let out = d.feed(&b, &[0; 6], &mut st);
        assert_eq!(out.missing, 2);
        // same time skipped (state kept at 5), then 5 -> 1 negative (dropped, state moves), 1 -> 2
        assert_eq!(out.rows, vec![5]);
        assert_eq!(floats(&out.batch, "d"), vec![1.0]);
    }

    #[test]
    fn as_defaults_over_the_field() {
        let d = Derivative {
            as_: "v".into(),
            ..node(false)
        };
        let mut st = DerivativeState::default();
        let out = d.feed(&lp("m v=1i 0\nm v=2i 1000000000\n"), &[0, 0], &mut st);
        assert_eq!(floats(&out.batch, "v"), vec![1.0]);
    }
}
