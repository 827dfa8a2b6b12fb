//! InfluxQL functions (aggregates, selectors, transformations) over batch columns, computed as
//! Kapacitor 1.x computes them (it delegates the arithmetic to InfluxDB 1.x's query reducers).
//! No pyo3 inside.
//!
//! The task engine builds a [`Call`] once per node and then, for each window (or, on a stream
//! edge, each run of points with the same time) of one group:
//! * [`reduce`] for aggregates, selectors, `distinct`, `top`/`bottom` and `holtWinters*`;
//! * [`TransformState`] (one per group on a stream edge, one per batch on a batch edge) or
//!   [`transform`] for elapsed, difference, derivative, cumulativeSum and movingAverage.
//!
//! Typing follows Kapacitor: the first value with a type the function accepts fixes the type;
//! points without the field, and points whose value has another type, are skipped (the latter
//! counted in `skipped`/`errors`, which Kapacitor logs). Integer results stay integers where
//! InfluxDB keeps them (sum, min, max, first, last, spread, mode, difference, cumulativeSum,
//! percentile, top, bottom); mean, median, stddev, movingAverage, derivative and holtWinters give
//! floats; count and elapsed give integers. Unsigned fields are only taken by derivative.
//!
//! Where we differ from Kapacitor, on purpose:
//! * a window whose values all have a type the function cannot take is an error here; Kapacitor
//!   skips every point and, for `sum`, then emits 0.0;
//! * a point without the field emits nothing from a transformation; Kapacitor re-emits the
//!   previous cumulativeSum/movingAverage/elapsed output, at the previous point's time;
//! * `sum` with `.usePointTimes()` keeps the window's time (Kapacitor stamps 1970-01-01);
//! * `mode` also takes strings and booleans, as InfluxDB's `mode()` does (Kapacitor refuses);
//! * `holtWinters*` refuses a window spanning more than 100 000 intervals instead of trying to
//!   allocate and fit them all; `top`/`bottom` with n < 1 and `movingAverage` with a window < 1
//!   are argument errors instead of a panic.

pub mod aggregates;
pub mod call;
pub mod gomath;
pub mod holt_winters;
pub mod input;
pub mod neldermead;
pub mod selectors;
pub mod transforms;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod group_feed_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use crate::batch::{CodeMap, FieldColumns, PointBatch, Value};

pub use call::{Arg, Call, Error, Func, Shape};
pub use input::ValueRef;
pub use transforms::TransformState;

use input::{gather, value_at, Data};
use selectors::Key;

/// One output point of [`reduce`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reduced {
    pub value: Value,
    /// The input row this point was selected from (selectors, `distinct`: the value's first
    /// row, `top`/`bottom`). Kapacitor keeps that row's tags and, for first/last/min/max/
    /// percentile, its other fields. `None` for computed values.
    pub row: Option<usize>,
    /// The point's own time, which Kapacitor uses with `.usePointTimes()` (and always for
    /// holtWinters forecasts). `None`: the window's time. InfluxDB's integer `percentile`
    /// reports no point time, so that one is `None` too.
    pub time: Option<i64>,
}

/// The result of [`reduce`] on one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reduction {
    /// Nothing for a window without values (except count → 0 and sum → 0.0), one point for
    /// aggregates and single selectors, any number for distinct/top/bottom/holtWinters*.
    pub points: Vec<Reduced>,
    /// Values skipped because their type differs from the window's first usable value.
    pub skipped: usize,
}

/// Applies a whole-window function to the field `field` of every row of `batch`.
pub fn reduce(call: &Call, batch: &PointBatch, field: &str) -> Result<Reduction, Error> {
    reduce_impl(call, batch, field, None)
}

/// As [`reduce`], on the given rows of `batch` in that order; returned rows index `batch`.
pub fn reduce_rows(
    call: &Call,
    batch: &PointBatch,
    field: &str,
    rows: &[usize],
) -> Result<Reduction, Error> {
    reduce_impl(call, batch, field, Some(rows))
}

