"""``kapacitorLoopback``: write points back into kapfast's own stream, to another db/rp.

As Kapacitor (``kapacitor_loopback.go``): a stream point gets the node's database and retention
policy, ``.measurement()`` when set, and the ``.tag()`` tags over its own; a batch's points are
written under the batch's name (Kapacitor does not apply ``.measurement()`` to batches) with the
node's tags over theirs. A task whose own dbrps include the node's (db, rp) is refused when it
starts ("loop detected on dbrp"), as Kapacitor refuses it. Stat ``points_written``.

Points go to ``ctx.services["loopback"]`` (a :class:`Loopback`; the server delivers through its
router, so stream recordings see them too). A loopback write made while points are being
delivered is queued and delivered right after, on the same thread: a chain of tasks feeding each
other never recurses, and each task sees its points in order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from kapfast.batch import PointBatch, batch_override
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, StreamChunk
from kapfast.engine.node import Node
from kapfast.errors import TaskError
from kapfast.tick.checks import repeated_pairs
from kapfast.tick.pipeline import Node as NodeSpec

SERVICE_KEY = "loopback"

Target = Callable[[str, str, PointBatch], None]


class Loopback:
    """Delivers loopback points to ``target(db, rp, batch)``; re-entrant writes are queued."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._local = threading.local()

    def write(self, db: str, rp: str, batch: PointBatch) -> None:
        q: deque[tuple[str, str, PointBatch]] | None = getattr(self._local, "queue", None)
        if q is not None:  # inside a delivery on this thread: after it
            q.append((db, rp, batch))
            return
        q = self._local.queue = deque([(db, rp, batch)])
        try:
            while q:
                self.target(*q.popleft())
        finally:
            self._local.queue = None


class KapacitorLoopbackNode(Node):
    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.db = str(p.get("database") or "")
        self.rp = str(p.get("retentionPolicy") or "")
        self.measurement = str(p.get("measurement") or "")
        # later calls of the same key win, as Kapacitor's map
        self.tags = list({str(k): str(v) for k, v in repeated_pairs(p.get("tag"))}.items())
        self.stats.extra = {"points_written": 0}
        self.loopback: Loopback | None = ctx.services.get(SERVICE_KEY)

    def check_dbrps(self, dbrps: set[tuple[str, str]]) -> None:
        """Kapacitor's loop check against the task's own dbrps (the task calls it on start)."""
        if (self.db, self.rp) in dbrps:
            raise TaskError(f"{self.name}: loop detected on dbrp: {self.db}.{self.rp}")

    def _write(self, batch: PointBatch) -> None:
        if self.loopback is None:
            self.error(len(batch), "failed to write point over loopback: no loopback service here")
            return
        try:
            self.loopback.write(self.db, self.rp, batch)
        except Exception as exc:  # a consumer's failure must not stop this task
            self.error(len(batch), f"failed to write point over loopback: {exc}")
            return
        self.stats.extra["points_written"] += len(batch)

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        if len(chunk.batch):
            self._write(batch_override(chunk.batch, self.measurement, self.tags))

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        if len(batch.points):
            self._write(batch_override(batch.points, batch.name, self.tags))
