//! Aggregates: one value computed from all values of a window (count, sum, mean, median, mode,
//! spread, stddev), with InfluxDB's arithmetic: integer sums wrap like Go's int64, means divide
//! a running sum by the count, the median of an even count is `lo + (hi - lo) / 2`, stddev is
//! the sample standard deviation (n - 1).

use std::cmp::Ordering;

use crate::batch::Value;

use super::call::Func;
use super::input::Data;

/// The aggregate of non-empty `data` (`times[k]` is the time of `data[k]`), or `None` when
/// `func` is not an aggregate.
pub fn aggregate(func: Func, data: &Data<'_>, times: &[i64]) -> Option<Value> {
    Some(match func {
        Func::Count => Value::Int(data.len() as i64),
        Func::Sum => sum(data),
        Func::Mean => Value::Float(mean(data)),
        Func::Median => Value::Float(median(data)),
        Func::Mode => mode(data, times),
        Func::Spread => spread(data),
        Func::Stddev => Value::Float(stddev(data)),
        _ => return None,
    })
}

/// What an aggregate that emits on empty windows emits there. Kapacitor realises such a window's
/// reducer as a float one, so `sum` gives 0.0.
pub fn empty(func: Func) -> Option<Value> {
    match func {
        Func::Count => Some(Value::Int(0)),
        Func::Sum => Some(Value::Float(0.0)),
        _ => None,
    }
}

fn sum(data: &Data<'_>) -> Value {
    match data {
        Data::Float(v) => Value::Float(v.iter().fold(0.0, |a, &x| a + x)),
        Data::Int(v) => Value::Int(v.iter().fold(0i64, |a, &x| a.wrapping_add(x))),
        _ => unreachable!("sum takes numbers"),
    }
}

fn mean(data: &Data<'_>) -> f64 {
    match data {
        Data::Float(v) => v.iter().fold(0.0, |a, &x| a + x) / v.len() as f64,
        Data::Int(v) => v.iter().fold(0i64, |a, &x| a.wrapping_add(x)) as f64 / v.len() as f64,
        _ => unreachable!("mean takes numbers"),
    }
}

/// Orders floats as Go's `a < b` sorts do for all values a field can hold (no NaN reaches a
/// field through line protocol); `total_cmp` keeps the sort well defined if one does.
fn cmp_f64(a: &f64, b: &f64) -> Ordering {
    if a == b {
        Ordering::Equal
    } else {
        a.total_cmp(b)
    }
}

fn median(data: &Data<'_>) -> f64 {
    match data {
        Data::Float(v) => {
            if v.len() == 1 {
                return v[0];
            }
            let mut s = v.clone();
            let n = s.len();
            let (below, &mut hi, _) = s.select_nth_unstable_by(n / 2, cmp_f64);
            if n % 2 == 0 {
                // The largest value below the middle one is the lower middle.
                let lo = below.iter().copied().max_by(cmp_f64).expect("n >= 2");
                lo + (hi - lo) / 2.0
            } else {
                hi
            }
        }
        Data::Int(v) => {
            if v.len() == 1 {
                return v[0] as f64;
            }
            let mut s = v.clone();
            let n = s.len();
            let (below, &mut hi, _) = s.select_nth_unstable(n / 2);
            if n % 2 == 0 {
                let lo = *below.iter().max().expect("n >= 2");
                lo as f64 + hi.wrapping_sub(lo) as f64 / 2.0
            } else {
                hi as f64
            }
        }
        _ => unreachable!("median takes numbers"),
    }
}

