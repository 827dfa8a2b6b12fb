"""Per-group alert state: the level history, flapping detection, state-change expiry and duration.

This is Kapacitor's ``alertState`` behaviour (one per group of an alert node): the history is a
ring of the last ``history`` levels, initially all OK; ``changed`` compares a new level with the
previous one; flapping is the weighted fraction of changes over the ring, the newest change
weighted ``weightDiff`` (1.5) times the oldest and the newest weight being ``maxWeight`` (1.2).

Every group's state of one node lives in one Rust store (``rust/src/alertstate.rs``, flat
columns by group code) that also runs the per-point decision over whole chunks;
:class:`GroupState` is a view of one group in it (the batch edge, explain, checkpoints).
``tests/engine/alert/reference.py`` keeps the rules written out row by row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapfast._native import AlertStates

OK, INFO, WARNING, CRITICAL = 0, 1, 2, 3
LEVEL_NAMES = ("OK", "INFO", "WARNING", "CRITICAL")
LEVEL_BY_NAME = {name: i for i, name in enumerate(LEVEL_NAMES)}


@dataclass(frozen=True, slots=True)
class StateRules:
    """The node properties that drive state changes and event emission."""

    history: int = 21
    flapping: tuple[float, float] | None = None  # (low, high)
    state_changes_only: bool = False
    max_interval_ns: int = 0  # .stateChangesOnly(d): re-send an unchanged level after d
    no_recoveries: bool = False


def new_store(rules: StateRules) -> AlertStates:
    """An empty store for every group's state under ``rules``. The ring of past levels only
    matters to flapping; otherwise the current and previous level are all that is read, and a
    ring of 2 saves memory per group (#19)."""
    return AlertStates(
        ring=max(2, rules.history) if rules.flapping is not None else 2,
        flapping=rules.flapping,
        state_changes_only=rules.state_changes_only,
        max_interval_ns=rules.max_interval_ns,
        no_recoveries=rules.no_recoveries,
    )


class GroupState:
    """The alert state of one group: slot ``code`` of ``store`` (a store of its own when none)."""

    __slots__ = ("code", "rules", "store")

    def __init__(self, rules: StateRules, store: AlertStates | None = None, code: int = 0) -> None:
        self.rules = rules
        self.store = store if store is not None else new_store(rules)
        self.code = code

    @property
    def history(self) -> list[int]:
        return list(self.store.get(self.code)[0])

    @property
    def idx(self) -> int:
        return self.store.get(self.code)[1]

    @property
    def flapping(self) -> bool:
        return self.store.get(self.code)[2]

    @property
    def changed(self) -> bool:
        return self.store.get(self.code)[3]

    @property
    def expired(self) -> bool:
        return self.store.get(self.code)[4]

    @property
    def first_triggered(self) -> int | None:
        return self.store.get(self.code)[5]

    @property
    def last_triggered(self) -> int | None:
        return self.store.get(self.code)[6]

    @property
    def level(self) -> int:
        return self.store.level(self.code)

    def previous_level(self) -> int:
        """The level recorded before the current one."""
        return self.store.previous_level(self.code)

    def add_event(self, level: int) -> None:
        """Record ``level`` in the history (Kapacitor's ``addEvent``)."""
        self.store.add_event(self.code, level)

    def percent_change(self) -> float:
        """The weighted fraction of level changes over the history ring."""
        return self.store.percent_change(self.code)

    def update(self, t_ns: int, level: int) -> None:
        """Kapacitor's ``updateState``: history, flapping, and whether an unchanged level expired."""
        self.store.update(self.code, t_ns, level)

    def should_trigger(self, level: int, batch: bool = False) -> bool:
        """Whether the level just recorded makes an event (before ``noRecoveries``).

        Kapacitor differs between its edges here: on a batch edge a recovery is sent even while
        the group is flapping, on a stream edge it is not.
        """
        return self.store.should_trigger(self.code, level, batch)

    def triggered(self, t_ns: int) -> None:
        """An event fired at ``t_ns``; the first one since OK starts the alert's duration."""
        self.store.triggered(self.code, t_ns)

    def duration(self) -> int:
        return self.store.duration(self.code)

    def to_json(self) -> list[Any]:
        """The whole state for a checkpoint (history included: flapping survives a restart)."""
        history, idx, flapping, changed, expired, first, last = self.store.get(self.code)
        return [list(history), idx, flapping, changed, expired, first, last]

    def load_json(self, raw: list[Any]) -> None:
        history, idx, flapping, changed, expired, first, last = raw
        levels = [int(h) for h in history]
        if any(not OK <= h <= CRITICAL for h in levels) or not 0 <= int(idx) < len(levels):
            raise ValueError("alert history out of range")
        self.store.set(
            self.code,
            levels,
            int(idx),
            bool(flapping),
            bool(changed),
            bool(expired),
            None if first is None else int(first),
            None if last is None else int(last),
        )

    def restore(self, level: int, time_ns: int, duration_ns: int) -> None:
        """Continue a non-OK alert saved before a restart (no event is sent for it)."""
        self.store.restore(self.code, level, time_ns, duration_ns)
