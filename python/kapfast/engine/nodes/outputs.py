"""Outputs: ``httpOut`` (last point or batch per group), ``influxDBOut`` (through the writer)."""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from kapfast.batch import PointBatch, batch_override
from kapfast.engine import checkpoint
from kapfast.engine.context import BatchPointsWriter, TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, StreamChunk, codes_array
from kapfast.engine.node import Node, last_rows
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.rows import NO_FIELDS, NULLS, Row, batch_rows
from kapfast.errors import KapfastError
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.timefmt import format_rfc3339_ns


def point_row(row: Row) -> dict[str, Any]:
    """``models.PointToRow``: one value row, columns time + sorted field names."""
    name, tags, fields, t = row
    cols = sorted(fields)
    out: dict[str, Any] = {"name": name}
    if tags:
        out["tags"] = dict(sorted(tags.items()))
    out["columns"] = ["time", *cols]
    out["values"] = [[format_rfc3339_ns(t), *(fields[c] for c in cols)]]
    return out


def batch_row(name: str, tags: dict[str, str], rows: list[Row]) -> dict[str, Any]:
    """``models.BatchToRow``: columns from the first point (fields + tags not on the batch)."""
    out: dict[str, Any] = {"name": name}
    if tags:
        out["tags"] = dict(sorted(tags.items()))
    if not rows:
        return out
    first = rows[0]
    cols = sorted({*first[2], *(k for k in first[1] if k not in tags)})
    out["columns"] = ["time", *cols]
    values = []
    for _, ptags, fields, t in rows:
        vals: list[Any] = [format_rfc3339_ns(t)]
        for c in cols:
            if c in fields:
                vals.append(fields[c])
            else:
                vals.append(ptags.get(c))
        values.append(vals)
    out["values"] = values
    return out


#: tag code of a row without the tag
_NO_TAG = 0xFFFFFFFF


def batch_row_columns(name: str, tags: dict[str, str], points: PointBatch) -> dict[str, Any]:
    """:func:`batch_row` read column by column (no row tuples); the same result."""
    names = points.field_names()
    if NO_FIELDS in names or NULLS in names:
        return batch_row(name, tags, batch_rows(points))  # hidden markers: the row semantics
    out: dict[str, Any] = {"name": name}
    if tags:
        out["tags"] = dict(sorted(tags.items()))
    n = len(points)
    if not n:
        return out
    # the columns are those of the first point (Kapacitor's models.BatchToRow)
    first_fields = [f for f in names if np.asarray(points.field_valid(f))[0]]
    first_tags = [
        k for k in points.tag_keys() if k not in tags and np.asarray(points.tag(k)[0])[0] != _NO_TAG
    ]
    cols = sorted({*first_fields, *first_tags})
    out["columns"] = ["time", *cols]
    tag_keys = set(points.tag_keys())
    columns: list[list[Any]] = [[format_rfc3339_ns(t) for t in points.time().to_list()]]
    for c in cols:
        fv: list[Any] | None = points.field_values(c) if c in names else None
        tv: list[Any] | None = points.tag_values(c) if c in tag_keys else None
        if fv is None:
            columns.append(tv if tv is not None else [None] * n)
        elif tv is None:
            columns.append(fv)
        else:  # a field where the row has it, else the tag of that name
            columns.append([f if f is not None else t for f, t in zip(fv, tv, strict=True)])
    out["values"] = [list(v) for v in zip(*columns, strict=True)]
    return out


#: httpOut's last batch of a group: (name, group tags, points)
_BatchLast = tuple[str, dict[str, str], PointBatch]
#: httpOut's stream parts: (number of the first point, points, their numbers or None)
_Part = tuple[int, PointBatch, "npt.NDArray[np.int64] | None"]


def _stream_row(parts: list[_Part], n: int) -> tuple[PointBatch, int]:
    """The part holding stream point ``n`` and its row there."""
    k = bisect_right(parts, n, key=lambda p: p[0]) - 1
    start, batch, numbers = parts[k]
    if numbers is None:
        return batch, n - start
    return batch, int(np.searchsorted(numbers, n))


def _shown(
    seq: list[tuple[str, int]],
    parts: list[_Part],
    batches: dict[str, _BatchLast],
    restored: dict[str, dict[str, Any]],
) -> list[tuple[str, dict[str, Any]]]:
    """Every group's last series, in the order of their last update, from the node's tables (or
    a snapshot of them, :meth:`HttpOutNode.snapshot`)."""
    shown = []
    for gid, n in sorted(seq, key=lambda kv: kv[1]):
        done = restored.get(gid)
        if done is not None:
            shown.append((gid, done))
            continue
        last = batches.get(gid)
        if last is None:
            b, row = _stream_row(parts, n)
            shown.append((gid, point_row(batch_rows(b.take(np.array([row], dtype=np.intp)))[0])))
        else:
            name, tags, points = last
            shown.append((gid, batch_row_columns(name, tags, points)))
    return shown


