"""The task engine the server runs: a :class:`kapfast.engine.master.TaskMaster` wired to the
server's services."""

from __future__ import annotations

from typing import Any

from kapfast.clock import Clock
from kapfast.engine.context import PointsWriter
from kapfast.engine.contract import TaskMasterAPI
from kapfast.engine.master import TaskMaster
from kapfast.storage import Storage


def load_task_master(
    *,
    storage: Storage,
    clock: Clock,
    writer: PointsWriter,
    hostname: str,
    cluster_id: str,
    server_id: str,
    services: dict[str, Any],
    group_expiry_ns: int = 0,
    snapshot_interval_ns: int = 0,
) -> TaskMasterAPI:
    """The server's task master, typed as the contract the server codes against (mypy checks
    that :class:`TaskMaster` keeps it). ``services`` reach every task's nodes (``storage``,
    ``alert_states`` for alert levels that survive restarts, handler endpoints)."""
    return TaskMaster(
        storage=storage,
        clock=clock,
        writer=writer,
        hostname=hostname,
        cluster_id=cluster_id,
        server_id=server_id,
        services=services,
        group_expiry_ns=group_expiry_ns,
        snapshot_interval_ns=snapshot_interval_ns,
    )


__all__ = ["load_task_master"]
