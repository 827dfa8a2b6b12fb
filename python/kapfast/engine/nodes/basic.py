"""Row steps: stream, from, where, eval, default, delete, shift, sample, groupBy, log, noop."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from kapfast.batch import (
    PointBatch,
    batch_default,
    batch_delete,
    batch_field_to_tag,
    batch_keep_fields,
    batch_retime,
    batch_select_fields,
    batch_sort_by_time,
    batch_split,
    batch_with_fields_of,
    batch_with_tags_of,
    sample_mask,
)
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, DeleteGroup, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import RowNode, dur_ns
from kapfast.engine.predicate import BatchPredicate
from kapfast.engine.rows import NULLS, Row, batch_rows, group_of, to_batch
from kapfast.engine.vec import GroupCache, group_chunk, measurement_mask
from kapfast.errors import EvalError, TaskError
from kapfast.gofmt import format_float
from kapfast.tick.pipeline import Lambda, Star
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.timefmt import format_rfc3339_ns


def lambdas_snapshot(name: str, preds: list[BatchPredicate]) -> bytes | None:
    """The per-group state of a node's lambdas (stateful functions: sigma, count, spread...);
    None without a lambda."""
    if not preds:
        return None
    parts = [p.snapshot() for p in preds]
    return checkpoint.pack([m for m, _ in parts], *(b for _, b in parts))


def lambdas_restore(name: str, preds: list[BatchPredicate], data: bytes) -> None:
    meta, blobs = checkpoint.unpack(data, name)
    if not isinstance(meta, list) or len(meta) != len(preds) or len(blobs) != len(preds):
        raise checkpoint.SnapshotMismatch(f"{name}: checkpoint of another number of lambdas")
    try:
        for p, m, b in zip(preds, meta, blobs, strict=True):
            p.restore(m, b)
    except (ValueError, KeyError, TypeError) as exc:
        raise checkpoint.SnapshotMismatch(f"{name}: {exc}") from None


class SourceNode(Node):
    """``stream`` / ``batch`` / ``query`` / ``queryFlux``: the task feeds its input here."""


class Dimensions:
    """A groupBy list: named tags, ``*`` (every tag), minus excluded ones, maybe by measurement."""

    def __init__(self, dims: Any, exclude: Any = None, by_name: bool = False) -> None:
        dims = dims if isinstance(dims, list) else ([] if dims is None else [dims])
        self.star = any(isinstance(d, Star) for d in dims)
        self.names = tuple(sorted({str(d) for d in dims if isinstance(d, str)}))
        self.exclude = set(exclude or [])
        self.by_name = bool(by_name)

    def group(self, row: Row) -> Group:
        if self.star:
            dims: tuple[str, ...] = tuple(sorted(k for k in row[1] if k not in self.exclude))
        else:
            dims = tuple(d for d in self.names if d not in self.exclude)
        return group_of(row[0], row[1], dims, self.by_name)


class FromNode(RowNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.db = p.get("database")
        self.rp = p.get("retentionPolicy")
        self.measurement = p.get("measurement")
        self.truncate = dur_ns(p.get("truncate"))
        self.round = dur_ns(p.get("round"))
        self.dims = Dimensions(p.get("groupBy"), None, bool(p.get("groupByMeasurement")))
        where = p.get("where")
        self.predicate = BatchPredicate(where.ast) if isinstance(where, Lambda) else None
        self.cache = GroupCache()

    def snapshot_state(self) -> bytes | None:
        """The per-group state of its lambda's stateful functions."""
        return lambdas_snapshot(self.name, [self.predicate] if self.predicate is not None else [])

    def restore_state(self, data: bytes) -> None:
        lambdas_restore(self.name, [self.predicate] if self.predicate is not None else [], data)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if (self.db and chunk.db and chunk.db != self.db) or (self.rp and chunk.rp and chunk.rp != self.rp):
            return
        # The whole chunk at once: measurement mask, where filter (Rust).
        b = chunk.batch
        if self.measurement:
            mask = measurement_mask(b, str(self.measurement))
            if mask is not None:
                b = b.filter(mask)
        if len(b) and self.predicate is not None:
            b, errors, first = self.predicate.filter(b, now_ns=self.ctx.now_ns())
            self.error(errors, first)
        if not len(b):
            return
        if self.truncate or self.round:
            try:
                b = batch_retime(b, 0, self.truncate, self.round)
            except ValueError as exc:
                self.error(len(b), f"{self.name}: {exc}")
                return
        d = self.dims
        self.emit(
            group_chunk(
                b, list(d.names), d.star, sorted(d.exclude), d.by_name, self.cache, chunk.db, chunk.rp
            )
        )

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        raise TaskError(f"{self.name}: from takes stream data only")

    def on_group_expired(self, group: Group) -> None:
        self.cache.forget(group.id)  # the Group object goes too: flat memory under churn


