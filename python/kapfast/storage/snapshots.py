"""Task snapshots: each task's last checkpoint (``Task.snapshot()``: every stateful node's state,
kapfast.engine.checkpoint), so that a task restarted (also after a kapfastd restart) gets its
state back.

As in Kapacitor, a task's snapshot is replaced as a whole at each checkpoint and deleted with the
task. The blob is one row (node ``""``) of ``task_snapshots``; rows of other node names are the
per-UDF snapshots of kapfast before the task-wide checkpoint, which are not read any more."""

from __future__ import annotations

from kapfast.storage.db import Database

#: the node column of a task-wide checkpoint
TASK_ROW = ""


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, task: str, data: bytes) -> None:
        """Replace ``task``'s checkpoint with ``data``, in one transaction."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
            c.execute(
                "INSERT INTO task_snapshots (task, node, data) VALUES (?, ?, ?)",
                (task, TASK_ROW, bytes(data)),
            )

    def get(self, task: str) -> bytes | None:
        rows = self.db.query("SELECT data FROM task_snapshots WHERE task = ? AND node = ?", (task, TASK_ROW))
        return bytes(rows[0]["data"]) if rows else None

    def delete(self, task: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
