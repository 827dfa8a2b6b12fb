//! Selectors: functions that pick points of a window rather than compute a new value (first,
//! last, min, max, percentile, distinct, top, bottom). Each returns positions into the gathered
//! input so the caller can keep the picked point's time, tags and other fields.
//!
//! Ties are broken as InfluxDB breaks them: `first`/`last` prefer the larger value among points
//! at the same time (booleans: `first` prefers false, `last` true), `min`/`max` the earlier
//! point, and anything still equal keeps the point that arrived first.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::call::Func;
use super::input::Data;

/// Position of the point picked by `first`, `last`, `min` or `max` in non-empty `data`.
pub fn select(func: Func, data: &Data<'_>, times: &[i64]) -> usize {
    // `better(k, best)`: does point k replace the current pick?
    let better = |k: usize, b: usize| -> bool {
        let (tk, tb) = (times[k], times[b]);
        match (func, data) {
            (Func::First, _) => tk < tb || (tk == tb && value_gt_first(data, k, b)),
            (Func::Last, _) => tk > tb || (tk == tb && value_gt_last(data, k, b)),
            (Func::Min, Data::Float(v)) => v[k] < v[b] || (v[k] == v[b] && tk < tb),
            (Func::Min, Data::Int(v)) => v[k] < v[b] || (v[k] == v[b] && tk < tb),
            (Func::Max, Data::Float(v)) => v[k] > v[b] || (v[k] == v[b] && tk < tb),
            (Func::Max, Data::Int(v)) => v[k] > v[b] || (v[k] == v[b] && tk < tb),
            _ => unreachable!("{func} is not a single-point selector of {data:?}"),
        }
    };
    let mut best = 0;
    for k in 1..data.len() {
        if better(k, best) {
            best = k;
        }
    }
    best
}

/// Same-time tie-break of `first`: the larger value, but false before true.
fn value_gt_first(data: &Data<'_>, k: usize, b: usize) -> bool {
    match data {
        Data::Float(v) => v[k] > v[b],
        Data::Int(v) => v[k] > v[b],
        Data::Str(v) => v[k] > v[b],
        Data::Bool(v) => !v[k] && v[b],
    }
}

/// Same-time tie-break of `last`: the larger value (true before false).
fn value_gt_last(data: &Data<'_>, k: usize, b: usize) -> bool {
    match data {
        Data::Float(v) => v[k] > v[b],
        Data::Int(v) => v[k] > v[b],
        Data::Str(v) => v[k] > v[b],
        Data::Bool(v) => v[k] && !v[b],
    }
}

/// Ascending order of values at positions `a` and `b` (false < true; floats by `<`).
fn cmp_values(data: &Data<'_>, a: usize, b: usize) -> Ordering {
    match data {
        Data::Float(v) => {
            if v[a] == v[b] {
                Ordering::Equal
            } else {
                v[a].total_cmp(&v[b])
            }
        }
        Data::Int(v) => v[a].cmp(&v[b]),
        Data::Str(v) => v[a].cmp(v[b]),
        Data::Bool(v) => v[a].cmp(&v[b]),
    }
}

/// Position of the point at `percentile` (nearest rank: `floor(n * p / 100 + 0.5) - 1` in value
/// order), or `None` when that rank falls outside the window (e.g. the 0th percentile).
pub fn percentile(data: &Data<'_>, percentile: f64) -> Option<usize> {
    let n = data.len();
    let rank = (n as f64 * percentile / 100.0 + 0.5).floor() as i64 - 1;
    if rank < 0 || rank >= n as i64 {
        return None;
    }
    // Value order with arrival breaking ties is a total order, so selecting the rank-th element
    // gives what a stable sort would put there, in linear time.
    let mut order: Vec<usize> = (0..n).collect();
    let (_, &mut pick, _) = order.select_nth_unstable_by(rank as usize, |&a, &b| {
        cmp_values(data, a, b).then(a.cmp(&b))
    });
    Some(pick)
}

/// A hashable form of a value, with 0.0 and -0.0 equal as in a Go map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Float(u64),
    Int(i64),
    UInt(u64),
    Str(String),
    Bool(bool),
}

impl Key {
    pub fn float(v: f64) -> Key {
        Key::Float(if v == 0.0 { 0 } else { v.to_bits() })
    }
}