fn reduce_impl(
    call: &Call,
    batch: &PointBatch,
    field: &str,
    rows: Option<&[usize]>,
) -> Result<Reduction, Error> {
    let func = call.func;
    check_rows(batch, rows)?;
    if func.shape() == Shape::Transform {
        return Err(Error::BadArguments {
            func,
            msg: "is a transformation; use a TransformState".to_owned(),
        });
    }
    let Some(input) = gather(func, field, batch.field(field), &batch.time, rows)? else {
        return Ok(Reduction {
            points: aggregates::empty(func)
                .map(|value| Reduced {
                    value,
                    row: None,
                    time: None,
                })
                .into_iter()
                .collect(),
            skipped: 0,
        });
    };
    let data = &input.data;
    let times = &input.times;
    // The point at position k of the gathered input, keeping its row and time.
    let picked = |k: usize| Reduced {
        value: data.value(k),
        row: Some(input.rows[k]),
        time: Some(times[k]),
    };
    let points = match func {
        Func::First | Func::Last | Func::Min | Func::Max => {
            vec![picked(selectors::select(func, data, times))]
        }
        Func::Percentile => selectors::percentile(data, call.percentile)
            .map(|k| Reduced {
                time: matches!(data, Data::Float(_)).then_some(times[k]),
                ..picked(k)
            })
            .into_iter()
            .collect(),
        Func::Distinct => selectors::distinct(data, times)
            .into_iter()
            .map(picked)
            .collect(),
        Func::Top | Func::Bottom => {
            let keys = (!call.fields_and_tags.is_empty())
                .then(|| aux_keys(batch, &call.fields_and_tags, &input.rows));
            selectors::top_bottom(func == Func::Top, call.n, data, times, keys.as_deref())
                .into_iter()
                .map(picked)
                .collect()
        }
        Func::HoltWinters | Func::HoltWintersWithFit => {
            let values: Vec<f64> = match data {
                Data::Float(v) => v.clone(),
                Data::Int(v) => v.iter().map(|&x| x as f64).collect(),
                _ => unreachable!("holtWinters takes numbers"),
            };
            let hw = holt_winters::HoltWinters {
                h: call.h,
                m: call.m,
                interval: call.unit,
                include_fit: func == Func::HoltWintersWithFit,
            };
            hw.forecast(times, &values)
                .map_err(|buckets| Error::BadArguments {
                    func,
                    msg: format!(
                        "the window spans {buckets} intervals of {}ns; at most {} are supported",
                        call.unit,
                        holt_winters::MAX_BUCKETS
                    ),
                })?
                .into_iter()
                .map(|(t, v)| Reduced {
                    value: Value::Float(v),
                    row: None,
                    time: Some(t),
                })
                .collect()
        }
        _ => {
            let value = aggregates::aggregate(func, data, times).expect("an aggregate");
            vec![Reduced {
                value,
                row: None,
                time: None,
            }]
        }
    };
    Ok(Reduction {
        points,
        skipped: input.skipped,
    })
}

fn check_rows(batch: &PointBatch, rows: Option<&[usize]>) -> Result<(), Error> {
    let len = batch.len();
    match rows.and_then(|r| r.iter().find(|&&r| r >= len)) {
        Some(&row) => Err(Error::RowOutOfRange { row, len }),
        None => Ok(()),
    }
}

/// For `top`/`bottom` with extra names: per row, the value of each named field, or else of the
/// tag of that name ("" when neither exists), as Kapacitor keys its "one point per combination".
fn aux_keys(batch: &PointBatch, names: &[String], rows: &[usize]) -> Vec<Vec<Key>> {
    let fields: Vec<_> = names.iter().map(|n| batch.field(n)).collect();
    let tags: Vec<_> = names.iter().map(|n| batch.tag(n)).collect();
    rows.iter()
        .map(|&r| {
            fields
                .iter()
                .zip(&tags)
                .map(|(f, t)| match f.and_then(|c| value_at(c, r)) {
                    Some(ValueRef::Float(v)) => Key::float(v),
                    Some(ValueRef::Int(v)) => Key::Int(v),
                    Some(ValueRef::UInt(v)) => Key::UInt(v),
                    Some(ValueRef::Str(v)) => Key::Str(v.to_owned()),
                    Some(ValueRef::Bool(v)) => Key::Bool(v),
                    None => Key::Str(t.and_then(|t| t.get(r)).unwrap_or("").to_owned()),
                })
                .collect()
        })
        .collect()
}

/// The result of feeding a window or chunk to a transformation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transformed {
    /// `(row, value)`: emit `value` at row `row`'s time.
    pub points: Vec<(usize, Value)>,
    /// Points skipped as errors (a value of another type, a derivative over zero time).
    pub skipped: usize,
}

