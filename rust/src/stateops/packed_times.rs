//! The times of a window tail's part, stored exactly in 2 or 4 bytes a point where they allow it
//! (frame of reference): `time = base + q * unit`, `base` the part's first time, `unit` the
//! greatest common divisor of every time's distance from it, `q` an `i16` or `i32`.
//!
//! Nanosecond times of real series are whole seconds apart or more (Telegraf rounds its times
//! to the second for intervals of a second or more), so a 30-minute window of 10-second points
//! keeps its times as `i16` multiples of a second or more: 2 bytes a point instead of 8. Times
//! that do not fit (spans beyond the `i32` range of units, distances overflowing `i64`) are kept
//! as they are. Decoding is exact: `q * unit` is the distance itself.

use super::window_tail::reserve;

#[derive(Debug, Clone, PartialEq)]
enum Deltas {
    D16(Vec<i16>),
    D32(Vec<i32>),
    /// the times themselves (base and unit unused)
    Raw(Vec<i64>),
}

impl Default for Deltas {
    fn default() -> Self {
        Deltas::D16(Vec::new())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedTimes {
    base: i64,
    /// 0 while every time equals `base`
    unit: u64,
    d: Deltas,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl PackedTimes {
    pub fn len(&self) -> usize {
        match &self.d {
            Deltas::D16(v) => v.len(),
            Deltas::D32(v) => v.len(),
            Deltas::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes a time takes (2, 4 or 8).
    #[cfg(test)]
    fn width(&self) -> usize {
        match &self.d {
            Deltas::D16(_) => 2,
            Deltas::D32(_) => 4,
            Deltas::Raw(_) => 8,
        }
    }

    #[inline]
    fn decode(&self, q: i64) -> i64 {
        // exact by construction: q * unit is a distance from base that fitted i64
        self.base.wrapping_add(q.wrapping_mul(self.unit as i64))
    }

    /// Time `i`.
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match &self.d {
            Deltas::D16(v) => self.decode(v[i] as i64),
            Deltas::D32(v) => self.decode(v[i] as i64),
            Deltas::Raw(v) => v[i],
        }
    }

    /// The first index at or after `lo` whose time `keep`s.
    pub fn position_from(&self, lo: usize, keep: impl Fn(i64) -> bool) -> Option<usize> {
        let at = match &self.d {
            Deltas::D16(v) => v[lo..].iter().position(|&q| keep(self.decode(q as i64))),
            Deltas::D32(v) => v[lo..].iter().position(|&q| keep(self.decode(q as i64))),
            Deltas::Raw(v) => v[lo..].iter().position(|&t| keep(t)),
        };
        at.map(|k| lo + k)
    }

    /// Appends the times from `lo` on to `out`.
    pub fn extend_into(&self, lo: usize, out: &mut Vec<i64>) {
        match &self.d {
            Deltas::D16(v) => out.extend(v[lo..].iter().map(|&q| self.decode(q as i64))),
            Deltas::D32(v) => out.extend(v[lo..].iter().map(|&q| self.decode(q as i64))),
            Deltas::Raw(v) => out.extend_from_slice(&v[lo..]),
        }
    }

    /// The times from `lo` on, without spare room.
    pub fn clone_from_index(&self, lo: usize) -> PackedTimes {
        PackedTimes {
            base: self.base,
            unit: self.unit,
            d: match &self.d {
                Deltas::D16(v) => Deltas::D16(v[lo..].to_vec()),
                Deltas::D32(v) => Deltas::D32(v[lo..].to_vec()),
                Deltas::Raw(v) => Deltas::Raw(v[lo..].to_vec()),
            },
        }
    }

    /// Drops the first `k` times.
    pub fn drain_front(&mut self, k: usize) {
        match &mut self.d {
            Deltas::D16(v) => drop(v.drain(..k)),
            Deltas::D32(v) => drop(v.drain(..k)),
            Deltas::Raw(v) => drop(v.drain(..k)),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match &mut self.d {
            Deltas::D16(v) => v.shrink_to_fit(),
            Deltas::D32(v) => v.shrink_to_fit(),
            Deltas::Raw(v) => v.shrink_to_fit(),
        }
    }

    /// Appends `ts`.
    pub fn extend_from_slice(&mut self, ts: &[i64]) {
        self.extend(ts.iter().copied());
    }

    /// Appends `ts`.
    pub fn extend(&mut self, ts: impl ExactSizeIterator<Item = i64> + Clone) {
        let Some(first) = ts.clone().next() else {
            return;
        };
        if self.is_empty() {
            *self = PackedTimes {
                base: first,
                unit: 0,
                d: Deltas::default(),
            };
        }
        match &mut self.d {
            Deltas::D16(v) => reserve(v, ts.len()),
            Deltas::D32(v) => reserve(v, ts.len()),
            Deltas::Raw(v) => reserve(v, ts.len()),
        }
        for t in ts {
            self.push(t);
        }
    }

    #[inline]
    fn push(&mut self, t: i64) {
        if let Deltas::Raw(v) = &mut self.d {
            v.push(t);
            return;
        }
        let Some(dist) = t.checked_sub(self.base) else {
            return self.go_raw(t);
        };
        let unit = self.unit as i64;
        if unit > 0 && dist % unit == 0 {
            let q = dist / unit;
            match &mut self.d {
                Deltas::D16(v) => {
                    if let Ok(q) = i16::try_from(q) {
                        return v.push(q);
                    }
                }
                Deltas::D32(v) => {
                    if let Ok(q) = i32::try_from(q) {
                        return v.push(q);
                    }
                }
                Deltas::Raw(_) => unreachable!("handled above"),
            }
        } else if dist == 0 {
            // unit 0: every time so far is base
            match &mut self.d {
                Deltas::D16(v) => return v.push(0),
                Deltas::D32(v) => return v.push(0),
                Deltas::Raw(_) => unreachable!("handled above"),
            }
        }
        self.repack(t, dist);
    }

    /// Stores every time again with the unit that also divides `dist` (the distance of `t`, the
    /// new time), in the narrowest width that holds them, then `t`.
    #[cold]
    fn repack(&mut self, t: i64, dist: i64) {
        let unit = gcd(self.unit, dist.unsigned_abs());
        if unit > i64::MAX as u64 {
            return self.go_raw(t);
        }
        let mut all = Vec::with_capacity(self.len() + 1);
        self.extend_into(0, &mut all);
        all.push(t);
        let qs: Vec<i64> = all.iter().map(|&x| (x - self.base) / unit as i64).collect();
        let (lo, hi) = (
            qs.iter().copied().min().unwrap_or(0),
            qs.iter().copied().max().unwrap_or(0),
        );
        let cap = qs.len() + qs.len() / 8;
        self.unit = unit;
        self.d = if i16::try_from(lo).is_ok() && i16::try_from(hi).is_ok() {
            let mut v = Vec::with_capacity(cap);
            v.extend(qs.iter().map(|&q| q as i16));
            Deltas::D16(v)
        } else if i32::try_from(lo).is_ok() && i32::try_from(hi).is_ok() {
            let mut v = Vec::with_capacity(cap);
            v.extend(qs.iter().map(|&q| q as i32));
            Deltas::D32(v)
        } else {
            let mut v = Vec::with_capacity(cap);
            v.extend_from_slice(&all);
            Deltas::Raw(v)
        };
    }

    /// Keeps the times as they are from now on, then `t`.
    #[cold]
    fn go_raw(&mut self, t: i64) {
        let mut all = Vec::with_capacity(self.len() + self.len() / 8 + 1);
        self.extend_into(0, &mut all);
        all.push(t);
        self.d = Deltas::Raw(all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(ts: &[i64], chunk: usize) -> PackedTimes {
        let mut p = PackedTimes::default();
        for c in ts.chunks(chunk.max(1)) {
            p.extend_from_slice(c);
        }
        let mut out = Vec::new();
        p.extend_into(0, &mut out);
        assert_eq!(out, ts);
        assert!(ts.iter().enumerate().all(|(i, &t)| p.get(i) == t));
        p
    }

    #[test]
    fn every_kind_of_times_comes_back_exactly() {
        let s = 1_000_000_000i64;
        let t0 = 1_700_000_000 * s + 17;
        // Telegraf's 10-second points: 2 bytes each
        let tele: Vec<i64> = (0..180).map(|k| t0 + k * 10 * s).collect();
        assert_eq!(roundtrip(&tele, 7).width(), 2);
        // late and repeated points, and a unit that shrinks (10 s, then 1 s, then 1 ns)
        let mut mixed = vec![t0, t0, t0 - 20 * s, t0 + 10 * s, t0 + 3 * s];
        assert_eq!(roundtrip(&mixed, 1).width(), 2);
        mixed.push(t0 + 1);
        assert_eq!(roundtrip(&mixed, 2).width(), 8, "1 ns over 20 s: i64");
        // a day of seconds: i32
        let day = vec![t0, t0 + s, t0 + 86_400 * s];
        assert_eq!(roundtrip(&day, 3).width(), 4);
        // extremes: distances that overflow i64
        let wild = vec![i64::MAX, i64::MIN, 0, i64::MAX, -1, 1];
        assert_eq!(roundtrip(&wild, 2).width(), 8);
        let wild = vec![i64::MIN, i64::MIN + 2, 0];
        roundtrip(&wild, 1);
        assert_eq!(roundtrip(&[5, 5, 5], 1).width(), 2);
        assert!(roundtrip(&[], 1).is_empty());
        // pseudo-random times within a minute at millisecond precision, and any ns at all
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let ms: Vec<i64> = (0..500)
            .map(|_| t0 + (rnd() % 60_000) as i64 * 1_000_000)
            .collect();
        assert_eq!(roundtrip(&ms, 33).width(), 4);
        let any: Vec<i64> = (0..500).map(|_| rnd() as i64).collect();
        roundtrip(&any, 9);
    }

    #[test]
    fn dropped_and_copied_times_keep_their_values() {
        let ts: Vec<i64> = (0..50).map(|k| 1_000 + k * 30).collect();
        let mut p = roundtrip(&ts, 50);
        let copy = p.clone_from_index(10);
        p.drain_front(10);
        assert_eq!(p, copy);
        p.extend_from_slice(&[1_000 + 3, 999]);
        let mut out = Vec::new();
        p.extend_into(0, &mut out);
        assert_eq!(&out[..40], &ts[10..]);
        assert_eq!(&out[40..], &[1_003, 999]);
        assert_eq!(p.position_from(0, |t| t >= 1_000 + 45 * 30), Some(35));
        assert_eq!(p.position_from(36, |t| t < 1_000), Some(41));
    }
}
