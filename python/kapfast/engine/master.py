"""``TaskMaster``: the engine as the server sees it (``kapfast.engine.contract.TaskMasterAPI``).

All methods are synchronous and run on the caller's thread (the server calls them from its event
loop or an executor); a task's nodes run inside ``write_points`` of the points that feed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kapfast.batch import PointBatch
from kapfast.clock import Clock, VirtualClock, WallClock
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.checkpoint import SnapshotMismatch
from kapfast.engine.context import PointsWriter, TaskContext
from kapfast.engine.expiry import EXPIRY_BUDGET_NS
from kapfast.engine.explain import explain_nodes, explain_replay
from kapfast.engine.messages import BatchMessage
from kapfast.engine.nodes.loopback import SERVICE_KEY as LOOPBACK
from kapfast.engine.nodes.loopback import KapacitorLoopbackNode, Loopback
from kapfast.engine.replay import ReplayStats, replay_batches, replay_stream
from kapfast.engine.tap import Tap
from kapfast.engine.task import Task
from kapfast.errors import TaskError, UDFError
from kapfast.storage import Storage, TaskRecord
from kapfast.tick import Pipeline

log = logging.getLogger("kapfast.tasks")

#: a finished future: "no checkpoint of this task is being written"
_DONE: Future[None] = Future()
_DONE.set_result(None)


#: KAPFAST_CHECKPOINT_ON_ENGINE=1: a checkpoint is encoded where it is taken, on the engine
#: thread, as before issue #19's fix (benches/bench_responsive.py measures both in one run)
CHECKPOINT_ON_ENGINE = os.environ.get("KAPFAST_CHECKPOINT_ON_ENGINE") == "1"


def _store(storage: Storage, task_id: str, data: bytes | Callable[[], bytes]) -> None:
    storage.snapshots.put(task_id, data() if callable(data) else data)


def _log_unsaved(task_id: str, fut: Future[None]) -> None:
    exc = fut.exception()
    if exc is not None:
        log.error("task checkpoint not stored", extra={"tags": {"task": task_id, "err": str(exc)}})


class TaskMaster:
    """Runs tasks: starts/stops them, routes written points, answers stats, DOT and httpOut."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        writer: PointsWriter | None = None,
        name: str = "main",
        hostname: str = "localhost",
        cluster_id: str = "",
        server_id: str = "",
        services: dict[str, Any] | None = None,
        storage: Storage | None = None,
        group_expiry_ns: int = 0,
        snapshot_interval_ns: int = 0,
    ) -> None:
        self.clock: Clock = clock or WallClock()
        #: [task] snapshot-interval: checkpoints of running tasks' stateful nodes (0: never)
        self.snapshot_interval_ns = snapshot_interval_ns
        #: when each task's next checkpoint is due (clock ns)
        self._snapshot_due: dict[str, int] = {}
        #: the thread that writes checkpoints, and each task's last one written in the background
        self._saver: ThreadPoolExecutor | None = None
        self._saving: dict[str, Future[None]] = {}
        #: every task's idle-group expiry ([groups] expire-idle; 0: never, as Kapacitor)
        self.group_expiry_ns = group_expiry_ns
        #: a task's last tick left idle groups to delete (the server then ticks again soon)
        self.expiry_backlog = False
        self.writer = writer
        self.name = name
        self.hostname = hostname
        self.cluster_id = cluster_id
        self.server_id = server_id
        self.services = services if services is not None else {}
        if storage is not None:
            # alert nodes restore and persist their levels here (no re-fire after a restart)
            self.services.setdefault("alert_states", storage.alert_states)
        # one registry for all tasks: named topics are shared, as in Kapacitor
        self.services.setdefault("alert_topics", TopicRegistry())
        # kapacitorLoopback's points come back in here (the server delivers through its router)
        self.services.setdefault(LOOPBACK, Loopback(self.write_points))
        self.tasks: dict[str, Task] = {}
        self.storage = storage
        #: why tasks stopped on their own (a UDF agent failed), by task id
        self.failed: dict[str, str] = {}
        #: called with (task id, error) when a running task fails
        self.on_task_failed: Callable[[str, str], None] | None = None
        #: runs a callable on the thread that drives the tasks (kapfastd's event loop); None: UDF
        #: nodes wait for their agents' answers to each chunk instead (offline runs)
        self.post: Callable[[Callable[[], None]], Any] | None = None
        #: builds a live task in place of :class:`Task` when it returns one (None: a Task): a
        #: cluster worker runs its partitioned tasks one instance per partition
        #: (kapfast.engine.sharded), so that a partition's state can move
        self.task_factory: Callable[[str, Pipeline, Callable[[], TaskContext]], Task | None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` (kapfastd): UDF agents' answers are taken as they come, on the loop."""
        self.post = loop.call_soon_threadsafe

    def _wake(self, task_id: str, node: object, fn: Callable[[], None]) -> None:
        """From an agent's reader thread: run ``fn`` (the node taking its agent's output) on
        the tasks' thread, if ``node`` still belongs to the running task ``task_id``."""
        post = self.post
        if post is None:
            return

        def run() -> None:
            t = self.tasks.get(task_id)
            if t is None or all(n is not node for n in t.nodes.values()):
                return
            try:
                fn()
            except UDFError as exc:
                self.fail(task_id, exc)

        post(run)

    def _context(self, task_id: str, clock: Clock, task_master: str) -> TaskContext:
        services = dict(self.services)
        if self.post is not None and task_master == self.name:
            services["udf_wake"] = lambda node, fn: self._wake(task_id, node, fn)
        return TaskContext(
            task_id=task_id,
            clock=clock,
            task_master=task_master,
            writer=self.writer,
            hostname=self.hostname,
            cluster_id=self.cluster_id,
            server_id=self.server_id,
            group_expiry_ns=self.group_expiry_ns,
            services=services,
        )

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        """Start (or restart) a task; a pipeline kapfast cannot run raises TaskError."""
        self.stop(task.id)
        self.failed.pop(task.id, None)
        t = self._live_task(task.id, pipeline)
        t.dbrps = {(d.db, d.rp) for d in task.dbrps} or set(pipeline.dbrps)
        try:
            for node in t.nodes.values():
                if isinstance(node, KapacitorLoopbackNode):
                    node.check_dbrps(t.dbrps)
            t = self._restore(t, task, pipeline)
        except BaseException:
            t.abort()
            raise
        self.tasks[task.id] = t
        if self.snapshot_interval_ns > 0 and self.storage is not None:
            # as Kapacitor: a random splay in [0, interval) first, then every interval
            splay = random.randrange(self.snapshot_interval_ns)
            self._snapshot_due[task.id] = self.clock.now_ns() + splay

    def _live_task(self, task_id: str, pipeline: Pipeline) -> Task:
        def make_ctx() -> TaskContext:
            return self._context(task_id, self.clock, self.name)

        made = self.task_factory(task_id, pipeline, make_ctx) if self.task_factory is not None else None
        return made if made is not None else Task(task_id, pipeline, make_ctx())

    def _restore(self, t: Task, task: TaskRecord, pipeline: Pipeline) -> Task:
        """Give a starting task its stored checkpoint (after its UDFs' Init, before data). A
        checkpoint of another definition of the task (or another format, or damaged) is not
        used: the task starts fresh, with a warning in the log (Kapacitor would silently lose
        every window; kapfast keeps them when it can and says when it cannot)."""
        if self.storage is None:
            return t
        saved = self.storage.snapshots.get(t.id)
        if not saved:
            return t
        try:
            t.restore(saved)
        except SnapshotMismatch as exc:
            log.warning(
                "task checkpoint not used, the task starts without its saved state",
                extra={"tags": {"task": t.id, "reason": str(exc)}},
            )
            t.abort()
            fresh = self._live_task(task.id, pipeline)
            fresh.dbrps = t.dbrps
            return fresh
        return t

    def _checkpoint(self, t: Task, *, background: bool = False) -> None:
        """Store the task's checkpoint (every interval and when it stops cleanly).

        The state is taken here, between two messages; it is stored by the one checkpoint thread
        (a large one takes seconds to write, which the tasks need not wait for). ``background``
        (the interval's checkpoints): not waited for, and skipped while the task's previous one
        is still being written; otherwise waited for, after the task's earlier ones (one thread,
        in order: an older checkpoint never overwrites a newer one)."""
        if self.storage is None:
            return
        if background and not self._saving.get(t.id, _DONE).done():
            return  # still writing the previous one: the next interval's will do
        # taken here (a copy of what can still change), encoded and written on the checkpoint
        # thread: the engine thread is not held for the encoding of a large state (issue #19)
        data: bytes | Callable[[], bytes] = t.snapshot() if CHECKPOINT_ON_ENGINE else t.take_snapshot()
        if self._saver is None:
            self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kapfast-checkpoints")
        fut = self._saver.submit(_store, self.storage, t.id, data)
        if not background:
            fut.result()
            return
        self._saving[t.id] = fut
        fut.add_done_callback(functools.partial(_log_unsaved, t.id))

    def wait_checkpoints(self) -> None:
        """Wait until the checkpoints being written in the background are stored (or failed)."""
        for fut in list(self._saving.values()):
            with contextlib.suppress(Exception):
                fut.result()

    def checkpoint_all(self) -> None:
        """Store every running task's checkpoint now (kapfastd's graceful shutdown)."""
        for t in list(self.tasks.values()):
            try:
                self._checkpoint(t)
            except UDFError as exc:
                log.error("task snapshot failed", extra={"tags": {"task": t.id, "err": str(exc)}})

    def stop(self, task_id: str) -> None:
        """Stop a task cleanly: its checkpoint is stored first, so a clean stop loses nothing."""
        t = self.tasks.pop(task_id, None)
        self._snapshot_due.pop(task_id, None)
        if t is None:
            return
        stored = False
        try:
            self._checkpoint(t)
            self._saving.pop(task_id, None)
            stored = self.storage is not None
        except UDFError as exc:
            log.error("task snapshot failed", extra={"tags": {"task": task_id, "err": str(exc)}})
            t.abort()
        t.finish(checkpointed=stored)

    def fail(self, task_id: str, exc: Exception) -> None:
        """A running task failed (a UDF agent exited, hung, wrote garbage or answered an error):
        stop it, keep the error as the task's (``kapfast show``), leave the other tasks alone."""
        if task_id not in self.tasks:
            return
        # the error is stored before the task stops executing: a client that polls until it
        # is not executing then reads the error (as Kapacitor's clients do) finds it
        msg = str(exc)
        self.failed[task_id] = msg
        log.error("task failed", extra={"tags": {"task": task_id, "err": msg}})
        if self.storage is not None:
            try:
                rec = self.storage.tasks.get(task_id)
            except Exception:  # deleted meanwhile
                rec = None
            if rec is not None:
                rec.error = msg
                self.storage.tasks.put(rec)
        t = self.tasks.pop(task_id)
        self._snapshot_due.pop(task_id, None)
        t.abort()
        with contextlib.suppress(Exception):
            t.finish()  # what the other nodes still hold goes out (outputs flush)
        if self.on_task_failed is not None:
            self.on_task_failed(task_id, msg)

    def is_executing(self, task_id: str) -> bool:
        return task_id in self.tasks

    def close(self) -> None:
        for task_id in list(self.tasks):
            self.stop(task_id)
        if self._saver is not None:
            self._saver.shutdown(wait=True)
            self._saver = None

    def _task(self, task_id: str) -> Task:
        t = self.tasks.get(task_id)
        if t is None:
            raise TaskError(f"task {task_id} is not executing")
        return t

    @property
    def may_wait(self) -> bool:
        """Whether a running task may wait on something outside the process when fed points
        (a UDF, httpPost, autoscale node: Node.may_wait)."""
        return any(t.may_wait for t in self.tasks.values())

    # --- data ----------------------------------------------------------------------------------

    def write_points(
        self,
        db: str,
        rp: str,
        batch: PointBatch,
        only: Collection[str] | None = None,
        shard: int | None = None,
    ) -> None:
        """Deliver points written to (db, rp) to every executing stream task that reads them
        (only to the tasks named in ``only`` when given: a cluster worker's feeds; ``shard``: the
        cluster partition all of them are on, when the feed reads one partition)."""
        if not len(batch):
            return
        measurements: set[str] | None = None
        for t in list(self.tasks.values()):
            if t.pipeline.task_type != "stream":
                continue
            if only is not None and t.id not in only:
                continue
            if t.dbrps and (db, rp) not in t.dbrps:
                continue
            if t.measurements is not None:
                if measurements is None:
                    measurements = set(batch.measurements())
                if not (t.measurements & measurements):
                    continue
            try:
                t.write_points(batch, db, rp, shard)
            except UDFError as exc:
                self.fail(t.id, exc)

    def write_batch(self, task_id: str, query_index: int, msg: BatchMessage) -> None:
        """Deliver one queried batch to query node ``query_index`` of an executing batch task
        (the server's batch scheduler calls this with InfluxDB's answers)."""
        t = self._task(task_id)
        try:
            t.write_batch(query_index, msg)
        except UDFError as exc:
            self.fail(task_id, exc)

    def count_queried(self, task_id: str, query_index: int, points: int) -> None:
        """Count a batch a query node got from InfluxDB (``batches_queried``/``points_queried``)."""
        t = self.tasks.get(task_id)
        if t is None or query_index >= len(t.queries):
            return
        extra = t.queries[query_index].stats.extra
        extra["batches_queried"] = extra.get("batches_queried", 0) + 1
        extra["points_queried"] = extra.get("points_queried", 0) + points

    def count_query_error(self, task_id: str, query_index: int) -> None:
        t = self.tasks.get(task_id)
        if t is not None and query_index < len(t.queries):
            t.queries[query_index].stats.errors += 1

    def add_tap(self, task_id: str, node: str, tap: Tap) -> None:
        """Start a live tap on ``node`` of an executing task (TaskError: no such task or node)."""
        self._task(task_id).add_tap(node, tap)

    def remove_tap(self, task_id: str, tap: Tap) -> None:
        t = self.tasks.get(task_id)
        if t is not None:
            t.remove_tap(tap)

    def tick(self) -> None:
        """Let clock-driven nodes (stats, barrier idle) of every task look at the clock; the
        server calls this about once a second."""
        now = self.clock.now_ns()
        self.expiry_backlog = False
        for t in list(self.tasks.values()):
            try:
                t.tick(now, expiry_budget_ns=EXPIRY_BUDGET_NS)
                self.expiry_backlog = self.expiry_backlog or t.expiry_backlog
                due = self._snapshot_due.get(t.id)
                if due is not None and now >= due:
                    self._snapshot_due[t.id] = now + self.snapshot_interval_ns
                    self._checkpoint(t, background=True)
            except UDFError as exc:
                self.fail(t.id, exc)

    # --- introspection -------------------------------------------------------------------------

    def dot(self, task_id: str, labels: bool) -> str:
        return self._task(task_id).dot(labels)

    def stats(self, task_id: str) -> dict[str, Any]:
        t = self._task(task_id)
        return {
            "task-stats": {"throughput": t.throughput()},
            "node-stats": t.node_stats(),
            # kapfast's own counters, apart from Kapacitor's exact node-stats (docs/operations.md)
            "kapfast-node-stats": t.extra_stats(),
        }

    def http_out(self, task_id: str, endpoint: str) -> dict[str, Any] | None:
        t = self.tasks.get(task_id)
        return None if t is None else t.http_out(endpoint)

    def http_out_snapshot(self, task_id: str, endpoint: str) -> Callable[[], dict[str, Any]] | None:
        t = self.tasks.get(task_id)
        return None if t is None else t.http_out_snapshot(endpoint)

    # --- explain (kapfast explain) -----------------------------------------------------------

    def explain(self, task_id: str, node: str = "") -> list[dict[str, Any]] | None:
        """The running task's alert nodes explained (kapfast.engine.explain); None when the task
        is not executing."""
        t = self.tasks.get(task_id)
        return None if t is None else explain_nodes(t, node)

    def explain_at(
        self,
        task: TaskRecord,
        pipeline: Pipeline,
        recording_path: str | os.PathLike[str],
        at_ns: int,
        node: str = "",
    ) -> list[dict[str, Any]]:
        """The task's alert nodes as they were at ``at_ns``, from a recording replayed into an
        offline copy (side effects off: kapfast.engine.explain). Synchronous; runs anywhere."""
        base = self._context(task.id, VirtualClock(0), self.name)
        return explain_replay(task.id, pipeline, [recording_path], at_ns, base, node)

    # --- replays -------------------------------------------------------------------------------

    def replay(
        self,
        task: TaskRecord,
        pipeline: Pipeline,
        recording_path: str | os.PathLike[str],
        *,
        replay_id: str,
        clock: str = "fast",
        recording_time: bool = False,
    ) -> dict[str, Any]:
        """Replay a recording into a fresh instance of ``task``: synchronous, it blocks until
        done (the server runs it in a worker thread; ``kapfast.tasks.replays.ReplayEngine``).

        ``clock="fast"`` replays as fast as possible on a virtual clock; ``"real"`` sleeps so
        that data time passes like wall time. With ``recording_time`` the points keep their
        recorded times; otherwise they are shifted so that the first lands on the clock's now.
        Alert topics of the replayed task are named after ``replay_id`` (Kapacitor does so).
        Returns ``{"task-stats": {"throughput", "points", "batches", "first", "last"},
        "node-stats": {...}}`` (times in ns, None when the recording is empty).
        """
        if clock not in ("fast", "real"):
            raise TaskError(f"unknown replay clock {clock!r} (fast or real)")
        path = Path(recording_path)
        if not path.exists():
            raise TaskError(f"cannot replay: recording file {path} does not exist")
        zero = None if recording_time else self.clock.now_ns()
        vclock = VirtualClock(zero or 0)
        run = Task(task.id, pipeline, self._context(task.id, vclock, replay_id))
        st = ReplayStats()
        paced = _PacedClock(vclock) if clock == "real" else vclock
        try:
            if pipeline.task_type == "stream":
                replay_stream(run, path, paced, clock_zero_ns=zero, stats=st)
            else:
                replay_batches(run, [path], paced, clock_zero_ns=zero, stats=st)
        except BaseException:
            run.abort()
            raise
        run.finish()
        task_stats = {
            "throughput": run.throughput(),
            "points": st.points,
            "batches": st.batches,
            "first": st.first_ns,
            "last": st.last_ns,
        }
        return {
            "task-stats": task_stats,
            "node-stats": run.node_stats(),
            "kapfast-node-stats": run.extra_stats(),
        }


class _PacedClock(VirtualClock):
    """A virtual clock that waits in wall time as long as it is moved forward (``clock=real``)."""

    def __init__(self, inner: VirtualClock) -> None:
        super().__init__(inner.now_ns())
        self.inner = inner
        self.started: int | None = None

    def set(self, t_ns: int) -> None:
        if self.started is None:
            self.started = t_ns
            self.wall0 = time.monotonic_ns()
        else:
            due = self.wall0 + (t_ns - self.started)
            wait = due - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
        super().set(t_ns)
        self.inner.set(t_ns)
