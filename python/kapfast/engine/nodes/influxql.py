"""InfluxQL function nodes (``count`` … ``holtWinters``): aggregates, selectors and transforms,
with Kapacitor's output rules (aggregates at the batch's time, selectors keep the selected point's
tags and other fields, transforms emit one point per input point).
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.rows import ChunkBuilder, Row, batch_rows, chunk_rows, to_batch
from kapfast.engine.vec import numeric_field
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Node as NodeSpec

Val = Any
Item = tuple[int, Val, Row]  # time, value, the row it came from

AGGREGATES = {"count", "sum", "mean", "median", "mode", "spread", "stddev"}
SELECTORS = {"min", "max", "first", "last", "percentile"}
MULTI = {"distinct", "top", "bottom", "holtWinters", "holtWintersWithFit"}
TRANSFORMS = {"elapsed", "difference", "movingAverage", "cumulativeSum"}


def _is_num(v: Val) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _agg(fn: str, items: list[Item]) -> Val | None:
    vals = [it[1] for it in items]
    if fn == "count":
        return len(vals)
    if not vals:
        return None
    if not all(_is_num(v) for v in vals):
        return None
    if fn == "sum":
        if all(isinstance(v, int) for v in vals):
            return sum(vals)
        total = 0.0
        for v in vals:  # in order, as InfluxQL's running sum
            total += float(v)
        return total
    if fn == "mean":
        # InfluxQL's running mean: sum then divide
        total = 0.0
        for v in vals:
            total += float(v)
        return total / len(vals)
    if fn == "median":
        s = sorted(vals)
        n = len(s)
        if n % 2:
            return float(s[n // 2])
        return float(s[n // 2 - 1]) + (float(s[n // 2]) - float(s[n // 2 - 1])) / 2
    if fn == "mode":
        c = Counter(vals)
        best = max(c.values())
        return min(v for v, k in c.items() if k == best)
    if fn == "spread":
        return max(vals) - min(vals)
    if fn == "stddev":
        if len(vals) < 2:
            return None
        m = sum(float(v) for v in vals) / len(vals)
        var = sum((float(v) - m) ** 2 for v in vals) / (len(vals) - 1)
        return math.sqrt(var)
    raise TaskError(f"unknown aggregate {fn}")


def _select(fn: str, items: list[Item], arg: float = 0.0) -> Item | None:
    if not items:
        return None
    best: Item | None = None
    if fn == "percentile":
        s = sorted(items, key=lambda it: it[1])
        i = math.floor(len(s) * arg / 100.0 + 0.5) - 1
        if i < 0 or i >= len(s):
            return None
        return s[i]
    for it in items:
        if best is None:
            best = it
            continue
        t, v = it[0], it[1]
        bt, bv = best[0], best[1]
        if (
            (fn == "min" and (v < bv or (v == bv and t < bt)))
            or (fn == "max" and (v > bv or (v == bv and t < bt)))
            or (fn == "first" and (t < bt or (t == bt and v > bv)))
            or (fn == "last" and (t > bt or (t == bt and v > bv)))
        ):
            best = it
    return best


class _TransformState:
    __slots__ = ("count", "prev_t", "prev_v", "total", "window")

    def __init__(self) -> None:
        self.prev_t: int | None = None
        self.prev_v: Val = None
        self.total: Val = 0
        self.count = 0
        self.window: list[float] = []


class InfluxQLNode(Node):
    kinds = tuple(AGGREGATES | SELECTORS | MULTI | TRANSFORMS)

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fn = spec.kind
        args = spec.args
        if self.fn in ("top", "bottom"):
            self.n = int(args[0])
            self.field = str(args[1])
            self.tag_args = [str(a) for a in args[2:]]
        else:
            self.field = str(args[0]) if args else ""
        self.arg: Any = args[1] if len(args) > 1 else None
        self.as_ = str(spec.prop("as", self.fn))
        self.point_times = bool(spec.properties.get("usePointTimes"))
        self.states: dict[str, _TransformState] = {}
        # stream input to a reducer: the points of one group with the same time form a batch
        self.pending: dict[str, tuple[Group, str, int, list[Row]]] = {}

    # --- batch input ---------------------------------------------------------------------------

    def _items(self, rows: list[Row]) -> list[Item]:
        f = self.field
        return [(r[3], r[2][f], r) for r in rows if f in r[2]]

    def _reduce(self, name: str, group: Group, tmax: int, rows: list[Row]) -> list[Row]:
        """The output points of one reduction (aggregates, selectors, multi-point functions)."""
        fn = self.fn
        items = self._items(rows)
        gtags = dict(group.tags)
        if fn in AGGREGATES:
            v = _agg(fn, items)
            return [] if v is None else [(name, gtags, {self.as_: v}, tmax)]
        if fn in SELECTORS:
            it = _select(fn, items, float(self.arg or 0.0))
            if it is None:
                return []
            row = it[2]
            fields = {k: val for k, val in row[2].items() if k != self.field}
            fields[self.as_] = it[1]
            return [(name, dict(row[1]), fields, it[0] if self.point_times else tmax)]
        if fn == "distinct":
            seen: dict[Any, None] = {}
            for it in items:
                seen.setdefault(it[1], None)
            return [(name, gtags, {self.as_: v}, tmax) for v in sorted(seen)]
        if fn in ("top", "bottom"):
            return self._top(name, gtags, tmax, items)
        if fn in ("holtWinters", "holtWintersWithFit"):
            return self._holt_winters(name, gtags, items)
        return []

    def _top(self, name: str, gtags: dict[str, str], tmax: int, items: list[Item]) -> list[Row]:
        top = self.fn == "top"
        if self.tag_args:
            best: dict[tuple[str, ...], Item] = {}
            for it in items:
                key = tuple(it[2][1].get(t, "") for t in self.tag_args)
                cur = best.get(key)
                if cur is None or (it[1] > cur[1] if top else it[1] < cur[1]):
                    best[key] = it
            items = list(best.values())
        order = sorted(items, key=lambda it: (-it[1] if top else it[1], it[0]))[: self.n]
        order.sort(key=lambda it: it[0])
        out: list[Row] = []
        for it in order:
            fields: dict[str, Any] = {self.as_: it[1]}
            for t in self.tag_args:
                fields[t] = it[2][1].get(t, "")
            out.append((name, dict(it[2][1]), fields, it[0] if self.point_times else tmax))
        return out

    def _holt_winters(self, name: str, gtags: dict[str, str], items: list[Item]) -> list[Row]:
        try:
            kernels = importlib.import_module("kapfast.influxql")
        except ImportError as exc:
            raise TaskError(f"{self.name}: {self.fn} needs the InfluxQL kernels (kapfast.influxql)") from exc
        h = int(self.spec.args[1])
        m = int(self.spec.args[2])
        interval = dur_ns(self.spec.args[3])
        rows: list[Row] = [(name, {}, {self.field: it[1]}, it[0]) for it in items]
        out = kernels.reduce(to_batch(rows), self.fn, self.field, h, m, interval)
        return [(name, gtags, {self.as_: v}, t) for _, t, v in out]

    def _transform_rows(self, state: _TransformState, rows: list[Row]) -> list[Row]:
        out: list[Row] = []
        f = self.fn
        for r in rows:
            if self.field not in r[2]:
                continue
            v = r[2][self.field]
            t = r[3]
            res: Any = None
            if f == "cumulativeSum":
                state.total = state.total + v if state.count else v
                state.count += 1
                res = state.total
            elif f == "difference":
                if state.prev_t is not None and t != state.prev_t:
                    res = v - state.prev_v
                if state.prev_t is None or t != state.prev_t:
                    state.prev_t, state.prev_v = t, v
            elif f == "elapsed":
                unit = dur_ns(self.arg) or 1
                if state.prev_t is not None and t != state.prev_t:
                    res = (t - state.prev_t) // unit
                state.prev_t = t
            elif f == "movingAverage":
                n = int(self.arg)
                state.window.append(float(v))
                if len(state.window) > n:
                    del state.window[0]
                if len(state.window) == n:
                    res = sum(state.window) / n
            if res is not None:
                out.append((r[0], dict(r[1]), {self.as_: res}, t))
        return out

    def _fast_aggregate(self, batch: BatchMessage) -> list[Row] | None:
        """count/sum/mean straight off the column (no rows), when the field is numeric."""
        if self.fn not in ("count", "sum", "mean"):
            return None
        pts = batch.points
        if self.fn == "count" and self.field in pts.field_names():
            n = int(np.count_nonzero(np.asarray(pts.field_valid(self.field))))
            return [(batch.name, dict(batch.group.tags), {self.as_: n}, batch.tmax)]
        col = numeric_field(pts, self.field)
        if col is None:
            return None
        values, valid, kind = col
        if not valid.all():
            values = values[valid]
        if not len(values):
            return []
        if self.fn == "count":
            v: Any = len(values)
        elif self.fn == "sum":
            # cumsum adds in order, as InfluxQL's running sum does (numpy's sum is pairwise)
            v = int(values.sum()) if kind == "integer" else float(np.cumsum(values)[-1])
        else:
            v = float(np.cumsum(values.astype(np.float64))[-1]) / len(values)
        return [(batch.name, dict(batch.group.tags), {self.as_: v}, batch.tmax)]

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        fast = self._fast_aggregate(batch)
        if fast is not None:
            if fast:
                self.emit(StreamChunk(to_batch(fast), [0], [batch.group]))
            return
        rows = batch_rows(batch.points)
        if self.fn in TRANSFORMS:
            out = self._transform_rows(_TransformState(), rows)
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(out), batch.by_name))
            return
        out = self._reduce(batch.name, batch.group, batch.tmax, rows)
        if self.spec.provides == "batch":
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(out), batch.by_name))
        elif out:
            self.emit(StreamChunk(to_batch(out), [0] * len(out), [batch.group]))

    # --- stream input --------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        out = ChunkBuilder(chunk.db, chunk.rp)
        if self.fn in TRANSFORMS:
            for row, group in chunk_rows(chunk):
                st = self.states.get(group.id)
                if st is None:
                    st = self.states[group.id] = _TransformState()
                for r in self._transform_rows(st, [row]):
                    out.add(r, group)
        else:
            pending = self.pending
            for row, group in chunk_rows(chunk):
                cur = pending.get(group.id)
                if cur is not None and cur[2] != row[3]:
                    for r in self._reduce(cur[1], cur[0], cur[2], cur[3]):
                        out.add(r, cur[0])
                    cur = None
                if cur is None:
                    cur = pending[group.id] = (group, row[0], row[3], [])
                cur[3].append(row)
        if len(out):
            self.emit(out.chunk())

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.states.pop(msg.group.id, None)
        self.pending.pop(msg.group.id, None)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.states) + len(self.pending)


_unused: Callable[..., Any] | None = None