class WhereNode(RowNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        arg = spec.args[0] if spec.args else None
        self.predicate = BatchPredicate(arg.ast) if isinstance(arg, Lambda) else None

    def snapshot_state(self) -> bytes | None:
        """The per-group state of its lambda's stateful functions."""
        return lambdas_snapshot(self.name, [self.predicate] if self.predicate is not None else [])

    def restore_state(self, data: bytes) -> None:
        lambdas_restore(self.name, [self.predicate] if self.predicate is not None else [], data)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if self.predicate is None:
            super().on_chunk(chunk, port)
            return
        # The whole chunk in Rust: the predicate's rows as bits, each column compacted by them.
        kept, errors, first = self.predicate.filter_chunk(chunk, self.ctx.now_ns())
        self.error(errors, first)
        self.emit(kept)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if self.predicate is None:
            super().on_batch(batch, port)
            return
        zeros = np.zeros(len(batch.points), dtype=np.uint32)
        kept, errors, first = self.predicate.filter(batch.points, [batch.group.id], zeros, self.ctx.now_ns())
        self.error(errors, first)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, kept, batch.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        if self.predicate is not None:
            self.predicate.forget(msg.group.id)
        self.emit(msg)


#: result kinds an eval may store as a field (a duration is stored as its int ns)
_FIELD_KINDS = ("bool", "int", "float", "string", "duration")
#: the hidden field a tag result passes through on its way to a tag column (NUL: no user name)
_TAG_RESULT = "\x00tagresult"
#: tag code of a row without the tag
_NO_TAG = 0xFFFFFFFF


def _kind_error(out: str, kind: str, is_tag: bool) -> str:
    if is_tag:
        return f"cannot set tag {out!r} to a non-string value"
    if kind == "time":
        return f"cannot use time as the value of {out!r}"
    return f"cannot assign a {kind} to {out!r}"


class EvalNode(RowNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        if not all(isinstance(a, Lambda) for a in spec.args):
            raise TaskError(f"{self.name}: eval takes lambda expressions")
        self.names = [str(n) for n in spec.properties.get("as", [])]
        if len(self.names) != len(spec.args):
            raise TaskError(f"{self.name}: eval needs one .as() name per expression")
        self.tags = set(spec.properties.get("tags", []) or [])
        keep = spec.properties.get("keep")
        self.keep_flag = keep is not None and keep is not False
        self.keep_list = [str(k) for k in keep] if isinstance(keep, list) else []
        # one Program and EvalState per expression
        self.programs: list[BatchPredicate] = [BatchPredicate(a.ast) for a in spec.args]
        # without .tags() whole chunks stay columnar; with them, rows are rebuilt per expression
        self.rust = not self.tags

    def _eval_batch(self, b: PointBatch, gids: list[str], codes: Any) -> tuple[PointBatch, Any]:
        """Evaluate every expression over ``b``; returns the new batch and the rows that failed."""
        now = self.ctx.now_ns()
        failed: Any = None
        first: str | None = None
        for prog, name in zip(self.programs, self.names, strict=True):
            stable = prog.stable_codes(gids, codes)
            res = prog.program.eval(b, state=prog.state, groups=stable, now_ns=now)
            if res.error_count:
                bad = ~np.asarray(res.valid).astype(bool)
                failed = bad if failed is None else failed | bad
                first = first or res.first_error
            b = res.assign(b, name)
        if failed is not None:
            self.error(int(np.count_nonzero(failed)), first)
        if self.keep_flag:
            if self.keep_list:
                b = batch_select_fields(b, self.keep_list)
        else:
            b = batch_select_fields(b, self.names)
        return b, failed

    def snapshot_state(self) -> bytes | None:
        """The per-group state of its lambda's stateful functions."""
        return lambdas_snapshot(self.name, self.programs)

    def restore_state(self, data: bytes) -> None:
        lambdas_restore(self.name, self.programs, data)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if not self.rust:
            b, alive = self._eval_tags(chunk.batch, [g.id for g in chunk.groups], chunk.codes)
            if len(b):
                self.emit(chunk.take(alive, b))
            return
        b, failed = self._eval_batch(chunk.batch, [g.id for g in chunk.groups], chunk.codes)
        out = chunk.with_batch(b)
        self.emit(out if failed is None else out.filter(~failed))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        n = len(batch.points)
        if not self.rust:
            b, _ = self._eval_tags(batch.points, [batch.group.id], np.zeros(n, dtype=np.uint32))
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax, b, batch.by_name))
            return
        b, failed = self._eval_batch(batch.points, [batch.group.id], np.zeros(n, dtype=np.uint32))
        if failed is not None:
            b = b.filter(~failed)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, b, batch.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        for prog in self.programs:
            prog.forget(msg.group.id)
        self.emit(msg)

    def _eval_tags(self, b: PointBatch, gids: list[str], codes: Any) -> tuple[PointBatch, Any]:
        """The ``.tags()`` path over whole batches: (output batch, input row index of each output
        row). Same results as :meth:`_eval_rows`: each expression runs over the rows still alive,
        later expressions see earlier results (a tag result hides a field of its name, a field
        result a tag of its name), a failing row is dropped and counted."""
        if NULLS in b.field_names():
            # null fields (a join's fill('null')) keep the row path's exact dict semantics
            return self._eval_tags_rows(b, gids, codes)
        now = self.ctx.now_ns()
        codes = np.asarray(codes, dtype=np.uint32)  # a chunk's codes: a zero-copy view
        alive: Any = np.arange(len(b), dtype=np.intp)
        scope = b
        #: the output tags once a field result hid a tag from ``scope`` (else scope's tags are them)
        shadow: PointBatch | None = None
        tag_results = False
        field_results: list[str] = []
        errors = 0
        first: str | None = None
        for prog, out in zip(self.programs, self.names, strict=True):
            if not len(scope):
                break
            res = prog.eval(scope, gids, codes[alive], now)
            valid = np.asarray(res.valid).astype(bool, copy=False)
            is_tag = out in self.tags
            kind = res.kind
            if not (kind == "string" if is_tag else kind in _FIELD_KINDS):
                # every row fails; the first message is that of the first row
                errors += len(scope)
                if first is None:
                    first = res.first_error if not valid[0] else _kind_error(out, kind, is_tag)
                alive = alive[:0]
                scope = scope.filter(np.zeros(len(scope), dtype=bool))
                break
            ok = bool(valid.all())
            if not ok:
                errors += int(np.count_nonzero(~valid))
                first = first or res.first_error
            if is_tag:
                tag_results = True
                scope = batch_field_to_tag(res.assign(scope, _TAG_RESULT), _TAG_RESULT, out)
                if shadow is not None:
                    shadow = batch_field_to_tag(res.assign(shadow, _TAG_RESULT), _TAG_RESULT, out)
            else:
                if out not in field_results:
                    field_results.append(out)
                if out in scope.tag_keys():
                    if shadow is None:
                        shadow = scope
                    scope = batch_delete(scope, [], [out])[0]
                scope = res.assign(scope, out)
            if not ok:
                scope = scope.filter(valid)
                shadow = shadow.filter(valid) if shadow is not None else None
                alive = alive[valid]
        tags_src = shadow if shadow is not None else scope
        if not self.keep_flag:
            out_b = batch_keep_fields(scope, field_results)
            if shadow is not None:
                out_b = batch_with_tags_of(out_b, shadow)
        else:
            base = b if len(alive) == len(b) else b.take(alive)
            out_b = batch_with_fields_of(base, scope, field_results)
            if self.keep_list:
                missing = self._keep_missing(base, tags_src, field_results)
                if missing is not None:
                    bad, name = missing
                    errors += int(np.count_nonzero(bad))
                    first = first or f"cannot keep field {name!r}, field does not exist"
                    out_b = out_b.filter(~bad)
                    tags_src = tags_src.filter(~bad)
                    alive = alive[~bad]
                out_b = batch_keep_fields(out_b, self.keep_list)
            if tag_results or shadow is not None:
                out_b = batch_with_tags_of(out_b, tags_src)
        self.error(errors, first)
        return out_b, alive

    def _keep_missing(self, base: PointBatch, tags: PointBatch, results: list[str]) -> tuple[Any, str] | None:
        """Rows where some ``.keep()`` name is neither a result, a field of the point nor a tag,
        and the first such name of the first such row; None when every row has them all."""
        n = len(base)
        fields = set(base.field_names())
        tag_keys = set(tags.tag_keys())
        miss_by_name: list[tuple[str, Any]] = []
        for k in self.keep_list:
            if k in results:
                continue
            have = np.zeros(n, dtype=bool)
            if k in fields:
                have |= np.asarray(base.field_valid(k)).astype(bool)
            if k in tag_keys:
                have |= np.asarray(tags.tag(k)[0]) != _NO_TAG
            if not have.all():
                miss_by_name.append((k, ~have))
        if not miss_by_name:
            return None
        bad = np.zeros(n, dtype=bool)
        for _, m in miss_by_name:
            bad |= m
        row = int(np.argmax(bad))
        name = next(k for k, m in miss_by_name if m[row])
        return bad, name

    def _eval_tags_rows(self, b: PointBatch, gids: list[str], codes: Any) -> tuple[PointBatch, Any]:
        """The row path of ``.tags()`` (rows with null fields; the reference the columnar path is
        tested against)."""
        pairs = self._eval_rows(batch_rows(b), gids, codes)
        alive = np.array([i for i, _ in pairs], dtype=np.intp)
        return to_batch([r for _, r in pairs]), alive

    def _eval_rows(self, rows: list[Row], gids: list[str], codes: Any) -> list[tuple[int, Row]]:
        """The row path (``.tags()``): each expression over the rows still alive, as one batch,
        later expressions seeing earlier results; returns (input index, output row) pairs."""
        now = self.ctx.now_ns()
        codes = np.asarray(codes, dtype=np.uint32)  # a chunk's codes: a zero-copy view
        scope_tags = [r[1] for r in rows]
        scope_fields = [dict(r[2]) for r in rows]
        new_fields: list[dict[str, Any]] = [{} for _ in rows]
        new_tags = [dict(r[1]) for r in rows]
        alive = list(range(len(rows)))
        errors = 0
        first: str | None = None
        for prog, out in zip(self.programs, self.names, strict=True):
            if not alive:
                break
            sub = to_batch([(rows[i][0], scope_tags[i], scope_fields[i], rows[i][3]) for i in alive])
            kind, vals, _, err = prog.eval_rows(sub, gids, codes[alive], now)
            still: list[int] = []
            for j, i in enumerate(alive):
                v = vals[j]
                if v is None:
                    errors += 1
                    first = first or err
                    continue
                if out in self.tags:
                    if kind != "string":
                        errors += 1
                        first = first or f"cannot set tag {out!r} to a non-string value"
                        continue
                    new_tags[i][out] = v
                    scope_tags[i] = {**scope_tags[i], out: v}
                    scope_fields[i].pop(out, None)
                else:
                    if kind not in _FIELD_KINDS:
                        errors += 1
                        first = first or (
                            f"cannot use time as the value of {out!r}"
                            if kind == "time"
                            else f"cannot assign a {kind} to {out!r}"
                        )
                        continue
                    new_fields[i][out] = v
                    if out in scope_tags[i]:
                        scope_tags[i] = {k: x for k, x in scope_tags[i].items() if k != out}
                    scope_fields[i][out] = v
                still.append(i)
            alive = still
        result: list[tuple[int, Row]] = []
        for i in alive:
            name, _, fields, t = rows[i]
            try:
                out_fields = self._kept(fields, new_fields[i], new_tags[i])
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                continue
            result.append((i, (name, new_tags[i], out_fields, t)))
        self.error(errors, first)
        return result

    def _kept(
        self, fields: dict[str, Any], new_fields: dict[str, Any], new_tags: dict[str, str]
    ) -> dict[str, Any]:
        if not self.keep_flag:
            return new_fields
        if not self.keep_list:
            out_fields = dict(fields)
            out_fields.update(new_fields)
            return out_fields
        kept: dict[str, Any] = {}
        for k in self.keep_list:
            if k in new_fields:
                kept[k] = new_fields[k]
            elif k in fields:
                kept[k] = fields[k]
            elif k in new_tags:
                continue
            else:
                raise EvalError(f"cannot keep field {k!r}, field does not exist")
        return kept


