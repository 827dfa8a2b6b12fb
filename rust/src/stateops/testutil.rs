//! Batches for the unit tests, from line protocol.

use crate::batch::PointBatch;
use crate::lineproto::{parse, Precision};

pub fn lp(text: &str) -> PointBatch {
    let out = parse(text.as_bytes(), Precision::Nanosecond, 0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.batch
}
