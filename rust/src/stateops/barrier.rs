//! `barrier().period(d)`: per group, the points at which a barrier fires — the first point at or
//! past the group's next period boundary (data time); the next boundary follows that point.
//! The first point of a group only sets its first boundary.

use std::collections::HashMap;

/// Per group: the next period boundary.
#[derive(Debug)]
pub struct BarrierPeriods {
    /// > 0
    pub period: i64,
    next: HashMap<u32, i64>,
}

impl BarrierPeriods {
    pub fn new(period: i64) -> Self {
        BarrierPeriods {
            period,
            next: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.next.len()
    }

    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// Every group's next boundary as checkpoint bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        crate::stateops::snapshot::encode(&(self.period, &self.next))
    }

    /// Replaces every group's next boundary with a checkpoint's.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let (period, next): (i64, HashMap<u32, i64>) =
            crate::stateops::snapshot::decode(bytes, "barrier")?;
        if period != self.period {
            return Err(format!(
                "barrier snapshot is of period {period}ns, this barrier's is {}ns",
                self.period
            ));
        }
        self.next = next;
        Ok(())
    }

    pub fn reset(&mut self, group: Option<u32>) {
        match group {
            Some(g) => {
                self.next.remove(&g);
            }
            None => self.next.clear(),
        }
    }

    /// `(row, group, boundary)` for every row before which a barrier fires, in row order.
    pub fn feed(&mut self, times: &[i64], groups: &[u32]) -> Vec<(usize, u32, i64)> {
        let mut cuts = Vec::new();
        for (row, (&t, &g)) in times.iter().zip(groups).enumerate() {
            let after = t - t.rem_euclid(self.period) + self.period;
            match self.next.get(&g).copied() {
                None => {
                    self.next.insert(g, after);
                }
                Some(next) if t >= next => {
                    cuts.push((row, g, next));
                    self.next.insert(g, after);
                }
                Some(_) => {}
            }
        }
        cuts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_per_group_across_calls() {
        let mut b = BarrierPeriods::new(10);
        assert!(b.feed(&[], &[]).is_empty());
        assert!(b.feed(&[1, 3, 9], &[0, 1, 0]).is_empty());
        // group 0's boundary is 10: the point at 12 fires it; group 1's too at 25 (late 5 not)
        assert_eq!(
            b.feed(&[12, 5, 25, 19], &[0, 1, 1, 0]),
            vec![(0, 0, 10), (2, 1, 10)]
        );
        assert_eq!(b.feed(&[20], &[0]), vec![(0, 0, 20)]);
        b.reset(Some(0));
        assert!(b.feed(&[45], &[0]).is_empty());
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn negative_times_floor() {
        let mut b = BarrierPeriods::new(10);
        assert!(b.feed(&[-15], &[0]).is_empty());
        assert_eq!(b.feed(&[-10], &[0]), vec![(0, 0, -10)]);
    }
}