def _pairs(v: Any) -> list[tuple[str, Any]]:
    if not v:
        return []
    if isinstance(v, list) and v and not isinstance(v[0], list):
        return [(str(v[0]), v[1])]
    return [(str(p[0]), p[1]) for p in v]


class DefaultNode(RowNode):
    """``default()``: whole chunks in Rust (``batch_default``); :meth:`row` is the reference
    row semantics the columnar path is tested against."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields = _pairs(spec.properties.get("field"))
        for k, v in self.fields:
            if not isinstance(v, (bool, int, float, str)):
                raise TaskError(f"{self.name}: default field {k!r} must be a number, string or bool")
        self.tags = [(k, str(v)) for k, v in _pairs(spec.properties.get("tag"))]
        self.stats.extra = {"fields_defaulted": 0, "tags_defaulted": 0}

    def _apply(self, b: PointBatch) -> PointBatch:
        if not self.fields and not self.tags:
            return b
        out, nf, nt = batch_default(b, self.fields, self.tags)
        self.stats.extra["fields_defaulted"] += nf
        self.stats.extra["tags_defaulted"] += nt
        return out

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self.emit(chunk.with_batch(self._apply(chunk.batch)))

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        name, tags, fields, t = row
        if any(fields.get(k) is None for k, _ in self.fields):
            fields = dict(fields)
            for k, v in self.fields:
                if fields.get(k) is None:
                    fields[k] = v
                    self.stats.extra["fields_defaulted"] += 1
        if any(not tags.get(k) for k, _ in self.tags):
            tags = dict(tags)
            for k, v in self.tags:
                if not tags.get(k):
                    tags[k] = v
                    self.stats.extra["tags_defaulted"] += 1
        return (name, tags, fields, t), group

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        g = batch.group
        gt = dict(g.tags)
        changed = False
        for k, v in self.tags:
            if not gt.get(k):
                gt[k] = v
                changed = True
        if changed:
            g = Group(g.id, g.dims, g.by_measurement, tuple(sorted(gt.items())))
        self.emit(BatchMessage(batch.name, g, batch.tmax, self._apply(batch.points), batch.by_name))


def _flat(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        out: list[str] = []
        for x in v:
            out.extend(_flat(x))
        return out
    return [str(v)]


class DeleteNode(RowNode):
    """``delete()``: whole chunks in Rust (``batch_delete``); :meth:`row` is the reference."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields = _flat(spec.properties.get("field"))
        self.tags = _flat(spec.properties.get("tag"))
        self.stats.extra = {"fields_deleted": 0, "tags_deleted": 0}

    def _apply(self, b: PointBatch) -> PointBatch:
        names = b.field_names()
        if NULLS not in names and self._untouched(names, b.tag_keys()):
            return b  # nothing to delete: no copy
        out, nf, nt = batch_delete(b, self.fields, self.tags)
        self.stats.extra["fields_deleted"] += nf
        self.stats.extra["tags_deleted"] += nt
        return out

    def _untouched(self, fields: list[str], tags: list[str]) -> bool:
        return not any(f in self.fields for f in fields) and not any(t in self.tags for t in tags)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        # a stream point keeps its group: Kapacitor deletes from the point, not from its group
        self.emit(chunk.with_batch(self._apply(chunk.batch)))

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        name, tags, fields, t = row
        if self.fields:
            if any(k in self.fields for k in fields):
                self.stats.extra["fields_deleted"] += sum(1 for k in fields if k in self.fields)
            fields = {k: v for k, v in fields.items() if k not in self.fields}
        if self.tags and any(k in self.tags for k in tags):
            self.stats.extra["tags_deleted"] += sum(1 for k in tags if k in self.tags)
        if self.tags:
            tags = {k: v for k, v in tags.items() if k not in self.tags}
        return (name, tags, fields, t), group

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        g = batch.group
        if self.tags and any(k in self.tags for k, _ in g.tags):
            tags = tuple((k, v) for k, v in g.tags if k not in self.tags)
            g = Group(g.id, g.dims, g.by_measurement, tags)
        self.emit(BatchMessage(batch.name, g, batch.tmax, self._apply(batch.points), batch.by_name))


