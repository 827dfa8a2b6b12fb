"""The per-group state kernels of the stateful nodes (Rust: ``rust/src/stateops``).

Windows, joins, InfluxQL transforms over time, derivative, changeDetect, stateDuration/Count and
barrier periods keep their per-group state in these Rust objects; a node feeds them whole chunks.
This module is their one Python face (the extension ``kapfast._native`` is private).
"""

from __future__ import annotations

from kapfast._native import (
    ClosedWindows,
    StateBarrierPeriods,
    StateChangeDetect,
    StateDerivative,
    StateJoin,
    StateRun,
    StateTimeSets,
    StateTransforms,
    StateWindows,
    combine_points,
    flatten_points,
    join_batches,
    reduce_windows,
    time_sets,
)

__all__ = [
    "ClosedWindows",
    "StateBarrierPeriods",
    "StateChangeDetect",
    "StateDerivative",
    "StateJoin",
    "StateRun",
    "StateTimeSets",
    "StateTransforms",
    "StateWindows",
    "combine_points",
    "flatten_points",
    "join_batches",
    "reduce_windows",
    "time_sets",
]
