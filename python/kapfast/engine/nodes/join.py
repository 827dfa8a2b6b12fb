"""join, union, combine and flatten: nodes that merge points or batches.

``join`` follows Kapacitor's algorithm: messages are matched per group (or per ``.on()`` group,
where the more specific points of one parent pick up the less specific ones of another) at their
time rounded to ``.tolerance()``; a set is emitted when every parent contributed, or when every
parent has moved past its time (then ``.fill()`` decides: inner join drops it). Stream parents
are joined in Rust (``rust/src/stateops/join.rs``: the matching per point, the output points
built from the input columns); batch parents are matched here, one message per batch, and each
set of batches is joined point by point in Rust (``join_batches``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from kapfast.batch import PointBatch, batch_merge_by_time, batch_renamed
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import Barrier, BatchMessage, DeleteGroup, Group, StreamChunk, codes_array
from kapfast.engine.node import GroupInts, Node, first_seen
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.predicate import BatchPredicate
from kapfast.engine.rows import group_of
from kapfast.errors import EvalError, TaskError
from kapfast.stateops import StateJoin, StateTimeSets, combine_points, flatten_points, join_batches, time_sets
from kapfast.tick.pipeline import Lambda
from kapfast.tick.pipeline import Node as NodeSpec


def round_to(t: int, d: int) -> int:
    """Go's ``Time.Round(d)``: half away from zero; d <= 0 leaves t."""
    if d <= 0:
        return t
    r = t % d
    return t - r + d if r + r >= d else t - r


class _Msg:
    """One batch inside a join (batch parents), with the group it is joined under."""

    __slots__ = ("batch", "group", "src", "time")

    def __init__(self, src: int, group: Group, batch: BatchMessage) -> None:
        self.src = src
        self.time = batch.tmax
        self.group = group
        self.batch = batch

    def with_group(self, group: Group) -> _Msg:
        b = self.batch
        return _Msg(self.src, group, BatchMessage(b.name, group, b.tmax, b.points, b.by_name))

    def name(self) -> str:
        return self.batch.name


class _JoinSet:
    __slots__ = ("first", "size", "time", "values")

    def __init__(self, n: int, t: int) -> None:
        self.values: list[_Msg | None] = [None] * n
        self.size = 0
        self.first = n
        self.time = t

    def set(self, i: int, m: _Msg) -> None:
        self.first = min(self.first, i)
        self.values[i] = m
        self.size += 1


class _JoinGroup:
    __slots__ = ("head", "node", "oldest", "sets")

    def __init__(self, node: JoinNode, n: int) -> None:
        self.node = node
        self.sets: dict[int, deque[_JoinSet]] = {}
        self.head: list[int | None] = [None] * n
        self.oldest: int | None = None

    def collect(self, src: int, m: _Msg) -> None:
        t = round_to(m.time, self.node.tolerance)
        if self.oldest is None or t < self.oldest:
            self.oldest = t
        q = self.sets.get(t)
        if q is None:
            q = self.sets[t] = deque([_JoinSet(self.node.n, t)])
        target = next((s for s in q if s.values[src] is None), None)
        if target is None:
            target = _JoinSet(self.node.n, t)
            q.append(target)
        target.set(src, m)
        self.head[src] = t
        self._emit(self._only_ready())

    def barrier(self, src: int, t: int) -> None:
        t = round_to(t, self.node.tolerance)
        if self.oldest is None or t < self.oldest:
            self.oldest = t
        self.head[src] = t
        self._emit(self._only_ready())

    def _only_ready(self) -> bool:
        assert self.oldest is not None
        return any(h is None or not h > self.oldest for h in self.head)

    def _emit(self, only_ready: bool) -> None:
        while self.sets:
            assert self.oldest is not None
            # a barrier may have moved ``oldest`` before every set: nothing waits there
            q = self.sets.get(self.oldest, deque())
            i = 0
            while i < len(q):
                s = q[i]
                if s.size == self.node.n or not only_ready:
                    self.node.emit_set(s)
                    i += 1
                else:
                    break
            if i == len(q):
                self.sets.pop(self.oldest, None)
            else:
                for _ in range(i):
                    q.popleft()
            self.oldest = min(self.sets) if self.sets else None
            if only_ready or self.oldest is None:
                return
            only_ready = self._only_ready()

    def emit_all(self) -> None:
        while self.sets:
            self._emit(False)


