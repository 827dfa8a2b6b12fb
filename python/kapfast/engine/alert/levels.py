"""Alert levels: the ``.info/.warn/.crit`` lambdas and their ``*Reset`` lambdas over whole chunks.

Each lambda runs once over a whole ``PointBatch`` in Rust (``Program.mask`` / ``Program.eval``);
what is left per point is Kapacitor's small decision (``determineLevel``): check levels from
CRITICAL down to the group's current level, first match wins; else, if the current level has a
reset lambda that is false, stay; else check from the current level down to INFO; none is OK.
A lambda that fails on a point skips that level for that point (Kapacitor logs and continues);
a reset lambda that fails does not hold the level.

Stateful functions (``sigma``, ``count`` ...) keep one state per group: ``groups`` gives each
row's group code. Kapacitor evaluates a level only when the decision reaches it; kapfast evaluates
every level for every point, which is the same for every stateless lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kapfast._native import EvalState, PointBatch, Program
from kapfast.engine.alert.state import CRITICAL, INFO, OK, WARNING
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Lambda
from kapfast.tick.pipeline import Node as NodeSpec

LEVEL_PROPS = ((INFO, "info", "infoReset"), (WARNING, "warn", "warnReset"), (CRITICAL, "crit", "critReset"))


@dataclass(slots=True)
class LevelTable:
    """Per-row results of the level lambdas of one chunk.

    ``match[l][i]`` is 1 when level ``l``'s lambda is true for row ``i`` (0 when false or failed);
    ``hold[l][i]`` is 1 when level ``l``'s reset lambda is *false* for row ``i`` (the level holds).
    """

    match: list[bytes | None]
    hold: list[bytes | None]

    def any_match(self) -> bool:
        """Whether any level lambda is true for any row (a C-speed scan of the masks)."""
        return any(col is not None and 1 in col for col in self.match)

    def level(self, i: int, current: int) -> int:
        m = self.match
        for lvl in range(CRITICAL, max(current, INFO) - 1, -1):
            col = m[lvl]
            if col is not None and col[i]:
                return lvl
        if current != OK:
            h = self.hold[current]
            if h is not None and h[i]:
                return current
            for lvl in range(current - 1, OK, -1):
                col = m[lvl]
                if col is not None and col[i]:
                    return lvl
        return OK


@dataclass(slots=True)
class LambdaError:
    what: str  # "crit", "warnReset" ...
    count: int
    first: str


class LevelEvaluator:
    """The level lambdas of one alert node, compiled once."""

    def __init__(self, spec: NodeSpec) -> None:
        self.levels: list[Program | None] = [None, None, None, None]
        self.resets: list[Program | None] = [None, None, None, None]
        self.names: list[str] = ["", "", "", ""]
        for lvl, prop, reset in LEVEL_PROPS:
            self.names[lvl] = prop
            self.levels[lvl] = _compile(spec, prop)
            self.resets[lvl] = _compile(spec, reset)
        programs = [p for p in (*self.levels, *self.resets) if p is not None]
        self.has_resets = any(p is not None for p in self.resets)
        self.stateful = any(p.is_stateful for p in programs)
        self._states: list[EvalState | None] = [EvalState() if p is not None else None for p in self.levels]
        self._reset_states: list[EvalState | None] = [
            EvalState() if p is not None else None for p in self.resets
        ]

    def snapshot(self) -> list[bytes]:
        """The level and reset lambdas' per-group state (b"" where there is no lambda)."""
        return [
            bytes(st.snapshot()) if st is not None else b"" for st in (*self._states, *self._reset_states)
        ]

    def restore(self, blobs: list[bytes]) -> None:
        states = (*self._states, *self._reset_states)
        if len(blobs) != len(states):
            raise ValueError("alert lambda states of another shape")
        for st, b in zip(states, blobs, strict=True):
            if st is not None:
                st.restore(b)

    def forget_group(self, code: int) -> None:
        for s in (*self._states, *self._reset_states):
            if s is not None:
                s.reset(code)

    def evaluate(
        self, batch: PointBatch, groups: Sequence[int] | memoryview | None, now_ns: int
    ) -> tuple[LevelTable, list[LambdaError]]:
        """Run every level and reset lambda over ``batch``."""
        errors: list[LambdaError] = []
        g = groups if self.stateful else None
        match: list[bytes | None] = [None, None, None, None]
        hold: list[bytes | None] = [None, None, None, None]
        for lvl in (INFO, WARNING, CRITICAL):
            prog = self.levels[lvl]
            if prog is not None:
                mask, nerr, first = prog.mask(batch, state=self._states[lvl], groups=g, now_ns=now_ns)
                match[lvl] = bytes(mask)
                if nerr:
                    errors.append(LambdaError(self.names[lvl], nerr, first or ""))
            rprog = self.resets[lvl]
            if rprog is not None:
                res = rprog.eval(batch, state=self._reset_states[lvl], groups=g, now_ns=now_ns)
                if res.kind != "bool":
                    raise TaskError(f"{self.names[lvl]}Reset lambda must be boolean, not {res.kind}")
                values = res.values
                assert isinstance(values, memoryview)
                # hold where the reset is valid and false (bool bytes are 0 or 1): one vector
                # operation, not a Python step per point
                vals = np.frombuffer(values, dtype=np.uint8)
                valid = np.frombuffer(res.valid, dtype=np.uint8)
                hold[lvl] = (valid & (vals ^ 1)).tobytes()
                if res.error_count:
                    errors.append(
                        LambdaError(self.names[lvl] + "Reset", res.error_count, res.first_error or "")
                    )
        return LevelTable(match, hold), errors


def _compile(spec: NodeSpec, prop: str) -> Program | None:
    value = spec.properties.get(prop)
    if value is None:
        return None
    if not isinstance(value, Lambda):
        raise TaskError(f"{spec.name}: .{prop}() needs a lambda expression")
    try:
        return Program(value.ast)
    except Exception as e:  # EvalError and malformed ASTs: the task cannot start
        raise TaskError(f"{spec.name}: .{prop}({value.text}): {e}") from e
