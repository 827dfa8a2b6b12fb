"""The base of every running node: receive messages from parents, emit to children, keep stats.

Nodes are wired synchronously: ``parent.emit(msg)`` calls ``child.push(msg, port)`` for each child,
where ``port`` is the parent's position among the child's parents (join and union need it).
Subclasses override the ``on_*`` handlers they need; the defaults pass messages through.

Statistics are kept here, in one place, as Kapacitor's ``node.go``/``edge.go`` define them: every
edge counts the messages it carried (points on a stream edge, batches on a batch edge; barriers
and group deletions are not counted); a node's ``collected`` is what its parent edges carried to
it and its ``emitted`` the sum over its child edges (0 for a node without children, twice the
points for a node with two children). ``working_cardinality`` of the kinds Kapacitor runs on a
grouped consumer (the node table's ``grouped``) is the groups received and not deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from kapfast.batch import Codes, GroupIntTable, GroupTable
from kapfast.engine.checkpoint import SnapshotMismatch, group_of_json, groups_json
from kapfast.engine.context import TaskContext
from kapfast.engine.expiry import EXPIRY_SLICE, GroupExpiry
from kapfast.engine.messages import (
    Barrier,
    BatchMessage,
    BatchSet,
    DeleteGroup,
    Group,
    Message,
    NodeStats,
    StreamChunk,
    codes_array,
)
from kapfast.engine.tap import Tap
from kapfast.engine.tap import render as render_tap
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.tick.registry import NODES


class Node:
    """A node of a running task. ``spec`` is the compiler's description (docs/pipeline.md)."""

    #: fed points, it may wait on something outside the process (a web server, a UDF agent, a
    #: cloud API) for seconds: kapfastd then never runs the task's points on its event loop
    #: (kapfast.server.engine_thread.Engine.submit)
    may_wait: ClassVar[bool] = False

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.name = spec.name
        self.children: list[tuple[Node, int]] = []
        self.stats = NodeStats()
        self.edge_emitted: dict[str, int] = {}
        self.log = logging.getLogger(f"kapfast.task.{ctx.task_id}.{spec.name}")
        #: how many parents feed this node; it finishes when all of them finished
        self.parent_count = max(1, len(spec.parents))
        self._finished_ports: set[int] = set()
        #: emitted counts per group (id -> [group, count]), kept only when a stats node watches
        self.group_emitted: dict[str, list[Any]] | None = None
        #: when the task expires idle groups and this node forms groups (kapfast.engine.expiry)
        self.expiry: GroupExpiry | None = None
        #: live readers of what this node emits (kapfast.engine.tap); replaced, never mutated
        self.taps: tuple[Tap, ...] = ()
        table = NODES.get(spec.kind)
        #: Kapacitor's own counters of this kind (``alerts_triggered`` ...), each from 0
        self.stat_counters: tuple[str, ...] = table.counters if table is not None else ()
        #: the groups received and not deleted, for kinds Kapacitor runs on a grouped consumer
        self.held: HeldGroups | None = HeldGroups() if table is not None and table.grouped else None
        #: the task stops after a checkpoint of its state was stored: what a node would flush at
        #: the end (join's unmatched sets) stays in the checkpoint instead of going out twice
        self.checkpointed = False

    # --- wiring --------------------------------------------------------------------------------

    def link(self, child: Node, port: int) -> None:
        self.children.append((child, port))
        self.edge_emitted[child.name] = 0

    # --- receiving -----------------------------------------------------------------------------

    def push(self, msg: Message, port: int = 0) -> None:
        """Handle one message from the parent at ``port``, timing it for ``avg_exec_time_ns``."""
        start = time.perf_counter_ns()
        held = self.held
        n = 1  # messages timed: each point or batch, as Kapacitor's timer times each message
        if isinstance(msg, StreamChunk):
            n = len(msg)
            self.stats.collected += n
            if held is not None:
                held.see(msg)
            self.on_chunk(msg, port)
        elif isinstance(msg, BatchMessage):
            self.stats.collected += 1
            if held is not None:
                held.see_one(msg.group)
            self.on_batch(msg, port)
        elif isinstance(msg, BatchSet):
            n = len(msg)
            self.stats.collected += n
            if held is not None:
                for b in msg.batches:
                    held.see_one(b.group)
            self.on_batch_set(msg, port)
        elif isinstance(msg, Barrier):
            self.on_barrier(msg, port)
        elif isinstance(msg, DeleteGroup):
            if held is not None:
                held.forget(msg.group.id)
            self.on_delete_group(msg, port)
        self.stats.exec_ns += time.perf_counter_ns() - start
        self.stats.exec_count += max(n, 1)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self.emit(chunk)

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        self.emit(batch)

    def on_batch_set(self, batches: BatchSet, port: int) -> None:
        """Several batches at once; by default handled one by one, in order."""
        for b in batches.batches:
            self.on_batch(b, port)

    def on_barrier(self, barrier: Barrier, port: int) -> None:
        self.emit(barrier)

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        self.emit(msg)

    def finish(self, port: int = 0) -> None:
        """The input at ``port`` ended (replay or task stop). When every input ended the node
        flushes (:meth:`on_finish`) and its children end too."""
        self._finished_ports.add(port)
        if len(self._finished_ports) < self.parent_count:
            return
        start = time.perf_counter_ns()
        self.on_finish()
        self.stats.exec_ns += time.perf_counter_ns() - start
        self.finish_children()

    def on_finish(self) -> None:
        """Every input ended: emit what is still buffered if Kapacitor does (join), else nothing."""

    # --- emitting ------------------------------------------------------------------------------

    def emit(self, msg: Message) -> None:
        if isinstance(msg, (StreamChunk, BatchSet)):
            n = len(msg)
            if n == 0:
                return  # an empty chunk (or set) carries nothing; children never see it
        else:
            n = 1 if isinstance(msg, BatchMessage) else 0
        # Kapacitor's emitted: what the child edges collected (nothing for a node without children)
        self.stats.emitted += n * len(self.children)
        if self.group_emitted is not None:
            self._count_groups(msg)
        if self.expiry is not None:
            self._touch_groups(msg)
        if self.taps:
            text, points = render_tap(msg)
            for tap in self.taps:
                tap.offer(text, points)
        for child, port in self.children:
            self.edge_emitted[child.name] += n
            child.push(msg, port)

    def _count_groups(self, msg: Message) -> None:
        ge = self.group_emitted
        assert ge is not None
        if isinstance(msg, StreamChunk):
            counts = np.bincount(codes_array(msg), minlength=len(msg.groups))
            for g, c in zip(msg.groups, counts.tolist(), strict=False):
                if c:
                    ge.setdefault(g.id, [g, 0])[1] += c
        elif isinstance(msg, BatchMessage):
            ge.setdefault(msg.group.id, [msg.group, 0])[1] += 1
        elif isinstance(msg, BatchSet):
            for b in msg.batches:
                ge.setdefault(b.group.id, [b.group, 0])[1] += 1
        elif isinstance(msg, DeleteGroup):
            ge.pop(msg.group.id, None)

    def _touch_groups(self, msg: Message) -> None:
        ex = self.expiry
        assert ex is not None
        if isinstance(msg, StreamChunk):
            ex.touch(msg.groups, self.ctx.now_ns())
        elif isinstance(msg, BatchMessage):
            ex.touch_one(msg.group, self.ctx.now_ns())
        elif isinstance(msg, BatchSet):
            ex.touch((b.group for b in msg.batches), self.ctx.now_ns())
        elif isinstance(msg, DeleteGroup):
            ex.forget(msg.group.id)  # deleted upstream: nothing left here to expire

    def expire_groups(self, now_ns: int, until_ns: int | None = None) -> bool:
        """Delete downstream the groups of this node idle for the task's group expiry, a slice
        at a time until the monotonic clock passes ``until_ns`` (at least one slice), so that a
        million groups expiring at once never stall the server: the rest go at the next tick.
        True when idle groups are left."""
        if self.expiry is None:
            return False
        while True:
            due = self.expiry.due(now_ns, None if until_ns is None else EXPIRY_SLICE)
            for g in due:
                self.on_group_expired(g)
                self.emit(DeleteGroup(g))
            if until_ns is None or len(due) < EXPIRY_SLICE:
                return False
            if time.monotonic_ns() >= until_ns:
                return True

    def on_group_expired(self, group: Group) -> None:
        """This node's own memory of an expired group (its children drop theirs on DeleteGroup)."""

    def finish_children(self) -> None:
        for child, port in self.children:
            child.finish(port)

    # --- checkpoints (kapfast.engine.checkpoint) -----------------------------------------------

    def snapshot_state(self) -> bytes | None:
        """This node's state as checkpoint bytes; None for a node without state. Every kind the
        node table marks ``stateful`` overrides it (and :meth:`restore_state`)."""
        return None

    def take_state(self) -> bytes | Callable[[], bytes] | None:
        """This node's state for a checkpoint taken now, on the engine thread: its bytes, or a
        function that encodes the state taken now into those bytes later, on another thread (a
        node whose state can be millions of points: issue #19). By default the bytes of
        :meth:`snapshot_state`."""
        return self.snapshot_state()

    def restore_state(self, data: bytes) -> None:
        """Take back what :meth:`snapshot_state` gave (on a fresh node of the same definition,
        before any data); SnapshotMismatch for bytes that are not such a checkpoint."""
        raise SnapshotMismatch(f"{self.name}: a {self.spec.kind} node has no state to restore")

    # --- errors and stats ----------------------------------------------------------------------

    def error(self, count: int, message: str | None) -> None:
        """Count ``count`` points that failed (e.g. lambda errors) and log the first reason."""
        if count <= 0:
            return
        self.stats.errors += count
        if message and not self.spec.properties.get("quiet"):
            self.log.error("%s: %d point(s) skipped: %s", self.name, count, message)

    def working_cardinality(self) -> int:
        """Live groups this node keeps state for (0 for stateless nodes)."""
        return 0

    def cardinality(self) -> int:
        """Kapacitor's ``working_cardinality``: for kinds Kapacitor runs on a grouped consumer the
        groups received and not deleted, else what the node class counts (groupBy) or 0."""
        if self.held is not None:
            return len(self.held)
        return self.working_cardinality()

    def buffered_points(self) -> int | None:
        """Points the node holds and has not sent on (kapfast's ``buffered_points`` statistic,
        ``kapfast_node_buffered_points``), counted without a look at each point; None for a
        node that keeps none (the node table's ``buffers`` column says which kinds do)."""
        return None

    def stat_values(self) -> dict[str, int]:
        """The node's statistics exactly as Kapacitor's node ``statMap`` has them (the node-stats
        of the task JSON without collected/emitted): ``avg_exec_time_ns`` (ns, an int),
        ``errors``, ``working_cardinality`` and the kind's own counters."""
        out: dict[str, int] = {
            "avg_exec_time_ns": self.stats.avg_exec_ns(),
            "errors": self.stats.errors,
            "working_cardinality": self.cardinality(),
        }
        extra = self.stats.extra
        for k in self.stat_counters:
            out[k] = extra.get(k, 0)
        return out

    def extra_values(self) -> dict[str, int]:
        """kapfast's own counters, which Kapacitor has not (``events_dropped`` of an alert node,
        ``groups_expired``): kept apart so that clients comparing Kapacitor's exact set of node
        statistics do not trip over them (docs/operations.md)."""
        out = {k: v for k, v in self.stats.extra.items() if k not in self.stat_counters}
        if self.expiry is not None:
            out["groups_expired"] = self.expiry.expired
        buffered = self.buffered_points()
        if buffered is not None:  # a gauge: the points held now
            out["buffered_points"] = buffered
        return out