class ShiftNode(RowNode):
    """``shift()``: the time column moved in Rust (``batch_retime``); tmax moves too."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.shift = dur_ns(spec.args[0]) if spec.args else 0

    def _shifted(self, b: PointBatch) -> PointBatch | None:
        if not self.shift:
            return b
        try:
            return batch_retime(b, self.shift)
        except ValueError as exc:
            self.error(len(b), f"{self.name}: {exc}")
            return None

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        b = self._shifted(chunk.batch)
        if b is not None:
            self.emit(chunk.with_batch(b))

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        return (row[0], row[1], row[2], row[3] + self.shift), group

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        b = self._shifted(batch.points)
        if b is not None:
            self.emit(BatchMessage(batch.name, batch.group, batch.tmax + self.shift, b, batch.by_name))


class SampleNode(RowNode):
    """``sample(n)`` keeps every n-th point of each group, ``sample(d)`` the points whose time is a
    multiple of ``d``; whole chunks as a mask (the per-group counts advance in Rust)."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        arg = spec.args[0] if spec.args else 1
        self.every_ns = dur_ns(arg) if not isinstance(arg, int) else 0
        self.count = arg if isinstance(arg, int) else 0
        if self.count <= 0 and self.every_ns <= 0:
            raise TaskError(f"{self.name}: sample needs a positive count or duration")
        self.counters: dict[str, int] = {}

    def _keep(self, gid: str, t: int) -> bool:
        if self.count:
            c = self.counters.get(gid, 0)
            self.counters[gid] = c + 1
            return c % self.count == 0
        return t % self.every_ns == 0

    def _mask(self, chunk: StreamChunk) -> Any:
        if not self.count:
            return np.asarray(chunk.batch.time()) % self.every_ns == 0
        counters = self.counters
        before = [counters.get(g.id, 0) for g in chunk.groups]
        raw, after = sample_mask(chunk.codes, before, self.count)
        for g, b, a in zip(chunk.groups, before, after, strict=True):
            if a != b:  # only groups with rows in this chunk start being counted
                counters[g.id] = a
        return np.frombuffer(raw, dtype=np.bool_)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        mask = self._mask(chunk)
        if mask.all():
            self.emit(chunk)
        elif mask.any():
            self.emit(chunk.filter(mask))

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        return (row, group) if self._keep(group.id, row[3]) else None

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if self._keep(batch.group.id, batch.tmax):
            self.emit(batch)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.counters.pop(msg.group.id, None)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.counters)

    def snapshot_state(self) -> bytes:
        """Every group's point count (``sample(n)``; ``sample(d)`` keeps none)."""
        return checkpoint.pack(self.counters)

    def restore_state(self, data: bytes) -> None:
        meta, _ = checkpoint.unpack(data, self.name)
        if not isinstance(meta, dict):
            raise checkpoint.SnapshotMismatch(f"{self.name}: malformed checkpoint")
        self.counters = {str(k): int(v) for k, v in meta.items()}


