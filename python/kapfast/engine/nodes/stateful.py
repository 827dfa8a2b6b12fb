"""Per-group stateful nodes: derivative, changeDetect, stateDuration, stateCount, barrier,
trickle, stats. State lives in small per-group records; rows are walked in arrival order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kapfast._native import PointBatch
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import Barrier, BatchMessage, DeleteGroup, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.predicate import BatchPredicate
from kapfast.engine.rows import ChunkBuilder, Row, batch_rows, chunk_rows, to_batch
from kapfast.errors import EvalError, TaskError
from kapfast.tick.pipeline import Lambda
from kapfast.tick.pipeline import Node as NodeSpec


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


class _PerGroupRows(Node):
    """Walks rows per group; ``step(state, row) -> row | None``; batches start with fresh state."""

    batch_resets = True

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.state: dict[str, Any] = {}

    def new_state(self) -> Any:
        return None

    def step(self, gid: str, row: Row) -> Row | None:
        raise NotImplementedError

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        out = ChunkBuilder(chunk.db, chunk.rp)
        errors = 0
        first = None
        for row, group in chunk_rows(chunk):
            try:
                r = self.step(group.id, row)
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                continue
            if r is not None:
                out.add(r, group)
        self.error(errors, first)
        if len(out):
            self.emit(out.chunk())

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        gid = batch.group.id
        if self.batch_resets:
            self.state.pop(gid, None)
        out: list[Row] = []
        errors = 0
        first = None
        for row in batch_rows(batch.points):
            try:
                r = self.step(gid, row)
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                continue
            if r is not None:
                out.append(r)
        if self.batch_resets:
            self.state.pop(gid, None)
        self.error(errors, first)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(out), batch.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.state.pop(msg.group.id, None)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.state)


class DerivativeNode(_PerGroupRows):
    kinds = ("derivative",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.field = str(spec.args[0])
        self.unit = dur_ns(spec.prop("unit")) or 1_000_000_000
        self.non_negative = bool(spec.properties.get("nonNegative"))
        # Kapacitor's derivative writes over its field unless .as() says otherwise.
        self.as_ = str(spec.properties.get("as", self.field))

    def step(self, gid: str, row: Row) -> Row | None:
        prev: Row | None = self.state.get(gid)
        f1 = _num(row[2].get(self.field))
        if f1 is None:
            self.error(1, f"invalid field type or missing field {self.field!r}")
            return None
        f0 = _num(prev[2].get(self.field)) if prev is not None else None
        if prev is None or f0 is None:
            self.state[gid] = row
            return None
        elapsed = row[3] - prev[3]
        if elapsed == 0:
            self.log.debug("%s: skipping a point with the same time as the previous one", self.name)
            return None
        diff = f1 - f0
        self.state[gid] = row
        if self.non_negative and diff < 0:
            return None
        fields = dict(row[2])
        fields[self.as_] = diff / (elapsed / self.unit)
        return (row[0], row[1], fields, row[3])


class ChangeDetectNode(_PerGroupRows):
    kinds = ("changeDetect",)
    batch_resets = False

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields = [str(a) for a in spec.args]

    def step(self, gid: str, row: Row) -> Row | None:
        if any(f not in row[2] for f in self.fields):
            missing = next(f for f in self.fields if f not in row[2])
            raise EvalError(f"field {missing!r} missing from point")
        vals = tuple(row[2][f] for f in self.fields)
        prev = self.state.get(gid)
        self.state[gid] = vals
        if prev is not None and prev == vals:
            return None
        return row


class _StateNode(_PerGroupRows):
    """stateDuration/stateCount: the lambda is evaluated over the whole chunk (or batch) first,
    its per-group state in Rust; then rows are walked in order with ``advance``."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        arg = spec.args[0] if spec.args else None
        if not isinstance(arg, Lambda):
            raise TaskError(f"{self.name}: needs a lambda")
        self.predicate = BatchPredicate(arg.ast)
        self.as_ = str(spec.prop("as"))

    def advance(self, gid: str, row: Row, ok: bool) -> Row:
        raise NotImplementedError

    def _tests(self, batch: PointBatch, gids: list[str], codes: Any) -> tuple[list[Any], int, str | None]:
        """Per row: True/False, or None where the lambda failed (or was not a boolean)."""
        kind, vals, errors, first = self.predicate.eval_rows(batch, gids, codes, self.ctx.now_ns())
        if kind != "bool":
            bad = sum(v is not None for v in vals)
            return [None] * len(vals), errors + bad, first or "expression did not evaluate to a boolean"
        return vals, errors, first

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        tests, errors, first = self._tests(chunk.batch, [g.id for g in chunk.groups], chunk.codes)
        out = ChunkBuilder(chunk.db, chunk.rp)
        for (row, group), ok in zip(chunk_rows(chunk), tests, strict=True):
            if ok is not None:
                out.add(self.advance(group.id, row, ok), group)
        self.error(errors, first)
        if len(out):
            self.emit(out.chunk())

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        gid = batch.group.id
        self.state.pop(gid, None)
        n = len(batch.points)
        tests, errors, first = self._tests(batch.points, [gid], np.zeros(n, dtype=np.intp))
        out = [
            self.advance(gid, row, ok)
            for row, ok in zip(batch_rows(batch.points), tests, strict=True)
            if ok is not None
        ]
        self.state.pop(gid, None)
        self.error(errors, first)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(out), batch.by_name))

    def out(self, row: Row, value: Any) -> Row:
        fields = dict(row[2])
        fields[self.as_] = value
        return (row[0], row[1], fields, row[3])


