//! `stateDuration` / `stateCount`: per group, how long (or for how many points) the lambda has
//! been true in a row; `-1` on a point where it is false (which ends the run). The lambda is
//! evaluated over the whole chunk first (its own per-group state in the evaluator); rows where it
//! failed are dropped and counted there.

use crate::batch::{CodeMap, Column, ColumnData, PointBatch};
use crate::stateops::output::{take_with, true_div};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// float, in units of `unit` ns since the run's first point
    Duration { unit: i64 },
    /// int, points in the run
    Count,
}

#[derive(Debug, Clone)]
pub struct StateRun {
    pub kind: RunKind,
    pub as_: String,
}

/// Per group in a run: its first point's time (duration) or its length (count).
pub type RunState = CodeMap<u32, i64>;

impl StateRun {
    /// `tests[i]`: the lambda's value on row `i`, meaningful where `valid[i]`.
    pub fn feed(
        &self,
        b: &PointBatch,
        groups: &[u32],
        tests: &[bool],
        valid: &[bool],
        state: &mut RunState,
    ) -> (Vec<usize>, PointBatch) {
        let mut rows = Vec::new();
        let mut floats = Vec::new();
        let mut ints = Vec::new();
        for i in 0..groups.len() {
            if !valid[i] {
                continue;
            }
            let g = groups[i];
            rows.push(i);
            match (self.kind, tests[i]) {
                (RunKind::Duration { unit }, true) => {
                    let start = *state.entry(g).or_insert(b.time[i]);
                    floats.push(true_div(b.time[i] - start, unit));
                }
                (RunKind::Count, true) => {
                    let n = state.entry(g).or_insert(0);
                    *n += 1;
                    ints.push(*n);
                }
                (RunKind::Duration { .. }, false) => {
                    state.remove(&g);
                    floats.push(-1.0);
                }
                (RunKind::Count, false) => {
                    state.remove(&g);
                    ints.push(-1);
                }
            }
        }
        let data = match self.kind {
            RunKind::Duration { .. } => ColumnData::Float(floats),
            RunKind::Count => ColumnData::Int(ints),
        };
        let col = Column {
            name: self.as_.clone(),
            valid: vec![true; rows.len()],
            data,
        };
        let out = take_with(b, &rows, Some(col));
        (rows, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn batch(n: usize) -> PointBatch {
        let text: String = (0..n).map(|i| format!("m v={i} {}\n", i * 1000)).collect();
        lp(&text)
    }

    #[test]
    fn empty_input() {
        let r = StateRun {
            kind: RunKind::Count,
            as_: "n".into(),
        };
        let (rows, out) = r.feed(
            &PointBatch::default(),
            &[],
            &[],
            &[],
            &mut RunState::default(),
        );
        assert!(rows.is_empty() && out.is_empty());
    }

    #[test]
    fn duration_runs_per_group_and_resume() {
        let r = StateRun {
            kind: RunKind::Duration { unit: 1000 },
            as_: "d".into(),
        };
        let mut st = RunState::default();
        let b = batch(5);
        let (rows, out) = r.feed(
            &b,
            &[0, 1, 0, 0, 1],
            &[true, true, true, false, true],
            &[true, true, true, true, false],
            &mut st,
        );
        assert_eq!(rows, vec![0, 1, 2, 3]);
        assert_eq!(
            out.field("d").unwrap().data,
            ColumnData::Float(vec![0.0, 0.0, 2.0, -1.0])
        );
        // group 1 is still in its run (started at 1000)
        let (_, out) = r.feed(&batch(4), &[1, 1, 1, 1], &[true; 4], &[true; 4], &mut st);
        assert_eq!(
            out.field("d").unwrap().data,
            ColumnData::Float(vec![-1.0, 0.0, 1.0, 2.0])
        );
    }

    #[test]
    fn count_runs() {
        let r = StateRun {
            kind: RunKind::Count,
            as_: "n".into(),
        };
        let mut st = RunState::default();
        let (_, out) = r.feed(
            &batch(4),
            &[0; 4],
            &[true, true, false, true],
            &[true; 4],
            &mut st,
        );
        assert_eq!(
            out.field("n").unwrap().data,
            ColumnData::Int(vec![1, 2, -1, 1])
        );
        assert_eq!(st.get(&0), Some(&1));
    }

    #[test]
    fn many_groups_in_one_chunk() {
        let r = StateRun {
            kind: RunKind::Count,
            as_: "n".into(),
        };
        let mut st = RunState::default();
        let groups: Vec<u32> = (0..300).map(|i| i % 100).collect();
        let (rows, out) = r.feed(&batch(300), &groups, &[true; 300], &[true; 300], &mut st);
        assert_eq!(rows.len(), 300);
        let ColumnData::Int(n) = &out.field("n").unwrap().data else {
            panic!("int column")
        };
        assert_eq!((n[0], n[100], n[299]), (1, 2, 3));
        assert_eq!(st.len(), 100);
    }
}
