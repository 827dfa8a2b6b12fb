"""``@name()``: a User Defined Function node, its own agent per task node (kapfast.udf).

A chunk of stream points (or a batch) goes to the agent as one write of framed ``Point``
messages built in Rust from the columns. What it sends back is parsed in Rust into batches and
emitted in order: in kapfastd as it arrives (the agent's reader thread wakes the event loop, so
a slow agent does not hold up writes); offline (``kapfast test``, replays) a keepalive of our own
after each chunk, which the agent answers after everything before it, marks the end of what it
sent back for that chunk, so results are deterministic. Any agent failure raises
:class:`~kapfast.errors.UDFError`: the task master stops the task with that error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.errors import UDFError
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.udf.agent import Agent
from kapfast.udf.wire import udf_encode_batch, udf_encode_stream

T = TypeVar("T")


class UDFNode(Node):
    """The running ``@name()``; the node table has no row for it (``factory.UDF_IMPL``)."""

    may_wait = True  # for the agent to read its input

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        service = ctx.services.get("udf")
        if service is None or spec.udf not in service.infos:
            raise UDFError(
                f"{spec.name}: UDF {spec.udf!r} is not configured: add [udf.functions.{spec.udf}] "
                "to the config file (kapfastd -config, kapfast test -config)"
            )
        self.udf = spec.udf
        self.info = service.infos[spec.udf]
        try:
            self.agent: Agent = service.open(spec.udf, ctx.task_id, spec.name, spec.properties)
        except UDFError as exc:
            raise UDFError(f"{spec.name}: {exc}") from None
        #: output groups by id, so a group seen again is the same object
        self._groups: dict[tuple[str, bool], Group] = {}
        #: in kapfastd the agent's answers are taken as they arrive (the reader thread wakes the
        #: event loop), so a chunk costs one write; offline, each chunk waits for its answers
        wake = ctx.services.get("udf_wake")
        self.waits = wake is None
        if wake is not None:
            self._wake_pending = False

            def notify() -> None:
                if not self._wake_pending:
                    self._wake_pending = True
                    wake(self, self.drain)

            self.agent.notify = notify

    # --- data ----------------------------------------------------------------------------------

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        self._exchange(udf_encode_stream(chunk))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        g = batch.group
        data = udf_encode_batch(batch.name, g.id, g.tag_dict, batch.by_name, batch.tmax, batch.points)
        self._exchange(data)

    def _exchange(self, data: bytes) -> None:
        def send(out: list[tuple[Any, ...]]) -> None:
            self.agent.send(data)
            if self.waits:
                self.agent.barrier(out)
            else:
                self.agent.take(out)

        self._talk(send)

    def _talk(self, fn: Callable[[list[tuple[Any, ...]]], T]) -> T:
        """``fn(out)`` with the agent; what it sent meanwhile is emitted, also when it failed
        (then the error names this node)."""
        out: list[tuple[Any, ...]] = []
        try:
            result = fn(out)
        except UDFError as exc:
            self._emit_events(out)
            raise UDFError(f"{self.name}: {exc}") from None
        self._emit_events(out)
        return result

    def _group(self, gid: str, tags: list[tuple[str, str]], by_name: bool) -> Group:
        g = self._groups.get((gid, by_name))
        if g is None:
            g = Group(gid, tuple(k for k, _ in tags), by_name, tuple(tags))
            self._groups[(gid, by_name)] = g
        return g

    def _emit_events(self, events: list[tuple[Any, ...]]) -> None:
        for ev in events:
            kind = ev[0]
            if kind == "points":
                _, batch, codes, groups, db, rp = ev
                gs = [self._group(gid, tags, by_name) for gid, tags, by_name in groups]
                self.emit(StreamChunk(batch, codes, gs, db, rp))  # codes: little-endian u32 bytes
            elif kind == "batch":
                _, name, gid, tmax, tags, by_name, points = ev
                self.emit(BatchMessage(name, self._group(gid, tags, by_name), tmax, points, by_name))
            elif kind == "skipped":
                self.error(ev[1], f"from UDF {self.udf}: {ev[2]}")

    def drain(self) -> None:
        """Emit what the agent sent so far (woken by its reader thread, on the tasks' thread)."""
        self._wake_pending = False
        if not self.agent.closed:
            self._talk(self.agent.take)

    # --- time and end --------------------------------------------------------------------------

    def tick(self, now_ns: int, end: bool = False) -> None:
        """Take what the agent sent on its own, and keep it alive (keepalive timeout)."""
        self._talk(self.agent.poll)

    def on_finish(self) -> None:
        """The input ended: take the agent's last outputs, then stop it (stdin closed)."""
        if self.agent.failure is None and not self.agent.closed:
            out: list[tuple[Any, ...]] = []
            try:
                self.agent.barrier(out)
            except UDFError as exc:
                self.log.error("%s: %s", self.name, exc)
            self._emit_events(out)
        self.agent.close()

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot_state(self) -> bytes:
        """The agent's state (``SnapshotRequest``); what it emitted before answering goes on."""
        return self._talk(self.agent.snapshot)

    def restore_state(self, data: bytes) -> None:
        try:
            self.agent.restore(data)
        except UDFError as exc:
            raise UDFError(f"{self.name}: {exc}") from None

    def abort(self) -> None:
        """The task failed: stop the agent now."""
        self.agent.abort()
