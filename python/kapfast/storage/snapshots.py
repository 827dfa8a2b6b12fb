"""Task snapshots: each task's last checkpoint (``Task.snapshot()``: every stateful node's state,
kapfast.engine.checkpoint), so that a task restarted (also after a kapfastd restart) gets its
state back.

As in Kapacitor, a task's snapshot is replaced as a whole at each checkpoint and deleted with the
task. The blob is one row (node ``""``) of ``task_snapshots``; rows of other node names are the
per-UDF snapshots of kapfast before the task-wide checkpoint, which are not read any more."""

from __future__ import annotations

import struct
import uuid

from kapfast.storage.db import Database

#: the node column of a task-wide checkpoint
TASK_ROW = ""
#: a checkpoint larger than this is stored in parts of this size, each in its own transaction
#: (the database's lock is held for one part at a time: the other stores' readers, some of them
#: on the event loop, wait for one part, never for a whole checkpoint of hundreds of MB, issue
#: #19), then made current by a small last transaction that writes its manifest in TASK_ROW
PART_BYTES = 4 << 20
#: a manifest: this magic, the parts' generation, their count, the total size
MANIFEST = b"KFCKPARTS1"
_PARTS = "\x00part:"


def _part_node(gen: str, i: int) -> str:
    return f"{_PARTS}{gen}:{i}"


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, task: str, data: bytes) -> None:
        """Replace ``task``'s checkpoint with ``data``: at once whole (a crash leaves the old
        checkpoint or the new one, never a mix), a large one part by part (:data:`PART_BYTES`)."""
        if len(data) <= PART_BYTES:
            with self.db.transaction() as c:
                c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
                c.execute(
                    "INSERT INTO task_snapshots (task, node, data) VALUES (?, ?, ?)",
                    (task, TASK_ROW, bytes(data)),
                )
            return
        gen = uuid.uuid4().hex
        view = memoryview(data)
        count = 0
        try:
            for offset in range(0, len(data), PART_BYTES):
                # not synced: the manifest's transaction, durable, syncs the parts with it
                with self.db.transaction(durable=False) as c:
                    c.execute(
                        "INSERT INTO task_snapshots (task, node, data) VALUES (?, ?, ?)",
                        (task, _part_node(gen, count), view[offset : offset + PART_BYTES]),
                    )
                count += 1
            manifest = MANIFEST + struct.pack("<32sIQ", gen.encode(), count, len(data))
            with self.db.transaction() as c:  # the new parts become the checkpoint
                c.execute(
                    "DELETE FROM task_snapshots WHERE task = ? AND NOT (node >= ? AND node < ?)",
                    (task, f"{_PARTS}{gen}:", f"{_PARTS}{gen};"),
                )
                c.execute(
                    "INSERT INTO task_snapshots (task, node, data) VALUES (?, ?, ?)",
                    (task, TASK_ROW, manifest),
                )
        except BaseException:
            # parts of a checkpoint never made current are dropped (or, after a crash, by the
            # next put of the task: its last transaction keeps only its own parts)
            with self.db.transaction() as c:
                c.execute(
                    "DELETE FROM task_snapshots WHERE task = ? AND node >= ? AND node < ?",
                    (task, f"{_PARTS}{gen}:", f"{_PARTS}{gen};"),
                )
            raise

    def get(self, task: str) -> bytes | None:
        rows = self.db.query("SELECT data FROM task_snapshots WHERE task = ? AND node = ?", (task, TASK_ROW))
        if not rows:
            return None
        data = bytes(rows[0]["data"])
        if not data.startswith(MANIFEST):
            return data
        gen_raw, count, size = struct.unpack_from("<32sIQ", data, len(MANIFEST))
        gen = gen_raw.decode()
        parts = [
            self.db.query(
                "SELECT data FROM task_snapshots WHERE task = ? AND node = ?", (task, _part_node(gen, i))
            )
            for i in range(count)
        ]
        if any(not p for p in parts):
            return None  # damaged: the task starts without its state (as for any bad checkpoint)
        out = b"".join(bytes(p[0]["data"]) for p in parts)
        return out if len(out) == size else None

    def delete(self, task: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (task,))
