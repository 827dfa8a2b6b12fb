"""Kapacitor's alert state machine written out row by row in Python: the reference the Rust
kernel (``rust/src/alertstate.rs``, ``AlertStates.decide``) is checked against.

This was the alert node's own stream path before the kernel; it is kept here, unchanged in
behaviour, so the differential tests compare the kernel with a plain reading of the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.engine.alert.levels import LevelTable
from kapfast.engine.alert.state import OK, StateRules

WEIGHT_DIFF = 1.5
MAX_WEIGHT = 1.2


@dataclass(frozen=True)
class Fired:
    row: int
    level: int
    duration: int


def decide(
    states: dict[int, RefGroupState],
    rules: StateRules,
    match: Sequence[bytes | None],
    hold: Sequence[bytes | None],
    groups: Sequence[int],
    times: Sequence[int],
) -> list[Fired]:
    """The stream edge's per-point decision: the rows that make an event, in order."""
    out: list[Fired] = []
    table = LevelTable(list(match), list(hold))  # the Python level rule (the batch edge uses it)
    for i, g in enumerate(groups):
        st = states.setdefault(g, RefGroupState(rules))
        cur = st.level
        lvl = table.level(i, cur)
        if rules.flapping is None and lvl == OK and cur == OK:
            continue
        st.update(times[i], lvl)
        if not st.should_trigger(lvl):
            continue
        st.triggered(times[i])
        if rules.no_recoveries and lvl == OK:
            continue
        out.append(Fired(i, lvl, st.duration()))
    return out


class RefGroupState:
    """The alert state of one group."""

    __slots__ = (
        "changed",
        "expired",
        "first_triggered",
        "flapping",
        "history",
        "idx",
        "last_triggered",
        "rules",
    )

    def __init__(self, rules: StateRules) -> None:
        self.rules = rules
        # the ring of past levels only matters to flapping; otherwise the current and previous
        # level are all that is read, and a ring of 2 saves ~150 B per group (#19)
        self.history = [OK] * (max(2, rules.history) if rules.flapping is not None else 2)
        self.idx = 0
        self.flapping = False
        self.changed = False
        self.expired = False
        # None is Go's zero time: "never triggered".
        self.first_triggered: int | None = None
        self.last_triggered: int | None = None

    @property
    def level(self) -> int:
        return self.history[self.idx]

    def previous_level(self) -> int:
        """The level recorded before the current one."""
        return self.history[self.idx - 1]  # idx - 1 == -1 wraps to the ring's end, as intended

    def add_event(self, level: int) -> None:
        """Record ``level`` in the history (Kapacitor's ``addEvent``)."""
        self.changed = self.history[self.idx] != level
        self.idx = (self.idx + 1) % len(self.history)
        self.history[self.idx] = level

    def percent_change(self) -> float:
        """The weighted fraction of level changes over the history ring."""
        hist = self.history
        n = len(hist)
        weight = MAX_WEIGHT / WEIGHT_DIFF
        step = (MAX_WEIGHT - weight) / (n - 1)
        changes = 0.0
        for i in range(n - 1):
            c = (i + self.idx) % n
            if hist[c] != hist[c - 1]:
                changes += weight
            weight += step
        return changes / (n - 1)

    def update(self, t_ns: int, level: int) -> None:
        """Kapacitor's ``updateState``: history, flapping, and whether an unchanged level expired."""
        self.add_event(level)
        flap = self.rules.flapping
        if flap is not None:
            p = self.percent_change()
            if self.flapping and p < flap[0]:
                self.flapping = False
            elif not self.flapping and p > flap[1]:
                self.flapping = True
        mi = self.rules.max_interval_ns
        self.expired = (
            not self.changed and mi != 0 and (self.last_triggered is None or t_ns - self.last_triggered >= mi)
        )

    def should_trigger(self, level: int, batch: bool = False) -> bool:
        """Whether the level just recorded makes an event (before ``noRecoveries``).

        Kapacitor differs between its edges here: on a batch edge a recovery is sent even while
        the group is flapping, on a stream edge it is not.
        """
        if level == OK:
            return self.changed and (batch or not (self.rules.flapping is not None and self.flapping))
        if self.rules.flapping is not None and self.flapping:
            return False
        return not (self.rules.state_changes_only and not self.changed and not self.expired)

    def triggered(self, t_ns: int) -> None:
        """An event fired at ``t_ns``; the first one since OK starts the alert's duration."""
        self.last_triggered = t_ns
        if self.previous_level() == OK or self.first_triggered is None:
            self.first_triggered = t_ns

    def duration(self) -> int:
        if self.last_triggered is None or self.first_triggered is None:
            return 0
        return self.last_triggered - self.first_triggered

    def to_json(self) -> list[Any]:
        """The whole state for a checkpoint (history included: flapping survives a restart)."""
        return [
            self.history,
            self.idx,
            self.flapping,
            self.changed,
            self.expired,
            self.first_triggered,
            self.last_triggered,
        ]

    def load_json(self, raw: list[Any]) -> None:
        history, idx, flapping, changed, expired, first, last = raw
        if len(history) != len(self.history) or not 0 <= int(idx) < len(history):
            raise ValueError("alert history of another length")
        self.history = [int(h) for h in history]
        self.idx = int(idx)
        self.flapping, self.changed, self.expired = bool(flapping), bool(changed), bool(expired)
        self.first_triggered = None if first is None else int(first)
        self.last_triggered = None if last is None else int(last)

    def restore(self, level: int, time_ns: int, duration_ns: int) -> None:
        """Continue a non-OK alert saved before a restart (no event is sent for it)."""
        if level == OK:
            return
        self.add_event(level)
        self.first_triggered = time_ns - duration_ns
        self.last_triggered = time_ns