class GroupInts:
    """Stable ints for the groups a node keeps Rust state for (the kernels key state by int).

    An int is never reused: a group forgotten (DeleteGroup) and seen again gets a new one.
    The ints and their groups live in one Rust table (``GroupIntTable``): a chunk's groups are
    found by their id hashes (the same object without reading its id), so a chunk of groups
    seen before costs no Python work per group, and a group costs a table entry, not dict
    entries and an int object (#20).
    """

    __slots__ = ("table",)

    def __init__(self) -> None:
        self.table = GroupIntTable()

    @property
    def groups(self) -> GroupIntTable:
        """int -> the Group object first seen with it (``[i]``, ``.get(i)``, ``.items()``)."""
        return self.table

    @property
    def next(self) -> int:
        """The int the next new group gets."""
        return self.table.next

    def int_of(self, group: Group) -> int:
        return self.table.int_of(group)

    def int_of_id(self, group_id: str) -> int | None:
        """The int of the group of this id, None when it has none."""
        return self.table.get_id(group_id)

    def codes(self, chunk: StreamChunk) -> Codes:
        """Per row of a chunk: its group's int (a Rust buffer the node's kernels read as is)."""
        return self.table.codes(chunk)

    def forget(self, group_id: str) -> int | None:
        return self.table.forget(group_id)

    def to_json(self) -> list[Any]:
        """The ints and their groups, for a checkpoint (the Rust state is keyed by these ints)."""
        return [self.table.next, groups_json(self.table.items())]

    def load_json(self, raw: Any) -> None:
        """Ints and groups from :meth:`to_json` (new group objects are matched by id)."""
        nxt, groups = raw
        self.table.load(int(nxt), [(int(i), group_of_json(g)) for i, g in groups])


