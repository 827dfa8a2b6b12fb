"""What a running task gives its nodes: identity, time, and the services outputs write to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kapfast.batch import PointBatch
from kapfast.clock import Clock


class PointsWriter(Protocol):
    """Where influxDBOut writes (the InfluxDB writer of the server, or a test collector)."""

    def write(self, cluster: str, db: str, rp: str, body: bytes, precision: str) -> None: ...

    def create_database(self, cluster: str, db: str, rp: str = "") -> None:
        """influxDBOut's ``.create()``: make sure the database (and rp) exist before writing."""
        ...


@runtime_checkable
class BatchPointsWriter(PointsWriter, Protocol):
    """A writer that also takes points as a batch: it serializes them in Rust (GIL released) and
    knows their count without reading the text back. influxDBOut prefers it when offered."""

    def write_batch(self, cluster: str, db: str, rp: str, batch: PointBatch, precision: str) -> None: ...


@dataclass
class TaskContext:
    """Shared by every node of one task.

    ``task_master`` names the anonymous alert topics (``<task_master>:<task>:<node>``); a replay uses
    its replay id there, as Kapacitor does.
    """

    task_id: str
    clock: Clock
    task_master: str = "main"
    writer: PointsWriter | None = None
    hostname: str = "localhost"
    cluster_id: str = ""
    server_id: str = ""
    #: drop the state of a group idle this long (ns of the task's clock); 0 keeps every group
    #: for the life of the task, as Kapacitor does (kapfast.engine.expiry)
    group_expiry_ns: int = 0
    #: callbacks run after the input ends and the task drained (flush writers, close files)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    #: free-form services (alert state store, http session, ...) keyed by name
    services: dict[str, Any] = field(default_factory=dict)

    def now_ns(self) -> int:
        return self.clock.now_ns()
