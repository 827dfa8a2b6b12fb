"""``TaskMaster``: the engine as the server sees it (``kapfast.engine.contract.TaskMasterAPI``).

All methods are synchronous and run on the caller's thread (the server calls them from its event
loop or an executor); a task's nodes run inside ``write_points`` of the points that feed it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kapfast._native import PointBatch
from kapfast.clock import Clock, VirtualClock, WallClock
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.context import PointsWriter, TaskContext
from kapfast.engine.messages import BatchMessage
from kapfast.engine.replay import ReplayStats, replay_batches, replay_stream
from kapfast.engine.tap import Tap
from kapfast.engine.task import Task
from kapfast.errors import TaskError
from kapfast.storage import Storage, TaskRecord
from kapfast.tick import Pipeline


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
    ) -> None:
        self.clock: Clock = clock or WallClock()
        #: every task's idle-group expiry ([groups] expire-idle; 0: never, as Kapacitor)
        self.group_expiry_ns = group_expiry_ns
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
        self.tasks: dict[str, Task] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    def _context(self, task_id: str, clock: Clock, task_master: str) -> TaskContext:
        return TaskContext(
            task_id=task_id,
            clock=clock,
            task_master=task_master,
            writer=self.writer,
            hostname=self.hostname,
            cluster_id=self.cluster_id,
            server_id=self.server_id,
            group_expiry_ns=self.group_expiry_ns,
            services=dict(self.services),
        )

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        """Start (or restart) a task; a pipeline kapfast cannot run raises TaskError."""
        self.stop(task.id)
        t = Task(task.id, pipeline, self._context(task.id, self.clock, self.name))
        t.dbrps = {(d.db, d.rp) for d in task.dbrps} or set(pipeline.dbrps)
        self.tasks[task.id] = t

    def stop(self, task_id: str) -> None:
        t = self.tasks.pop(task_id, None)
        if t is not None:
            t.finish()

    def is_executing(self, task_id: str) -> bool:
        return task_id in self.tasks

    def close(self) -> None:
        for task_id in list(self.tasks):
            self.stop(task_id)

    def _task(self, task_id: str) -> Task:
        t = self.tasks.get(task_id)
        if t is None:
            raise TaskError(f"task {task_id} is not executing")
        return t

    # --- data ----------------------------------------------------------------------------------

    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        """Deliver points written to (db, rp) to every executing stream task that reads them."""
        if not len(batch):
            return
        measurements: set[str] | None = None
        for t in list(self.tasks.values()):
            if t.pipeline.task_type != "stream":
                continue
            if t.dbrps and (db, rp) not in t.dbrps:
                continue
            if t.measurements is not None:
                if measurements is None:
                    measurements = set(batch.measurements())
                if not (t.measurements & measurements):
                    continue
            t.write_points(batch, db, rp)

    def write_batch(self, task_id: str, query_index: int, msg: BatchMessage) -> None:
        """Deliver one queried batch to query node ``query_index`` of an executing batch task
        (the server's batch scheduler calls this with InfluxDB's answers)."""
        self._task(task_id).write_batch(query_index, msg)

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
        for t in list(self.tasks.values()):
            t.tick(now)

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
        if pipeline.task_type == "stream":
            replay_stream(run, path, paced, clock_zero_ns=zero, stats=st)
        else:
            replay_batches(run, [path], paced, clock_zero_ns=zero, stats=st)
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
