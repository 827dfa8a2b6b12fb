//! `combine(lambdas...)`: every combination (n choose k, in lexicographic order) of the points of
//! one set whose points match the expressions in order becomes one point: fields and tags
//! prefixed with the `.as()` names (the group's dimensions stay as they are), at the first
//! chosen point's time.

use crate::batch::{BatchBuilder, PointBatch, Value};
use crate::stateops::join::{push_point, round_to, row_fields};

#[derive(Debug, Clone)]
pub struct Combine {
    pub names: Vec<String>,
    pub delimiter: String,
    pub tolerance: i64,
}

/// n choose k, or None past `u64`.
pub fn choose(n: u64, k: u64) -> Option<u64> {
    let mut c: u64 = 1;
    for i in 0..k {
        c = c.checked_mul(n - i)? / (i + 1);
    }
    Some(c)
}

impl Combine {
    /// Appends the combinations of one set; `matches[s][i]`: point `i` matches expression `s`.
    pub fn points(
        &self,
        set: &PointBatch,
        matches: &[Vec<bool>],
        name: &str,
        dims: &[String],
        out: &mut BatchBuilder,
    ) -> usize {
        let k = matches.len();
        let n = set.len();
        if k == 0 || n < k {
            return 0;
        }
        let mut emitted = 0;
        let mut idx: Vec<usize> = (0..k).collect();
        let mut remaining: Vec<usize> = Vec::with_capacity(k);
        let mut chosen: Vec<usize> = Vec::with_capacity(k);
        loop {
            remaining.clear();
            remaining.extend_from_slice(&idx);
            chosen.clear();
            for m in matches {
                if let Some(pos) = remaining.iter().position(|&r| m[r]) {
                    chosen.push(remaining.remove(pos));
                } else {
                    break;
                }
            }
            if chosen.len() == k {
                self.point(set, &chosen, name, dims, out);
                emitted += 1;
            }
            // the next combination in lexicographic order
            let mut i = k;
            while i > 0 && idx[i - 1] == i - 1 + n - k {
                i -= 1;
            }
            if i == 0 {
                return emitted;
            }
            idx[i - 1] += 1;
            for j in i..k {
                idx[j] = idx[j - 1] + 1;
            }
        }
    }

    fn point(
        &self,
        set: &PointBatch,
        chosen: &[usize],
        name: &str,
        dims: &[String],
        out: &mut BatchBuilder,
    ) {
        let mut fields: Vec<(String, Option<Value>)> = Vec::new();
        let mut tags: Vec<(String, String)> = Vec::new();
        for (i, &r) in chosen.iter().enumerate() {
            let pre = format!("{}{}", self.names[i], self.delimiter);
            for (f, v) in row_fields(set, r) {
                let key = format!("{pre}{f}");
                match fields.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = v,
                    None => fields.push((key, v)),
                }
            }
            for (t, v) in set.row_tags(r) {
                let key = if dims.iter().any(|d| d == t) {
                    t.to_owned()
                } else {
                    format!("{pre}{t}")
                };
                match tags.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = v.to_owned(),
                    None => tags.push((key, v.to_owned())),
                }
            }
        }
        let time = round_to(set.time[chosen[0]], self.tolerance);
        push_point(out, name, &tags, &fields, time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    #[test]
    fn choose_counts() {
        assert_eq!(choose(5, 2), Some(10));
        assert_eq!(choose(3, 0), Some(1));
        assert_eq!(choose(1 << 40, 4), None);
    }

    #[test]
    fn pairs_in_order() {
        let c = Combine {
            names: vec!["x".into(), "y".into()],
            delimiter: ".".into(),
            tolerance: 0,
        };
        let set = lp("m,host=h,k=a v=1 5\nm,host=h,k=b v=2 5\nm,host=h,k=c v=3 5\n");
        let all = vec![true; 3];
        let mut out = BatchBuilder::new();
        assert_eq!(
            c.points(&set, &[all.clone(), all], "m", &["host".into()], &mut out),
            3
        );
        let b = out.finish();
        assert_eq!(b.len(), 3);
        assert_eq!(
            b.row_tags(0),
            vec![("host", "h"), ("x.k", "a"), ("y.k", "b")]
        );
        assert_eq!(
            b.row_fields(2),
            vec![("x.v", Value::Float(2.0)), ("y.v", Value::Float(3.0))]
        );
        // only b matches the first expression: combinations (a,b) and (b,c) give (b,a) and (b,c)
        let mut out = BatchBuilder::new();
        let first = vec![false, true, false];
        assert_eq!(
            c.points(&set, &[first, vec![true; 3]], "m", &[], &mut out),
            2
        );
        let b = out.finish();
        assert_eq!(
            b.row_tags(0),
            vec![("x.host", "h"), ("x.k", "b"), ("y.host", "h"), ("y.k", "a")]
        );
        assert_eq!(
            b.row_fields(0),
            vec![("x.v", Value::Float(2.0)), ("y.v", Value::Float(1.0))]
        );
        // fewer points than expressions: nothing
        let mut out = BatchBuilder::new();
        assert_eq!(
            c.points(
                &lp("m v=1 1\n"),
                &[vec![true], vec![true]],
                "m",
                &[],
                &mut out
            ),
            0
        );
    }
}
