"""Outputs: ``httpOut`` (last point or batch per group), ``influxDBOut`` (through the writer)."""

from __future__ import annotations

from typing import Any

from kapfast._native import PointBatch
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.rows import Row, batch_rows, to_batch
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


class HttpOutNode(Node):
    kinds = ("httpOut",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.endpoint = str(spec.args[0]) if spec.args else ""
        # raw last message per group, rendered only when read: a point row or (name, tags, batch)
        self.results: dict[str, Row | tuple[str, dict[str, str], PointBatch]] = {}

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        groups = chunk.groups
        codes = chunk.codes
        # only the last row of each group in the chunk matters
        last: dict[int, int] = {}
        for i in range(len(codes)):
            last[codes[i]] = i
        rows = (
            batch_rows(chunk.batch.take(sorted(last.values())))
            if len(last) < len(codes)
            else batch_rows(chunk.batch)
        )
        order = sorted(last.values())
        for row, i in zip(rows, order, strict=True):
            gid = groups[codes[i]].id
            self.results.pop(gid, None)
            self.results[gid] = row
        self.emit(chunk)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        gid = batch.group.id
        self.results.pop(gid, None)
        self.results[gid] = (batch.name, dict(batch.group.tags), batch.points)
        self.emit(batch)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.results.pop(msg.group.id, None)
        self.emit(msg)

    def body(self) -> dict[str, Any]:
        series = []
        for r in self.results.values():
            if len(r) == 4:
                series.append(point_row(r))
            else:
                name, tags, points = r
                series.append(batch_row(name, tags, batch_rows(points)))
        return {"series": series or None}

    def working_cardinality(self) -> int:
        return len(self.results)


class InfluxDBOutNode(Node):
    kinds = ("influxDBOut",)

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
        self.buf: list[Row] = []
        self.last_flush = ctx.now_ns()
        self.stats.extra = {"points_written": 0, "write_errors": 0}
        ctx.on_close.append(self.flush)

    def _add(self, rows: list[Row]) -> None:
        for name, tags, fields, t in rows:
            if self.tags:
                tags = {**tags, **self.tags}
            self.buf.append((self.measurement or name, tags, fields, t))
        if len(self.buf) >= self.buffer_size:
            self.flush()
        else:
            self.tick(self.ctx.now_ns())

    def tick(self, now_ns: int, end: bool = False) -> None:
        """Flush what waited ``flushInterval`` (the task calls this as its clock moves)."""
        if self.buf and self.flush_ns and now_ns - self.last_flush >= self.flush_ns:
            self.flush()

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self._add(batch_rows(chunk.batch))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self._add(batch_rows(batch.points))

    def flush(self) -> None:
        self.last_flush = self.ctx.now_ns()
        if not self.buf:
            return
        rows, self.buf = self.buf, []
        writer = self.ctx.writer
        if writer is None:
            self.stats.extra["write_errors"] += 1
            self.error(len(rows), "no InfluxDB writer configured")
            return
        prec = {"s": "s", "ms": "ms", "u": "us", "us": "us", "ns": "ns", "n": "ns"}.get(self.precision, "ns")
        try:
            body = to_batch(rows).to_line_protocol(prec)
            writer.write(self.cluster, self.db, self.rp, body, prec)
            self.stats.extra["points_written"] += len(rows)
        except (KapfastError, OSError, ValueError) as exc:
            self.stats.extra["write_errors"] += 1
            self.error(len(rows), f"write failed: {exc}")

    def on_finish(self) -> None:
        self.flush()