#: a chunk group as the join kernel takes it: (int, .on() group int, more specific than .on(),
#: tags)
_Described = tuple[int, int, bool, list[tuple[str, str]]]


class JoinNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.n = len(spec.parents)
        self.prefixes = [str(a) for a in p.get("as", [])]
        if len(self.prefixes) != self.n:
            raise TaskError(f"{self.name}: join needs one .as() name per parent ({self.n})")
        self.on = sorted(str(d) for d in p.get("on", []) or [])
        self.delimiter = str(spec.prop("delimiter", "."))
        self.tolerance = dur_ns(p.get("tolerance"))
        self.stream_name = str(p.get("streamName", "") or "")
        fill = p.get("fill")
        #: what Rust takes: None (inner join), "null" or the number
        self.fill: str | int | float | None = None
        if fill == "null":
            self.fill = "null"
        elif isinstance(fill, (int, float)) and not isinstance(fill, bool):
            self.fill = fill
        d = p.get("deleteAll")
        self.delete_all = d is True or d == []
        # stream parents: every group's state in Rust, groups known by int (group ids and .on()
        # group ids share the ints: a DeleteGroup clears both, as Kapacitor's maps by id do)
        self.kernel = StateJoin(
            self.prefixes,
            self.delimiter,
            self.tolerance,
            self.fill,
            self.stream_name,
            bool(self.on),
            self.delete_all,
        )
        self.ints: dict[str, int] = {}
        self.int_groups: dict[int, Group] = {}
        #: per parent: group id -> (the group object last seen with it, what the kernel takes
        #: of it)
        self.described: list[dict[str, tuple[Group, _Described]]] = []
        #: two parents sent unequal groups of one id: then every chunk's groups are recorded as
        #: the latest of their int
        self.unequal_groups = False
        # batch parents
        self.groups: dict[str, _JoinGroup] = {}
        self.low_marks: dict[tuple[int, str], int] = {}
        self.match_buf: dict[str, deque[_Msg]] = {}
        self.specific_buf: dict[str, deque[_Msg]] = {}
        self.reported: set[int] = set()
        self.all_reported = False

    # --- stream parents ------------------------------------------------------------------------

    def _int(self, gid: str) -> int:
        i = self.ints.get(gid)
        if i is None:
            i = self.ints[gid] = len(self.ints)
        return i

    def _on_id(self, g: Group) -> str:
        name = g.id.partition("\n")[0] if g.by_measurement else ""
        return group_of(name, dict(g.tags), self.on, g.by_measurement).id

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        while len(self.described) <= port:
            self.described.append({})
        cache = self.described[port]
        get = cache.get
        # a group object this parent sent before (groupBy reuses them) is described already
        described = [
            e[1] if (e := get(g.id)) is not None and e[0] is g else self._describe(g, cache)
            for g in chunk.groups
        ]
        if self.unequal_groups:
            # the latest object of an id is the one output points get
            for g in chunk.groups:
                self.int_groups[self.ints[g.id]] = g
        self._emit_joined(*self.kernel.feed(port, chunk.batch, chunk.codes, described))

    def _describe(self, g: Group, cache: dict[str, tuple[Group, _Described]]) -> _Described:
        """What the kernel needs of a chunk group, made once per group object of a parent (ints
        never change)."""
        gi = self._int(g.id)
        old = self.int_groups.get(gi)
        if old is not None and old is not g and old != g:
            self.unequal_groups = True
        self.int_groups[gi] = g
        on = self._int(self._on_id(g)) if self.on else gi
        d = (gi, on, len(g.dims) > len(self.on), list(g.tags))
        cache[g.id] = (g, d)
        return d

    def _emit_joined(self, points: PointBatch, group_ints: bytes) -> None:
        if not len(points):
            return
        ints = np.frombuffer(group_ints, dtype="<u4").astype(np.intp)
        # group ints are dense (one per group id seen): a table over them is small
        order = first_seen(ints, int(ints.max()) + 1)
        groups = []
        for i in order.tolist():
            g = self.int_groups[i]
            if self.stream_name:
                # renamed points: a group by measurement takes the new name
                g = group_of(self.stream_name, dict(g.tags), g.dims, g.by_measurement)
            groups.append(g)
        remap = np.zeros(int(order.max()) + 1, dtype=np.uint32)
        remap[order] = np.arange(len(order), dtype=np.uint32)
        codes = remap[ints]
        self.emit(StreamChunk(points, codes, groups))

    # --- input ---------------------------------------------------------------------------------

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self._message(_Msg(port, batch.group, batch))

    def on_barrier(self, barrier: Barrier, port: int) -> None:
        if self.spec.wants == "batch":
            self._group(barrier.group.id).barrier(port, barrier.time)
        else:
            self._emit_joined(*self.kernel.barrier(port, self._int(barrier.group.id), barrier.time))
        self.emit(barrier)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        gid = msg.group.id
        i = self.ints.get(gid)
        if i is not None:
            self.kernel.delete(port, i)
        self.groups.pop(gid, None)
        self.match_buf.pop(gid, None)
        self.specific_buf.pop(gid, None)
        if self.delete_all:
            self.low_marks.clear()
        else:
            self.low_marks.pop((port, gid), None)
        self.emit(msg)

    def on_finish(self) -> None:
        if self.checkpointed:
            return  # the buffered sets are in the task's checkpoint: the restarted task has them
        for g in list(self.groups.values()):
            g.emit_all()
        self._emit_joined(*self.kernel.finish())

    def working_cardinality(self) -> int:
        return len(self.groups) + len(self.kernel)

    def buffered_points(self) -> int:
        """The kernel's points (stream parents) and the points of the batches in open sets
        (batch parents): one addition per set, none per point."""
        held = sum(
            len(m.batch.points)
            for g in self.groups.values()
            for q in g.sets.values()
            for s in q
            for m in s.values
            if m is not None
        )
        return held + self.kernel.held_points()

    # --- checkpoints ---------------------------------------------------------------------------

    def snapshot_state(self) -> bytes:
        """Stream parents: the kernel's buffered points and marks (Rust) and the group ints;
        batch parents: every buffered batch (points as compact columns), sets and marks."""
        blobs: list[bytes] = [self.kernel.snapshot()]

        def msg(m: _Msg) -> list[Any]:
            b = m.batch
            blobs.append(b.points.to_snapshot())
            return [
                m.src,
                checkpoint.group_json(m.group),
                b.name,
                checkpoint.group_json(b.group),
                b.tmax,
                b.by_name,
            ]

        groups = {
            gid: [
                [
                    [t, [[s.time, [msg(v) if v is not None else None for v in s.values]] for s in q]]
                    for t, q in g.sets.items()
                ],
                g.head,
                g.oldest,
            ]
            for gid, g in self.groups.items()
        }
        meta = {
            "ints": self.ints,
            "groups_of_ints": checkpoint.groups_json(self.int_groups.items()),
            "unequal": self.unequal_groups,
            "groups": groups,
            "low_marks": [[src, gid, t] for (src, gid), t in self.low_marks.items()],
            "match": {gid: [msg(m) for m in q] for gid, q in self.match_buf.items()},
            "specific": {gid: [msg(m) for m in q] for gid, q in self.specific_buf.items()},
            "reported": sorted(self.reported),
            "all_reported": self.all_reported,
        }
        return checkpoint.pack(meta, *blobs)

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.kernel.restore(blobs[0])
            pos = iter(range(1, len(blobs)))

            def msg(raw: list[Any]) -> _Msg:
                src, g, name, bg, tmax, by_name = raw
                if not 0 <= int(src) < self.n:
                    raise ValueError(f"no parent {src}")
                bgroup = checkpoint.group_of_json(bg)
                points = PointBatch.from_snapshot(blobs[next(pos)])
                return _Msg(
                    int(src),
                    checkpoint.group_of_json(g),
                    BatchMessage(str(name), bgroup, int(tmax), points, bool(by_name)),
                )

            groups: dict[str, _JoinGroup] = {}
            for gid, (sets, head, oldest) in meta["groups"].items():
                jg = _JoinGroup(self, self.n)
                for t, q in sets:
                    dq: deque[_JoinSet] = deque()
                    for st, values in q:
                        js = _JoinSet(self.n, int(st))
                        if len(values) != self.n:
                            raise ValueError("a join set of another number of parents")
                        for i, v in enumerate(values):
                            if v is not None:
                                js.set(i, msg(v))
                        dq.append(js)
                    jg.sets[int(t)] = dq
                if len(head) != self.n:
                    raise ValueError("join heads of another number of parents")
                jg.head = [None if h is None else int(h) for h in head]
                jg.oldest = None if oldest is None else int(oldest)
                groups[str(gid)] = jg
            match = {str(gid): deque(msg(m) for m in q) for gid, q in meta["match"].items()}
            specific = {str(gid): deque(msg(m) for m in q) for gid, q in meta["specific"].items()}
            ints = {str(k): int(v) for k, v in meta["ints"].items()}
            int_groups = {int(i): checkpoint.group_of_json(g) for i, g in meta["groups_of_ints"]}
            low_marks = {(int(src), str(gid)): int(t) for src, gid, t in meta["low_marks"]}
            reported = {int(r) for r in meta["reported"]}
            all_reported = bool(meta["all_reported"])
            unequal = bool(meta["unequal"])
        except (ValueError, KeyError, IndexError, TypeError, StopIteration) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        self.groups, self.match_buf, self.specific_buf = groups, match, specific
        self.ints, self.int_groups, self.low_marks = ints, int_groups, low_marks
        self.reported, self.all_reported, self.unequal_groups = reported, all_reported, unequal
        self.described = []

    # --- matching of batches -------------------------------------------------------------------

    def _group(self, gid: str) -> _JoinGroup:
        g = self.groups.get(gid)
        if g is None:
            g = self.groups[gid] = _JoinGroup(self, self.n)
        return g

    def _message(self, m: _Msg) -> None:
        if self.on:
            self._match(m)
        else:
            self._group(m.group.id).collect(m.src, m)

    def _match(self, p: _Msg) -> None:
        if not self.all_reported:
            self.reported.add(p.src)
            self.all_reported = len(self.reported) == self.n
        tol = self.tolerance
        t = round_to(p.time, tol)
        gtags = dict(p.group.tags)
        gid = group_of(p.name(), gtags, self.on, p.group.by_measurement).id
        self.low_marks[(p.src, gid)] = t
        low: int | None = None
        if self.all_reported:
            for s in range(self.n):
                lm = self.low_marks.get((s, gid), 0)
                if low is None or lm < low:
                    low = lm
            buf = self.specific_buf.get(gid)
            if buf is not None:
                while buf and low is not None and round_to(buf[0].time, tol) < low:
                    self._send_specific(buf.popleft())
        if len(p.group.dims) > len(self.on):
            matches = self.match_buf.get(gid)
            matched = False
            if matches is not None:
                i = 0
                n = len(matches)
                while i < n:
                    mt = round_to(matches[i].time, tol)
                    if mt == t:
                        self._send_match(p, matches[i])
                        matched = True
                    if low is None or not mt < low:
                        break
                    i += 1
                if self.all_reported:
                    for _ in range(i):
                        matches.popleft()
            if not matched:
                if self.all_reported and low is not None and t < low:
                    self._send_specific(p)
                else:
                    self.specific_buf.setdefault(gid, deque()).append(p)
        else:
            self.match_buf.setdefault(gid, deque()).append(p)
            buf = self.specific_buf.get(gid)
            if buf is not None:
                while buf and round_to(buf[0].time, tol) == t:
                    self._send_match(buf.popleft(), p)

    def _send_match(self, specific: _Msg, matched: _Msg) -> None:
        g = self._group(specific.group.id)
        g.collect(specific.src, specific)
        g.collect(matched.src, matched.with_group(specific.group))

    def _send_specific(self, specific: _Msg) -> None:
        self._group(specific.group.id).collect(specific.src, specific)

    # --- output of batches ---------------------------------------------------------------------

    def emit_set(self, s: _JoinSet) -> None:
        first = s.values[s.first]
        assert first is not None
        name = self.stream_name or first.name()
        b = first.batch
        points = join_batches(
            self.prefixes,
            [v.batch.points if v is not None else None for v in s.values],
            name,
            list(b.group.tags),
            self.delimiter,
            self.tolerance,
            self.fill,
        )
        self.emit(BatchMessage(name, b.group, s.time, points, b.by_name))


class UnionNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.rename = str(spec.properties.get("rename", "") or "")
        #: the chunks one write brought, held until :meth:`flush_merged` (None: pass each on at
        #: once). The task holds them when one write's points are in time order and every path
        #: to the union keeps each point's time: their merge in time order is then what feeding
        #: the write one timestamp at a time (Kapacitor's interleaving) gives, in one pass.
        self.pending: list[StreamChunk] | None = None

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if self.rename:
            renamed = batch_renamed(chunk.batch, self.rename)
            chunk = chunk.with_batch(renamed)
        if self.pending is not None:
            self.pending.append(chunk)
            return
        self.emit(chunk)

    def flush_merged(self) -> None:
        """Emit the held chunks as one, in time order (equal times in arrival order)."""
        pending, self.pending = self.pending, None
        if pending:
            self.emit(merge_chunks(pending))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if self.pending:
            # not reached under the task's checks (only stream paths lead here then); if it
            # were, the points held arrived first and go first
            held, self.pending = self.pending, []
            self.emit(merge_chunks(held))
        if self.rename:
            points = batch_renamed(batch.points, self.rename)
            batch = BatchMessage(self.rename, batch.group, batch.tmax, points, batch.by_name)
        self.emit(batch)


def merge_chunks(chunks: list[StreamChunk]) -> StreamChunk:
    """``chunks`` (each in time order) as one chunk in time order, equal times in the chunks'
    order then their rows' order, with one group table (a group in several chunks keeps one
    code). The points and their order come from the Rust merge (``batch_merge_by_time``)."""
    if len(chunks) == 1:
        return chunks[0]
    table: dict[Group, int] = {}
    parts: list[npt.NDArray[np.uint32]] = []
    for c in chunks:
        remap = np.fromiter(
            (table.setdefault(g, len(table)) for g in c.groups), dtype=np.uint32, count=len(c.groups)
        )
        parts.append(remap[codes_array(c)])
    batch, order = batch_merge_by_time([c.batch for c in chunks])
    codes = np.concatenate(parts)[np.frombuffer(order, dtype="<u4")]
    first = chunks[0]
    return StreamChunk(batch, codes, list(table), first.db, first.rp)


