//! Checkpoints of the kernels' state (#15): every kernel's state as bytes and back, so that a task
//! restarted (after a kapfastd restart, or on another cluster worker) carries on where it was.
//!
//! The bytes are serde's data model of a small `*Snap` struct per kernel in postcard's compact
//! format (varints, no field names), behind one format byte: a change of a snapshot struct bumps
//! [`FORMAT`], and bytes of another format are refused with a clear error, never misread.
//! Batches are written with compact dictionaries ([`PointBatch::take_compact`]): a group's
//! buffered points carry only the tag values and series keys they use.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::PointBatch;

/// The version of every kernel snapshot's layout.
pub const FORMAT: u8 = 1;

/// `value` as snapshot bytes.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let out = vec![FORMAT];
    // postcard fails only on types serde cannot describe (none of the snapshot structs)
    match postcard::to_extend(value, out) {
        Ok(v) => v,
        Err(e) => panic!("snapshot encoding: {e}"),
    }
}

/// The value `encode` wrote; `what` names the kernel in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| format!("{what} snapshot is malformed: {e}"))
        }
        Some((&v, _)) => Err(format!(
            "{what} snapshot has format {v}, this kapfast reads format {FORMAT}"
        )),
        None => Err(format!("{what} snapshot is empty")),
    }
}

/// `b` with only the dictionary entries its rows use (what a snapshot stores).
pub fn compact(b: &PointBatch) -> PointBatch {
    let idx: Vec<usize> = (0..b.len()).collect();
    b.take_compact(&idx)
}

/// Whether a decoded batch is whole: every column as long as the batch, every code inside its
/// dictionary (bytes from elsewhere must not make a kernel index out of bounds later).
pub fn is_consistent(b: &PointBatch) -> bool {
    use crate::batch::{ColumnData, DictColumn, NO_TAG};
    let n = b.len();
    let dict_ok = |c: &DictColumn| {
        c.codes.len() == n
            && c.codes
                .iter()
                .all(|&x| x == NO_TAG || (x as usize) < c.dict.len())
    };
    let str_ok = |d: &ColumnData| match d {
        ColumnData::Str(s) => {
            s.offsets.first() == Some(&0)
                && s.offsets.windows(2).all(|w| w[0] <= w[1])
                && s.offsets
                    .last()
                    .is_some_and(|&e| e as usize == s.data.len())
        }
        _ => true,
    };
    dict_ok(&b.measurement)
        && b.tags.len() == b.tag_keys.len()
        && b.tags.iter().all(dict_ok)
        && b.series.len() == n
        && b.series.iter().all(|&x| (x as usize) < b.series_keys.len())
        && b.fields
            .iter()
            .all(|c| c.valid.len() == n && c.data.len() == n && str_ok(&c.data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stateops::testutil::lp;

    #[test]
    fn batches_round_trip_compactly() {
        let b = lp("cpu,host=a v=1 1\ncpu,host=b v=2i 2\nmem,host=a s=\"x\",ok=true 3\n");
        let one = b.take(&[2]);
        let bytes = encode(&compact(&one));
        let back: PointBatch = decode(&bytes, "test").unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back.row_tags(0), one.row_tags(0));
        assert_eq!(back.row_fields(0), one.row_fields(0));
        assert_eq!(back.series_keys.len(), 1);
    }

    #[test]
    fn other_formats_and_garbage_are_refused() {
        let bytes = encode(&5u32);
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(decode::<u32>(&other, "k").unwrap_err().contains("format"));
        assert!(decode::<PointBatch>(&[FORMAT, 0xff, 0xff], "k").is_err());
        assert!(decode::<u32>(&[], "k").is_err());
    }
}
