"""A partition's state of the partitioned tasks: taken on the worker that releases it, put on the
one that takes it (docs/scaleout.md, "State that moves").

A worker runs each partitioned task as a :class:`~kapfast.engine.sharded.ShardedTask`, one
instance per partition. A partition's checkpoint (object ``p.<N>`` of ``kapfast_state``) is the
stream sequence it covers and, per partitioned task, its instance's ``Task.snapshot()`` there,
taken between two messages of the partition's feed: the next owner puts them back before its
feed reads the message after that sequence.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from kapfast.batch import PointBatch
from kapfast.cluster.partition import split
from kapfast.cluster.placement import PARTITIONED, placement
from kapfast.engine import checkpoint
from kapfast.engine.context import TaskContext
from kapfast.engine.sharded import ShardedTask
from kapfast.engine.task import Task
from kapfast.tick import Pipeline


def pack_partition(seq: int, states: dict[str, bytes]) -> bytes:
    """A partition's checkpoint: the sequence covered, then each task's state by task id."""
    ids = sorted(states)
    return struct.pack("<Q", seq) + checkpoint.pack(ids, *(states[i] for i in ids))


def unpack_partition(data: bytes) -> tuple[int, dict[str, bytes]]:
    if len(data) < 8:
        raise checkpoint.SnapshotMismatch("a partition checkpoint is truncated")
    (seq,) = struct.unpack_from("<Q", data)
    if len(data) == 8:
        return int(seq), {}
    ids, blobs = checkpoint.unpack(data[8:], "partition checkpoint")
    if not isinstance(ids, list) or len(ids) != len(blobs):
        raise checkpoint.SnapshotMismatch("a partition checkpoint is malformed")
    return int(seq), {str(i): b for i, b in zip(ids, blobs, strict=True)}


class PartitionStates:
    """How a worker's task master runs partitioned tasks (one instance per partition) and how a
    partition's state leaves and enters it. ``master`` is the task master the server shares
    (its calls run on the engine thread, between two batches); ``owned`` says whether this
    worker owns a partition now."""

    def __init__(self, master: Any, key: list[str], partitions: int, owned: Callable[[int], bool]) -> None:
        self.master = master
        self.key = key
        self.partitions = partitions
        self.owned = owned

    def task_factory(
        self, task_id: str, pipeline: Pipeline, make_ctx: Callable[[], TaskContext]
    ) -> Task | None:
        """The task master's ``task_factory``: a partitioned task runs by partition."""
        if placement(pipeline, self.key)[0] != PARTITIONED:
            return None
        key, n = self.key, self.partitions

        def by_partition(batch: PointBatch) -> dict[int, PointBatch]:
            return split(batch, key, n)

        return ShardedTask(task_id, pipeline, make_ctx, by_partition, self.owned)

    def _later(self, fn: Callable[[], None]) -> Future[None] | None:
        """``fn`` on the engine thread, behind what is queued: a future for the event loop to
        await (never blocked on the engine); run at once (None) without an engine thread."""
        engine = getattr(self.master, "engine", None)
        if engine is None:
            fn()
            return None
        fut: Future[None] = engine.call(fn)
        return fut

    def _sharded(self) -> list[ShardedTask]:
        return [t for t in list(self.master.tasks.values()) if isinstance(t, ShardedTask)]

    def _take(self, p: int) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for t in self._sharded():
            data = t.shard_snapshot(p)
            if data is not None:
                out[t.id] = data
        return out

    def take_later(self, p: int) -> Future[dict[str, bytes]] | dict[str, bytes]:
        """Every partitioned task's state of partition ``p`` (tasks without points there: none),
        taken on the engine thread behind the points handed to it so far (its queue is in
        order): the state covers exactly them. A future, for the event loop to await instead of
        blocking on the engine; the state itself without an engine thread."""
        engine = getattr(self.master, "engine", None)
        if engine is None:
            return self._take(p)
        fut: Future[dict[str, bytes]] = engine.call(self._take, p)
        return fut

    def put(self, p: int, states: dict[str, bytes]) -> Future[None] | None:
        """Partition ``p``'s instances replaced by ``states`` (a task absent there starts empty),
        on the engine thread: a future to await (None: done)."""

        def put() -> None:
            for t in self._sharded():
                t.put_shard(p, states.get(t.id))

        return self._later(put)

    def drop(self, p: int) -> Future[None] | None:
        """Partition ``p``'s instances forgotten (it went to another worker with its state), on
        the engine thread: a future to await (None: done)."""

        def drop() -> None:
            for t in self._sharded():
                t.drop_shard(p)

        return self._later(drop)
