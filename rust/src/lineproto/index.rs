//! A series index kept across write bodies (one per database and retention policy): the series
//! a server sees arrive again in every request, so parsing a body of known series costs one
//! hash probe per line instead of parsing, unescaping and sorting each series key again.
//!
//! Bounded: the index holds at most `max_bytes` (estimated heap bytes, [`SeriesTable::bytes`]).
//! Eviction is by generation: when a parse leaves the index over its cap, the whole index is
//! dropped and the next body starts a new one. Series churn past the cap thus costs what a
//! parse without an index costs, never more memory; a body's result never depends on the index.

use super::key::SeriesTable;
use super::parser::{parse_with, ParseOutput};
use super::split::{auto_threads, parse_threads};
use super::Precision;

/// The cap a [`SeriesIndex`] gets when none is given: 64 MiB, about 200,000 Telegraf series.
pub const DEFAULT_INDEX_BYTES: usize = 64 << 20;

pub struct SeriesIndex {
    table: SeriesTable,
    max_bytes: usize,
    resets: u64,
}

impl SeriesIndex {
    pub fn new(max_bytes: usize) -> Self {
        SeriesIndex {
            table: SeriesTable::new(),
            max_bytes,
            resets: 0,
        }
    }

    /// Parses `buf` as [`parse_threads`] does (same result), remembering its series. A body
    /// parsed on several threads does not use the index (each thread has its own table; a body
    /// that large pays for its series table many times over).
    pub fn parse(
        &mut self,
        buf: &[u8],
        precision: Precision,
        now_ns: i64,
        threads: usize,
    ) -> ParseOutput {
        let threads = if threads == 0 {
            auto_threads(buf.len())
        } else {
            threads
        };
        if threads > 1 {
            return parse_threads(buf, precision, now_ns, threads);
        }
        let table = std::mem::take(&mut self.table);
        let (out, table) = parse_with(buf, precision, now_ns, table);
        self.table = table;
        if self.table.bytes() > self.max_bytes {
            self.table = SeriesTable::new();
            self.resets += 1;
        }
        out
    }

    /// Distinct series held.
    pub fn len(&self) -> usize {
        self.table.info.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.info.is_empty()
    }

    /// Estimated heap bytes held.
    pub fn bytes(&self) -> usize {
        self.table.bytes()
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// How many times the index went over its cap and was dropped.
    pub fn resets(&self) -> u64 {
        self.resets
    }
}

impl Default for SeriesIndex {
    fn default() -> Self {
        Self::new(DEFAULT_INDEX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::parse;

    const NS: Precision = Precision::Nanosecond;

    fn body(series: std::ops::Range<usize>, t: i64) -> Vec<u8> {
        let mut out = String::new();
        for s in series {
            out.push_str(&format!("cpu,host=h{s},cpu=c{} v={s}.5 {t}\n", s % 3));
        }
        out.into_bytes()
    }

    #[test]
    fn indexed_parse_equals_a_fresh_parse_body_after_body() {
        let mut idx = SeriesIndex::default();
        for (i, range) in [0..50, 25..80, 0..10, 70..120].into_iter().enumerate() {
            let b = body(range, i as i64);
            let got = idx.parse(&b, NS, 0, 1);
            let want = parse(&b, NS, 0);
            assert_eq!(got.batch, want.batch, "body {i}");
            assert_eq!(got.errors, want.errors);
        }
        assert_eq!(idx.len(), 120);
        assert!(idx.bytes() > 120 * 30 && idx.resets() == 0);
    }

    #[test]
    fn bodies_repeating_their_series_reuse_dictionaries_and_equal_a_fresh_parse() {
        let mut idx = SeriesIndex::default();
        // Two clients in turn, then more distinct bodies than are cached, then the first again.
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for t in 0..4 {
            bodies.push(body(0..40, t));
            bodies.push(body(100..130, t));
        }
        bodies.extend((0..20).map(|k| body(k * 3..k * 3 + 5, 9)));
        bodies.push(body(0..40, 10));
        bodies.push(b"cpu,host=h1,cpu=c1 v=1 1\ncpu,host=h1,cpu=c1 v=x 2\n".to_vec());
        let mut first = None;
        for (i, b) in bodies.iter().enumerate() {
            let got = idx.parse(b, NS, 0, 1);
            let want = parse(b, NS, 0);
            assert_eq!(got.batch, want.batch, "body {i}");
            assert_eq!(got.errors, want.errors, "body {i}");
            match &first {
                // an order is kept the second time it comes (body 2)
                None if i == 2 => first = Some(got.batch),
                Some(f) if i % 2 == 0 && i < 8 => {
                    // the same series in the same order: the very same dictionaries
                    assert!(std::sync::Arc::ptr_eq(
                        &f.series_keys,
                        &got.batch.series_keys
                    ));
                }
                _ => {}
            }
        }
        assert!(first.is_some());
        assert!(idx.bytes() <= idx.max_bytes());
    }

    #[test]
    fn bad_lines_are_reported_the_same_with_a_warm_index() {
        let mut idx = SeriesIndex::default();
        let b = b"cpu,host=a v=1 1\ncpu,host=a,host=b v=1 1\ncpu,host=a v=x 2\n,bad v=1\n";
        idx.parse(b, NS, 0, 1);
        let got = idx.parse(b, NS, 0, 1);
        let want = parse(b, NS, 0);
        assert_eq!(got.batch, want.batch);
        assert_eq!(got.errors, want.errors);
        assert_eq!(got.errors.len(), 3);
    }

    #[test]
    fn over_its_cap_the_index_is_dropped_and_results_stay_right() {
        let mut idx = SeriesIndex::new(4096);
        let b = body(0..100, 5);
        let got = idx.parse(&b, NS, 0, 1);
        assert_eq!(got.batch, parse(&b, NS, 0).batch);
        assert_eq!((idx.len(), idx.resets()), (0, 1));
        let small = body(0..3, 6);
        assert_eq!(
            idx.parse(&small, NS, 0, 1).batch,
            parse(&small, NS, 0).batch
        );
        assert_eq!((idx.len(), idx.resets()), (3, 1));
        assert!(idx.bytes() <= idx.max_bytes());
    }

    #[test]
    fn several_threads_give_the_same_batch() {
        let mut idx = SeriesIndex::default();
        let b = body(0..20_000, 1);
        let got = idx.parse(&b, NS, 0, 2);
        assert_eq!(got.batch, parse(&b, NS, 0).batch);
    }
}