/// The most frequent value. InfluxDB sorts by value and walks the runs; a later (larger) value
/// with the same count wins unless its run started later than the current mode's last point.
/// Among equal values the sort keeps arrival order (Go's sort does for windows of up to 12).
fn mode(data: &Data<'_>, times: &[i64]) -> Value {
    fn runs<T: Copy + PartialEq>(sorted: &[(T, i64)]) -> T {
        let mut most_freq = 0usize;
        let mut curr_freq = 0usize;
        let mut curr = sorted[0].0;
        let mut most = sorted[0].0;
        let mut most_pos = sorted[0].1;
        let mut curr_pos = sorted[0].1;
        for &(v, pos) in sorted {
            if v != curr {
                curr_freq = 1;
                curr = v;
                curr_pos = pos;
                continue;
            }
            curr_freq += 1;
            if most_freq > curr_freq || (most_freq == curr_freq && curr_pos > most_pos) {
                continue;
            }
            most_freq = curr_freq;
            most = v;
            most_pos = pos;
        }
        most
    }
    let t = times.iter().copied();
    match data {
        Data::Float(v) => {
            let mut s: Vec<(f64, i64)> = v.iter().copied().zip(t).collect();
            s.sort_by(|a, b| cmp_f64(&a.0, &b.0));
            Value::Float(runs(&s))
        }
        Data::Int(v) => {
            let mut s: Vec<(i64, i64)> = v.iter().copied().zip(t).collect();
            s.sort_by_key(|a| a.0);
            Value::Int(runs(&s))
        }
        Data::Str(v) => {
            let mut s: Vec<(&str, i64)> = v.iter().copied().zip(t).collect();
            s.sort_by_key(|a| a.0);
            Value::Str(runs(&s).to_owned())
        }
        Data::Bool(v) => {
            // InfluxDB counts both values; true wins ties.
            let trues = v.iter().filter(|&&b| b).count();
            Value::Bool(trues >= v.len() - trues)
        }
    }
}

fn spread(data: &Data<'_>) -> Value {
    match data {
        Data::Float(v) => {
            let (mut lo, mut hi) = (v[0], v[0]);
            for &x in &v[1..] {
                lo = go_min(lo, x);
                hi = go_max(hi, x);
            }
            Value::Float(hi - lo)
        }
        Data::Int(v) => {
            let lo = *v.iter().min().expect("non-empty");
            let hi = *v.iter().max().expect("non-empty");
            Value::Int(hi.wrapping_sub(lo))
        }
        _ => unreachable!("spread takes numbers"),
    }
}

