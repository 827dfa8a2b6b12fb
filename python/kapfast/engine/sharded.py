"""A task run as one instance per shard: what lets a cluster worker hand one partition's state
of a partitioned task to another worker (docs/scaleout.md, "State that moves").

A partitioned task's groups never span two partitions (kapfast.cluster.placement), so running it
as one :class:`Task` per partition gives exactly what one instance gives, group by group. Each
instance's checkpoint (``Task.snapshot()``: windows, joins, alert levels, ...) is then the state
of one partition, and moves with it: :meth:`ShardedTask.shard_snapshot` on the worker that
releases it, :meth:`ShardedTask.put_shard` on the one that takes it. No node kind needs to know
how to cut its state by group.

To the task master and the read surfaces (``kapfast show``, /metrics, /debug/vars, httpOut) a
ShardedTask is one task: statistics are summed over the instances (a released partition's
counters stay counted), httpOut's series are the instances' series one partition after the
other, and its own checkpoint (a restart or redefinition of the task in the same process) is
the instances' checkpoints by shard.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

from kapfast.batch import PointBatch
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import NodeStats
from kapfast.engine.node import Node
from kapfast.engine.tap import Tap
from kapfast.engine.task import Task
from kapfast.tick.pipeline import Pipeline

log = logging.getLogger("kapfast.tasks")

#: a ShardedTask's own checkpoint: the instances' checkpoints by shard
MAGIC = b"KFSH"


def _add(into: NodeStats, edges: dict[str, int], n: Node) -> None:
    """``n``'s counters added to ``into`` and its edges' to ``edges``."""
    into.collected += n.stats.collected
    into.emitted += n.stats.emitted
    into.errors += n.stats.errors
    into.exec_ns += n.stats.exec_ns
    into.exec_count += n.stats.exec_count
    for k, v in n.stats.extra.items():
        into.extra[k] = into.extra.get(k, 0) + v
    for k, v in n.edge_emitted.items():
        edges[k] = edges.get(k, 0) + v


class _SummedNode(Node):
    """One node of a sharded task as the read surfaces see it: the instances' statistics of the
    node summed (refreshed by :meth:`ShardedTask.refresh`: every tick and every stats read)."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.held = None
        #: the counters of the instances dropped (partitions moved away): counters never go back
        self.retired = NodeStats()
        self.retired_edges: dict[str, int] = {}
        self._cardinality = 0
        self._buffered: int | None = None
        self._extra: dict[str, int] = {}

    def retire(self, n: Node) -> None:
        _add(self.retired, self.retired_edges, n)

    def refresh(self, nodes: list[Node]) -> None:
        r = self.retired
        s = NodeStats(r.collected, r.emitted, r.errors, r.exec_ns, r.exec_count, dict(r.extra))
        edges = dict(self.retired_edges)
        extra: dict[str, int] = {k: v for k, v in r.extra.items() if k not in self.stat_counters}
        cardinality, buffered = 0, None
        for n in nodes:
            _add(s, edges, n)
            for k, v in n.extra_values().items():
                extra[k] = extra.get(k, 0) + v
            cardinality += n.cardinality()
            b = n.buffered_points()
            if b is not None:
                buffered = (buffered or 0) + b
        self.stats, self.edge_emitted = s, edges
        self._cardinality, self._buffered, self._extra = cardinality, buffered, extra

    def cardinality(self) -> int:
        return self._cardinality

    def buffered_points(self) -> int | None:
        return self._buffered

    def extra_values(self) -> dict[str, int]:
        return dict(self._extra)