def _render(
    seq: list[tuple[str, int]],
    parts: list[_Part],
    batches: dict[str, _BatchLast],
    restored: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """httpOut's body (Kapacitor's ``{"series": [...]}``)."""
    return {"series": [s for _, s in _shown(seq, parts, batches, restored)] or None}


class HttpOutNode(Node):
    #: stream rows held beyond 4 per group before the shown points are copied out (tests lower it)
    compact_slack = 65536

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.endpoint = str(spec.args[0]) if spec.args else ""
        # The raw last message per group, rendered only when read. ``seq`` numbers every update
        # (group id -> number of its last one): the groups are shown in the order of those
        # numbers (Kapacitor's order of last update), so an update is one dict store, no
        # reordering. A stream point numbered n is in the last part (start, batch, numbers) of
        # ``parts`` with start <= n: row n - start (a part holds the last point of every group of
        # one chunk, shared by those groups), or, in the part compaction made, the row of n in
        # ``numbers``. A batch is in ``batches``.
        self.seq: dict[str, int] = {}
        self.next_seq = 0
        self.parts: list[_Part] = []
        self.batches: dict[str, _BatchLast] = {}
        # series given back by a checkpoint (already rendered), shown until their group updates
        self.restored: dict[str, dict[str, Any]] = {}
        # rows of the parts stored since the last compaction: past a bound the points still
        # shown are copied out, so old parts do not stay alive for one group each
        self._held = 0
        # the last snapshot and the (next_seq, groups) it was taken at: unchanged, not rendered again
        self._snapshot: tuple[tuple[int, int], bytes] | None = None

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        groups = chunk.groups
        n = len(chunk.batch)
        if n:
            if len(groups) == 1:
                last = np.array([n - 1], dtype=np.intp)
                ids = [groups[0].id]
            else:
                # only the last row of each group in the chunk matters, in row order
                codes = codes_array(chunk)
                last = last_rows(codes, len(groups))
                ids = [groups[i].id for i in codes[last].tolist()]
            base = self.next_seq
            self.parts.append((base, chunk.batch.take(last), None))
            self.next_seq = base + len(ids)
            if self.batches:
                deque(map(self.batches.pop, ids, repeat(None)), maxlen=0)
            if self.restored:
                deque(map(self.restored.pop, ids, repeat(None)), maxlen=0)
            self.seq.update(zip(ids, range(base, base + len(ids)), strict=True))
            self._held += len(ids)
            if self._held > 4 * len(self.seq) + self.compact_slack:
                self._compact()
        self.emit(chunk)

    def _stream_row(self, n: int) -> tuple[PointBatch, int]:
        """The part holding stream point ``n`` and its row there."""
        return _stream_row(self.parts, n)

    def _compact(self) -> None:
        """Copies the stream points still shown into one part (one row per group); they keep
        their numbers (the part lists them)."""
        others = (self.batches, self.restored)
        shown = sorted(n for gid, n in self.seq.items() if not any(gid in o for o in others))
        by_part: dict[int, tuple[PointBatch, list[int]]] = {}
        for n in shown:
            b, row = self._stream_row(n)
            by_part.setdefault(id(b), (b, []))[1].append(row)
        # parts are in number order, and so are the rows taken from each
        taken = [b.take(np.array(rows, dtype=np.intp)) for b, rows in by_part.values()]
        if taken:
            merged = taken[0] if len(taken) == 1 else PointBatch.concat(taken)
            self.parts = [(shown[0], merged, np.array(shown, dtype=np.int64))]
        else:
            self.parts = []
        self._held = len(shown)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        gid = batch.group.id
        self.batches[gid] = (batch.name, dict(batch.group.tags), batch.points)
        self.restored.pop(gid, None)
        self.seq[gid] = self.next_seq
        self.next_seq += 1
        self.emit(batch)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.seq.pop(msg.group.id, None)
        self.batches.pop(msg.group.id, None)
        self.restored.pop(msg.group.id, None)
        self.emit(msg)

    def snapshot_state(self) -> bytes:
        """The last series of every group, rendered, in the order shown: the result a reader
        gets must survive the task moving to another worker (or a restart), as the one node that
        never moved still shows it. Kapacitor starts an httpOut empty after a restart."""
        key = (self.next_seq, len(self.seq))
        if self._snapshot is None or self._snapshot[0] != key:
            shown = _shown(list(self.seq.items()), self.parts, self.batches, self.restored)
            self._snapshot = (key, checkpoint.pack([[gid, s] for gid, s in shown]))
        return self._snapshot[1]

    def restore_state(self, data: bytes) -> None:
        meta, _ = checkpoint.unpack(data, self.name)
        try:
            shown = [(str(gid), dict(s)) for gid, s in meta]
        except (ValueError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.seq = {gid: n for n, (gid, _) in enumerate(shown)}
        self.restored = dict(shown)
        self.next_seq = len(shown)
        self.parts, self.batches, self._held, self._snapshot = [], {}, 0, None

    def body(self) -> dict[str, Any]:
        return self.snapshot()()

    def snapshot(self) -> Callable[[], dict[str, Any]]:
        """What :meth:`body` shows, taken now (cheap: copies of the node's small tables, the
        points themselves are immutable and shared), rendered when called, on any thread: the
        engine thread takes the snapshot between two batches and goes on with the writes while
        another thread builds the body (~30 ms at 1,600 groups, issue #19)."""
        return functools.partial(
            _render, list(self.seq.items()), list(self.parts), dict(self.batches), dict(self.restored)
        )

    def working_cardinality(self) -> int:
        return len(self.seq)


class InfluxDBOutNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.cluster = str(p.get("cluster", "") or "")
        self.db = str(p.get("database", "") or "")
        self.rp = str(p.get("retentionPolicy", "") or "")
        self.measurement = str(p.get("measurement", "") or "")
        self.precision = str(p.get("precision", "") or "ns")
        tags = p.get("tag") or []
        if tags and not isinstance(tags[0], list):
            tags = [tags]
        self.tags = {str(k): str(v) for k, v in tags}
        self.buffer_size = int(spec.prop("buffer", 1000))
        self.flush_ns = dur_ns(spec.prop("flushInterval"))
        #: buffered points, as the batches they came in (renamed and tagged already)
        self.buf: list[PointBatch] = []
        self.buf_points = 0
        self.last_flush = ctx.now_ns()
        self.stats.extra = {"points_written": 0, "write_errors": 0}
        #: the server's writer counts points written when InfluxDB took them, and errors per
        #: failed request, in these counters (plus points_buffered, points_dropped: kapfast's own)
        if getattr(ctx.writer, "reports_delivery", False):
            self.stats.extra.update(points_buffered=0, points_dropped=0)
        ctx.on_close.append(self.flush)
        if p.get("create") and ctx.writer is not None and self.db:
            ctx.writer.create_database(self.cluster, self.db, self.rp)

    def buffered_points(self) -> int | None:
        return self.buf_points

    def _add(self, b: PointBatch) -> None:
        if len(b):
            if self.tags or self.measurement:
                b = batch_override(b, self.measurement, list(self.tags.items()))
            self.buf.append(b)
            self.buf_points += len(b)
        if self.buf_points >= self.buffer_size:
            self.flush()
        else:
            self.tick(self.ctx.now_ns())

    def tick(self, now_ns: int, end: bool = False) -> None:
        """Flush what waited ``flushInterval`` (the task calls this as its clock moves)."""
        if self.buf and self.flush_ns and now_ns - self.last_flush >= self.flush_ns:
            self.flush()

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self._add(chunk.batch)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self._add(batch.points)

    def flush(self) -> None:
        self.last_flush = self.ctx.now_ns()
        if not self.buf:
            return
        parts, self.buf = self.buf, []
        count, self.buf_points = self.buf_points, 0
        writer = self.ctx.writer
        if writer is None:
            self.stats.extra["write_errors"] += 1
            self.error(count, "no InfluxDB writer configured")
            return
        prec = {"s": "s", "ms": "ms", "u": "us", "us": "us", "ns": "ns", "n": "ns"}.get(self.precision, "ns")
        try:
            points = parts[0] if len(parts) == 1 else PointBatch.concat(parts)
            if getattr(writer, "reports_delivery", False):
                # counted by the writer as InfluxDB takes them (or refuses them)
                writer.write_batch(  # type: ignore[attr-defined]
                    self.cluster, self.db, self.rp, points, prec, stats=self.stats.extra
                )
            elif isinstance(writer, BatchPointsWriter):
                # the writer serializes in Rust and knows the point count without reading lines
                writer.write_batch(self.cluster, self.db, self.rp, points, prec)
                self.stats.extra["points_written"] += count
            else:
                writer.write(self.cluster, self.db, self.rp, points.to_line_protocol(prec), prec)
                self.stats.extra["points_written"] += count
        except (KapfastError, OSError, ValueError) as exc:
            self.stats.extra["write_errors"] += 1
            self.error(count, f"write failed: {exc}")

    def on_finish(self) -> None:
        self.flush()