class GroupByNode(RowNode):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.dims = Dimensions(list(spec.args), p.get("exclude"), bool(p.get("byMeasurement")))
        self.seen: set[str] = set()
        # batches with the same time are merged per new group and emitted when the time moves on
        self.last_time: int | None = None
        self.pending: dict[str, tuple[str, Group, int, list[PointBatch]]] = {}
        self.cache = GroupCache()

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        # regroup the whole chunk at once (Rust computes every row's group)
        d = self.dims
        out = group_chunk(
            chunk.batch, list(d.names), d.star, sorted(d.exclude), d.by_name, self.cache, chunk.db, chunk.rp
        )
        self.seen.update(g.id for g in out.groups)
        self.emit(out)

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        g = self.dims.group(row)
        self.seen.add(g.id)
        return row, g

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if batch.tmax != self.last_time:
            self.last_time = batch.tmax
            self._flush()
        # the batch's rows split by their new group in Rust, no Python object per row
        d = self.dims
        names = [n for n in d.names if n not in d.exclude]
        grouped = group_chunk(batch.points, names, d.star, sorted(d.exclude), d.by_name, self.cache)
        groups = grouped.groups
        one = len(groups) == 1
        parts = [batch.points] if one else batch_split(batch.points, grouped.codes, len(groups))
        for g, part in zip(groups, parts, strict=True):
            cur = self.pending.get(g.id)
            if cur is None:
                cur = self.pending[g.id] = (batch.name, g, batch.tmax, [])
            cur[3].append(part)

    def _flush(self) -> None:
        pending, self.pending = self.pending, {}
        for gid in sorted(pending):
            name, g, tmax, parts = pending[gid]
            points = parts[0] if len(parts) == 1 else PointBatch.concat(parts)
            # merged from several batches: back in time order (stable, as the row path's sort)
            points = batch_sort_by_time(points)
            self.seen.add(gid)
            self.emit(BatchMessage(name, g, tmax, points, self.dims.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        # deleted upstream: when grouped by the same tags, the group is gone here too
        self.seen.discard(msg.group.id)
        self.emit(msg)

    def on_group_expired(self, group: Group) -> None:
        self.seen.discard(group.id)
        self.cache.forget(group.id)

    def working_cardinality(self) -> int:
        # Kapacitor's GroupByNode counts the groups of the batches it holds until the time moves
        # on (0 on a stream edge, where it holds nothing)
        return len(self.pending)


class LogNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        level = str(spec.prop("level", "INFO")).upper()
        self.level = {
            "DEBUG": logging.DEBUG,
            "INFO": logging.INFO,
            "WARN": logging.WARNING,
            "ERROR": logging.ERROR,
        }.get(level, logging.INFO)
        self.prefix = str(spec.prop("prefix", "") or "")

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if self.log.isEnabledFor(self.level):
            # Kapacitor's LogPointData: one "point" line per point, logfmt keys in this order.
            codes, groups = chunk.codes.tolist(), chunk.groups
            for i, (name, tags, fields, t) in enumerate(batch_rows(chunk.batch)):
                group = groups[codes[i]]
                line = {"prefix": self.prefix, "name": name, "db": chunk.db, "rp": chunk.rp}
                line["group"] = group.id
                line.update(_indexed("dimension", group.dims))
                line.update(_log_pairs(tags, fields, t))
                self.log.log(self.level, "point", extra={"tags": line})
        self.emit(chunk)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if self.log.isEnabledFor(self.level):
            # Kapacitor's LogBatchData: "begin batch", a "batch point" per point, "end batch".
            head = {"prefix": self.prefix, "name": batch.name, "group": batch.group.id}
            edge = {**head, **_log_pairs(batch.group.tag_dict, {}, batch.tmax)}
            self.log.log(self.level, "begin batch", extra={"tags": edge})
            for _name, tags, fields, t in batch_rows(batch.points):
                point = {**head, **_log_pairs(tags, fields, t)}
                self.log.log(self.level, "batch point", extra={"tags": point})
            self.log.log(self.level, "end batch", extra={"tags": edge})
        self.emit(batch)


def _indexed(key: str, values: tuple[str, ...]) -> dict[str, str]:
    """klog's Strings field: ``dimension_0=host dimension_1=cpu``."""
    return {f"{key}_{i}": v for i, v in enumerate(values)}


def _log_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_float(v, "f")  # strconv.FormatFloat(v, 'f', -1, 64)
    return "" if v is None else str(v)


def _log_pairs(tags: dict[str, str], fields: dict[str, Any], t: int) -> dict[str, str]:
    """klog's grouped ``tag_K=`` and ``field_K=`` keys (sorted: Go's map order is random) and
    ``time=`` in RFC3339Nano."""
    out = {f"tag_{k}": tags[k] for k in sorted(tags)}
    out.update({f"field_{k}": _log_value(fields[k]) for k in sorted(fields)})
    out["time"] = format_rfc3339_ns(t)
    return out
