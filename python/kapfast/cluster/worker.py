"""Workers: membership, partition and task leases in NATS KV, and the JetStream consumers that
feed the local task master.

Every ``lease-ttl / 3`` a worker renews its member key, then reconciles:

- partitions: the alive workers, sorted by node id, own partition ``p`` in turn
  (``workers[p % len(workers)]``); a worker takes the lease of each partition it should own
  (``create``: only when nobody holds it), renews the leases it holds (``update`` checked against
  the revision it holds: a lease that expired and was taken by another worker is lost, never
  stolen back) and releases those it should no longer own (scale-up). A dead worker's keys expire
  after ``lease-ttl``; the others take its partitions on their next round, so within
  ``lease-ttl + lease-ttl/3``.
- placed tasks (placement.py): the same with one lease per task, owner by rendezvous hashing.

An owned partition is read by the durable pull consumer ``kapfast-p<N>``, created anew on every
takeover from the stream sequence after the partition's checkpoint, so nothing written after it
is lost. The checkpoint (object ``p.<N>`` of ``kapfast_state``, written every
``checkpoint-interval`` and on release) holds that sequence and the partition's state of every
partitioned task (each runs one instance per partition: kapfast.cluster.shards), taken between two
messages: the next owner puts the state back before reading the message after it, so a window
open across the move counts every point once.

A placed task's state moves with it: every ``checkpoint-interval`` and on release its owner
stores ``Task.snapshot()`` with the stream sequence it covers (taken between two messages) as one
object of ``kapfast_state``; the next owner starts the task from that state and reads the stream
from the sequence after it, so no point is counted twice in the state.

Alert events are delivered once across a takeover: after each fetch it applied, and before the
ack, a feed stores the last sequence whose events went to the handlers (``d.<lease key>`` in
``kapfast_checkpoints``); the next owner applies what it reads again up to there with the
deliveries muted (kapfast.engine.alert.node.DeliveryGate), rebuilding the state only.

A round NATS does not answer (a JetStream leader election) keeps the leases and is retried
soon; a feed stops applying at its lease's ``valid_until`` until a renewal goes through, and
only a renewal refused on its revision gives a lease up (docs/scaleout.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

from kapfast.batch import PointBatch
from kapfast.cluster.connection import SUBJECT_PREFIX, ClusterHandles, subject
from kapfast.cluster.ingest import Decoded, decode
from kapfast.cluster.partition import fnv1a64, merge_in_order
from kapfast.cluster.placement import PARTITIONED, placement
from kapfast.cluster.shards import PartitionStates, pack_partition, unpack_partition
from kapfast.config import ClusterConfig, parse_go_duration
from kapfast.engine.checkpoint import SnapshotMismatch
from kapfast.jobs import cancel_and_wait
from kapfast.storage import TaskRecord
from kapfast.tick import Pipeline

log = logging.getLogger("kapfast.cluster")
T = TypeVar("T")

FETCH_BATCH = 256
#: what a feed's points are applied to: (db, rp, batch, task ids or None for every task,
#: replay: the points were applied by a previous owner, which delivered their alert events,
#: shard: the partition every point is on, when the feed reads one, else None), returning a
#: future of their run on the engine thread (awaited before the feed acks them; the event loop
#: is never blocked while the engine is busy), or None when they ran at once
Apply = Callable[[str, str, PointBatch, "set[str] | None", bool, "int | None"], "Future[None] | None"]
#: a feed's applying function: (db, rp, batch, replay)
#: a running task's state: bytes, or a future of them (taken on the engine thread)
SnapshotOf = Callable[[str], "Future[bytes | None] | bytes | None"]
FeedApply = Callable[[str, str, PointBatch, bool], "Future[None] | None"]


async def _settled(done: Future[None] | None) -> None:
    """Wait for work handed to the engine thread without blocking the event loop."""
    if done is not None:
        await asyncio.wrap_future(done)


def partition_durable(p: int) -> str:
    return f"kapfast-p{p}"


def task_durable(task_id: str) -> str:
    return "kapfast-t-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in task_id)


def _lease_key(kind: str, ident: str) -> str:
    return f"{kind}.{ident}" if kind == "p" else f"t.{fnv1a64(ident.encode()):016x}"


def _delivered_key(lease_key: str) -> str:
    """``kapfast_checkpoints`` key of the sequence up to which a feed's events were delivered."""
    return f"d.{lease_key}"


