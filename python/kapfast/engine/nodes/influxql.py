"""InfluxQL function nodes (``count`` … ``holtWinters``) on the Rust kernels of
:mod:`kapfast.influxql`, with Kapacitor's output rules: aggregates at the window's time,
selectors keep the selected point's tags and other fields (and its time with
``.usePointTimes()``), multi-point functions emit a batch, transforms one point per input point.

On a stream edge a reducer treats the points of one group with the same time as its window
(Kapacitor's behaviour); transforms keep one resumable kernel state per group.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from kapfast import influxql
from kapfast.batch import GroupIntTable, PointBatch
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, BatchSet, DeleteGroup, Group, StreamChunk, codes_array
from kapfast.engine.node import GroupInts, Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.rows import ChunkBuilder, Row, batch_rows, to_batch
from kapfast.errors import KapfastError
from kapfast.stateops import ClosedWindows, StateTransforms, reduce_windows
from kapfast.tick.pipeline import Duration
from kapfast.tick.pipeline import Node as NodeSpec


def _arg(v: Any) -> Any:
    return v.ns if isinstance(v, Duration) else v


class InfluxQLNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fn = spec.kind
        args = [_arg(a) for a in spec.args]
        if self.fn in ("top", "bottom"):
            self.field = str(args[1])
            self.args: tuple[Any, ...] = (int(args[0]), *[str(a) for a in args[2:]])
            self.tag_args = [str(a) for a in args[2:]]
        else:
            self.field = str(args[0]) if args else ""
            self.args = tuple(args[1:])
            self.tag_args = []
        self.shape = influxql.shape(self.fn)
        self.as_ = str(spec.prop("as", self.fn))
        self.point_times = bool(spec.properties.get("usePointTimes"))
        # a transformation on a stream edge: every group's running state in one Rust kernel
        self.ints = GroupInts()
        self.transforms = (
            StateTransforms(self.fn, self.field, self.as_, self.args) if self.shape == "transform" else None
        )
        # stream input to a reducer: group id -> (group, name, time, pieces of that time)
        self.pending: dict[str, tuple[Group, str, int, list[PointBatch]]] = {}

    # --- checkpoints ---------------------------------------------------------------------------

    def snapshot_state(self) -> bytes:
        """A transformation's running state per group (movingAverage's last values, ...), and the
        points of a stream reducer's open time per group."""
        meta: dict[str, Any] = {"ints": self.ints.to_json(), "pending": []}
        blobs: list[bytes] = [self.transforms.snapshot() if self.transforms is not None else b""]
        for group, name, t, pieces in self.pending.values():
            meta["pending"].append([checkpoint.group_json(group), name, t, len(pieces)])
            blobs += [p.to_snapshot() for p in pieces]
        return checkpoint.pack(meta, *blobs)

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            if self.transforms is not None:
                self.transforms.restore(blobs[0])
            self.ints.load_json(meta["ints"])
            pending: dict[str, tuple[Group, str, int, list[PointBatch]]] = {}
            k = 1
            for g, name, t, n in meta["pending"]:
                group = checkpoint.group_of_json(g)
                pending[group.id] = (
                    group,
                    str(name),
                    int(t),
                    [PointBatch.from_snapshot(b) for b in blobs[k : k + n]],
                )
                k += n
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.pending = pending

    # --- reductions ----------------------------------------------------------------------------

    def _reduce(self, name: str, group: Group, tmax: int, points: PointBatch) -> list[Row]:
        """The output points of one window (aggregates, selectors and multi-point functions)."""
        if self.field not in points.field_names() and self.fn not in ("count", "sum"):
            return []
        try:
            out = influxql.reduce(points, self.fn, self.field, *self.args)
        except KapfastError as exc:
            self.error(1, str(exc))
            return []
        gtags = dict(group.tags)
        if not out:
            return []
        picked = [r for r, _, _ in out if r is not None]
        src = batch_rows(points.take(np.array(picked, dtype=np.int64))) if picked else []
        rows: list[Row] = []
        k = 0
        for r, t, v in out:
            if r is None or self.shape == "aggregate":
                when = t if t is not None and self.fn.startswith("holtWinters") else tmax
                rows.append((name, gtags, {self.as_: v}, when))
                if r is not None:
                    k += 1
                continue
            row = src[k]
            k += 1
            when = t if (self.point_times and t is not None) else tmax
            if self.shape == "selector":
                fields = {f: x for f, x in row[2].items() if f != self.field}
                fields[self.as_] = v
                rows.append((name, dict(row[1]), fields, when))
            elif self.fn in ("top", "bottom"):
                fields = {self.as_: v}
                for tag in self.tag_args:
                    fields[tag] = row[1].get(tag, row[2].get(tag, ""))
                rows.append((name, dict(row[1]), fields, when))
            else:  # distinct
                rows.append((name, gtags, {self.as_: v}, when))
        return rows

    def _emit_reduced(self, batch: BatchMessage, rows: list[Row]) -> None:
        if self.spec.provides == "batch":
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(rows), batch.by_name))
        elif rows:
            self.emit(StreamChunk(to_batch(rows), [0] * len(rows), [batch.group]))

    # --- transforms ----------------------------------------------------------------------------

    # --- input ---------------------------------------------------------------------------------

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if self.shape == "transform":
            state = influxql.new_transform(self.fn, *self.args)  # a batch edge: fresh per batch
            try:
                out, _ = state.feed_batch(batch.points, self.field, self.as_)
            except KapfastError as exc:
                self.error(1, str(exc))
                out = to_batch([])
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax, out, batch.by_name))
            return
        self._emit_reduced(batch, self._reduce(batch.name, batch.group, batch.tmax, batch.points))

    def on_batch_set(self, batches: BatchSet, port: int) -> None:
        """Many windows at once (a window node's chunk): an aggregate or selector on a stream edge
        reduces them all in one kernel call and emits one chunk; anything else goes batch by
        batch."""
        if self.shape not in ("aggregate", "selector") or self.spec.provides == "batch":
            super().on_batch_set(batches, port)
            return
        if batches.closed is not None and batches.groups is not None:
            self._reduce_closed(batches.closed, batches.groups)
            return
        msgs = batches.batches
        try:
            out, rows, errors = reduce_windows(
                self.fn,
                self.field,
                self.as_,
                [(b.name, b.group.tags, b.tmax, b.points) for b in msgs],
                self.args,
                self.point_times,
            )
        except KapfastError as exc:  # bad arguments: every window fails as it would alone
            for _ in msgs:
                self.error(1, str(exc))
            return
        for _, message in errors:
            self.error(1, message)
        if not len(out):
            return
        # the group of each output point: its window's, listed in order of first appearance
        win = np.frombuffer(rows, dtype="<u4")
        index: dict[str, int] = {}
        groups: list[Group] = []
        per_window = np.empty(len(msgs), dtype=np.uint32)
        for k in np.unique(win).tolist():
            g = msgs[k].group
            code = index.get(g.id)
            if code is None:
                code = index[g.id] = len(groups)
                groups.append(g)
            per_window[k] = code
        self.emit(StreamChunk(out, per_window[win], groups))

    def _reduce_closed(self, closed: ClosedWindows, gmap: GroupIntTable) -> None:
        """A window node's closed windows, still in Rust: reduced in one call; the output's
        groups come back as the window's group ints."""
        try:
            out, codes, order, errors = closed.reduce(
                self.fn, self.field, self.as_, self.args, self.point_times
            )
        except KapfastError as exc:  # bad arguments: every window fails as it would alone
            for _ in range(len(closed)):
                self.error(1, str(exc))
            return
        for _, message in errors:
            self.error(1, message)
        if len(out):
            self.emit(StreamChunk(out, codes, [gmap[g] for g in order]))

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if self.shape == "transform":
            self._transform_chunk(chunk)
        else:
            self._reduce_chunk(chunk)

    def _transform_chunk(self, chunk: StreamChunk) -> None:
        """The whole chunk through the kernel (each group's rows through its own state, in
        order): one call per chunk, no Python object per point."""
        assert self.transforms is not None
        gints = self.ints.codes(chunk)
        out, rows, skipped, failed, error = self.transforms.feed(chunk.batch, gints)
        if failed:
            self.error(failed, error or f"{self.fn}: invalid values")
        if skipped:
            self.error(skipped, f"{self.fn}: points skipped")
        if len(out):
            self.emit(chunk.regroup(out, rows))

    def _reduce_chunk(self, chunk: StreamChunk) -> None:
        out = ChunkBuilder(chunk.db, chunk.rp)
        b = chunk.batch
        times = np.asarray(b.time())
        codes = codes_array(chunk)
        names = b.measurements()
        single_name = names[0] if len(names) == 1 else None
        # runs of consecutive rows with the same group and time
        n = len(b)
        cut = np.flatnonzero((codes[1:] != codes[:-1]) | (times[1:] != times[:-1])) + 1
        bounds = [0, *cut.tolist(), n]
        for a, z in itertools.pairwise(bounds):
            group = chunk.groups[int(codes[a])]
            t = int(times[a])
            piece = b.take(np.arange(a, z, dtype=np.int64))
            cur = self.pending.get(group.id)
            if cur is not None and cur[2] != t:
                pts = cur[3][0] if len(cur[3]) == 1 else PointBatch.concat(cur[3])
                for r in self._reduce(cur[1], cur[0], cur[2], pts):
                    out.add(r, cur[0])
                cur = None
            if cur is None:
                name = single_name or piece.measurements()[0]
                cur = self.pending[group.id] = (group, name, t, [])
            cur[3].append(piece)
        if len(out):
            self.emit(out.chunk())

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        g = self.ints.forget(msg.group.id)
        if g is not None and self.transforms is not None:
            self.transforms.reset(g)
        self.pending.pop(msg.group.id, None)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return (len(self.transforms) if self.transforms is not None else 0) + len(self.pending)


__all__ = ["InfluxQLNode", "dur_ns"]
