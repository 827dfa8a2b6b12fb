"""The per-group state kernels of the stateful nodes (Rust: ``rust/src/stateops``).

Alert levels, windows, joins, InfluxQL transforms over time, derivative, changeDetect, stateDuration/Count and
barrier periods keep their per-group state in these Rust objects; a node feeds them whole chunks.
This module is their one Python face (the extension ``kapfast._native`` is private).
"""

from __future__ import annotations

from kapfast._native import AlertStates as AlertStates
from kapfast._native import ClosedWindows as ClosedWindows
from kapfast._native import FrozenState as FrozenState
from kapfast._native import StateBarrierPeriods as StateBarrierPeriods
from kapfast._native import StateChangeDetect as StateChangeDetect
from kapfast._native import StateDerivative as StateDerivative
from kapfast._native import StateJoin as StateJoin
from kapfast._native import StateRun as StateRun
from kapfast._native import StateTimeSets as StateTimeSets
from kapfast._native import StateTransforms as StateTransforms
from kapfast._native import StateWindows as StateWindows
from kapfast._native import combine_points as combine_points
from kapfast._native import flatten_points as flatten_points
from kapfast._native import join_batches as join_batches
from kapfast._native import reduce_windows as reduce_windows
from kapfast._native import time_sets as time_sets
