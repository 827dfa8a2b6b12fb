"""A running task: its nodes wired as the pipeline says, fed through its source nodes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kapfast.batch import PointBatch
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.expiry import GROUP_FORMING, GroupExpiry
from kapfast.engine.factory import build_node
from kapfast.engine.messages import UNGROUPED, BatchMessage, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.join import UnionNode
from kapfast.engine.nodes.outputs import HttpOutNode
from kapfast.engine.tap import Tap
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Pipeline


class Task:
    """One executing task. Feed it with :meth:`write_points` (stream) or :meth:`write_batch`."""

    def __init__(self, task_id: str, pipeline: Pipeline, ctx: TaskContext) -> None:
        self.id = task_id
        self.pipeline = pipeline
        self.ctx = ctx
        self.nodes: dict[int, Node] = {}
        try:
            for spec in pipeline.nodes:
                self.nodes[spec.id] = build_node(spec, ctx)
        except BaseException:
            self.abort()  # stop what the nodes built so far started (UDF agents)
            raise
        for spec in pipeline.nodes:
            parent = self.nodes[spec.id]
            for child_id in spec.children:
                child_spec = pipeline.node(child_id)
                port = child_spec.parents.index(spec.id)
                parent.link(self.nodes[child_id], port)
        #: a node may wait on something outside the process when fed (Node.may_wait)
        self.may_wait = any(n.may_wait for n in self.nodes.values())
        self.sources = [
            self.nodes[s.id] for s in pipeline.nodes if s.kind in ("stream", "batch") and not s.parents
        ]
        # query nodes in the pipeline's (Kapacitor's topological) order: the i-th batch recording
        # feeds the i-th of them, as Kapacitor's replays do (the conformance cases rely on it)
        self.queries = [self.nodes[s.id] for s in pipeline.nodes if s.kind in ("query", "queryFlux")]
        for spec in pipeline.nodes:
            if spec.kind == "stats" and spec.stats_of is not None:
                observed = self.nodes[spec.stats_of]
                observed.group_emitted = {}
                self.nodes[spec.id].observed = observed  # type: ignore[attr-defined]
        self.tickers: list[Any] = [n for n in self.nodes.values() if hasattr(n, "tick")]
        #: nodes that expire their idle groups (none unless the context sets a group expiry)
        self.expiring: list[Node] = []
        #: idle groups were left for the next tick (the time budget ran out)
        self.expiry_backlog = False
        if ctx.group_expiry_ns > 0:
            for spec in pipeline.nodes:
                if spec.kind in GROUP_FORMING:
                    node = self.nodes[spec.id]
                    node.expiry = GroupExpiry(ctx.group_expiry_ns)
                    self.expiring.append(node)
        self.measurements = self._measurements()
        #: the (db, rp) pairs whose points feed this task (empty: any)
        self.dbrps: set[tuple[str, str]] = set(pipeline.dbrps)
        self.interleave = any(s.kind == "union" for s in pipeline.nodes)
        #: the unions, in topological order, when they can merge a whole write in time order
        #: instead of the task feeding it one timestamp at a time (see _mergeable_unions)
        self.merging_unions: list[UnionNode] = [
            n for n in (self.nodes[i] for i in _mergeable_unions(pipeline)) if isinstance(n, UnionNode)
        ]
        self.started_ns = time.monotonic_ns()
        self.points_in = 0
        #: Kapacitor's throughput: the rate of the last whole second sampled (wall time, sampled
        #: by tick(), which the server calls about once a second); None until the first sample
        self._rate: float | None = None
        self._sampled_ns = self.started_ns
        self._sampled_points = 0
        self.finished = False
        #: what a checkpoint of this task belongs to (kapfast.engine.checkpoint)
        self.definition = checkpoint.definition_hash(pipeline)

    def _measurements(self) -> set[str] | None:
        """The measurements the stream's ``from()`` nodes read (None: any)."""
        out: set[str] = set()
        for spec in self.pipeline.nodes:
            if spec.kind == "from":
                m = spec.properties.get("measurement")
                if not m:
                    return None
                out.add(str(m))
        return out

    def write_points(self, batch: PointBatch, db: str = "", rp: str = "", shard: int | None = None) -> None:
        """``shard``: the cluster partition every point of ``batch`` is on (a worker's partition
        feed knows it), for a task run by partition (kapfast.engine.sharded); unused here."""
        if self.finished or not len(batch):
            return
        self.points_in += len(batch)
        if self.merging_unions and len(batch) > 1 and _time_ordered(batch):
            # the same interleaving in one pass: each union holds what the write brings it and
            # emits it merged in time order (upstream unions first, as they feed the later ones)
            for u in self.merging_unions:
                u.pending = []
            msg = StreamChunk.of_group(batch, UNGROUPED, db, rp)
            try:
                for src in self.sources:
                    src.push(msg, 0)
                for u in self.merging_unions:
                    u.flush_merged()
            finally:
                for u in self.merging_unions:
                    u.pending = None
            return
        if self.interleave and len(batch) > 1:
            # a union sees its parents' points interleaved in time, as Kapacitor's concurrent
            # nodes deliver them: feed runs of equal time one after the other
            for part in _time_runs(batch):
                msg = StreamChunk.of_group(part, UNGROUPED, db, rp)
                for src in self.sources:
                    src.push(msg, 0)
            return
        msg = StreamChunk.of_group(batch, UNGROUPED, db, rp)
        for src in self.sources:
            src.push(msg, 0)

    def write_batch(self, query_index: int, msg: BatchMessage) -> None:
        if self.finished:
            return
        if query_index >= len(self.queries):
            raise TaskError(
                f"task {self.id} has {len(self.queries)} query node(s), no query #{query_index + 1}"
            )
        self.points_in += 1
        self.queries[query_index].push(msg, 0)

    def tick(self, now_ns: int, *, end: bool = False, expiry_budget_ns: int | None = None) -> None:
        """Time moved: nodes driven by the clock (stats, barrier idle) look at it. ``end`` marks
        the clock running on after a replay's data ended. ``expiry_budget_ns`` bounds the time
        spent deleting idle groups (live: the server's tick must not stall; a replay expires
        every due group at its time, for results that do not depend on the machine)."""
        if not end:
            # like a barrier's idle timer, expiry does not outrun a replay whose data ended;
            # a bounded slice of work per tick (expiry_backlog: more is due, tick again soon)
            until = None if expiry_budget_ns is None else time.monotonic_ns() + expiry_budget_ns
            self.expiry_backlog = False
            for node in self.expiring:
                if node.expire_groups(now_ns, until):
                    self.expiry_backlog = True
        for n in self.tickers:
            n.tick(now_ns, end)
        self._sample_throughput()

    def _sample_throughput(self) -> None:
        wall = time.monotonic_ns()
        if wall - self._sampled_ns >= 1_000_000_000:
            self._rate = (self.points_in - self._sampled_points) * 1e9 / (wall - self._sampled_ns)
            self._sampled_ns, self._sampled_points = wall, self.points_in

    def node_named(self, name: str) -> Node:
        for n in self.nodes.values():
            if n.name == name:
                return n
        names = ", ".join(n.name for n in self.nodes.values())
        raise TaskError(f"task {self.id} has no node {name} (its nodes: {names})")

    def add_tap(self, node: str, tap: Tap) -> None:
        """Let ``tap`` read what ``node`` emits from now on (kapfast.engine.tap)."""
        n = self.node_named(node)
        n.taps = (*n.taps, tap)

    def remove_tap(self, tap: Tap) -> None:
        for n in self.nodes.values():
            if tap in n.taps:
                n.taps = tuple(t for t in n.taps if t is not tap)

    def finish(self, checkpointed: bool = False) -> None:
        """The task's input ended (replay end, task stop). ``checkpointed``: a checkpoint of it
        was just stored, so state a node would flush at the end stays there (no output twice
        when the task restarts from it)."""
        if self.finished:
            return
        self.finished = True
        for n in self.nodes.values():
            n.checkpointed = checkpointed
        for n in self.nodes.values():
            taps, n.taps = n.taps, ()
            for t in taps:
                t.end()
        for spec in self.pipeline.nodes:
            if not spec.parents:
                self.nodes[spec.id].finish(0)
        for cb in self.ctx.on_close:
            cb()

    def snapshot(self) -> bytes:
        """A checkpoint of the task: the state of every stateful node (windows' buffered points
        and next boundaries, join/combine/flatten buffers, derivative/difference/stateDuration/
        stateCount/changeDetect last values, moving averages, barrier timers, sample counts,
        alert states, lambdas' stateful functions, UDF agents' ``Snapshot``), as one versioned
        blob tied to the task's definition (kapfast.engine.checkpoint).

        Take it between messages (on the thread that feeds the task). Hand it to
        :meth:`restore` of a new Task built from the same pipeline — in this process, after a
        restart, or on another worker — and the new task carries on as this one would have."""
        return self.take_snapshot()()

    def take_snapshot(self) -> Callable[[], bytes]:
        """The checkpoint of :meth:`snapshot` taken now (between messages, on the thread that
        feeds the task), encoded when called, on any thread: a node with a large state (a window
        of millions of points) is only copied here, and encoded by the caller later, so that the
        engine thread is not held for the encoding (issue #19)."""
        taken: dict[str, bytes | Callable[[], bytes]] = {}
        for n in self.nodes.values():
            data = n.take_state()
            if data is not None:
                taken[n.name] = data
        definition = self.definition

        def encode() -> bytes:
            nodes = {name: d() if callable(d) else d for name, d in taken.items()}
            return checkpoint.pack_task(definition, nodes)

        return encode

    def restore(self, data: bytes) -> None:
        """Give a new task (before any data) the state :meth:`snapshot` took.

        Raises :class:`~kapfast.engine.checkpoint.SnapshotMismatch` (a TaskError) for a
        checkpoint of another definition of the task (its TICKscript or template vars changed),
        of another format, or malformed; the task may then hold part of it: discard the task
        and start a fresh one (``TaskMaster`` does, with a warning in the log). A UDF agent
        refusing its state raises UDFError."""
        nodes = checkpoint.unpack_task(data, self.definition)
        by_name = {n.name: n for n in self.nodes.values()}
        unknown = sorted(set(nodes) - set(by_name))
        if unknown:
            raise checkpoint.SnapshotMismatch(
                f"the checkpoint has state of nodes this task lacks: {', '.join(unknown)}"
            )
        for name, part in nodes.items():
            by_name[name].restore_state(part)

    def abort(self) -> None:
        """The task failed: stop what runs outside of it (UDF agents) at once."""
        for n in self.nodes.values():
            stop = getattr(n, "abort", None)
            if stop is not None:
                stop()

    def http_out(self, endpoint: str) -> dict[str, Any] | None:
        render = self.http_out_snapshot(endpoint)
        return None if render is None else render()

    def http_out_snapshot(self, endpoint: str) -> Callable[[], dict[str, Any]] | None:
        """The httpOut node's body as a snapshot taken now, rendered when called (on any
        thread: :meth:`HttpOutNode.snapshot`); None when no node has this endpoint."""
        for n in self.nodes.values():
            if isinstance(n, HttpOutNode) and n.endpoint == endpoint:
                return n.snapshot()
        return None

    def throughput(self) -> float:
        """Points (batches for a batch task) per second through the task's sources, as Kapacitor
        samples it every second: the rate of the last second sampled, so an idle task shows 0.
        Before the first sample (and for a replay, which does not last one), the average since
        the start."""
        if self._rate is not None:
            return self._rate
        secs = (time.monotonic_ns() - self.started_ns) / 1e9
        return self.points_in / secs if secs > 0 else 0.0

    def stats(self) -> dict[str, Any]:
        """``{"throughput", "nodes": {name: stats}, "edges": {"a->b": n}}`` for ``Pipeline.to_dot``."""
        nodes: dict[str, dict[str, Any]] = {}
        edges: dict[str, int] = {}
        for n in self.nodes.values():
            nodes[n.name] = n.stat_values()
            for child, _ in n.children:
                edges[f"{n.name}->{child.name}"] = n.edge_emitted.get(child.name, 0)
        return {"throughput": self.throughput(), "nodes": nodes, "edges": edges}

    def node_stats(self) -> dict[str, dict[str, Any]]:
        """Kapacitor's ``node-stats`` (``ExecutionStats``): per node exactly Kapacitor's set,
        its statMap plus ``collected`` (what its parent edges carried) and ``emitted`` (the sum
        of its child edges)."""
        out: dict[str, dict[str, Any]] = {}
        for n in self.nodes.values():
            d: dict[str, Any] = n.stat_values()
            d["collected"] = n.stats.collected
            d["emitted"] = n.stats.emitted
            out[n.name] = d
        return out

    def extra_stats(self) -> dict[str, dict[str, int]]:
        """kapfast's own node counters (Node.extra_values), of the nodes that have any."""
        out: dict[str, dict[str, int]] = {}
        for n in self.nodes.values():
            extra = n.extra_values()
            if extra:
                out[n.name] = extra
        return out

    def dot(self, labels: bool = True) -> str:
        return self.pipeline.to_dot(self.id, self.stats())