/// Positions of the distinct values, each at its first occurrence, ordered by time then value.
pub fn distinct(data: &Data<'_>, times: &[i64]) -> Vec<usize> {
    let mut seen: HashMap<Key, ()> = HashMap::new();
    let mut firsts = Vec::new();
    for k in 0..data.len() {
        let key = match data {
            // NaN is never equal to itself, so every NaN is its own value, as in a Go map.
            Data::Float(v) if v[k].is_nan() => {
                firsts.push(k);
                continue;
            }
            Data::Float(v) => Key::float(v[k]),
            Data::Int(v) => Key::Int(v[k]),
            Data::Str(v) => Key::Str(v[k].to_owned()),
            Data::Bool(v) => Key::Bool(v[k]),
        };
        if seen.insert(key, ()).is_none() {
            firsts.push(k);
        }
    }
    firsts.sort_by(|&a, &b| times[a].cmp(&times[b]).then_with(|| cmp_values(data, a, b)));
    firsts
}

/// Positions of the `n` largest (`top`) or smallest (`bottom`) values, ordered by time.
///
/// With `keys` (one per point: the values of the extra fields and tags named in the call), only
/// the best point of each key takes part. Among equal values the earlier point wins.
pub fn top_bottom(
    top: bool,
    n: usize,
    data: &Data<'_>,
    times: &[i64],
    keys: Option<&[Vec<Key>]>,
) -> Vec<usize> {
    // "a is better than b": larger (top) or smaller (bottom) value, then earlier, then arrival.
    let better = |a: usize, b: usize| -> Ordering {
        let by_value = cmp_values(data, a, b);
        let by_value = if top { by_value.reverse() } else { by_value };
        by_value
            .then_with(|| times[a].cmp(&times[b]))
            .then_with(|| a.cmp(&b))
    };
    let mut candidates: Vec<usize> = match keys {
        Some(keys) if !keys.is_empty() => {
            let mut best: HashMap<&[Key], usize> = HashMap::new();
            for (k, key) in keys.iter().enumerate().take(data.len()) {
                best.entry(key.as_slice())
                    .and_modify(|cur| {
                        if better(k, *cur) == Ordering::Less {
                            *cur = k;
                        }
                    })
                    .or_insert(k);
            }
            best.into_values().collect()
        }
        _ => (0..data.len()).collect(),
    };
    // `better` is a total order (arrival breaks the last ties): select the n best in linear
    // time, then order only those.
    if n < candidates.len() {
        candidates.select_nth_unstable_by(n, |&a, &b| better(a, b));
        candidates.truncate(n);
    }
    candidates.sort_by(|&a, &b| better(a, b));
    // Stable: equal times keep their rank order.
    candidates.sort_by_key(|&k| times[k]);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_last_min_max() {
        let d = Data::Float(vec![3.0, 1.0, 3.0, 1.0, 2.0]);
        let t = [10, 11, 12, 13, 14];
        assert_eq!(select(Func::First, &d, &t), 0);
        assert_eq!(select(Func::Last, &d, &t), 4);
        assert_eq!(select(Func::Min, &d, &t), 1);
        assert_eq!(select(Func::Max, &d, &t), 0);
        // Points out of time order: first/last go by time, min/max ties by time.
        let t2 = [14, 13, 12, 11, 10];
        assert_eq!(select(Func::First, &d, &t2), 4);
        assert_eq!(select(Func::Last, &d, &t2), 0);
        assert_eq!(select(Func::Min, &d, &t2), 3);
        assert_eq!(select(Func::Max, &d, &t2), 2);
        // All at one time: first and last both take the largest value.
        let same = [5; 5];
        assert_eq!(select(Func::First, &d, &same), 0);
        assert_eq!(select(Func::Last, &d, &same), 0);
        assert_eq!(select(Func::Min, &d, &same), 1);
        let b = Data::Bool(vec![true, false, true]);
        assert_eq!(select(Func::First, &b, &[1, 1, 1]), 1);
        assert_eq!(select(Func::Last, &b, &[1, 1, 1]), 0);
        let s = Data::Str(vec!["a", "c", "b"]);
        assert_eq!(select(Func::First, &s, &[1, 1, 2]), 1);
        assert_eq!(select(Func::Last, &s, &[1, 1, 2]), 2);
        let i = Data::Int(vec![4, 9, 9]);
        assert_eq!(select(Func::Max, &i, &[1, 2, 3]), 1);
        assert_eq!(select(Func::Min, &i, &[1, 2, 3]), 0);
    }

    #[test]
    fn percentile_nearest_rank() {
        let d = Data::Float(vec![3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]);
        // floor(8 * 0.5 + 0.5) - 1 = 3 → the fourth smallest (3.0).
        assert_eq!(percentile(&d, 50.0), Some(0));
        assert_eq!(percentile(&d, 100.0), Some(5));
        assert_eq!(percentile(&d, 0.0), None);
        // Equal values: the earlier arrival ranks first.
        assert_eq!(percentile(&d, 12.5), Some(1));
        assert_eq!(percentile(&d, 25.0), Some(3));
        assert_eq!(percentile(&Data::Int(vec![7]), 50.0), Some(0));
        assert_eq!(percentile(&Data::Int(vec![7]), 10.0), None);
    }

    #[test]
    fn distinct_orders_by_time_then_value() {
        let d = Data::Float(vec![2.0, 1.0, 2.0, -0.0, 0.0, 1.0]);
        assert_eq!(distinct(&d, &[5, 5, 6, 7, 8, 9]), vec![1, 0, 3]);
        let s = Data::Str(vec!["x", "y", "x"]);
        assert_eq!(distinct(&s, &[1, 2, 3]), vec![0, 1]);
        let b = Data::Bool(vec![true, true, false]);
        assert_eq!(distinct(&b, &[1, 1, 1]), vec![2, 0]);
    }

    #[test]
    fn top_and_bottom() {
        let d = Data::Float(vec![5.0, 9.0, 5.0, 1.0, 9.0]);
        let t = [1, 2, 3, 4, 5];
        assert_eq!(top_bottom(true, 2, &d, &t, None), vec![1, 4]);
        assert_eq!(top_bottom(true, 3, &d, &t, None), vec![0, 1, 4]);
        assert_eq!(top_bottom(false, 2, &d, &t, None), vec![0, 3]);
        assert_eq!(top_bottom(true, 10, &d, &t, None), vec![0, 1, 2, 3, 4]);
        // One point per host: host a has 5, 9, 5 → keeps 9 (row 1); host b keeps 9 (row 4).
        let host = |h: &str| vec![Key::Str(h.to_owned())];
        let keys = vec![host("a"), host("a"), host("a"), host("b"), host("b")];
        assert_eq!(top_bottom(true, 5, &d, &t, Some(&keys)), vec![1, 4]);
        assert_eq!(top_bottom(false, 5, &d, &t, Some(&keys)), vec![0, 3]);
        assert_eq!(top_bottom(false, 1, &d, &t, Some(&keys)), vec![3]);
    }
}