impl Transformed {
    /// The emitted points as a batch: row `i` is `src`'s row `rows[i]` (measurement, tags, time)
    /// with one field, `as_name`, holding the value. The rows are returned too, so that a caller
    /// merging several groups' outputs can restore arrival order.
    pub fn into_batch(self, src: &PointBatch, as_name: &str) -> (PointBatch, Vec<usize>) {
        let rows: Vec<usize> = self.points.iter().map(|(r, _)| *r).collect();
        let mut out = src.take(&rows);
        let mut fields = FieldColumns::new();
        fields.reserve_rows(rows.len());
        if !rows.is_empty() {
            let col = fields.column(as_name, self.points[0].1.kind());
            for (i, (_, v)) in self.points.into_iter().enumerate() {
                fields.push_value(col, i, v);
            }
        }
        out.fields = fields.finish(rows.len());
        out.normalize_hidden();
        (out, rows)
    }
}

/// Every group's running transformation on a stream edge, fed whole chunks (the
/// `difference`, `movingAverage`... node's kernel): each group's rows go through its own
/// [`TransformState`] in order, and what they emit comes back as one batch in row order.
#[derive(Debug)]
pub struct GroupTransforms {
    call: Call,
    field: String,
    as_name: String,
    states: CodeMap<u32, Slot>,
    /// the number of the chunk being fed (a slot's counters are of the chunk it names)
    chunk: u64,
}

/// One group's running state and what the chunk being fed did to it.
#[derive(Debug)]
struct Slot {
    state: TransformState,
    chunk: u64,
    rows: usize,
    accepted: bool,
    error: Option<Error>,
}

/// What a chunk fed to [`GroupTransforms`] gave.
#[derive(Debug)]
pub struct GroupsTransformed {
    pub batch: PointBatch,
    /// The input row of each output row.
    pub rows: Vec<usize>,
    /// Points skipped as errors (another type, a derivative over zero time).
    pub skipped: u64,
    /// Points of groups whose values were all of a type the function does not take, and the
    /// last such error.
    pub failed: usize,
    pub error: Option<Error>,
}

impl GroupTransforms {
    pub fn new(call: Call, field: String, as_name: String) -> Result<Self, Error> {
        TransformState::new(&call)?; // the function and its arguments are checked once, here
        Ok(GroupTransforms {
            call,
            field,
            as_name,
            states: CodeMap::default(),
            chunk: 0,
        })
    }

