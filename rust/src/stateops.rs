//! Per-group state of the task engine's stateful nodes, run over whole chunks: the loop over the
//! points of a chunk is here, the per-group state lives in Rust maps keyed by a stable group int
//! (the engine maps Kapacitor group ids to ints once per node), and outputs are built as
//! `PointBatch`es from the input columns. No pyo3 inside (bindings: `py/stateops.rs`).
//!
//! * [`barrier`]: where `barrier().period()` fires, per group;
//! * [`derivative`]: Kapacitor's `derivative` node (last value and time per group);
//! * [`change`]: `changeDetect` (last values of the watched fields per group);
//! * [`state_run`]: `stateDuration` / `stateCount` over a lambda's per-row boolean result;
//! * [`windows`]: `window` by time (every > 0 and every 0) and by count, every group at once;
//! * [`join`]: `join` of stream parents, and the output of a join of batches;
//! * [`timesets`], [`flatten`], [`combine`]: the sets of points of one group and time, and the
//!   points `flatten` and `combine` make of them;
//! * [`reduce_many`]: an InfluxQL aggregate over many windows in one call;
//! * [`snapshot`]: every kernel's state as checkpoint bytes and back.
//!
//! A row of a chunk belongs to group `groups[row]`; rows of one group are handled in their
//! arrival order, so the outputs are those of a point-at-a-time walk.

pub mod barrier;
pub mod change;
pub mod combine;
pub mod derivative;
pub mod flatten;
pub mod join;
pub mod output;
pub mod packed_times;
pub mod reduce_many;
pub mod snapshot;
pub mod state_run;
pub mod timesets;
pub mod window_tail;
pub mod windows;

#[cfg(test)]
mod testutil;
