"""Typed stores over the database: tasks, templates, recordings, replays and alert states.

The records mirror Kapacitor's resources (``client/v1`` shapes) so the HTTP API maps them one to one.
Times are int nanoseconds since the epoch; 0 means "never" (Kapacitor's zero time).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from kapfast.errors import NotFoundError
from kapfast.gofmt import go_quote
from kapfast.storage.db import Database
from kapfast.storage.snapshots import SnapshotStore
from kapfast.storage.topic_handlers import TopicHandlerStore

log = logging.getLogger("kapfast.storage")


@dataclass(frozen=True)
class DBRP:
    db: str
    rp: str

    def __str__(self) -> str:
        return f'"{self.db}"."{self.rp}"'


@dataclass
class TaskRecord:
    id: str
    type: str  # "stream" | "batch"
    dbrps: list[DBRP]
    script: str
    status: str = "disabled"  # "enabled" | "disabled"
    template_id: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    created: int = 0
    modified: int = 0
    last_enabled: int = 0


@dataclass
class TemplateRecord:
    id: str
    type: str
    script: str
    error: str = ""
    created: int = 0
    modified: int = 0


@dataclass
class RecordingRecord:
    id: str
    type: str  # "stream" | "batch"
    path: str
    status: str = "running"  # "running" | "finished" | "failed"
    size: int = 0
    date: int = 0
    error: str = ""
    progress: float = 0.0


@dataclass
class ReplayRecord:
    id: str
    task: str
    recording: str
    clock: str = "fast"  # "fast" | "real"
    recording_time: bool = False
    status: str = "running"
    date: int = 0
    error: str = ""
    progress: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlertState:
    """The last non-OK state of one alert event (a group of an alert node, or a topic event)."""

    topic: str
    event_id: str
    level: str
    time: int
    duration: int = 0
    message: str = ""
    details: str = ""
    task: str = ""
    node: str = ""


def _matches(ident: str, pattern: str) -> bool:
    return not pattern or fnmatch.fnmatchcase(ident, pattern)


class _Table:
    table = ""
    noun = ""

    def __init__(self, db: Database) -> None:
        self.db = db

    def delete(self, ident: str) -> bool:
        """Delete by id; True when something was deleted (deleting nothing is not an error)."""
        with self.db.transaction() as c:
            return c.execute(f"DELETE FROM {self.table} WHERE id = ?", (ident,)).rowcount > 0

    def _row(self, ident: str) -> sqlite3.Row:
        rows = self.db.query(f"SELECT * FROM {self.table} WHERE id = ?", (ident,))
        if not rows:
            raise NotFoundError(f"no {self.noun} exists with id {go_quote(ident)}")
        return rows[0]

    def _rows(self, pattern: str, offset: int, limit: int) -> list[sqlite3.Row]:
        rows = self.db.query(f"SELECT * FROM {self.table} ORDER BY id")
        picked = [r for r in rows if _matches(r["id"], pattern)]
        return picked[offset : offset + limit if limit >= 0 else None]

    def _upsert(self, row: dict[str, object]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self.db.transaction() as c:
            c.execute(f"INSERT OR REPLACE INTO {self.table} ({cols}) VALUES ({marks})", tuple(row.values()))

    def exists(self, ident: str) -> bool:
        return bool(self.db.query(f"SELECT 1 FROM {self.table} WHERE id = ?", (ident,)))


class TaskStore(_Table):
    table, noun = "tasks", "task"

    def put(self, t: TaskRecord) -> None:
        """Create or replace a task definition (one durable transaction)."""
        row = asdict(t)
        row["dbrps"] = json.dumps(row["dbrps"])
        row["vars"] = json.dumps(row["vars"])
        self._upsert(row)

    def delete(self, ident: str) -> bool:
        """Delete a task and its snapshot (as Kapacitor deletes them together)."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM task_snapshots WHERE task = ?", (ident,))
            return c.execute("DELETE FROM tasks WHERE id = ?", (ident,)).rowcount > 0

    def rename(self, old: str, new: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE tasks SET id = ? WHERE id = ?", (new, old))
            c.execute("UPDATE replays SET task = ? WHERE task = ?", (new, old))
            c.execute("UPDATE alert_states SET task = ? WHERE task = ?", (new, old))
            c.execute("UPDATE task_snapshots SET task = ? WHERE task = ?", (new, old))

    @staticmethod
    def _from_row(r: sqlite3.Row) -> TaskRecord:
        row = dict(r)
        row["dbrps"] = [DBRP(**d) for d in json.loads(row["dbrps"])]
        row["vars"] = json.loads(row["vars"])
        return TaskRecord(**row)

    def get(self, ident: str) -> TaskRecord:
        return self._from_row(self._row(ident))

    def find(self, pattern: str = "", offset: int = 0, limit: int = -1) -> list[TaskRecord]:
        return [self._from_row(r) for r in self._rows(pattern, offset, limit)]

    def using_template(self, template_id: str) -> list[TaskRecord]:
        rows = self.db.query("SELECT * FROM tasks WHERE template_id = ? ORDER BY id", (template_id,))
        return [self._from_row(r) for r in rows]


class TemplateStore(_Table):
    table, noun = "templates", "template"

    def put(self, t: TemplateRecord) -> None:
        self._upsert(asdict(t))

    @staticmethod
    def _from_row(r: sqlite3.Row) -> TemplateRecord:
        return TemplateRecord(**dict(r))

    def get(self, ident: str) -> TemplateRecord:
        return self._from_row(self._row(ident))

    def find(self, pattern: str = "", offset: int = 0, limit: int = -1) -> list[TemplateRecord]:
        return [self._from_row(r) for r in self._rows(pattern, offset, limit)]


class RecordingStore(_Table):
    table, noun = "recordings", "recording"

    def put(self, r: RecordingRecord) -> None:
        self._upsert(asdict(r))

    @staticmethod
    def _from_row(r: sqlite3.Row) -> RecordingRecord:
        return RecordingRecord(**dict(r))

    def get(self, ident: str) -> RecordingRecord:
        return self._from_row(self._row(ident))

    def find(self, pattern: str = "", offset: int = 0, limit: int = -1) -> list[RecordingRecord]:
        return [self._from_row(r) for r in self._rows(pattern, offset, limit)]

    def fail_running(self, reason: str) -> int:
        """Mark recordings left running by a crash or restart as failed (as kapacitord does)."""
        with self.db.transaction() as c:
            return c.execute(
                "UPDATE recordings SET status = 'failed', error = ? WHERE status = 'running'", (reason,)
            ).rowcount


class ReplayStore(_Table):
    table, noun = "replays", "replay"

    def put(self, r: ReplayRecord) -> None:
        row = asdict(r)
        row["recording_time"] = int(r.recording_time)
        row["stats"] = json.dumps(r.stats)
        self._upsert(row)

    @staticmethod
    def _from_row(r: sqlite3.Row) -> ReplayRecord:
        row = dict(r)
        row["recording_time"] = bool(row["recording_time"])
        row["stats"] = json.loads(row["stats"])
        return ReplayRecord(**row)

    def get(self, ident: str) -> ReplayRecord:
        return self._from_row(self._row(ident))

    def find(self, pattern: str = "", offset: int = 0, limit: int = -1) -> list[ReplayRecord]:
        return [self._from_row(r) for r in self._rows(pattern, offset, limit)]

    def fail_running(self, reason: str) -> int:
        with self.db.transaction() as c:
            return c.execute(
                "UPDATE replays SET status = 'failed', error = ? WHERE status = 'running'", (reason,)
            ).rowcount


class AlertStateStore:
    """Last state per alert event, so a restart neither re-fires nor forgets an alert.

    A recovered event keeps its OK state, as Kapacitor's topic store persists every state of a
    topic (``EventStates(alert.OK)``): ``GET /alerts/topics/{topic}/events`` lists it after a
    recovery and after a restart.

    Group commit (the server, :attr:`group_commit`): :meth:`save_later` hands states to a
    committer thread that writes everything queued meanwhile in one transaction, one fsync for
    many alerting writes, off the event loop (a ``synchronous=FULL`` commit costs milliseconds).
    The answer to a write waits for :meth:`pending` (kapfast.server.write), so an acknowledged
    write's alert states are on disk before the client hears back, as before. Reads wait for what
    is queued first (read-your-writes).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        #: alert nodes queue their states with save_later (set by the server)
        self.group_commit = False
        self._cond = threading.Condition()
        self._queue: list[AlertState] = []
        self._next: Future[None] | None = None  # of what is queued
        self._inflight: Future[None] | None = None  # of what is being committed
        self._thread: threading.Thread | None = None
        self._closed = False

    def save(self, s: AlertState) -> None:
        self.save_many([s])

    def save_many(self, states: Sequence[AlertState]) -> None:
        """One transaction for all of ``states`` (a later state of an event replaces an earlier)."""
        if not states:
            return
        with self.db.transaction() as c:
            for s in states:
                row = asdict(s)
                cols, marks = ", ".join(row), ", ".join("?" * len(row))
                sql = f"INSERT OR REPLACE INTO alert_states ({cols}) VALUES ({marks})"
                c.execute(sql, tuple(row.values()))

    def save_later(self, states: Sequence[AlertState]) -> Future[None]:
        """Queue ``states`` for the committer thread; the future completes once they are committed
        (with the error if the commit failed). After :meth:`close` they are written at once."""
        with self._cond:
            if not self._closed:
                self._queue.extend(states)
                if self._next is None:
                    self._next = Future()
                fut = self._next
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._commit_loop, name="alert-states", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()
                return fut
        done: Future[None] = Future()
        try:
            self.save_many(states)
            done.set_result(None)
        except Exception as exc:
            done.set_exception(exc)
        return done

    def pending(self) -> Future[None] | None:
        """The commit of everything queued so far, None when nothing is queued or being written."""
        with self._cond:
            return self._next or self._inflight

    def wait(self) -> None:
        """Until everything queued so far is committed (or failed: the committer logged it)."""
        fut = self.pending()
        if fut is not None:
            fut.exception()

    def _commit_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
                fut, self._next = self._next, None
                assert fut is not None
                self._inflight = fut
            try:
                self.save_many(batch)
            except Exception as exc:
                log.error("cannot save %d alert state(s): %s", len(batch), exc)
                fut.set_exception(exc)
            else:
                fut.set_result(None)
            with self._cond:
                self._inflight = None

    def close(self) -> None:
        """Commit what is queued and stop the committer."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def for_topic(self, topic: str) -> dict[str, AlertState]:
        self.wait()
        rows = self.db.query("SELECT * FROM alert_states WHERE topic = ?", (topic,))
        return {r["event_id"]: self._from_row(r) for r in rows}

    def for_task(self, task: str) -> list[AlertState]:
        self.wait()
        rows = self.db.query("SELECT * FROM alert_states WHERE task = ? ORDER BY topic, event_id", (task,))
        return [self._from_row(r) for r in rows]

    def delete_topic(self, topic: str) -> int:
        self.wait()
        with self.db.transaction() as c:
            return c.execute("DELETE FROM alert_states WHERE topic = ?", (topic,)).rowcount

    def topics(self) -> list[str]:
        self.wait()
        return [r[0] for r in self.db.query("SELECT DISTINCT topic FROM alert_states ORDER BY topic")]

    @staticmethod
    def _from_row(r: sqlite3.Row) -> AlertState:
        return AlertState(**dict(r))


class LoadItemStore:
    """The tasks, templates and topic handlers the ``[load]`` directory defined, by kind."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, kind: str, ident: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT OR IGNORE INTO load_items (kind, id) VALUES (?, ?)", (kind, ident))

    def remove(self, kind: str, ident: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM load_items WHERE kind = ? AND id = ?", (kind, ident))

    def ids(self, kind: str) -> list[str]:
        return [r[0] for r in self.db.query("SELECT id FROM load_items WHERE kind = ? ORDER BY id", (kind,))]


class Storage:
    """All stores over one database file."""

    def __init__(self, path: str | Any) -> None:
        self.db = Database(path)
        self.tasks = TaskStore(self.db)
        self.templates = TemplateStore(self.db)
        self.recordings = RecordingStore(self.db)
        self.replays = ReplayStore(self.db)
        self.alert_states = AlertStateStore(self.db)
        self.load_items = LoadItemStore(self.db)
        self.topic_handlers = TopicHandlerStore(self.db)
        self.snapshots = SnapshotStore(self.db)

    #: Kapacitor's store names (``GET /storage/stores``) and the tables that hold them here.
    STORE_TABLES: ClassVar[dict[str, str]] = {
        "handlers": "topic_handlers",
        "recordings": "recordings",
        "replays": "replays",
        "tasks": "tasks",
        "templates": "templates",
        "topics": "alert_states",
    }

    def rebuild(self, name: str) -> None:
        """Kapacitor's store rebuild (its indexes are recomputed from the objects): SQLite's
        ``REINDEX`` of the store's table, which rebuilds every index over it from the rows."""
        table = self.STORE_TABLES[name]
        with self.db.transaction() as c:
            c.execute(f"REINDEX {table}")

    def close(self) -> None:
        self.alert_states.close()
        self.db.close()
