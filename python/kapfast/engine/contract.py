"""The contract between the server (HTTP API, task store, replays) and the task engine.

The engine implements :class:`TaskMasterAPI` in ``kapfast.engine.master.TaskMaster``; the server
codes against this protocol only. Times are int ns; ``stats`` shapes are Kapacitor's JSON.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection
from typing import Any, Protocol

from kapfast.batch import PointBatch
from kapfast.engine.messages import BatchMessage
from kapfast.engine.tap import Tap
from kapfast.engine.task import Task
from kapfast.storage import TaskRecord
from kapfast.tick import Pipeline


class TaskMasterAPI(Protocol):
    #: what every task's nodes reach (``alert_topics``, ``alert_states``, handler endpoints ...)
    services: dict[str, Any]
    #: the executing tasks by id (the server's /debug/vars, /metrics and cluster checkpoints read them)
    tasks: dict[str, Task]
    #: every task's idle-group expiry ([groups] expire-idle; 0: never)
    group_expiry_ns: int
    #: the last :meth:`tick` left idle groups to delete (the server ticks again soon)
    expiry_backlog: bool

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop``: UDF agents' answers are taken as they come, on the loop."""
        ...

    def tick(self) -> None:
        """Periodic work: idle-group expiry and due checkpoints."""
        ...

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        """Start (or restart) a task; raises ``kapfast.errors.TaskError`` when it cannot run.
        Alert nodes restore their last levels from the alert state store so that a restart
        neither re-fires nor forgets an alert."""
        ...

    def stop(self, task_id: str) -> None:
        """Stop a task (no error when it is not running)."""
        ...

    def is_executing(self, task_id: str) -> bool: ...

    def dot(self, task_id: str, labels: bool) -> str:
        """DOT with live stats, as ``kapacitor show`` prints an executing task."""
        ...

    def stats(self, task_id: str) -> dict[str, Any]:
        """``{"task-stats": {"throughput": float}, "node-stats": {node: {stat: value}},
        "kapfast-node-stats": {node: {counter: value}}}`` (the last: kapfast's own counters)."""
        ...

    def write_points(
        self,
        db: str,
        rp: str,
        batch: PointBatch,
        only: Collection[str] | None = None,
        shard: int | None = None,
    ) -> None:
        """Deliver written points to every executing stream task whose dbrps hold (db, rp)
        (only to the tasks named in ``only`` when given: a cluster worker's feeds; ``shard``: the
        cluster partition all of them are on, when the feed reads one partition)."""
        ...

    def write_batch(self, task_id: str, query_index: int, msg: BatchMessage) -> None:
        """Deliver one query's result to the ``query_index``-th query node of a batch task."""
        ...

    def count_queried(self, task_id: str, query_index: int, points: int) -> None:
        """Count a query run and the points it returned (the query node's stats)."""
        ...

    def count_query_error(self, task_id: str, query_index: int) -> None:
        """Count a query that failed."""
        ...

    def add_tap(self, task_id: str, node: str, tap: Tap) -> None:
        """Copy what ``node`` emits to ``tap`` (TaskError for an unknown task or node)."""
        ...

    def remove_tap(self, task_id: str, tap: Tap) -> None: ...

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
        """Replay a recording into a fresh instance of ``task``; blocks until done."""
        ...

    def http_out(self, task_id: str, endpoint: str) -> dict[str, Any] | None:
        """The body ``GET /kapacitor/v1/tasks/<task>/<endpoint>`` answers, or None if unknown."""
        ...

    def http_out_snapshot(self, task_id: str, endpoint: str) -> Callable[[], dict[str, Any]] | None:
        """:meth:`http_out` in two steps: a snapshot taken now (between two batches), rendered
        to the body when called, on any thread; None if unknown."""
        ...

    def explain(self, task_id: str, node: str = "") -> list[dict[str, Any]] | None:
        """Each alert node's explanation (docs/operations.md "explain"), None when not executing."""
        ...

    def explain_at(
        self, task: TaskRecord, pipeline: Pipeline, recording_path: str, at_ns: int, node: str = ""
    ) -> list[dict[str, Any]]:
        """The same as of ``at_ns``, from a recording replayed into an offline copy of the task."""
        ...

    def close(self) -> None:
        """Stop every task and flush outputs."""
        ...