__all__ = ["EvalError", "JoinNode", "UnionNode", "merge_chunks", "round_to"]


class CombineNode(Node):
    """``combine(lambdas...)``: every combination of points of one group and time that match the
    expressions in order becomes one point with prefixed fields (Kapacitor's n-choose-k order).

    The sets of points are collected in Rust; each set's expressions are evaluated over the set
    at once and its combinations built in Rust (``rust/src/stateops/combine.rs``)."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        if not all(isinstance(a, Lambda) for a in spec.args):
            raise TaskError(f"{self.name}: combine takes lambda expressions")
        #: one Program per expression; its state keeps each group's stateful functions
        self.exprs = [BatchPredicate(a.ast) for a in spec.args]
        self.names = [str(n) for n in p.get("as", [])]
        if len(self.names) != len(self.exprs):
            raise TaskError(f"{self.name}: combine needs one .as() name per expression")
        self.delimiter = str(spec.prop("delimiter", "."))
        self.tolerance = dur_ns(p.get("tolerance"))
        self.max = int(spec.prop("max", 1_000_000))
        #: groups whose lambda state lives in ``self.exprs`` (working cardinality)
        self.states: set[str] = set()
        # a late point (earlier time) joins the open set; points carry their rounded times
        self.sets = StateTimeSets(self.tolerance, any_change=False, round_times=True)
        self.ints = GroupInts()

    def snapshot_state(self) -> bytes:
        """Every group's open set of points (Rust), and its lambdas' state per group."""
        parts = [e.snapshot() for e in self.exprs]
        meta = {"ints": self.ints.to_json(), "states": sorted(self.states), "lambdas": [m for m, _ in parts]}
        return checkpoint.pack(meta, self.sets.snapshot(), *(b for _, b in parts))

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            if len(meta["lambdas"]) != len(self.exprs) or len(blobs) != 1 + len(self.exprs):
                raise ValueError("a checkpoint of another number of lambdas")
            self.sets.restore(blobs[0])
            for e, m, b in zip(self.exprs, meta["lambdas"], blobs[1:], strict=True):
                e.restore(m, b)
            self.ints.load_json(meta["ints"])
            self.states = {str(x) for x in meta["states"]}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None

    def _combine(self, name: str, group: Group, points: PointBatch) -> PointBatch | None:
        k = len(self.exprs)
        n = len(points)
        if n < k:
            return None
        count = 1
        for i in range(k):
            count = count * (n - i) // (i + 1)
        if count > self.max:
            self.error(
                1,
                f"refusing to perform combination as total combinations {count} exceeds max "
                f"combinations {self.max}",
            )
            return None
        self.states.add(group.id)
        codes = np.zeros(n, dtype=np.intp)
        now = self.ctx.now_ns()
        matches = []
        for e in self.exprs:
            res = e.eval(points, [group.id], codes, now)
            self.error(int(res.error_count), res.first_error)
            valid = np.asarray(res.valid).astype(bool, copy=False)
            if res.kind == "bool":
                valid = valid & np.asarray(res.values).astype(bool, copy=False)
            else:
                valid = np.zeros(n, dtype=bool)
            matches.append(valid.view(np.uint8))
        out = combine_points(
            points, matches, self.names, name, list(group.dims), self.delimiter, self.tolerance
        )
        return out if len(out) else None

    def _emit_sets(self, sets: list[tuple[str, Group, PointBatch]]) -> None:
        parts: list[PointBatch] = []
        codes: list[npt.NDArray[np.uint32]] = []
        groups: list[Group] = []
        index: dict[str, int] = {}
        for name, group, points in sets:
            out = self._combine(name, group, points)
            if out is None:
                continue
            code = index.get(group.id)
            if code is None:
                code = index[group.id] = len(groups)
                groups.append(group)
            parts.append(out)
            codes.append(np.full(len(out), code, dtype=np.uint32))
        if parts:
            batch = parts[0] if len(parts) == 1 else PointBatch.concat(parts)
            self.emit(StreamChunk(batch, np.concatenate(codes), groups))

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        closed = self.sets.feed(chunk.batch, self.ints.codes(chunk))
        groups = self.ints.groups
        self._emit_sets([(name, groups[g], points) for g, _, name, points, _ in closed])

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        sets = time_sets(batch.points, self.tolerance, any_change=False, round_times=True)
        self._emit_sets([(batch.name, batch.group, points) for _, _, points in sets])

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        g = self.ints.forget(msg.group.id)
        if g is not None:
            self.sets.reset(g)
        for e in self.exprs:
            e.forget(msg.group.id)
        self.states.discard(msg.group.id)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.states)

    def buffered_points(self) -> int:
        return self.sets.held_points()


class FlattenNode(Node):
    """``flatten().on(tags...)``: the points of one group and time become one point whose field
    names are prefixed with the ``on`` tags' values (sets collected and flattened in Rust)."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.on = [str(d) for d in p.get("on", []) or []]
        self.delimiter = str(spec.prop("delimiter", "."))
        self.tolerance = dur_ns(p.get("tolerance"))
        d = p.get("dropOriginalFieldName")
        self.drop = d is True or d == [] or (isinstance(d, list) and bool(d and d[0]))
        self.sets = StateTimeSets(self.tolerance, any_change=True, round_times=False)
        self.ints = GroupInts()

    def snapshot_state(self) -> bytes:
        """Every group's open set of points (Rust) and the groups' ints."""
        return checkpoint.pack({"ints": self.ints.to_json()}, self.sets.snapshot())

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.sets.restore(blobs[0])
            self.ints.load_json(meta["ints"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None

    def _flatten(self, sets: list[tuple[PointBatch, str, Group, int]]) -> PointBatch:
        out, missing = flatten_points(
            [(points, name, list(group.tags), t) for points, name, group, t in sets],
            self.on,
            self.delimiter,
            self.drop,
        )
        self.error(missing, f"point missing one of the tags {self.on} for flatten operation")
        return out

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        closed = self.sets.feed(chunk.batch, self.ints.codes(chunk))
        if not closed:
            return
        groups = self.ints.groups
        sets = [(points, name, groups[g], t) for g, t, name, points, _ in closed]
        index: dict[str, int] = {}
        out_groups: list[Group] = []
        codes = np.empty(len(sets), dtype=np.uint32)
        for k, (_, _, group, _) in enumerate(sets):
            code = index.get(group.id)
            if code is None:
                code = index[group.id] = len(out_groups)
                out_groups.append(group)
            codes[k] = code
        self.emit(StreamChunk(self._flatten(sets), codes, out_groups, chunk.db, chunk.rp))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        # each batch on its own: runs of points with the same rounded time become one point
        sets = time_sets(batch.points, self.tolerance, any_change=True)
        out = self._flatten([(points, batch.name, batch.group, t) for t, _, points in sets])
        tmax = sets[-1][0] if sets else batch.tmax
        self.emit(BatchMessage(batch.name, batch.group, tmax, out, batch.by_name))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        g = self.ints.forget(msg.group.id)
        if g is not None:
            self.sets.reset(g)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.sets)

    def buffered_points(self) -> int:
        return self.sets.held_points()