    /// Every group's running state as checkpoint bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut states: Vec<(u32, transforms::TransformParts)> = self
            .states
            .iter()
            .map(|(g, s)| (*g, s.state.parts()))
            .collect();
        states.sort_by_key(|(g, _)| *g);
        crate::stateops::snapshot::encode(&states)
    }

    /// Replaces every group's state with a checkpoint's.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let states: Vec<(u32, transforms::TransformParts)> =
            crate::stateops::snapshot::decode(bytes, "transformation")?;
        let mut out = CodeMap::default();
        for (g, parts) in states {
            out.insert(g, Slot::new(TransformState::from_parts(&self.call, parts)?));
        }
        self.states = out;
        Ok(())
    }

    /// Feeds a chunk, row `i` of group `groups[i]`: one pass over the rows in order, each
    /// through its group's state (one map probe a row); the output in row order, built from the
    /// input's measurement, tags and time without copying its fields. A group whose values in
    /// this chunk were all of a type the function cannot take counts as failed (its rows), as
    /// when it is fed alone.
    pub fn feed(&mut self, batch: &PointBatch, groups: &[u32]) -> GroupsTransformed {
        let n = groups.len().min(batch.len());
        self.chunk += 1;
        let chunk = self.chunk;
        let col = batch.field(&self.field);
        let func = self.call.func;
        let mut touched: Vec<u32> = Vec::new();
        let mut rows: Vec<usize> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut skipped = 0u64;
        for (r, &g) in groups.iter().enumerate().take(n) {
            let slot = match self.states.entry(g) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(Slot::new(
                    TransformState::new(&self.call).expect("checked in new"),
                )),
            };
            if slot.chunk != chunk {
                slot.chunk = chunk;
                slot.rows = 0;
                slot.accepted = false;
                slot.error = None;
                touched.push(g);
            }
            slot.rows += 1;
            let v = col.and_then(|c| value_at(c, r));
            let before = slot.state.errors();
            match slot.state.push(batch.time[r], v) {
                Ok(Some(value)) => {
                    slot.accepted = true;
                    rows.push(r);
                    values.push(value);
                }
                Ok(None) => slot.accepted |= v.is_some_and(|v| func.accepts(v.kind())),
                Err(e) => {
                    slot.error.get_or_insert(e);
                }
            }
            skipped += slot.state.errors() - before;
        }
        let (mut failed, mut error) = (0, None);
        for g in touched {
            let slot = self.states.get_mut(&g).expect("touched above");
            if let Some(Error::UnsupportedType { func, kind, .. }) = slot.error.take() {
                if !slot.accepted {
                    failed += slot.rows;
                    error = Some(Error::UnsupportedType {
                        func,
                        field: self.field.clone(),
                        kind,
                    });
                }
            }
        }
        let mut out = batch.take_without_fields(&rows);
        let mut fields = FieldColumns::new();
        fields.reserve_rows(rows.len());
        if let Some(first) = values.first() {
            let col = fields.column(&self.as_name, first.kind());
            for (i, v) in values.into_iter().enumerate() {
                fields.push_value(col, i, v);
            }
        }
        out.fields = fields.finish(rows.len());
        out.normalize_hidden();
        GroupsTransformed {
            batch: out,
            rows,
            skipped,
            failed,
            error,
        }
    }

    /// The per-group feed this kernel replaced (each group's rows gathered, then fed): the
    /// reference the tests compare [`GroupTransforms::feed`] with.
    #[cfg(test)]
    pub fn feed_reference(&mut self, batch: &PointBatch, groups: &[u32]) -> GroupsTransformed {
        // each group's rows, in order; groups in order of first appearance
        let mut order: Vec<u32> = Vec::new();
        let mut rows_of: std::collections::HashMap<u32, Vec<usize>> =
            std::collections::HashMap::new();
        for (row, &g) in groups.iter().enumerate() {
            rows_of
                .entry(g)
                .or_insert_with(|| {
                    order.push(g);
                    Vec::new()
                })
                .push(row);
        }
        let mut points: Vec<(usize, Value)> = Vec::new();
        let (mut skipped, mut failed, mut error) = (0, 0, None);
        for g in order {
            let rows = &rows_of[&g];
            let state = &mut match self.states.entry(g) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(Slot::new(
                    TransformState::new(&self.call).expect("checked in new"),
                )),
            }
            .state;
            let before = state.errors();
            match state.feed(batch, &self.field, Some(rows)) {
                Ok(t) => points.extend(t.points),
                Err(e) => {
                    failed += rows.len();
                    error = Some(e);
                }
            }
            skipped += state.errors() - before;
        }
        points.sort_unstable_by_key(|(r, _)| *r);
        let (batch, rows) = Transformed { points, skipped: 0 }.into_batch(batch, &self.as_name);
        GroupsTransformed {
            batch,
            rows,
            skipped,
            failed,
            error,
        }
    }

    /// Forgets a group's state (all groups with `None`).
    pub fn reset(&mut self, group: Option<u32>) {
        match group {
            Some(g) => {
                self.states.remove(&g);
            }
            None => self.states.clear(),
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

impl Slot {
    fn new(state: TransformState) -> Slot {
        Slot {
            state,
            chunk: 0,
            rows: 0,
            accepted: false,
            error: None,
        }
    }
}

impl TransformState {
    /// Feeds `rows` of `batch` (all rows when `None`) in order; returned rows index `batch`.
    /// An error only when values were present but none of a type the function takes.
    pub fn feed(
        &mut self,
        batch: &PointBatch,
        field: &str,
        rows: Option<&[usize]>,
    ) -> Result<Transformed, Error> {
        check_rows(batch, rows)?;
        let Some(col) = batch.field(field) else {
            return Ok(Transformed::default());
        };
        let errors_before = self.errors();
        let mut out = Transformed::default();
        let mut first_error = None;
        let mut any_accepted = false;
        let mut visit = |st: &mut TransformState, r: usize| {
            let v = value_at(col, r);
            match st.push(batch.time[r], v) {
                Ok(Some(value)) => {
                    any_accepted = true;
                    out.points.push((r, value));
                }
                Ok(None) => any_accepted |= v.is_some_and(|v| st.call().func.accepts(v.kind())),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        };
        match rows {
            Some(rows) => rows.iter().for_each(|&r| visit(self, r)),
            None => (0..batch.len()).for_each(|r| visit(self, r)),
        }
        out.skipped = (self.errors() - errors_before) as usize;
        match first_error {
            Some(Error::UnsupportedType { func, kind, .. }) if !any_accepted => {
                Err(Error::UnsupportedType {
                    func,
                    field: field.to_owned(),
                    kind,
                })
            }
            _ => Ok(out),
        }
    }
}

/// Applies a transformation to one batch with a fresh state (Kapacitor's batch-edge behaviour).
pub fn transform(call: &Call, batch: &PointBatch, field: &str) -> Result<Transformed, Error> {
    TransformState::new(call)?.feed(batch, field, None)
}
