"""The task engine the server runs: ``kapfast.engine.master.TaskMaster`` when this build has it.

Without it the server still stores, validates and describes tasks, records and ingests; starting
a task then fails with a clear error (the task stays defined, with that error), rather than
pretending to run it.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from kapfast._native import PointBatch
from kapfast.engine.context import PointsWriter
from kapfast.errors import TaskError
from kapfast.storage import Storage, TaskRecord
from kapfast.tick import Pipeline


class NoEngine:
    """The task master of a build without the task engine."""

    reason = "this kapfast build has no task engine (kapfast.engine.master is missing)"

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        del task, pipeline
        raise TaskError(self.reason)

    def stop(self, task_id: str) -> None:
        del task_id

    def is_executing(self, task_id: str) -> bool:
        del task_id
        return False

    def dot(self, task_id: str, labels: bool) -> str:
        del task_id, labels
        return ""

    def stats(self, task_id: str) -> dict[str, Any]:
        del task_id
        return {}

    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        del db, rp, batch

    def http_out(self, task_id: str, endpoint: str) -> dict[str, Any] | None:
        del task_id, endpoint
        return None

    def close(self) -> None:
        pass


def load_task_master(**services: Any) -> Any:
    """Build the engine's TaskMaster, passing the services its constructor names.

    ``services`` offers: storage (:class:`Storage`), clock, writer (:class:`PointsWriter`),
    hostname, cluster_id, server_id, services (a dict: ``storage``, ``alert_states``). Parameters
    the constructor does not take are not passed; those it takes and are not offered keep their
    defaults.
    """
    try:
        module = importlib.import_module("kapfast.engine.master")
    except ModuleNotFoundError:
        return NoEngine()
    cls = module.TaskMaster
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return cls(**services)
    return cls(**{k: v for k, v in services.items() if k in params})


__all__ = ["NoEngine", "PointsWriter", "Storage", "load_task_master"]
