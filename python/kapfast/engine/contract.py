"""The contract between the server (HTTP API, task store, replays) and the task engine.

The engine implements :class:`TaskMasterAPI` in ``kapfast.engine.master.TaskMaster``; the server
codes against this protocol only. Times are int ns; ``stats`` shapes are Kapacitor's JSON.
"""

from __future__ import annotations

from typing import Any, Protocol

from kapfast.batch import PointBatch
from kapfast.storage import TaskRecord
from kapfast.tick import Pipeline


class TaskMasterAPI(Protocol):
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

    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        """Deliver written points to every executing stream task whose dbrps hold (db, rp)."""
        ...

    def http_out(self, task_id: str, endpoint: str) -> dict[str, Any] | None:
        """The body ``GET /kapacitor/v1/tasks/<task>/<endpoint>`` answers, or None if unknown."""
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
