"""Per-group stateful nodes: derivative, changeDetect, stateDuration, stateCount, barrier,
trickle, stats. derivative, changeDetect and stateDuration/Count keep every group's state in a
Rust kernel (``rust/src/stateops``) fed whole chunks; the rest keep small per-group records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from kapfast.batch import PointBatch
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import (
    UNGROUPED,
    Barrier,
    BatchMessage,
    DeleteGroup,
    Group,
    StreamChunk,
    codes_array,
)
from kapfast.engine.node import GroupInts, Node, first_seen
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.predicate import BatchPredicate
from kapfast.engine.rows import ChunkBuilder
from kapfast.errors import TaskError
from kapfast.stateops import StateBarrierPeriods, StateChangeDetect, StateDerivative, StateRun
from kapfast.tick.pipeline import Lambda
from kapfast.tick.pipeline import Node as NodeSpec


class _KernelNode(Node):
    """A node whose per-group state lives in a Rust kernel (``kapfast.stateops.State*``), fed
    whole chunks: the kernel walks the rows of each group in order and builds the output batch
    from the input columns. ``batch_resets``: each batch starts and ends with fresh state."""

    batch_resets = True

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.ints = GroupInts()

    def reset(self, group: int) -> None:
        self.kernel.reset(group)

    def feed(
        self, batch: PointBatch, gints: Any, groups: Sequence[Group], codes: Any
    ) -> tuple[PointBatch, bytes]:
        """Output points and their input rows (row ``i`` of ``batch`` is of group
        ``groups[codes[i]]``, int ``gints[i]``); errors counted here."""
        raise NotImplementedError

    @property
    def kernel(self) -> Any:
        raise NotImplementedError

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        gints = self.ints.codes(chunk)
        out, rows = self.feed(chunk.batch, gints, chunk.groups, chunk.codes)
        if len(out):
            self.emit(chunk.regroup(out, rows))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        g = self.ints.int_of(batch.group)
        if self.batch_resets:
            self.reset(g)
        n = len(batch.points)
        out, _ = self.feed(
            batch.points, np.full(n, g, dtype=np.uint32), [batch.group], np.zeros(n, dtype=np.intp)
        )
        if self.batch_resets:
            self.reset(g)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, out, batch.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        g = self.ints.forget(msg.group.id)
        if g is not None:
            self.reset(g)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.kernel)

    def snapshot_state(self) -> bytes:
        """Every group's kernel state (Rust) and the groups' ints."""
        return checkpoint.pack({"ints": self.ints.to_json()}, self.kernel.snapshot())

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.kernel.restore(blobs[0])
            self.ints.load_json(meta["ints"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None


class DerivativeNode(_KernelNode):
    """``derivative(field)``: the rate of change from each group's previous point
    (``rust/src/stateops/derivative.rs`` has Kapacitor's rules)."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.field = str(spec.args[0])
        # Kapacitor's derivative writes over its field unless .as() says otherwise.
        as_ = str(spec.properties.get("as", self.field))
        unit = dur_ns(spec.prop("unit")) or 1_000_000_000
        if unit < 0:
            raise TaskError(f"{self.name}: unit must be positive")
        self._kernel = StateDerivative(self.field, as_, unit, bool(spec.properties.get("nonNegative")))

    @property
    def kernel(self) -> StateDerivative:
        return self._kernel

    def feed(
        self, batch: PointBatch, gints: Any, groups: Sequence[Group], codes: Any
    ) -> tuple[PointBatch, bytes]:
        out, rows, missing = self._kernel.feed(batch, gints)
        self.error(missing, f"invalid field type or missing field {self.field!r}")
        return out, rows


class ChangeDetectNode(_KernelNode):
    """``changeDetect(fields...)``: a point goes on when its fields differ from its group's
    previous point (Kapacitor compares with Go's ``!=``: another type is a change)."""

    batch_resets = False

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self._kernel = StateChangeDetect([str(a) for a in spec.args])

    @property
    def kernel(self) -> StateChangeDetect:
        return self._kernel

    def feed(
        self, batch: PointBatch, gints: Any, groups: Sequence[Group], codes: Any
    ) -> tuple[PointBatch, bytes]:
        out, rows, missing, first = self._kernel.feed(batch, gints)
        self.error(missing, f"field {first!r} missing from point" if first else None)
        return out, rows


class _StateNode(_KernelNode):
    """stateDuration/stateCount: the lambda is evaluated over the whole chunk (or batch) first,
    its per-group state in Rust; then the kernel runs each group's state over the results."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext, kind: str, unit: int) -> None:
        super().__init__(spec, ctx)
        arg = spec.args[0] if spec.args else None
        if not isinstance(arg, Lambda):
            raise TaskError(f"{self.name}: needs a lambda")
        self.predicate = BatchPredicate(arg.ast)
        self.as_ = str(spec.prop("as"))
        if unit < 0:
            raise TaskError(f"{self.name}: unit must be positive")
        self._kernel = StateRun(kind, self.as_, unit)

    @property
    def kernel(self) -> StateRun:
        return self._kernel

    def feed(
        self, batch: PointBatch, gints: Any, groups: Sequence[Group], codes: Any
    ) -> tuple[PointBatch, bytes]:
        res = self.predicate.eval(batch, [g.id for g in groups], codes, self.ctx.now_ns())
        errors, first = int(res.error_count), res.first_error
        valid = np.asarray(res.valid).astype(np.uint8, copy=False)
        if res.kind == "bool":
            tests = np.asarray(res.values).astype(np.uint8, copy=False)
        else:
            # not a boolean: every row fails (those that evaluated count as errors too)
            errors += int(np.count_nonzero(valid))
            first = first or "expression did not evaluate to a boolean"
            tests = valid = np.zeros(len(batch), dtype=np.uint8)
        out, rows = self._kernel.feed(batch, gints, tests, valid)
        self.error(errors, first)
        return out, rows

    def snapshot_state(self) -> bytes:
        """The kernel's and the lambda's state per group, and the groups' ints."""
        pmeta, pblob = self.predicate.snapshot()
        return checkpoint.pack({"ints": self.ints.to_json(), "lambda": pmeta}, self.kernel.snapshot(), pblob)

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.kernel.restore(blobs[0])
            self.predicate.restore(meta["lambda"], blobs[1])
            self.ints.load_json(meta["ints"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        # the lambda's stateful functions (sigma, count, ...) forget the group too
        self.predicate.forget(msg.group.id)
        super().on_delete_group(msg, port)


class StateDurationNode(_StateNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx, "duration", dur_ns(spec.prop("unit")) or 1_000_000_000)


class StateCountNode(_StateNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx, "count", 1_000_000_000)


class TrickleNode(Node):
    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if len(batch.points):
            self.emit(StreamChunk(batch.points, [0] * len(batch.points), [batch.group]))


class BarrierNode(Node):
    """``barrier``: a Barrier per group when the group was idle (``idle``) or every ``period``
    of data time; with ``.delete(TRUE)`` the group's state is dropped downstream after it.
    Where period barriers fall in a chunk is found in Rust (``StateBarrierPeriods``); the chunk
    goes on in pieces around them."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.idle = dur_ns(p.get("idle"))
        self.period = dur_ns(p.get("period"))
        if self.period < 0 or self.idle < 0:
            raise TaskError(f"{self.name}: barrier idle and period must not be negative")
        d = p.get("delete")
        self.delete = d is True or d == [] or (isinstance(d, list) and bool(d and d[0]))
        self.last: dict[str, tuple[Group, int]] = {}  # group id -> (group, last point time)
        self.periods = StateBarrierPeriods(self.period) if self.period else None
        self.ints = GroupInts()

    def _fire(self, group: Group, t: int) -> None:
        self.emit(Barrier(group, t))
        if self.delete:
            self.last.pop(group.id, None)
            self.emit(DeleteGroup(group))

    def _check(self, now: int) -> None:
        # idle is measured on the task's clock (Kapacitor uses timers), from the last arrival
        if self.idle:
            for gid, (g, last) in list(self.last.items()):
                if now - last >= self.idle:
                    # Kapacitor's idle timer restarts when it fires: an idle group gets a
                    # barrier every `idle`, not only once
                    self.last[gid] = (g, now)
                    self._fire(g, now)
                    if self.delete and self.periods is not None:
                        # the group starts over: its next point sets a new period boundary
                        i = self.ints.forget(g.id)
                        if i is not None:
                            self.periods.reset(i)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        # deleted upstream (an earlier barrier, or group expiry): no idle barrier for it here
        self.last.pop(msg.group.id, None)
        if self.periods is not None:
            i = self.ints.forget(msg.group.id)
            if i is not None:
                self.periods.reset(i)
        self.emit(msg)

    def tick(self, now_ns: int, end: bool = False) -> None:
        # Kapacitor's idle timers are wall-clock timers that a replay outruns: after the data of
        # a replay has ended, no idle barrier fires (the conformance cases read results then).
        if not end:
            self._check(now_ns)

    def _touch(self, chunk: StreamChunk, codes: npt.NDArray[np.uint32], now: int) -> None:
        """The groups of rows ``codes`` arrived now (in the order they first appear)."""
        groups = chunk.groups
        if len(groups) == 1:
            self.last[groups[0].id] = (groups[0], now)
            return
        for c in first_seen(codes, len(groups)).tolist():
            g = groups[c]
            self.last[g.id] = (g, now)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        now = self.ctx.now_ns()
        codes = codes_array(chunk)
        cuts = []
        if self.periods is not None:
            cuts = self.periods.feed(chunk.batch, self.ints.codes(chunk))
        start = 0
        for row, _, t in cuts:
            if row > start:
                self._touch(chunk, codes[start:row], now)
                self._emit_rows(chunk, start, row)
            self._fire(chunk.groups[int(codes[row])], t)
            start = row
        if start < len(codes):
            self._touch(chunk, codes[start:], now)
            self._emit_rows(chunk, start, len(codes))

    def _emit_rows(self, chunk: StreamChunk, a: int, z: int) -> None:
        if a == 0 and z == len(chunk):
            self.emit(chunk)
            return
        rows = np.arange(a, z, dtype="<u4")
        self.emit(chunk.regroup(chunk.batch.take(rows.astype(np.int64)), rows.tobytes()))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self.emit(batch)
        self.last[batch.group.id] = (batch.group, self.ctx.now_ns())

    def working_cardinality(self) -> int:
        return len(self.last)

    def snapshot_state(self) -> bytes:
        """Every group's last arrival (idle timers) and next period boundary."""
        last = [[checkpoint.group_json(g), t] for g, t in self.last.values()]
        blobs = (self.periods.snapshot(),) if self.periods is not None else ()
        return checkpoint.pack({"last": last, "ints": self.ints.to_json()}, *blobs)

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            if self.periods is not None:
                self.periods.restore(blobs[0])
            self.ints.load_json(meta["ints"])
            last = [(checkpoint.group_of_json(g), int(t)) for g, t in meta["last"]]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.last = {g.id: (g, t) for g, t in last}


class StatsNode(Node):
    """``stats(interval)``: a source emitting, every interval of clock time, how many points the
    observed node emitted (Kapacitor's internal stats point)."""

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
            out = ChunkBuilder()
            for group, count in counts.values():
                out.add(("stats", dict(group.tags), {"emitted": count}, t), group)
            if not counts:
                # A node that never emitted: Kapacitor reports the nil group with emitted=0, so a
                # deadman fires for a source that was already silent when the task started.
                out.add(("stats", {}, {"emitted": 0}, t), UNGROUPED)
            self.emit(out.chunk())