/// Go's `math.Min`: NaN wins, and -0 is smaller than +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Go's `math.Max`: NaN wins, and +0 is larger than -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Sample standard deviation with a running mean. A single value gives 0: InfluxDB returns an
/// empty point there and Kapacitor emits its zero value.
fn stddev(data: &Data<'_>) -> f64 {
    let values: Vec<f64> = match data {
        Data::Float(v) => v.clone(),
        Data::Int(v) => v.iter().map(|&x| x as f64).collect(),
        _ => unreachable!("stddev takes numbers"),
    };
    if values.len() < 2 {
        return 0.0;
    }
    let mut mean = 0.0;
    let mut count = 0usize;
    for &x in values.iter().filter(|x| !x.is_nan()) {
        count += 1;
        mean += (x - mean) / count as f64;
    }
    let mut variance = 0.0;
    for &x in values.iter().filter(|x| !x.is_nan()) {
        let d = x - mean;
        variance += d * d;
    }
    (variance / (count as f64 - 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[f64]) -> Data<'static> {
        Data::Float(v.to_vec())
    }
    fn i(v: &[i64]) -> Data<'static> {
        Data::Int(v.to_vec())
    }

    #[test]
    fn table() {
        let s = Data::Str(vec!["b", "a", "b"]);
        let b = Data::Bool(vec![true, false, false]);
        let cases: Vec<(Func, Data<'static>, Value)> = vec![
            (Func::Count, f(&[1.0, 2.0]), Value::Int(2)),
            (Func::Count, s.clone(), Value::Int(3)),
            (Func::Count, b.clone(), Value::Int(3)),
            (Func::Sum, f(&[1.5, 2.0]), Value::Float(3.5)),
            (Func::Sum, i(&[1, 2, 3]), Value::Int(6)),
            (Func::Sum, i(&[i64::MAX, 1]), Value::Int(i64::MIN)),
            (Func::Mean, f(&[1.0, 2.0]), Value::Float(1.5)),
            (Func::Mean, i(&[1, 2]), Value::Float(1.5)),
            (Func::Mean, f(&[7.0]), Value::Float(7.0)),
            (Func::Median, f(&[3.0, 1.0, 2.0]), Value::Float(2.0)),
            (Func::Median, f(&[4.0, 1.0, 2.0, 3.0]), Value::Float(2.5)),
            (Func::Median, i(&[4, 1, 2, 3]), Value::Float(2.5)),
            (Func::Median, i(&[5]), Value::Float(5.0)),
            (Func::Mode, f(&[1.0, 2.0, 2.0, 3.0]), Value::Float(2.0)),
            (Func::Mode, i(&[3, 1, 3, 1]), Value::Int(3)),
            (Func::Mode, i(&[9]), Value::Int(9)),
            (Func::Mode, s.clone(), Value::Str("b".into())),
            (Func::Mode, b.clone(), Value::Bool(false)),
            (Func::Mode, Data::Bool(vec![true, false]), Value::Bool(true)),
            (Func::Spread, f(&[3.0, -1.0, 2.0]), Value::Float(4.0)),
            (Func::Spread, i(&[3, -1, 2]), Value::Int(4)),
            (Func::Spread, i(&[3]), Value::Int(0)),
            (
                Func::Stddev,
                f(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
                { Value::Float((32.0f64 / 7.0).sqrt()) },
            ),
            (Func::Stddev, i(&[1, 3]), Value::Float(2f64.sqrt())),
            (Func::Stddev, f(&[5.0]), Value::Float(0.0)),
        ];
        for (func, data, want) in cases {
            let times: Vec<i64> = (0..data.len() as i64).collect();
            assert_eq!(
                aggregate(func, &data, &times),
                Some(want),
                "{func} of {data:?}"
            );
        }
    }

    #[test]
    fn mode_ties_follow_influxdb() {
        let t = [0, 1, 2, 3];
        // Equal counts: the larger value replaces the mode when its first point is no later
        // than the current mode's last point.
        assert_eq!(mode(&f(&[2.0, 1.0, 2.0, 1.0]), &t), Value::Float(2.0));
        assert_eq!(mode(&f(&[1.0, 2.0, 1.0, 2.0]), &t), Value::Float(2.0));
        assert_eq!(mode(&f(&[1.0, 1.0, 2.0, 2.0]), &t), Value::Float(1.0));
        // All at one time (a stream parent's group): the larger value wins.
        assert_eq!(mode(&i(&[1, 1, 2, 2]), &[5, 5, 5, 5]), Value::Int(2));
        // A single occurrence of any value after the first run never becomes the mode.
        assert_eq!(mode(&i(&[5, 1, 7]), &t[..3]), Value::Int(1));
    }

    #[test]
    fn empty_windows() {
        assert_eq!(empty(Func::Count), Some(Value::Int(0)));
        assert_eq!(empty(Func::Sum), Some(Value::Float(0.0)));
        assert_eq!(empty(Func::Mean), None);
    }
}

#[cfg(test)]
mod median_reference {
    use super::*;

    #[test]
    fn median_matches_a_sort() {
        let mut seed = 88172645463325252u64;
        for n in 1..40usize {
            let v: Vec<i64> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 9) as i64 - 4
                })
                .collect();
            let mut s = v.clone();
            s.sort_unstable();
            let want = if n % 2 == 0 {
                s[n / 2 - 1] as f64 + (s[n / 2] - s[n / 2 - 1]) as f64 / 2.0
            } else {
                s[n / 2] as f64
            };
            assert_eq!(median(&Data::Int(v.clone())), want, "{v:?}");
            let f: Vec<f64> = v.iter().map(|&x| x as f64 / 4.0).collect();
            assert_eq!(median(&Data::Float(f)), want / 4.0, "{v:?}");
        }
    }
}
