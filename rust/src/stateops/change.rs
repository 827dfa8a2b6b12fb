//! `changeDetect(fields...)`: a point goes on when one of the fields differs from the group's
//! previous point (the first point of a group always goes on). A point without one of the fields
//! is an error and leaves the state alone.
//!
//! Values compare as Kapacitor's Go `!=` on field values: a value of another type is a change
//! (int 1 → float 1.0 is a change); a null (join `.fill('null')`) equals only a null.

use crate::batch::{CodeMap, PointBatch, Value};
use crate::stateops::output::{is_null, take_with, NULLS};

#[derive(Debug, Clone)]
pub struct ChangeDetect {
    pub fields: Vec<String>,
}

/// Per group: the previous point's values of the fields (`None`: null).
pub type ChangeState = CodeMap<u32, Vec<Option<Value>>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub rows: Vec<usize>,
    pub batch: PointBatch,
    /// points lacking a field, and the first such field's name
    pub missing: usize,
    pub first_missing: Option<String>,
}

fn same(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        // f64 == keeps NaN != NaN, as Go does
        (Some(Value::Float(x)), Some(Value::Float(y))) => x == y,
        _ => a == b,
    }
}

impl ChangeDetect {
    pub fn feed(&self, b: &PointBatch, groups: &[u32], state: &mut ChangeState) -> Changed {
        let cols: Vec<_> = self.fields.iter().map(|f| b.field(f)).collect();
        let has_nulls = b.field(NULLS).is_some();
        let mut rows = Vec::new();
        let mut missing = 0;
        let mut first_missing = None;
        let mut vals: Vec<Option<Value>> = Vec::with_capacity(cols.len());
        for (i, &g) in groups.iter().enumerate() {
            vals.clear();
            let mut lacking = None;
            for (f, col) in self.fields.iter().zip(&cols) {
                match col.and_then(|c| c.get(i)) {
                    Some(v) => vals.push(Some(v)),
                    None if has_nulls && is_null(b, i, f) => vals.push(None),
                    None => {
                        lacking = Some(f);
                        break;
                    }
                }
            }
            if let Some(f) = lacking {
                missing += 1;
                first_missing.get_or_insert_with(|| f.clone());
                continue;
            }
            let changed = match state.get(&g) {
                Some(prev) => !prev.iter().zip(&vals).all(|(a, b)| same(a, b)),
                None => true,
            };
            if changed {
                rows.push(i);
            }
            match state.get_mut(&g) {
                Some(prev) => prev.clone_from(&vals),
                None => {
                    state.insert(g, vals.clone());
                }
            }
        }
        Changed {
            batch: take_with(b, &rows, None),
            rows,
            missing,
            first_missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    fn node(fields: &[&str]) -> ChangeDetect {
        ChangeDetect {
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn empty_input() {
        let mut st = ChangeState::default();
        let out = node(&["v"]).feed(&PointBatch::default(), &[], &mut st);
        assert!(out.rows.is_empty() && out.missing == 0);
    }

    #[test]
    fn first_point_and_changes_per_group() {
        let b = lp("m v=1 1\nm v=1 2\nm v=1 3\nm v=2 4\nm v=2 5\n");
        let mut st = ChangeState::default();
        let out = node(&["v"]).feed(&b, &[0, 0, 1, 0, 1], &mut st);
        assert_eq!(out.rows, vec![0, 2, 3, 4]);
        assert_eq!(out.batch.time, vec![1, 3, 4, 5]);
    }

    #[test]
    fn resumes_and_types_matter() {
        let d = node(&["v", "s"]);
        let mut st = ChangeState::default();
        assert_eq!(
            d.feed(&lp("m v=1i,s=\"a\" 1\n"), &[3], &mut st).rows,
            vec![0]
        );
        assert!(d
            .feed(&lp("m v=1i,s=\"a\" 2\n"), &[3], &mut st)
            .rows
            .is_empty());
        // int 1 then float 1.0: another type is a change
        assert_eq!(
            d.feed(&lp("m v=1,s=\"a\" 3\n"), &[3], &mut st).rows,
            vec![0]
        );
        assert_eq!(
            d.feed(&lp("m v=1,s=\"b\" 4\n"), &[3], &mut st).rows,
            vec![0]
        );
    }

    #[test]
    fn missing_field_is_an_error_and_keeps_state() {
        let d = node(&["v"]);
        let mut st = ChangeState::default();
        let out = d.feed(&lp("m v=1 1\nm x=1 2\nm v=1 3\n"), &[0, 0, 0], &mut st);
        assert_eq!(out.rows, vec![0]);
        assert_eq!((out.missing, out.first_missing.as_deref()), (1, Some("v")));
    }

    #[test]
    fn nulls_are_values_equal_to_nulls() {
        use crate::batch::{Column, ColumnData, StrColumn};
        // three points whose "v" is null (a join's fill('null')), then a real value
        let mut b = lp("m x=1 1\nm x=1 2\nm v=1 3\n");
        let mut nulls = StrColumn::new();
        nulls.push("v");
        nulls.push("v");
        nulls.push("");
        b.fields.insert(
            0,
            Column {
                name: NULLS.into(),
                data: ColumnData::Str(nulls),
                valid: vec![true, true, false],
            },
        );
        let mut st = ChangeState::default();
        let out = node(&["v"]).feed(&b, &[0, 0, 0], &mut st);
        assert_eq!((out.rows, out.missing), (vec![0, 2], 0));
    }
}