def task_state_key(task_id: str) -> str:
    """The key of a placed task's lease and of its checkpoint in ``kapfast_state``."""
    return _lease_key("t", task_id)


#: a request whose messages do not all arrive (its ingest node died mid-publish; the writer got
#: an error and retried) is applied as it is after this long
STALE_REQUEST_S = 5.0


@dataclass
class _Pending:
    first_seq: int
    parts: int
    since: float
    got: list[Decoded] = field(default_factory=list)


class Feed:
    """One durable pull consumer applying what it reads, in stream order. With ``reorder`` (a
    placed task's feed, reading every partition) the messages of one write request are applied
    together, its points in the order they were written."""

    def __init__(
        self,
        h: ClusterHandles,
        stream: str,
        durable: str,
        filter_subject: str,
        apply: FeedApply,
        *,
        reorder: bool = False,
        delivered_key: str = "",
        inactive_threshold: float | None = None,
    ) -> None:
        self.h = h
        self.stream = stream
        self.durable = durable
        self.filter_subject = filter_subject
        self.apply = apply
        self.reorder = reorder
        #: NATS deletes the consumer after this long unread (its reader died): None, never
        self.inactive_threshold = inactive_threshold
        self.last_seq = 0
        self.applied_points = 0
        #: the messages up to this sequence were applied by this feed or an earlier owner's, and
        #: the alert events they made handed to the handlers: read again after a takeover, they
        #: rebuild the state with the deliveries muted (never an event twice)
        self.delivered = 0
        #: where ``delivered`` is stored (kapfast_checkpoints), after each fetch and before its ack
        self.delivered_key = delivered_key
        self._replay = False
        #: until when (monotonic) the lease of what this feed reads surely holds: points are
        #: applied only before it (a worker stalled past its lease stops applying at once, before
        #: it learns that another worker took over)
        self.valid_until = float("inf")
        self._pending: dict[str, _Pending] = {}
        #: points handed to the engine thread, not yet known to have run (awaited before the ack)
        self._running: list[tuple[Future[None], int]] = []
        self._task: asyncio.Task[None] | None = None

    def checkpoint_seq(self) -> int | None:
        """The sequence a checkpoint may say it covers: None while a request is half applied.
        (Points up to it may still be queued for the engine thread: a task's state taken after
        them, queued behind them on the engine thread, covers them.)"""
        return None if self._pending else self.last_seq

    async def start(self, after_seq: int | None) -> None:
        """Read from the message after ``after_seq`` (None: from the first one stored)."""
        with contextlib.suppress(NotFoundError):
            await self.h.js.delete_consumer(self.stream, self.durable)
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.ALL,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after_seq else DeliverPolicy.ALL,
            opt_start_seq=after_seq + 1 if after_seq else None,
            max_ack_pending=FETCH_BATCH * 4,
            ack_wait=30,
            inactive_threshold=self.inactive_threshold,
        )
        await self.h.js.add_consumer(self.stream, config)
        self.last_seq = after_seq or 0
        sub = await self.h.js.pull_subscribe_bind(self.durable, self.stream)
        self._task = asyncio.get_running_loop().create_task(self._run(sub))

    async def _run(self, sub: Any) -> None:
        while True:
            try:
                msgs = await sub.fetch(FETCH_BATCH, timeout=1.0)
            except TimeoutError:
                self._flush_stale()
                await self._settle()
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # disconnects: retry, the consumer is durable
                log.warning("consumer %s: %s", self.durable, exc)
                await asyncio.sleep(0.5)
                continue
            while time.monotonic() >= self.valid_until:  # renewed, or this feed is stopped
                await asyncio.sleep(0.05)
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq <= self.last_seq:
                    continue  # delivered again (its ack was lost while NATS failed over): applied
                self._replay = seq <= self.delivered
                d = decode(msg)
                if self.reorder and d.request and d.parts > 1:
                    self._collect(d, seq)
                else:
                    self._apply(d.db, d.rp, d.batch)
                self.last_seq = seq
            self._replay = False
            self._flush_stale()
            await self._settle()
            if msgs:
                await self._store_delivered()
                with contextlib.suppress(Exception):
                    await msgs[-1].ack()

    async def _store_delivered(self) -> None:
        """Record that the events of what was applied up to ``last_seq`` went to the handlers,
        before acking it (retried until stored: while NATS fails over the feed waits here; a
        stopped feed is cancelled)."""
        if not self.delivered_key or self.last_seq <= self.delivered:
            return
        body = json.dumps({"seq": self.last_seq, "time": time.time()}).encode()
        while True:
            try:
                await asyncio.wait_for(self.h.checkpoints.put(self.delivered_key, body), 5)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s: storing its delivered sequence: %r (retrying)", self.durable, exc)
                await asyncio.sleep(0.25)
        self.delivered = self.last_seq

    def _apply(self, db: str, rp: str, batch: PointBatch) -> None:
        try:
            running = self.apply(db, rp, batch, self._replay)
        except Exception:  # the router already logs engine failures; never stall the feed
            log.exception("consumer %s: applying points failed", self.durable)
            running = None
        if running is None:
            self.applied_points += len(batch)
        else:
            self._running.append((running, len(batch)))

    async def _settle(self) -> None:
        """Wait (without blocking the event loop) for the points handed to the engine thread."""
        running, self._running = self._running, []
        for fut, n in running:
            try:
                await asyncio.wrap_future(fut)
            except Exception:  # the router already logs engine failures; never stall the feed
                log.exception("consumer %s: applying points failed", self.durable)
            self.applied_points += n

    def _collect(self, d: Decoded, seq: int) -> None:
        p = self._pending.setdefault(d.request, _Pending(seq, d.parts, time.monotonic()))
        p.got.append(d)
        if len(p.got) == p.parts:
            del self._pending[d.request]
            self._apply_request(p)

    def _apply_request(self, p: _Pending) -> None:
        order = next((d.order for d in p.got if d.order is not None), None)
        first = p.got[0]
        parts = [(d.partition, d.batch) for d in p.got]
        try:
            if order is None or len(p.got) < p.parts:
                raise ValueError("incomplete")
            batch = merge_in_order(parts, order)
        except ValueError:  # a request cut short: its points as they came
            batch = PointBatch.concat([b for _p, b in parts])
        self._apply(first.db, first.rp, batch)

    def _flush_stale(self) -> None:
        now = time.monotonic()
        for req, p in list(self._pending.items()):
            if now - p.since >= STALE_REQUEST_S:
                log.warning(
                    "consumer %s: request %s incomplete (%d/%d messages): applied as is",
                    self.durable,
                    req,
                    len(p.got),
                    p.parts,
                )
                del self._pending[req]
                self._apply_request(p)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