#: node kinds that pass each point on with its own time, whatever the chunks' sizes, and act on
#: nothing outside the task: a union fed only through them can merge a time-ordered write at once
#: (the order it would see one timestamp at a time is the merge in time order, equal times in
#: arrival order)
_TIME_KEEPING = frozenset({"stream", "from", "where", "eval", "default", "delete"})


def _mergeable_unions(pipeline: Pipeline) -> list[int]:
    """``[the union's id]`` when the task has one union and no other node with several parents,
    every node upstream of it keeps its
    points' times (``_TIME_KEEPING``, ``from`` without ``truncate``/``round``) and every other
    node is downstream of it; else ``[]``. Then everything that acts (outputs, alerts, logs) sees
    the union's merged output, so the write's effects are those of the one-timestamp-at-a-time
    feed, in the same order."""
    unions = [s for s in pipeline.nodes if s.kind == "union"]
    if len(unions) != 1 or any(len(s.parents) > 1 and s.kind != "union" for s in pipeline.nodes):
        return []  # a join's (combine's...) pairing depends on how its parents interleave
    specs = {s.id: s for s in pipeline.nodes}
    union = unions[0]

    def reach(start: int, step: str) -> set[int]:
        seen: set[int] = set()
        todo = list(getattr(specs[start], step))
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(getattr(specs[i], step))
        return seen

    upstream, downstream = reach(union.id, "parents"), reach(union.id, "children")
    if len(upstream) + len(downstream) + 1 != len(specs):
        return []
    for i in upstream:
        spec = specs[i]
        if spec.kind not in _TIME_KEEPING:
            return []
        if spec.kind == "from" and (spec.properties.get("truncate") or spec.properties.get("round")):
            return []
    return [union.id]


def _time_ordered(batch: PointBatch) -> bool:
    t = np.asarray(batch.time())
    return bool(np.all(t[1:] >= t[:-1]))


def _time_runs(batch: PointBatch) -> list[PointBatch]:
    """The batch cut into runs of consecutive rows with the same time."""
    t = np.asarray(batch.time())
    if len(t) == 0:
        return []
    cuts = np.flatnonzero(t[1:] != t[:-1]) + 1
    if len(cuts) == 0:
        return [batch]
    bounds = [0, *cuts.tolist(), len(t)]
    return [batch.take(np.arange(a, b, dtype=np.int64)) for a, b in itertools.pairwise(bounds)]
