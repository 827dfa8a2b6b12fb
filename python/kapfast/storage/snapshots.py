"""Task snapshots: what stateful nodes (UDF agents) handed over at the last checkpoint, by task
and node, so that a task restarted (also after a kapfastd restart) gets its state back.

As in Kapacitor, a task's snapshot is replaced as a whole at each checkpoint and deleted with the
task."""

from __future__ import annotations

from collections.abc import Mapping

from kapfast.storage.db import Database


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, task: str, nodes: Mapping[str, bytes]) -> None:
        """Replace ``task``'s snapshot with ``nodes`` (node name -> bytes), in one transaction."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
            c.executemany(
                "INSERT INTO task_snapshots (task, node, data) VALUES (?, ?, ?)",
                [(task, node, bytes(data)) for node, data in nodes.items()],
            )

    def get(self, task: str) -> dict[str, bytes]:
        rows = self.db.query("SELECT node, data FROM task_snapshots WHERE task = ?", (task,))
        return {r["node"]: bytes(r["data"]) for r in rows}

    def delete(self, task: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
