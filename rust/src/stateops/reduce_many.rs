//! One InfluxQL aggregate (count, mean, ...) or selector (first, max, percentile, ...) over many
//! windows at once: the windows a chunk closed, of every group, become one output batch (one point
//! per window that has a value), so a node pays its Python overhead once per chunk instead of
//! once per window.
//!
//! An aggregate's point is the window's measurement, the group's tags (empty values are no tag),
//! the value as field `as_`, at the window's time. A selector's point keeps the selected point's
//! tags and other fields, and its time with `.usePointTimes()`: Kapacitor's outputs.

use crate::batch::{BatchBuilder, PointBatch, Value};
use crate::influxql::{reduce, Call, Shape};
use crate::stateops::join::{push_point, row_fields};

/// One window to reduce.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    pub name: &'a str,
    pub tags: &'a [(String, String)],
    pub tmax: i64,
    pub points: &'a PointBatch,
}

/// The points of every window (in order), the window of each output row, and per failed window
/// its index and the error.
pub struct ReducedMany {
    pub batch: PointBatch,
    pub windows: Vec<usize>,
    pub errors: Vec<(usize, String)>,
}

/// `call` must be an aggregate or a selector (one point per window).
pub fn reduce_windows(
    call: &Call,
    field: &str,
    as_: &str,
    point_times: bool,
    windows: &[Window<'_>],
) -> ReducedMany {
    let selector = call.func.shape() == Shape::Selector;
    let counts_empty = matches!(call.func.name(), "count" | "sum");
    let mut out = BatchBuilder::new();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (k, w) in windows.iter().enumerate() {
        if w.points.field(field).is_none() && !counts_empty {
            continue;
        }
        match reduce(call, w.points, field) {
            Ok(r) => {
                let tags: Vec<(&str, &str)> = w
                    .tags
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .collect();
                for p in r.points {
                    if let (true, Some(row)) = (selector, p.row) {
                        let mut fields: Vec<(String, Option<Value>)> = row_fields(w.points, row)
                            .into_iter()
                            .filter(|(f, _)| f != field)
                            .collect();
                        match fields.iter_mut().find(|(f, _)| f == as_) {
                            Some(e) => e.1 = Some(p.value),
                            None => fields.push((as_.to_owned(), Some(p.value))),
                        }
                        let ptags: Vec<(String, String)> = w
                            .points
                            .row_tags(row)
                            .into_iter()
                            .map(|(a, b)| (a.to_owned(), b.to_owned()))
                            .collect();
                        let when = match p.time {
                            Some(t) if point_times => t,
                            _ => w.tmax,
                        };
                        push_point(&mut out, w.name, &ptags, &fields, when);
                        rows.push(k);
                        continue;
                    }
                    match out.push_row(w.name, &tags, &[(as_, p.value)], w.tmax) {
                        Ok(()) => rows.push(k),
                        Err(e) => errors.push((k, e.to_string())),
                    }
                }
            }
            Err(e) => errors.push((k, e.to_string())),
        }
    }
    ReducedMany {
        batch: out.finish(),
        windows: rows,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{ColumnData, Value};
    use crate::influxql::Arg;
    use crate::stateops::testutil::lp;

    #[test]
    fn means_of_many_windows() {
        let call = Call::parse("mean", &[] as &[Arg]).unwrap();
        let a = lp("m,h=a v=1 1\nm,h=a v=3 2\n");
        let b = lp("m,h=b v=10i 3\n");
        let none = lp("m,h=c x=1 3\n");
        let ta = vec![("h".to_string(), "a".to_string())];
        let tb = vec![("h".to_string(), "b".to_string())];
        let tc = vec![("h".to_string(), String::new())];
        let ws = [
            Window {
                name: "m",
                tags: &ta,
                tmax: 10,
                points: &a,
            },
            Window {
                name: "m",
                tags: &tc,
                tmax: 10,
                points: &none,
            },
            Window {
                name: "m",
                tags: &tb,
                tmax: 20,
                points: &b,
            },
        ];
        let r = reduce_windows(&call, "v", "mean", false, &ws);
        assert_eq!(r.windows, vec![0, 2]);
        assert!(r.errors.is_empty());
        assert_eq!(r.batch.time, vec![10, 20]);
        assert_eq!(
            r.batch.field("mean").unwrap().data,
            ColumnData::Float(vec![2.0, 10.0])
        );
        assert_eq!(r.batch.row_tags(1), vec![("h", "b")]);
        // count of a window without the field: 0; an empty tag value is no tag
        let count = Call::parse("count", &[] as &[Arg]).unwrap();
        let r = reduce_windows(&count, "v", "count", false, &ws[1..2]);
        assert_eq!(r.batch.row_fields(0), vec![("count", Value::Int(0))]);
        assert!(r.batch.row_tags(0).is_empty());
    }

    #[test]
    fn no_windows() {
        let call = Call::parse("sum", &[] as &[Arg]).unwrap();
        let r = reduce_windows(&call, "v", "sum", false, &[]);
        assert!(r.batch.is_empty() && r.windows.is_empty());
    }

    #[test]
    fn a_bad_window_is_an_error_the_others_go_on() {
        let call = Call::parse("mean", &[] as &[Arg]).unwrap();
        let s = lp("m v=\"x\" 1\n");
        let f = lp("m v=2 1\n");
        let ws = [
            Window {
                name: "m",
                tags: &[],
                tmax: 1,
                points: &s,
            },
            Window {
                name: "m",
                tags: &[],
                tmax: 2,
                points: &f,
            },
        ];
        let r = reduce_windows(&call, "v", "mean", false, &ws);
        assert_eq!(r.windows, vec![1]);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].0, 0);
    }

    #[test]
    fn selectors_keep_the_point() {
        let call = Call::parse("max", &[] as &[Arg]).unwrap();
        let a = lp("m,h=a,k=x v=1,w=5i 1\nm,h=a,k=y v=3,w=6i 2\n");
        let ta = vec![("h".to_string(), "a".to_string())];
        let ws = [Window {
            name: "m",
            tags: &ta,
            tmax: 10,
            points: &a,
        }];
        let r = reduce_windows(&call, "v", "max", false, &ws);
        assert_eq!(r.batch.time, vec![10]);
        assert_eq!(r.batch.row_tags(0), vec![("h", "a"), ("k", "y")]);
        assert_eq!(
            r.batch.row_fields(0),
            vec![("max", Value::Float(3.0)), ("w", Value::Int(6))]
        );
        let r = reduce_windows(&call, "v", "v", true, &ws);
        assert_eq!(r.batch.time, vec![2]);
        assert_eq!(
            r.batch.row_fields(0),
            vec![("v", Value::Float(3.0)), ("w", Value::Int(6))]
        );
    }
}