class HeldGroups:
    """The groups a node received and has not seen deleted (Kapacitor's grouped consumer keeps
    one receiver per group; its count is the node's ``working_cardinality``).

    A Rust ``GroupTable``: a chunk's groups are found by their id's hash without a Python
    operation per group, and a held group costs a table entry, not a dict entry and an int (#19).
    """

    __slots__ = ("table",)

    def __init__(self) -> None:
        self.table = GroupTable()

    def __len__(self) -> int:
        return len(self.table)

    def see_one(self, group: Group) -> None:
        if self.table.get(group) is None:
            self.table.add(group)

    def see(self, chunk: StreamChunk) -> None:
        """The groups of a chunk's rows. A chunk may list groups none of its rows has (a
        ``where`` keeps its input's list): those are not held."""
        groups = chunk.groups
        if len(groups) == 1:
            self.see_one(groups[0])
            return
        self.table.see(chunk)

    def forget(self, group_id: str) -> None:
        self.table.forget(group_id)


def first_seen(codes: npt.NDArray[np.uint32] | npt.NDArray[np.intp], n_codes: int) -> npt.NDArray[np.intp]:
    """The distinct codes (each below ``n_codes``) in order of first appearance: one pass over
    the rows and a sort of the distinct codes only (``np.unique`` sorts every row)."""
    n = len(codes)
    first = np.full(n_codes, n, dtype=np.intp)
    np.minimum.at(first, codes, np.arange(n, dtype=np.intp))
    used = np.flatnonzero(first < n)
    return used[np.argsort(first[used], kind="stable")]


def last_rows(codes: npt.NDArray[np.uint32] | npt.NDArray[np.intp], n_codes: int) -> npt.NDArray[np.intp]:
    """The last row of each code (each below ``n_codes``), in row order."""
    last = np.full(n_codes, -1, dtype=np.intp)
    np.maximum.at(last, codes, np.arange(len(codes), dtype=np.intp))
    return np.sort(last[last >= 0])