class ShardedTask(Task):
    """One :class:`Task` per shard (a cluster partition), built when its first points come or
    when its state is put; see the module's docstring.

    ``split`` cuts a batch by shard (in order within a shard); ``make_ctx`` gives each instance
    its own context (its own ``on_close``); ``keep`` says which shards' state a restore keeps
    (a worker restarting owns no partition yet: each comes back with its partition's
    checkpoint from NATS, never from this process's older, local one)."""

    def __init__(
        self,
        task_id: str,
        pipeline: Pipeline,
        make_ctx: Callable[[], TaskContext],
        split: Callable[[PointBatch], dict[int, PointBatch]],
        keep: Callable[[int], bool],
    ) -> None:
        # Task.__init__ is not called: the nodes are those of the instances, summed
        self.id = task_id
        self.pipeline = pipeline
        self.ctx = make_ctx()
        self.make_ctx = make_ctx
        self.split = split
        self.keep = keep
        self.shards: dict[int, Task] = {}
        self.nodes = {spec.id: _SummedNode(spec, self.ctx) for spec in pipeline.nodes}
        for spec in pipeline.nodes:
            parent = self.nodes[spec.id]
            for child_id in spec.children:
                parent.link(self.nodes[child_id], pipeline.node(child_id).parents.index(spec.id))
        self.sources = [
            self.nodes[s.id] for s in pipeline.nodes if s.kind in ("stream", "batch") and not s.parents
        ]
        self.queries = []
        self.tickers = []
        self.expiring = []
        self.expiry_backlog = False
        self.measurements = self._measurements()
        self.dbrps = set(pipeline.dbrps)
        self.interleave = False
        self.merging_unions = []
        self.points_in = 0
        self.finished = False
        self.definition = checkpoint.definition_hash(pipeline)
        self._taps: list[tuple[str, Tap]] = []

    # --- shards --------------------------------------------------------------------------------

    def _shard(self, shard: int) -> Task:
        t = self.shards.get(shard)
        if t is None:
            t = self.shards[shard] = Task(self.id, self.pipeline, self.make_ctx())
            t.dbrps = self.dbrps
            for node, tap in self._taps:
                t.add_tap(node, tap)
        return t

    def shard_snapshot(self, shard: int) -> bytes | None:
        """The checkpoint of one shard's instance (None: it has had no points)."""
        t = self.shards.get(shard)
        return None if t is None else t.snapshot()

    def put_shard(self, shard: int, data: bytes | None) -> None:
        """Replace a shard's instance by one holding ``data`` (a :meth:`shard_snapshot`; None:
        empty). A checkpoint of another definition of the task is not used (logged): the
        shard starts empty, as a restarted task does."""
        self.drop_shard(shard)
        if not data:
            return
        t = self._shard(shard)
        try:
            t.restore(data)
        except checkpoint.SnapshotMismatch as exc:
            log.warning(
                "partition checkpoint not used, the task's groups of the partition start empty",
                extra={"tags": {"task": self.id, "partition": str(shard), "reason": str(exc)}},
            )
            self._drop(shard, t)

    def drop_shard(self, shard: int) -> None:
        """Forget a shard's instance (its state went with its partition): nothing is flushed,
        its counters stay counted."""
        t = self.shards.get(shard)
        if t is not None:
            self._drop(shard, t)

    def _drop(self, shard: int, t: Task) -> None:
        del self.shards[shard]
        for n in t.nodes.values():
            summed = self.nodes.get(n.spec.id)
            if isinstance(summed, _SummedNode):
                summed.retire(n)
            n.taps = ()  # the taps go on with the other instances
        t.abort()
        t.finish(checkpointed=True)  # what a node flushes at the end stays in the checkpoint
        self.refresh()

    def refresh(self) -> None:
        """The summed nodes' statistics from the instances now."""
        for spec_id, summed in self.nodes.items():
            if isinstance(summed, _SummedNode):
                summed.refresh([t.nodes[spec_id] for t in self.shards.values()])

    # --- the Task interface ----------------------------------------------------------------------

    def write_points(self, batch: PointBatch, db: str = "", rp: str = "", shard: int | None = None) -> None:
        if self.finished or not len(batch):
            return
        self.points_in += len(batch)
        if shard is not None:  # a partition feed's points: all on that partition, no hashing
            self._shard(shard).write_points(batch, db, rp)
            return
        for shard, part in self.split(batch).items():
            self._shard(shard).write_points(part, db, rp)

    def tick(self, now_ns: int, *, end: bool = False, expiry_budget_ns: int | None = None) -> None:
        self.expiry_backlog = False
        for t in list(self.shards.values()):
            t.tick(now_ns, end=end, expiry_budget_ns=expiry_budget_ns)
            self.expiry_backlog = self.expiry_backlog or t.expiry_backlog
        self.refresh()

    def snapshot(self) -> bytes:
        parts = [MAGIC, struct.pack("<I", len(self.shards))]
        for shard, t in sorted(self.shards.items()):
            data = t.snapshot()
            parts += [struct.pack("<IQ", shard, len(data)), data]
        return b"".join(parts)

    def restore(self, data: bytes) -> None:
        if data[:4] != MAGIC:
            raise checkpoint.SnapshotMismatch("not the checkpoint of a task run by partition")
        pos = 4
        try:
            (n,) = struct.unpack_from("<I", data, pos)
            pos += 4
            for _ in range(n):
                shard, size = struct.unpack_from("<IQ", data, pos)
                pos += 12
                part = data[pos : pos + size]
                pos += size
                if len(part) != size:
                    raise checkpoint.SnapshotMismatch("checkpoint is truncated")
                if self.keep(shard):
                    self._shard(shard).restore(part)
        except struct.error:
            raise checkpoint.SnapshotMismatch("checkpoint is truncated") from None

    def finish(self, checkpointed: bool = False) -> None:
        if self.finished:
            return
        self.finished = True
        for t in self.shards.values():
            t.finish(checkpointed)
        for _node, tap in self._taps:
            tap.end()
        self._taps = []

    def abort(self) -> None:
        for t in self.shards.values():
            t.abort()

    def add_tap(self, node: str, tap: Tap) -> None:
        self.node_named(node)  # TaskError for a node the task lacks
        self._taps.append((node, tap))
        for t in self.shards.values():
            t.add_tap(node, tap)

    def remove_tap(self, tap: Tap) -> None:
        self._taps = [(n, t) for n, t in self._taps if t is not tap]
        for t in self.shards.values():
            t.remove_tap(tap)

    def http_out_snapshot(self, endpoint: str) -> Callable[[], dict[str, Any]] | None:
        """The instances' snapshots, taken now; rendered: their series one shard after the other
        (no instance has points yet: an httpOut of this task answers empty)."""
        renders = []
        for _shard, t in sorted(self.shards.items()):
            taken = t.http_out_snapshot(endpoint)
            if taken is not None:
                renders.append(taken)
        if not renders:
            has = any(
                n.kind == "httpOut" and n.args and str(n.args[0]) == endpoint for n in self.pipeline.nodes
            )
            return (lambda: {"series": None}) if has else None

        def render() -> dict[str, Any]:
            bodies = [r() for r in renders]
            series = [s for b in bodies for s in b.get("series") or []]
            return {**bodies[0], "series": series or None}

        return render

    def throughput(self) -> float:
        return sum(t.throughput() for t in self.shards.values())

    def stats(self) -> dict[str, Any]:
        self.refresh()
        return super().stats()

    def node_stats(self) -> dict[str, dict[str, Any]]:
        self.refresh()
        return super().node_stats()

    def extra_stats(self) -> dict[str, dict[str, int]]:
        self.refresh()
        return super().extra_stats()