#[cfg(test)]
mod reference_tests {
    //! The linear-time selections against plain stable sorts, on many small windows with ties.
    use super::*;

    fn windows() -> Vec<(Vec<i64>, Vec<i64>)> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as i64
        };
        (0..300)
            .map(|k| {
                let n = 1 + (k % 17) as usize;
                let values = (0..n).map(|_| next(5)).collect();
                let times = (0..n).map(|_| next(4)).collect();
                (values, times)
            })
            .collect()
    }

    #[test]
    fn percentile_matches_a_stable_sort() {
        for (values, _) in windows() {
            let data = Data::Int(values.clone());
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by_key(|&k| values[k]);
            for p in [1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 100.0] {
                let rank = (values.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
                let want = (rank >= 0 && rank < values.len() as i64).then(|| order[rank as usize]);
                assert_eq!(percentile(&data, p), want, "{values:?} {p}");
            }
        }
    }

    #[test]
    fn top_and_bottom_match_a_full_sort() {
        for (values, times) in windows() {
            let data = Data::Int(values.clone());
            for top in [true, false] {
                let mut order: Vec<usize> = (0..values.len()).collect();
                order.sort_by(|&a, &b| {
                    let v = values[a].cmp(&values[b]);
                    let v = if top { v.reverse() } else { v };
                    v.then(times[a].cmp(&times[b]))
                });
                for n in 1..=values.len() + 1 {
                    let mut want: Vec<usize> = order.iter().copied().take(n).collect();
                    want.sort_by_key(|&k| times[k]);
                    assert_eq!(top_bottom(top, n, &data, &times, None), want, "{values:?}");
                }
            }
        }
    }
}
