"""``window``: stream points → one batch per group per window, as Kapacitor's windowByTime and
windowByCount. Every group's buffer lives in one Rust object (``rust/src/stateops/windows.rs``
has the rules) fed whole chunks; the windows a chunk closes go out together as a ``BatchSet``,
in the order of the points that closed them.

When the window's only child is an aggregate or selector on a stream edge, the set carries the
closed windows as they are in Rust (the child reduces them in one call, no Python object per
window); for an aggregate, which reads one field, the window buffers only time, measurement and
that field.
"""

from __future__ import annotations

from collections.abc import Callable

from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import Barrier, BatchMessage, BatchSet, DeleteGroup, StreamChunk
from kapfast.engine.node import GroupInts, Node
from kapfast.engine.nodes.base import dur_ns
from kapfast.engine.nodes.influxql import InfluxQLNode
from kapfast.errors import TaskError
from kapfast.stateops import StateWindows
from kapfast.tick.pipeline import Node as NodeSpec


class WindowNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        period_count = int(p.get("periodCount") or 0)
        every_count = int(p.get("everyCount") or 0) or period_count
        period, every = dur_ns(p.get("period")), dur_ns(p.get("every"))
        if min(period, every, period_count, every_count) < 0:
            raise TaskError(f"{self.name}: window period and every must not be negative")
        # Kapacitor's default every is 0: emit on every point (a right-aligned window of period)
        self.windows = StateWindows(
            period=period,
            every=every,
            align=bool(p.get("align")),
            fill=bool(p.get("fillPeriod")),
            period_count=period_count,
            every_count=every_count,
        )
        self.time_based = not period_count
        self.ints = GroupInts()
        #: whether windows go out in Rust to a reducing child (decided on the first chunk,
        #: once the children are linked)
        self.fast: bool | None = None
        #: group ints below this have their Group object in ``windows`` (``set_group``)
        self._tagged = 0

    def _reducing_child(self) -> bool:
        if len(self.children) != 1:
            return False
        child = self.children[0][0]
        if not isinstance(child, InfluxQLNode) or child.spec.provides == "batch":
            return False
        if child.shape == "aggregate" and self.group_emitted is None:
            # nobody else reads the windows' points
            self.windows.narrow([child.field])
            return True
        return child.shape == "selector"

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        gints = self.ints.codes(chunk)
        if self.fast is None:
            self.fast = self._reducing_child()
        if self.fast:
            ints = self.ints
            while self._tagged < ints.next:
                new = ints.groups.get(self._tagged)
                if new is not None:
                    self.windows.set_group(self._tagged, new)
                self._tagged += 1
            closed_set = self.windows.feed_closed(chunk.batch, gints)
            if len(closed_set):
                self.emit(BatchSet(closed=closed_set, groups=ints.groups))
            return
        closed = self.windows.feed(chunk.batch, gints)
        if not closed:
            return
        groups = self.ints.groups
        msgs = []
        for g, name, tmax, points, _ in closed:
            group = groups[g]
            msgs.append(BatchMessage(name, group, tmax, points, group.by_measurement))
        self.emit(msgs[0] if len(msgs) == 1 else BatchSet(msgs))

    def on_barrier(self, barrier: Barrier, port: int) -> None:
        """Kapacitor's windowByTime.Barrier: the group's window closes when the barrier's time
        reached its next emit (the last window of an idle group goes out); a time window
        consumes the barrier, a count window passes it on."""
        if not self.time_based:
            self.emit(barrier)
            return
        g = self.ints.int_of_id(barrier.group.id)
        closed = None if g is None else self.windows.barrier(g, barrier.time)
        if closed is not None:
            _, name, tmax, points, _ = closed
            group = self.ints.groups[g]  # type: ignore[index]
            self.emit(BatchMessage(name, group, tmax, points, group.by_measurement))

    def on_delete_group(self, msg: DeleteGroup, port: int) -> None:
        g = self.ints.forget(msg.group.id)
        if g is not None:
            self.windows.reset(g)
        self.emit(msg)

    def working_cardinality(self) -> int:
        return len(self.windows)

    def buffered_points(self) -> int:
        return self.windows.held_points()

    def snapshot_state(self) -> bytes:
        """Every group's buffered points and next boundary (Rust), and the groups' ints."""
        return self.take_state()()

    def take_state(self) -> Callable[[], bytes]:
        """The state of :meth:`snapshot_state` taken now, encoded when called: taking it shares
        the windows' sealed parts and copies their open columns (milliseconds for millions of
        points); the encoding, most of the cost, runs on the checkpoint thread, without the GIL."""
        meta = {"ints": self.ints.to_json(), "tagged": self._tagged}
        frozen = self.windows.freeze()
        return lambda: checkpoint.pack(meta, frozen.encode())

    def restore_state(self, data: bytes) -> None:
        meta, blobs = checkpoint.unpack(data, self.name)
        try:
            self.windows.restore(blobs[0])
            self.ints.load_json(meta["ints"])
            self._tagged = int(meta["tagged"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise checkpoint.SnapshotMismatch(f"{self.name}: {exc}") from None
        # the windows know a group by its Group object (the checkpoint's tags are the objects')
        for g in range(self._tagged):
            group = self.ints.groups.get(g)
            if group is not None:
                self.windows.set_group(g, group)
