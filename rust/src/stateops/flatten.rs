//! `flatten().on(tags...)`: the points of one set (group and time) become one point whose field
//! names are prefixed with the values of the `on` tags (joined by the delimiter), or are just
//! those values with `dropOriginalFieldName`. A point lacking an `on` tag is an error, skipped.

use crate::batch::{BatchBuilder, PointBatch, Value};
use crate::stateops::join::{push_point, row_fields};

#[derive(Debug, Clone)]
pub struct Flatten {
    pub on: Vec<String>,
    pub delimiter: String,
    pub drop: bool,
}

impl Flatten {
    /// Appends the point of one set; returns how many of its points lacked an `on` tag.
    pub fn point(
        &self,
        set: &PointBatch,
        name: &str,
        tags: &[(String, String)],
        time: i64,
        out: &mut BatchBuilder,
    ) -> usize {
        let cols: Vec<_> = self.on.iter().map(|t| set.tag(t)).collect();
        let mut fields: Vec<(String, Option<Value>)> = Vec::new();
        let mut errors = 0;
        for i in 0..set.len() {
            let parts: Option<Vec<&str>> = cols.iter().map(|c| c.and_then(|c| c.get(i))).collect();
            let Some(parts) = parts else {
                errors += 1;
                continue;
            };
            let prefix = parts.join(&self.delimiter);
            for (f, v) in row_fields(set, i) {
                let key = if self.drop {
                    prefix.clone()
                } else if parts.is_empty() {
                    f
                } else {
                    format!("{prefix}{}{f}", self.delimiter)
                };
                match fields.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = v,
                    None => fields.push((key, v)),
                }
            }
        }
        push_point(out, name, tags, &fields, time);
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    #[test]
    fn prefixes_by_tag_values() {
        let f = Flatten {
            on: vec!["host".into(), "cpu".into()],
            delimiter: "_".into(),
            drop: false,
        };
        let set = lp("m,host=a,cpu=0 v=1,w=2i 5\nm,host=b,cpu=1 v=3 5\nm,host=c x=1 5\n");
        let mut out = BatchBuilder::new();
        let tags = vec![("dc".to_string(), "e".to_string())];
        assert_eq!(f.point(&set, "m", &tags, 5, &mut out), 1);
        let b = out.finish();
        assert_eq!(
            b.row_fields(0),
            vec![
                ("a_0_v", Value::Float(1.0)),
                ("a_0_w", Value::Int(2)),
                ("b_1_v", Value::Float(3.0))
            ]
        );
        assert_eq!(b.row_tags(0), vec![("dc", "e")]);
        let drop = Flatten { drop: true, ..f };
        let mut out = BatchBuilder::new();
        drop.point(&set, "m", &[], 5, &mut out);
        assert_eq!(
            out.finish().row_fields(0),
            vec![("a_0", Value::Int(2)), ("b_1", Value::Float(3.0))]
        );
    }

    #[test]
    fn an_empty_set_is_a_point_without_fields() {
        let f = Flatten {
            on: vec![],
            delimiter: ".".into(),
            drop: false,
        };
        let mut out = BatchBuilder::new();
        f.point(&PointBatch::default(), "m", &[], 1, &mut out);
        assert_eq!(out.finish().len(), 1);
    }
}
