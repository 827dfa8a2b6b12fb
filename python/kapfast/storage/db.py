"""The SQLite database under the data dir: opening, durability settings and schema migrations.

Every write is one transaction committed with ``synchronous=FULL`` in WAL mode, so an answer the
API gives after a write ("task defined") survives a crash or power loss that follows it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from kapfast.errors import StorageError

# Each entry upgrades the schema by one version; never edit an entry that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        dbrps TEXT NOT NULL,
        script TEXT NOT NULL,
        template_id TEXT NOT NULL DEFAULT '',
        vars TEXT NOT NULL DEFAULT '{}',
        error TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        last_enabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        script TEXT NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL
    );
    CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        date INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE replays (
        id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        recording TEXT NOT NULL,
        recording_time INTEGER NOT NULL DEFAULT 0,
        clock TEXT NOT NULL,
        date INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        stats TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE alert_states (
        topic TEXT NOT NULL,
        event_id TEXT NOT NULL,
        task TEXT NOT NULL DEFAULT '',
        node TEXT NOT NULL DEFAULT '',
        level TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '',
        time INTEGER NOT NULL,
        duration INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (topic, event_id)
    );
    CREATE INDEX alert_states_by_task ON alert_states (task, node);
    """,
    # 2: alert topic handler specs (``/alerts/topics/{topic}/handlers``)
    """
    CREATE TABLE IF NOT EXISTS topic_handlers (
        topic TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        match TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (topic, id)
    );
    """,
    # 3: [load]: what the load directory defined, so that a file removed later removes its item
    """
    CREATE TABLE IF NOT EXISTS load_items (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    """,
    # 4: task snapshots ([task] snapshot-interval): each stateful node's bytes (UDF agents)
    """
    CREATE TABLE IF NOT EXISTS task_snapshots (
        task TEXT NOT NULL,
        node TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (task, node)
    );
    """,
)


#: how long a statement waits for a lock another process holds before failing (SQLite retries)
BUSY_TIMEOUT_S = 5.0
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes' low byte)
_FULL = 13  # SQLITE_FULL


def storage_error(path: Path, exc: sqlite3.Error, doing: str = "") -> StorageError:
    """A StorageError saying what happened in words an operator acts on."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc)
    where = f"database {path}" + (f" ({doing})" if doing else "")
    if code in _BUSY or "locked" in text:
        return StorageError(
            f"{where}: locked by another process for more than {BUSY_TIMEOUT_S:g}s "
            f"(a backup tool or sqlite3 shell holding a write lock?): retry later",
            reason="locked",
        )
    if code == _FULL or "disk is full" in text or "No space left" in text:
        return StorageError(
            f"{where}: no space left on the device of the data dir ({text}); nothing of this request "
            "was stored, what was stored before is intact",
            reason="full",
        )
    return StorageError(f"{where}: {text}")


class Database:
    """The server's SQLite store: one connection for writes, shared by the stores (transactions
    serialized by a lock), and one read connection per thread that reads.

    Reads never wait for a write (issue #19): in WAL mode a reader sees the last commit while a
    writer works, so :meth:`query` uses its thread's own connection and not the writers' lock. A
    write stuck behind another process's lock (up to :data:`BUSY_TIMEOUT_S`) or a checkpoint being
    stored part by part therefore never holds up a read, on the event loop or elsewhere; a read
    inside a transaction of its own thread reads through that transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (see `transaction`).
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open the database {self.path}: {exc}") from None
        self._lock = threading.RLock()
        #: the thread inside ``transaction`` (its reads go through the write connection)
        self._writer = 0
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._migrate()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection (opened on its first read)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
                )
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA query_only=ON")
            except (sqlite3.Error, OSError) as exc:
                raise StorageError(f"cannot open the database {self.path}: {exc}") from None
            with self._readers_lock:
                if self._closed:
                    conn.close()
                    raise StorageError(f"the database {self.path} is closed")
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        with self.transaction() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"the database {self.path} was written by a newer kapfast (schema {version}, "
                    f"this one knows {len(MIGRATIONS)})"
                )
            for step in MIGRATIONS[version:]:
                for statement in step.split(";"):
                    if statement.strip():
                        c.execute(statement)
            c.execute(f"PRAGMA user_version={len(MIGRATIONS)}")

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed (durably) on success, rolled back on any error.

        ``durable=False``: committed without waiting for the disk (``synchronous=NORMAL``: no
        fsync), for a step whose result only counts once a later durable transaction commits
        (the WAL is one file, synced whole by that commit); a crash may lose it."""
        with self._lock:
            if not durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")
            outer, self._writer = self._writer, threading.get_ident()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    # SQLite may have rolled back already (a full disk aborts the transaction)
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise storage_error(self.path, exc) from exc
                raise
            finally:
                self._writer = outer
                if not durable:
                    self._conn.execute("PRAGMA synchronous=FULL")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """The rows of one read, as of the last commit; never waits for a writer (see the class)."""
        if self._writer == threading.get_ident():  # inside this thread's transaction
            with self._lock:
                try:
                    return self._conn.execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    raise storage_error(self.path, exc) from exc
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from exc

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._conn.close()

    # ---- backup (GET /kapacitor/v1/storage/backup) ----------------------------------------------

    def backup_to(self, dest: Path | str) -> int:
        """Write a consistent snapshot of the database to the new file ``dest``; its size in bytes.

        SQLite's online backup API copies every page in one step over a connection of its own: one
        read transaction, so the copy is the database as of one instant, and in WAL mode the
        server's writers are not blocked meanwhile (nor is this object's lock taken). The copy is
        a complete database file (no ``-wal`` beside it): restoring is replacing the file.
        """
        dest = Path(dest)
        try:
            src = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                dst = sqlite3.connect(dest)
                try:
                    src.backup(dst, pages=-1)
                    # A plain rollback-journal file: nothing of it lives in a side file.
                    dst.execute("PRAGMA journal_mode=DELETE")
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot back up the database {self.path}: {exc}") from exc
        return dest.stat().st_size


# ---- config overrides (POST /kapacitor/v1/config/...) -------------------------------------------

# Created on first use rather than as a MIGRATIONS step: other branches add schema steps at the
# same time, and a table that only this store reads needs no place in that sequence.
_OVERRIDES_TABLE = """
    CREATE TABLE IF NOT EXISTS config_overrides (
        section TEXT NOT NULL,
        element TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        created INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (section, element)
    )
"""


class OverrideRow(NamedTuple):
    section: str
    element: str
    options: dict[str, Any]
    created: bool
    deleted: bool


class ConfigOverrideStore:
    """The config overrides, one row per (section, element): option values set through the API,
    and whether the API created the element (``add``) or removed it (``remove``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as c:
            c.execute(_OVERRIDES_TABLE)

    def all(self) -> list[OverrideRow]:
        rows = self.db.query("SELECT * FROM config_overrides ORDER BY section, element")
        return [
            OverrideRow(
                r["section"], r["element"], json.loads(r["options"]), bool(r["created"]), bool(r["deleted"])
            )
            for r in rows
        ]

    def get(self, section: str, element: str) -> OverrideRow | None:
        for row in self.all():
            if row.section == section and row.element == element:
                return row
        return None

    def put(self, row: OverrideRow) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO config_overrides VALUES (?, ?, ?, ?, ?)",
                (row.section, row.element, json.dumps(row.options), int(row.created), int(row.deleted)),
            )

    def remove(self, section: str, element: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM config_overrides WHERE section = ? AND element = ?", (section, element))
