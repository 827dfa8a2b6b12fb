"""``window``: stream points → one batch per group per window, as Kapacitor's windowByTime/Count."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kapfast._native import PointBatch, batch_split
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.rows import EMPTY, Row, chunk_rows, to_batch
from kapfast.engine.vec import split_by_code, times
from kapfast.tick.pipeline import Node as NodeSpec


def _trunc(t: int, d: int) -> int:
    return t - t % d if d > 0 else t


class _TimeWindow:
    __slots__ = ("align", "buf", "every", "group", "name", "next_emit", "period")

    def __init__(self, now: int, period: int, every: int, align: bool, fill: bool, name: str, group: Group):
        if fill:
            nxt = now + period
            if align:
                first = nxt
                nxt = _trunc(nxt, every)
                if not nxt > first:
                    nxt += every
        else:
            nxt = now + every
            if align:
                nxt = _trunc(nxt, every)
        self.next_emit = nxt
        self.period = period
        self.every = every
        self.align = align
        self.name = name
        self.group = group
        self.buf: list[Row] = []

    def _purge(self, oldest: int, inclusive: bool) -> None:
        buf = self.buf
        i = 0
        n = len(buf)
        if inclusive:
            while i < n and buf[i][3] < oldest:
                i += 1
        else:
            while i < n and buf[i][3] <= oldest:
                i += 1
        if i:
            del buf[:i]

    def insert(self, row: Row) -> tuple[int, list[Row]] | None:
        t = row[3]
        out = None
        if self.every == 0:
            self.buf.append(row)
            if t >= self.next_emit:
                self._purge(t - self.period, False)
                out = (t, list(self.buf))
                self.next_emit = t
            return out
        if t >= self.next_emit:
            self._purge(self.next_emit - self.period, True)
            out = (self.next_emit, list(self.buf))
            nxt = t + self.every
            if self.align:
                nxt = _trunc(nxt, self.every)
            self.next_emit = nxt
        self.buf.append(row)
        return out


class _VecTimeWindow:
    """A time window with every > 0 over per-group chunk parts: the buffer holds (part, first,
    end, times) slices in arrival order, so windows are cut with numpy and built with one concat."""

    __slots__ = ("align", "every", "group", "name", "next_emit", "period", "pieces")

    def __init__(self, now: int, period: int, every: int, align: bool, fill: bool, name: str, group: Group):
        w = _TimeWindow(now, period, every, align, fill, name, group)
        self.next_emit = w.next_emit
        self.period = period
        self.every = every
        self.align = align
        self.name = name
        self.group = group
        self.pieces: list[tuple[PointBatch, int, int, npt.NDArray[np.int64]]] = []

    def _purge(self, oldest: int) -> None:
        # drop leading points (arrival order) until the first one inside [oldest, ...)
        while self.pieces:
            part, lo, hi, ts = self.pieces[0]
            inside = np.flatnonzero(ts >= oldest)
            if len(inside) == 0:
                self.pieces.pop(0)
                continue
            k = int(inside[0])
            if k:
                self.pieces[0] = (part, lo + k, hi, ts[k:])
            return

    def _points(self) -> PointBatch:
        parts = [
            part if lo == 0 and hi == len(part) else part.take(np.arange(lo, hi, dtype=np.int64))
            for part, lo, hi, _ in self.pieces
            if hi > lo
        ]
        if not parts:
            return EMPTY
        return parts[0] if len(parts) == 1 else PointBatch.concat(parts)

    def insert(self, part: PointBatch, ts: npt.NDArray[np.int64]) -> list[tuple[int, PointBatch, int]]:
        """Emitted windows as (tmax, points, index in ``part`` of the point that closed it)."""
        out: list[tuple[int, PointBatch, int]] = []
        pos = 0
        n = len(ts)
        while pos < n:
            due = np.flatnonzero(ts[pos:] >= self.next_emit)
            if len(due) == 0:
                self.pieces.append((part, pos, n, ts[pos:]))
                break
            j = pos + int(due[0])
            if j > pos:
                self.pieces.append((part, pos, j, ts[pos:j]))
            self._purge(self.next_emit - self.period)
            out.append((self.next_emit, self._points(), j))
            nxt = int(ts[j]) + self.every
            if self.align:
                nxt = _trunc(nxt, self.every)
            self.next_emit = nxt
            # the closing point starts the new buffer; the loop goes on after it
            self.pieces.append((part, j, j + 1, ts[j : j + 1]))
            pos = j + 1
        return out


class _CountWindow:
    __slots__ = ("buf", "count", "every", "group", "name", "next_emit", "period")

    def __init__(self, period: int, every: int, fill: bool, name: str, group: Group) -> None:
        self.period = period
        self.every = every
        self.next_emit = period if fill else every
        self.count = 0
        self.buf: list[Row] = []
        self.name = name
        self.group = group

    def insert(self, row: Row) -> tuple[int, list[Row]] | None:
        self.buf.append(row)
        if len(self.buf) > self.period:
            del self.buf[0]
        self.count += 1
        if self.count == self.next_emit:
            self.next_emit += self.every
            return self.buf[-1][3], list(self.buf)
        return None


class WindowNode(Node):
    kinds = ("window",)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.period = dur_ns(p.get("period"))
        # Kapacitor's default every is 0: emit on every point (a right-aligned window of period)
        self.every = dur_ns(p.get("every"))
        self.align = bool(p.get("align"))
        self.fill = bool(p.get("fillPeriod"))
        self.period_count = int(p.get("periodCount") or 0)
        self.every_count = int(p.get("everyCount") or 0) or self.period_count
        self.windows: dict[str, _TimeWindow | _CountWindow] = {}
        self.vwindows: dict[str, _VecTimeWindow] = {}

    def _new(self, row: Row, group: Group) -> _TimeWindow | _CountWindow:
        if self.period_count:
            return _CountWindow(self.period_count, self.every_count, self.fill, row[0], group)
        return _TimeWindow(row[3], self.period, self.every, self.align, self.fill, row[0], group)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if not self.period_count and self.every > 0:
            self._vec_chunk(chunk)
            return
        windows = self.windows
        for row, group in chunk_rows(chunk):
            w = windows.get(group.id)
            if w is None:
                w = windows[group.id] = self._new(row, group)
            out = w.insert(row)
            if out is not None:
                tmax, rows = out
                self.emit(BatchMessage(w.name, w.group, tmax, to_batch(rows), w.group.by_measurement))

    def _vec_chunk(self, chunk: StreamChunk) -> None:
        b = chunk.batch
        groups = chunk.groups
        codes = np.asarray(chunk.codes, dtype="<u4")
        if len(groups) == 1:
            parts = [b]
            rows = [np.arange(len(b), dtype=np.int64)]
        else:
            parts = batch_split(b, codes.tobytes(), len(groups))
            rows = split_by_code(codes, len(groups))
        emitted: list[tuple[int, int, BatchMessage]] = []
        for code, part in enumerate(parts):
            if not len(part):
                continue
            group = groups[code]
            ts = times(part)
            w = self.vwindows.get(group.id)
            if w is None:
                name = part.measurements()[0]
                w = self.vwindows[group.id] = _VecTimeWindow(
                    int(ts[0]), self.period, self.every, self.align, self.fill, name, group
                )
            for k, (tmax, points, j) in enumerate(w.insert(part, ts)):
                msg = BatchMessage(w.name, w.group, tmax, points, w.group.by_measurement)
                emitted.append((int(rows[code][j]), k, msg))
        # windows go out in the order of the points that closed them, as point by point
        emitted.sort(key=lambda e: (e[0], e[1]))
        for _, _, msg in emitted:
            self.emit(msg)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.windows.pop(msg.group.id, None)
        self.vwindows.pop(msg.group.id, None)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.windows) + len(self.vwindows)
