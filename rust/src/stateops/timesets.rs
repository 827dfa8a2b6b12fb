//! Points of one group and (rounded) time collected into sets, the unit `combine` and `flatten`
//! work on. A group's set closes when a point of another time arrives: any other time for
//! `flatten`, a later one for `combine` (an earlier, late point joins the open set). A set still
//! open when the stream ends never goes out (Kapacitor's behaviour).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::batch::{concat, PointBatch};
use crate::stateops::join::round_to;
use crate::stateops::snapshot;

#[derive(Debug, Clone, Copy)]
pub struct SetRule {
    pub tolerance: i64,
    /// close on any other time (flatten); else only on a later one (combine)
    pub any_change: bool,
    /// the set's points carry their rounded times (combine reads them so)
    pub round_times: bool,
}

#[derive(Debug)]
struct Open {
    time: i64,
    name: String,
    pieces: Vec<(Arc<PointBatch>, Vec<usize>)>,
    times: Vec<i64>,
}

/// A group's open set in a checkpoint.
#[derive(Serialize, Deserialize)]
struct OpenSnap {
    time: i64,
    name: String,
    points: PointBatch,
    times: Vec<i64>,
}

/// A set that closed.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSet {
    pub group: u32,
    pub time: i64,
    pub name: String,
    pub points: PointBatch,
    /// the chunk row that closed it
    pub row: usize,
}

#[derive(Debug)]
pub struct TimeSets {
    pub rule: SetRule,
    open: HashMap<u32, Open>,
}

impl TimeSets {
    pub fn new(rule: SetRule) -> Self {
        TimeSets {
            rule,
            open: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Points in the open sets (one addition per group).
    pub fn held_points(&self) -> usize {
        self.open.values().map(|o| o.times.len()).sum()
    }

    /// Every group's open set as checkpoint bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut groups: Vec<(u32, OpenSnap)> = self
            .open
            .iter()
            .map(|(g, o)| {
                let parts: Vec<PointBatch> = o
                    .pieces
                    .iter()
                    .map(|(p, rows)| p.take_compact(rows))
                    .collect();
                let points = match parts.len() {
                    1 => parts.into_iter().next().expect("one part"),
                    _ => snapshot::compact(&concat(&parts.iter().collect::<Vec<_>>())),
                };
                let snap = OpenSnap {
                    time: o.time,
                    name: o.name.clone(),
                    points,
                    times: o.times.clone(),
                };
                (*g, snap)
            })
            .collect();
        groups.sort_by_key(|(g, _)| *g);
        snapshot::encode(&groups)
    }

    /// Replaces every group's open set with a checkpoint's.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let groups: Vec<(u32, OpenSnap)> = snapshot::decode(bytes, "set")?;
        if !groups
            .iter()
            .all(|(_, s)| snapshot::is_consistent(&s.points) && s.times.len() == s.points.len())
        {
            return Err("set snapshot is malformed: inconsistent points".to_owned());
        }
        self.open = groups
            .into_iter()
            .map(|(g, s)| {
                let rows: Vec<usize> = (0..s.points.len()).collect();
                let open = Open {
                    time: s.time,
                    name: s.name,
                    pieces: vec![(Arc::new(s.points), rows)],
                    times: s.times,
                };
                (g, open)
            })
            .collect();
        Ok(())
    }

    pub fn reset(&mut self, group: Option<u32>) {
        match group {
            Some(g) => {
                self.open.remove(&g);
            }
            None => self.open.clear(),
        }
    }

    /// The sets the chunk closed, in the order of the rows that closed them.
    pub fn feed(&mut self, b: &Arc<PointBatch>, groups: &[u32]) -> Vec<TimeSet> {
        let mut out = Vec::new();
        for (row, &g) in groups.iter().enumerate() {
            let t = round_to(b.time[row], self.rule.tolerance);
            let closes = match self.open.get(&g) {
                None => true,
                Some(o) if self.rule.any_change => t != o.time,
                Some(o) => t > o.time,
            };
            if closes {
                let fresh = Open {
                    time: t,
                    name: b.measurement(row).to_owned(),
                    pieces: Vec::new(),
                    times: Vec::new(),
                };
                if let Some(done) = self.open.insert(g, fresh) {
                    out.push(self.close(g, done, row));
                }
            }
            let o = self.open.get_mut(&g).expect("inserted above");
            match o.pieces.last_mut() {
                Some((p, rows)) if Arc::ptr_eq(p, b) => rows.push(row),
                _ => o.pieces.push((b.clone(), vec![row])),
            }
            o.times.push(t);
        }
        // open sets keep only their own points, not the whole chunk
        for o in self.open.values_mut() {
            for piece in o.pieces.iter_mut() {
                if Arc::ptr_eq(&piece.0, b) {
                    let part = b.take_compact(&piece.1);
                    piece.1 = (0..part.len()).collect();
                    piece.0 = Arc::new(part);
                }
            }
        }
        out
    }

    /// Every open set, in group order (a batch's last set).
    pub fn drain(&mut self) -> Vec<TimeSet> {
        let mut groups: Vec<u32> = self.open.keys().copied().collect();
        groups.sort_unstable();
        groups
            .into_iter()
            .map(|g| {
                let o = self.open.remove(&g).expect("listed");
                self.close(g, o, 0)
            })
            .collect()
    }

    fn close(&self, group: u32, o: Open, row: usize) -> TimeSet {
        let parts: Vec<PointBatch> = o.pieces.iter().map(|(p, rows)| p.take(rows)).collect();
        let mut points = match parts.len() {
            1 => parts.into_iter().next().expect("one part"),
            _ => concat(&parts.iter().collect::<Vec<_>>()),
        };
        if self.rule.round_times {
            points.time = o.times;
        }
        TimeSet {
            group,
            time: o.time,
            name: o.name,
            points,
            row,
        }
    }
}

/// The sets of one batch (its points in order, as one group), the last one included.
pub fn batch_sets(rule: SetRule, b: &PointBatch) -> Vec<TimeSet> {
    let mut sets = TimeSets::new(rule);
    let b = Arc::new(b.clone());
    let mut out = sets.feed(&b, &vec![0; b.len()]);
    out.extend(sets.drain());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    const FLATTEN: SetRule = SetRule {
        tolerance: 0,
        any_change: true,
        round_times: false,
    };

    #[test]
    fn empty_and_per_group_across_chunks() {
        let mut s = TimeSets::new(FLATTEN);
        assert!(s.feed(&Arc::new(PointBatch::default()), &[]).is_empty());
        let a = Arc::new(lp("m v=1 1\nm v=2 1\nn v=3 1\n"));
        assert!(s.feed(&a, &[0, 0, 1]).is_empty());
        assert_eq!(Arc::strong_count(&a), 1); // open sets hold compact copies
        let b = Arc::new(lp("m v=4 2\nm v=5 1\n"));
        let out = s.feed(&b, &[0, 1]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].group, out[0].time, out[0].row), (0, 1, 0));
        assert_eq!(out[0].points.len(), 2);
        assert_eq!(s.len(), 2);
        s.reset(Some(0));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn combine_rule_keeps_late_points_and_rounds() {
        let rule = SetRule {
            tolerance: 10,
            any_change: false,
            round_times: true,
        };
        let b = lp("m v=1 11\nm v=2 4\nm v=3 14\nm v=4 26\n");
        let sets = batch_sets(rule, &b);
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].time, 10);
        assert_eq!(sets[0].points.time, vec![10, 0, 10]);
        assert_eq!(sets[1].points.time, vec![30]);
        let flat = batch_sets(FLATTEN, &b);
        assert_eq!(flat.len(), 4);
    }
}