@dataclass
class _Lease:
    key: str
    revision: int
    feed: Feed | None = None
    task_id: str = ""  # a placed task's lease: its state is checkpointed too
    partition: int = -1  # a partition's lease: its partitioned tasks' state is checkpointed too


@dataclass
class _TaskSlot:
    record: TaskRecord
    pipeline: Pipeline
    kind: str
    why: str
    executing: bool = False


@dataclass
class WorkerStatus:
    partitions: list[int] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)


class ClusterRunner:
    """Wraps the server's task runner: partitioned tasks start at once (they only ever see the
    points of this worker's partitions); placed tasks start only on the holder of their lease."""

    def __init__(self, inner: Any, key: list[str], worker: Worker | None) -> None:
        self.inner = inner
        self.key = key
        self.worker = worker
        self.slots: dict[str, _TaskSlot] = {}

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        kind, why = placement(pipeline, self.key)
        slot = _TaskSlot(task, pipeline, kind, why)
        self.stop(task.id)
        self.slots[task.id] = slot
        if self.worker is None:
            return  # an ingest-only node runs no task
        if kind == PARTITIONED or task.id in self.worker.tasks:
            # partitioned, or placed here already (a redefinition: the task master keeps its
            # state across the restart, and the feed goes on where it was)
            self.inner.start(task, pipeline)
            slot.executing = True
        else:
            self.worker.wake()

    def run_placed(self, task_id: str) -> bool:
        slot = self.slots.get(task_id)
        if slot is None:
            return False
        if not slot.executing:
            self.inner.start(slot.record, slot.pipeline)
            slot.executing = True
        return True

    def stop_placed(self, task_id: str) -> None:
        slot = self.slots.get(task_id)
        if slot is not None and slot.executing:
            self.inner.stop(task_id)
            slot.executing = False

    def stop(self, task_id: str) -> None:
        slot = self.slots.pop(task_id, None)
        if slot is not None and slot.executing:
            self.inner.stop(task_id)

    def is_executing(self, task_id: str) -> bool:
        slot = self.slots.get(task_id)
        return bool(slot and slot.executing and self.inner.is_executing(task_id))

    def partitioned(self) -> set[str]:
        return {i for i, s in self.slots.items() if s.kind == PARTITIONED and s.executing}

    def placed(self) -> list[str]:
        return sorted(i for i, s in self.slots.items() if s.kind != PARTITIONED)

    def __getattr__(self, name: str) -> Any:  # dot, stats, close, ...: the inner runner's
        return getattr(self.inner, name)


