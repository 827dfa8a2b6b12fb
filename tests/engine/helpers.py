"""Build a task from a script and feed it rows, for the node tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.tick import compile_script

S = 1_000_000_000
Row = tuple[str, dict[str, str], dict[str, Any], int]


def make_task(script: str, task_type: str | None = None) -> tuple[Task, VirtualClock]:
    clock = VirtualClock(0)
    pipeline = compile_script(script, task_type=task_type)
    return Task("t", pipeline, TaskContext(task_id="t", clock=clock)), clock


def feed(task: Task, clock: VirtualClock, rows: Sequence[Row], *, chunk: int = 0) -> None:
    """Write rows as stream points (in chunks of ``chunk`` rows; 0: all at once)."""
    size = chunk or max(1, len(rows))
    for i in range(0, len(rows), size):
        part = list(rows[i : i + size])
        batch = PointBatch.concat([PointBatch.from_rows([r]) for r in part])
        clock.set(max(r[3] for r in part))
        task.write_points(batch, "db", "rp")


def series(task: Task, endpoint: str = "out") -> list[dict[str, Any]]:
    body = task.http_out(endpoint)
    assert body is not None
    return body["series"] or []


def cpu(t_s: float, value: Any, **tags: str) -> Row:
    return ("cpu", dict(tags), {"value": value}, int(t_s * S))
