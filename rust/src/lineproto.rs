//! InfluxDB 1.x line protocol ⇄ [`crate::batch::PointBatch`]. No pyo3 inside.
//!
//! ```text
//! measurement[,tag=value...] field=value[,field=value...] [timestamp]
//! ```
//!
//! * [`parse`]: a whole write body → the good points as one batch + every bad line's
//!   line, column and [`ErrorKind`] (InfluxDB's partial-write behaviour: the caller decides
//!   whether to answer 400 or keep the good points).
//! * [`parse_threads`]: the same result, a large body cut at newlines and parsed on several
//!   threads (`split.rs`); [`MIN_PARALLEL_BYTES`] is where two threads start to pay.
//! * [`SeriesIndex`]: [`parse`] with a series table kept across bodies (per db/rp in the
//!   server), capped in bytes: a known series costs one hash probe.
//! * [`serialize`]: a batch → line protocol that parses back to the same points.
//! * [`records`]: line protocol framed as a stream recording's records, both ways.
//!
//! Grammar and error texts follow InfluxDB 1.x (`models/points.go` behaviour), see the
//! submodules: [`key`] (measurement and tags), [`parser`] (fields, values, timestamps, lines),
//! [`number`] (numbers, booleans, precision), [`escape`] (escaping both ways).

mod assemble;
mod dicts;
pub mod error;
pub mod escape;
pub(crate) mod hash;
pub mod index;
mod key;
pub mod number;
pub mod parser;
pub mod records;
pub mod serialize;
mod split;

#[cfg(test)]
mod tests;

pub use error::{ErrorKind, LineError};
pub use index::{SeriesIndex, DEFAULT_INDEX_BYTES};
pub use number::Precision;
pub use parser::{parse, ParseOutput};
pub use serialize::{serialize, SerializeError};
pub use split::{auto_threads, parse_cut, parse_threads, MIN_PARALLEL_BYTES};

/// A rejected line inside the parser: what, where (byte offset), and where to resume looking
/// for the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    pub kind: ErrorKind,
    pub at: usize,
    pub resume: usize,
}

impl Fail {
    #[inline]
    pub fn at(kind: ErrorKind, at: usize) -> Self {
        Fail {
            kind,
            at,
            resume: at,
        }
    }
}