class Worker:
    def __init__(
        self,
        cc: ClusterConfig,
        h: ClusterHandles,
        node_id: str,
        apply: Apply,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.cc = cc
        self.h = h
        self.node_id = node_id
        self.apply = apply
        self.info = info or {}
        self.runner: ClusterRunner | None = None
        #: a running task's state (None: not running here) and how a task is given the state
        #: it starts from (None: none, start fresh): kapfastd's task master and store
        self.snapshot_of: SnapshotOf = lambda task_id: None
        self.seed: Callable[[str, bytes | None], None] = lambda task_id, data: None
        #: a partition's state of the partitioned tasks: taken, put back, forgotten
        #: (kapfast.cluster.shards.PartitionStates; none: nothing to hand over)
        self.shards: PartitionStates | None = None
        #: partitions are taken only once the node knows the cluster's tasks (the control plane
        #: applied its bucket): a partition's state put back into tasks not defined yet is lost
        self.ready = True
        self.ttl_s = parse_go_duration(cc.lease_ttl) / 1e9
        self.op_timeout_s = max(1.0, self.ttl_s / 4)
        #: reading or writing a checkpoint with state (an object of any size)
        self.state_timeout_s = max(self.op_timeout_s, self.ttl_s / 2)
        self.checkpoint_s = parse_go_duration(cc.checkpoint_interval) / 1e9
        self.partitions: dict[int, _Lease] = {}
        self.tasks: dict[str, _Lease] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_checkpoint = 0.0
        self.is_worker = cc.role in ("worker", "both")

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._heartbeat()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        """A clean stop: checkpoints written, leases released (others take over at once)."""
        await cancel_and_wait(self._task)
        for p in list(self.partitions):
            await self._release_partition(p)
        for t in list(self.tasks):
            await self._release_task(t)
        with contextlib.suppress(Exception):
            await self.h.members.delete(self.node_id)

    async def _loop(self) -> None:
        while True:
            retry_soon = False
            try:
                retry_soon = not await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: keep trying; leases simply expire meanwhile
                log.warning("cluster round failed: %r", exc)
                retry_soon = True
            self._wake.clear()
            # a round cut short by NATS (a JetStream leader election) is retried soon: the
            # leases must be renewed before they expire
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25 if retry_soon else self.ttl_s / 3)

    async def _op(self, aw: Awaitable[T]) -> T:
        """One KV operation of a round, bounded well below the lease TTL (nats-py's own timeout
        is 5 s: a round stuck that long while JetStream elects a leader lets leases expire)."""
        return await asyncio.wait_for(aw, self.op_timeout_s)

    async def _heartbeat(self) -> None:
        body = {"role": self.cc.role, "time": time.time(), "ready": self.ready, **self.info}
        await self._op(self.h.members.put(self.node_id, json.dumps(body).encode()))

    async def members(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        try:
            keys = await self._op(self.h.members.keys())
        except NotFoundError:  # nats-py: no keys at all
            return out
        except Exception as exc:
            if "no keys" in str(exc).lower():
                return out
            raise
        for k in keys:
            # a member NATS does not answer for raises (never taken for gone: its partitions
            # would move); one that expired since keys() is gone
            with contextlib.suppress(NotFoundError):
                entry = await self._op(self.h.members.get(k))
                out[k] = json.loads(entry.value or b"{}")
        return out

    async def _round(self) -> bool:
        """One round; False when NATS did not answer part of it (retried soon)."""
        # the leases first: they are what expires. A renewal NATS does not answer (a leader
        # election) keeps the lease, and its feed stops applying at its ``valid_until`` until a
        # renewal goes through; only a lost revision gives the lease up.
        if not await self._renew():
            return False
        await self._heartbeat()
        if not self.is_worker or not self.ready:
            return True
        members = await self.members()
        workers = sorted(
            k for k, v in members.items() if v.get("role") in ("worker", "both") and v.get("ready", True)
        )
        if self.node_id not in workers:
            workers = sorted([*workers, self.node_id])
        await self._renew()
        for p in range(self.cc.partitions):
            mine = workers[p % len(workers)] == self.node_id
            if mine and p not in self.partitions:
                await self._acquire_partition(p)
            elif not mine and p in self.partitions:
                await self._release_partition(p)
        if self.runner is not None:
            placed = self.runner.placed()
            for t in placed:
                mine = max(workers, key=lambda w: fnv1a64(f"{w}\x00{t}".encode())) == self.node_id
                if mine and t not in self.tasks:
                    await self._acquire_task(t)
                elif not mine and t in self.tasks:
                    await self._release_task(t)
            for t in list(self.tasks):
                if t not in placed:  # disabled or deleted
                    await self._release_task(t, keep_checkpoint=False)
        if time.monotonic() - self._last_checkpoint >= self.checkpoint_s:
            await self.checkpoint()
        return True

    async def _renew(self) -> bool:
        """Renew every lease held; False when NATS did not answer for one of them."""
        answered = True
        for p, lease in list(self.partitions.items()):
            held = await self._renew_one(lease)
            if held is False:
                await self._lost_partition(p)
            answered = answered and held is not None
        for t, lease in list(self.tasks.items()):
            held = await self._renew_one(lease)
            if held is False:
                await self._lost_task(t)
            answered = answered and held is not None
        return answered

    def _valid_until(self, sent: float) -> float:
        # NATS counts the TTL from when it stored the renewal, after `sent`: a margin for
        # clock rate differences and the time the feed needs to notice
        return sent + self.ttl_s * 0.75

    async def _renew_one(self, lease: _Lease) -> bool | None:
        """Renew a lease against the revision held: False when it expired or another worker
        holds it now (never stolen back: that worker has resumed from the checkpoint), None
        when NATS did not answer (kept: retried soon)."""
        for _attempt in range(2):
            sent = time.monotonic()
            try:
                lease.revision = await self._op(
                    self.h.leases.update(lease.key, self.node_id.encode(), last=lease.revision)
                )
            except KeyWrongLastSequenceError:
                # an earlier renewal may have been stored without its answer reaching us (NATS
                # failing over): the key still names this node at a later revision. Adopt it
                # and renew once more, so the TTL counts from a renewal sent now.
                current = await self._holder(lease.key)
                if current is None:
                    return None
                if current[0] != self.node_id or current[1] == lease.revision:
                    log.warning("lease %s lost (expired or taken over)", lease.key)
                    return False
                lease.revision = current[1]
                continue
            except Exception as exc:
                log.warning("lease %s not renewed: %r (retrying)", lease.key, exc)
                return None
            if lease.feed is not None:
                lease.feed.valid_until = self._valid_until(sent)
            return True
        return None

    async def _holder(self, key: str) -> tuple[str, int] | None:
        """(holder, revision) of a lease, ("", 0) when nobody holds it, None when NATS did not
        answer."""
        try:
            entry = await self._op(self.h.leases.get(key))
        except NotFoundError:
            return "", 0
        except Exception:
            return None
        return (entry.value or b"").decode(), int(entry.revision or 0)

    async def _take(self, key: str) -> tuple[int, float] | None:
        sent = time.monotonic()
        try:
            rev = await self._op(self.h.leases.create(key, self.node_id.encode()))
            return int(rev), self._valid_until(sent)
        except Exception:
            return None

    async def _checkpoint_of(self, key: str) -> int | None:
        """The sequence a checkpoint entry names (None: never written). NATS not answering
        raises: a feed must never start from the wrong place."""
        try:
            entry = await self._op(self.h.checkpoints.get(key))
        except NotFoundError:
            return None
        if not entry.value:
            return None
        return int(json.loads(entry.value)["seq"])

    async def _acquire_partition(self, p: int) -> None:
        key = _lease_key("p", str(p))
        taken = await self._take(key)
        if taken is None:
            return  # still held (its owner releases it on its next round, or it expires)
        rev, valid_until = taken
        runner = self.runner

        def apply(db: str, rp: str, batch: PointBatch, replay: bool) -> Future[None] | None:
            # every point of the feed is on partition p: the partitioned tasks' instance is
            # picked by it, no point hashed again
            return self.apply(db, rp, batch, runner.partitioned() if runner is not None else set(), replay, p)

        feed = Feed(
            self.h, self.cc.stream, partition_durable(p), subject(p), apply, delivered_key=_delivered_key(key)
        )
        feed.valid_until = valid_until
        try:
            after, states = await self._partition_state(key)
            feed.delivered = await self._checkpoint_of(_delivered_key(key)) or 0
            if self.shards is not None:  # before the feed applies the message after `after`
                await _settled(self.shards.put(p, states))
            await feed.start(after)
        except Exception:
            if self.shards is not None:
                await _settled(self.shards.drop(p))
            await self._give_back(key, rev)
            raise
        self.partitions[p] = _Lease(key, rev, feed, partition=p)
        log.info(
            "partition %d taken from sequence %d (delivered to %d)", p, feed.last_seq + 1, feed.delivered
        )

    async def _give_back(self, key: str, revision: int) -> None:
        """A lease taken whose feed could not start (NATS failing over): released, so that the
        next round (here or elsewhere) takes it again at once."""
        with contextlib.suppress(Exception):
            await self._op(self.h.leases.delete(key, last=revision))

    async def _acquire_task(self, task_id: str) -> None:
        key = _lease_key("t", task_id)
        taken = await self._take(key)
        if taken is None or self.runner is None:
            return
        rev, valid_until = taken
        feed = Feed(
            self.h,
            self.cc.stream,
            task_durable(task_id),
            f"{SUBJECT_PREFIX}.*",
            lambda db, rp, batch, replay: self.apply(db, rp, batch, {task_id}, replay, None),
            reorder=True,
            delivered_key=_delivered_key(key),
        )
        feed.valid_until = valid_until
        try:
            after, state = await self._task_state(key)
            if after is None:
                # no checkpoint, not even the starting sequence its define stores before it
                # answers (control.py; NATS was away then): the task reads from where the stream
                # is now, so the points written between the define's answer and now are not
                # seen (docs/scaleout.md, "Placement")
                info = await self._op(self.h.js.stream_info(self.cc.stream))
                after = int(info.state.last_seq)
                # and that place is its first checkpoint: an owner dying before its first
                # periodic one must not make the next owner start later (points lost)
                await self._op(self.h.state.put(key, struct.pack("<Q", after)))
            feed.delivered = await self._checkpoint_of(_delivered_key(key)) or 0
        except Exception:
            await self._give_back(key, rev)
            raise
        self.seed(task_id, state)
        self.runner.run_placed(task_id)
        try:
            await feed.start(after)
        except Exception:
            self.runner.stop_placed(task_id)
            await self._give_back(key, rev)
            raise
        self.tasks[task_id] = _Lease(key, rev, feed, task_id)
        log.info("task %s placed here from sequence %d (delivered to %d)", task_id, after + 1, feed.delivered)

    async def _lost_partition(self, p: int) -> None:
        lease = self.partitions.pop(p)
        if lease.feed is not None:
            await lease.feed.stop()
        if self.shards is not None:  # another worker took it from its checkpoint
            await _settled(self.shards.drop(p))

    async def _lost_task(self, task_id: str) -> None:
        lease = self.tasks.pop(task_id)
        if lease.feed is not None:
            await lease.feed.stop()
        if self.runner is not None:
            self.runner.stop_placed(task_id)

    async def _release_partition(self, p: int) -> None:
        lease = self.partitions.pop(p)
        if lease.feed is not None:
            await lease.feed.stop()
            try:
                await self._write_checkpoint(lease)
            except Exception as exc:  # the new owner reads from the last one written
                log.warning("checkpoint of %s not written: %r", lease.key, exc)
        if self.shards is not None:  # its state is in the checkpoint (or in an older one, with
            await _settled(self.shards.drop(p))  # the older sequence it covers)
        with contextlib.suppress(Exception):
            await self.h.leases.delete(lease.key, last=lease.revision)

    async def _partition_state(self, key: str) -> tuple[int | None, dict[str, bytes]]:
        """A partition's checkpoint: (the stream sequence covered, each partitioned task's state
        there), or (None, {}) when it was never written. A checkpoint of an older kapfast (the
        sequence alone, in ``kapfast_checkpoints``) is read too. NATS not answering raises."""
        try:
            obj = await asyncio.wait_for(self.h.state.get(key), self.state_timeout_s)
        except NotFoundError:
            return await self._checkpoint_of(key), {}
        try:
            return unpack_partition(obj.data or b"")
        except SnapshotMismatch as exc:  # never from the wrong place: the sequence or nothing
            log.error("partition checkpoint %s unreadable (%s): read from the start", key, exc)
            return None, {}

    async def _release_task(self, task_id: str, *, keep_checkpoint: bool = True) -> None:
        lease = self.tasks.pop(task_id)
        if lease.feed is not None:
            await lease.feed.stop()
            if keep_checkpoint:
                try:
                    await self._write_checkpoint(lease)
                except Exception as exc:  # the new owner reads from the last one written
                    log.warning("checkpoint of %s not written: %r", lease.key, exc)
        if not keep_checkpoint:
            with contextlib.suppress(Exception):
                await self.h.state.delete(lease.key)
            with contextlib.suppress(Exception):
                await self.h.checkpoints.delete(_delivered_key(lease.key))
        if self.runner is not None:
            self.runner.stop_placed(task_id)
        with contextlib.suppress(Exception):
            await self.h.leases.delete(lease.key, last=lease.revision)

    async def _task_state(self, key: str) -> tuple[int | None, bytes | None]:
        """A placed task's checkpoint: (the stream sequence covered, its state), or (None, None).
        NATS not answering raises (starting the task afresh would lose its state)."""
        try:
            obj = await self._op(self.h.state.get(key))
        except NotFoundError:  # never checkpointed (or deleted with its task)
            return None, None
        data = obj.data or b""
        if len(data) < 8:
            return None, None
        (seq,) = struct.unpack_from("<Q", data)
        return int(seq), (data[8:] or None)

    async def _write_checkpoint(self, lease: _Lease) -> None:
        if lease.feed is None or not lease.feed.last_seq:
            return
        if time.monotonic() >= lease.feed.valid_until:
            return  # maybe not ours any more: the new owner's checkpoints decide
        if lease.task_id:
            # taken here, between two messages of the feed: the state covers exactly this
            # sequence (none while a write request is half applied: the next round writes it)
            seq = lease.feed.checkpoint_seq()
            if seq is None:
                return
            got = self.snapshot_of(lease.task_id)  # queued behind the points handed over so far
            state = (await asyncio.wrap_future(got) if isinstance(got, Future) else got) or b""
            await self.h.state.put(lease.key, struct.pack("<Q", seq) + state)
            return
        # the sequence and the state of the partition's instances at it: queued with no await
        # between (the feed hands messages over on this loop, between awaits; the engine
        # thread runs its queue in order, so the state covers exactly what was handed over)
        seq = lease.feed.last_seq
        taking = self.shards.take_later(lease.partition) if self.shards is not None else {}
        states = await asyncio.wrap_future(taking) if isinstance(taking, Future) else taking
        await asyncio.wait_for(self.h.state.put(lease.key, pack_partition(seq, states)), self.state_timeout_s)
        # and the sequence alone, where `kapfast cluster status` shows it (a takeover reads it
        # only when the object is absent: a checkpoint written by an older kapfast)
        body = {"seq": seq, "node": self.node_id, "time": time.time()}
        await self.h.checkpoints.put(lease.key, json.dumps(body).encode())

    async def checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        for lease in [*self.partitions.values(), *self.tasks.values()]:
            try:
                await asyncio.wait_for(self._write_checkpoint(lease), self.state_timeout_s)
            except Exception as exc:  # the next one will do: it only bounds what is read again
                log.warning("checkpoint of %s not written: %r", lease.key, exc)

    def status(self) -> WorkerStatus:
        return WorkerStatus(sorted(self.partitions), sorted(self.tasks))
