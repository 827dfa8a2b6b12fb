"""A lambda of a task, evaluated by the Rust evaluator (``kapfast.lambdas``) over whole batches.

Every lambda evaluation of the engine goes through here, row paths included: a node that walks
rows one at a time evaluates the rows it needs as one batch first, then reads the result per row.
Stateful functions (sigma, count, spread) keep their state per group in one ``EvalState``, keyed
by an int per group id that stays the same across chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kapfast.batch import PointBatch, StreamChunk
from kapfast.lambdas import EvalResult, EvalState, Program


class BatchPredicate:
    """One lambda instance of a node: its compiled Program and the per-group state of it."""

    def __init__(self, ast: Any) -> None:
        self.ast = ast
        self.program = Program(ast)
        self.state = EvalState()
        #: group id -> the int the Rust state knows the group by (stable across chunks; never
        #: reused, so a forgotten group's int cannot reach a live group's state)
        self.group_ints: dict[str, int] = {}
        self._next_int = 0

    def stable_codes(self, group_ids: Sequence[str], codes: Any) -> Any:
        """Chunk-local group codes → codes that name the same group in every chunk."""
        ints = self.group_ints
        if any(g not in ints for g in group_ids):
            for g in group_ids:
                if g not in ints:
                    ints[g] = self._next_int
                    self._next_int += 1
        table = np.array([ints[g] for g in group_ids], dtype=np.uint32)
        return table[np.asarray(codes, dtype=np.uint32)]  # a chunk's codes: a zero-copy view

    def snapshot(self) -> tuple[list[Any], bytes]:
        """(JSON-able group ints, the Rust state's bytes) for a checkpoint."""
        return [self._next_int, self.group_ints], bytes(self.state.snapshot())

    def restore(self, meta: Any, blob: bytes) -> None:
        nxt, ints = meta
        self.state.restore(blob)
        self.group_ints = {str(k): int(v) for k, v in ints.items()}
        self._next_int = int(nxt)

    def forget(self, group_id: str) -> None:
        i = self.group_ints.pop(group_id, None)
        if i is not None:
            self.state.reset(i)

    def filter(
        self, batch: PointBatch, group_ids: list[str] | None = None, codes: Any = None, now_ns: int = 0
    ) -> tuple[PointBatch, int, str | None]:
        kwargs: dict[str, Any] = {"state": self.state, "now_ns": now_ns}
        if group_ids is not None and codes is not None and self.program.is_stateful:
            kwargs["groups"] = self.stable_codes(group_ids, codes)
        kept, errors, first = self.program.filter(batch, **kwargs)
        return kept, int(errors), first

    def filter_chunk(self, chunk: StreamChunk, now_ns: int = 0) -> tuple[StreamChunk, int, str | None]:
        """``where()`` on a stream chunk: the rows where the lambda is true, with their group codes
        (the chunk itself when every row is kept), selected in Rust without a mask round trip."""
        kwargs: dict[str, Any] = {"state": self.state, "now_ns": now_ns}
        if self.program.is_stateful:  # group ints only choose a stateful function's state
            kwargs["groups"] = self.stable_codes([g.id for g in chunk.groups], chunk.codes)
        kept, errors, first = self.program.filter_chunk(chunk, **kwargs)
        return kept, int(errors), first

    def eval(self, batch: PointBatch, group_ids: Sequence[str], codes: Any, now_ns: int = 0) -> EvalResult:
        """The expression over every row of ``batch``; row ``i`` is of group ``group_ids[codes[i]]``."""
        stable = self.stable_codes(group_ids, codes)
        return self.program.eval(batch, state=self.state, groups=stable, now_ns=now_ns)

    def eval_rows(
        self, batch: PointBatch, group_ids: Sequence[str], codes: Any, now_ns: int = 0
    ) -> tuple[str, list[Any], int, str | None]:
        """(result kind, Python value per row — ``None`` where the row failed, error count, first
        error): for row paths that need one value per row."""
        res = self.eval(batch, group_ids, codes, now_ns)
        return res.kind, result_values(res), int(res.error_count), res.first_error


def result_values(res: EvalResult) -> list[Any]:
    """The values of an EvalResult as Python objects, ``None`` where a row failed.

    Durations and times come back as int ns; the caller tells them apart by ``res.kind``.
    """
    valid = np.asarray(res.valid).astype(bool, copy=False)
    raw = res.values
    if isinstance(raw, list):
        vals: list[Any] = list(raw)
    else:
        arr = np.asarray(raw)
        if res.kind == "bool":
            arr = arr.astype(bool, copy=False)
        vals = arr.tolist()
    if not valid.all():
        vals = [v if ok else None for v, ok in zip(vals, valid.tolist(), strict=True)]
    return vals