class StateDurationNode(_StateNode):
    kinds = ("stateDuration",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.unit = dur_ns(spec.prop("unit")) or 1_000_000_000

    def advance(self, gid: str, row: Row, ok: bool) -> Row:
        if ok:
            start = self.state.get(gid)
            if start is None:
                start = self.state[gid] = row[3]
            return self.out(row, (row[3] - start) / self.unit)
        self.state.pop(gid, None)
        return self.out(row, -1.0)


class StateCountNode(_StateNode):
    kinds = ("stateCount",)

    def advance(self, gid: str, row: Row, ok: bool) -> Row:
        if ok:
            n = self.state.get(gid, 0) + 1
            self.state[gid] = n
            return self.out(row, n)
        self.state.pop(gid, None)
        return self.out(row, -1)


class TrickleNode(Node):
    kinds = ("trickle",)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if len(batch.points):
            self.emit(StreamChunk(batch.points, [0] * len(batch.points), [batch.group]))


class BarrierNode(Node):
    """``barrier``: a Barrier per group when the group was idle (``idle``) or every ``period``
    of data time; with ``.delete(TRUE)`` the group's state is dropped downstream after it."""

    kinds = ("barrier",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.idle = dur_ns(p.get("idle"))
        self.period = dur_ns(p.get("period"))
        d = p.get("delete")
        self.delete = d is True or d == [] or (isinstance(d, list) and bool(d and d[0]))
        self.last: dict[str, tuple[Group, int]] = {}  # group id -> (group, last point time)
        self.next_period: dict[str, int] = {}

    def _fire(self, group: Group, t: int) -> None:
        self.emit(Barrier(group, t))
        if self.delete:
            self.last.pop(group.id, None)
            self.next_period.pop(group.id, None)
            self.emit(DeleteGroup(group))

    def _check(self, now: int) -> None:
        # idle is measured on the task's clock (Kapacitor uses timers), from the last arrival
        if self.idle:
            for _gid, (g, last) in list(self.last.items()):
                if now - last >= self.idle:
                    self._fire(g, now)

    def tick(self, now_ns: int, end: bool = False) -> None:
        # Kapacitor's idle timers are wall-clock timers that a replay outruns: after the data of
        # a replay has ended, no idle barrier fires (the conformance cases read results then).
        if not end:
            self._check(now_ns)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        out = ChunkBuilder(chunk.db, chunk.rp)
        for row, group in chunk_rows(chunk):
            t = row[3]
            if self.period:
                nxt = self.next_period.get(group.id)
                if nxt is None:
                    self.next_period[group.id] = t - t % self.period + self.period
                elif t >= nxt:
                    if len(out):
                        self.emit(out.chunk())
                        out = ChunkBuilder(chunk.db, chunk.rp)
                    self._fire(group, nxt)
                    self.next_period[group.id] = t - t % self.period + self.period
            out.add(row, group)
            self.last[group.id] = (group, self.ctx.now_ns())
        if len(out):
            self.emit(out.chunk())

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self.emit(batch)
        self.last[batch.group.id] = (batch.group, self.ctx.now_ns())

    def working_cardinality(self) -> int:
        return len(self.last)


class StatsNode(Node):
    """``stats(interval)``: a source emitting, every interval of clock time, how many points the
    observed node emitted (Kapacitor's internal stats point)."""

    kinds = ("stats",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.interval = dur_ns(spec.args[0]) if spec.args else 0
        self.align = bool(spec.properties.get("align"))
        self.observed: Node | None = None
        # the ticker starts with the task (Kapacitor: at start, aligned to the interval if asked)
        self.next: int | None = self._first(ctx.now_ns()) if self.interval else None

    def _first(self, now_ns: int) -> int:
        start = now_ns - now_ns % self.interval if self.align else now_ns
        return start + self.interval

    def tick(self, now_ns: int, end: bool = False) -> None:
        """Every interval of the task's clock: one point per group the observed node emitted to,
        ``stats,<group tags> emitted=<count>`` (Kapacitor's ``nodeStatsByGroup``)."""
        if not self.interval or self.observed is None:
            return
        if self.next is None:
            self.next = self._first(now_ns)
        behind = (now_ns - self.next) // self.interval
        if behind > 1:
            # the clock jumped (a replay's first point): only the last two ticks matter
            self.next += (behind - 1) * self.interval
        while now_ns >= self.next:
            t = self.next
            self.next += self.interval
            counts = self.observed.group_emitted or {}
            if not counts:
                continue
            out = ChunkBuilder()
            for group, count in counts.values():
                out.add(("stats", dict(group.tags), {"emitted": count}, t), group)
            self.emit(out.chunk())
