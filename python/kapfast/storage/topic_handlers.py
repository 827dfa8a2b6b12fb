"""Alert topic handler specs (Kapacitor's ``alert_store``): ``{id, topic, kind, options, match}``
per topic, kept in SQLite so handlers defined over the API survive a restart."""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kapfast.storage.db import Database

_INSERT = "INSERT OR REPLACE INTO topic_handlers (topic, id, kind, options, match) VALUES (?, ?, ?, ?, ?)"


@dataclass
class HandlerRecord:
    topic: str
    id: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    match: str = ""


class TopicHandlerStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: told (topic, id, the handler or None once deleted) after every change: a cluster's
        #: control plane shares them (kapfast.cluster.control)
        self.on_change: Callable[[str, str, HandlerRecord | None], None] | None = None

    def _changed(self, topic: str, ident: str, h: HandlerRecord | None) -> None:
        if self.on_change is not None:
            self.on_change(topic, ident, h)

    def put(self, h: HandlerRecord) -> None:
        with self.db.transaction() as c:
            c.execute(
                _INSERT,
                (h.topic, h.id, h.kind, json.dumps(h.options, sort_keys=True), h.match),
            )
        self._changed(h.topic, h.id, h)

    def replace(self, old_id: str, h: HandlerRecord) -> None:
        """Store ``h`` in place of ``old_id`` of the same topic (a PUT/PATCH may rename)."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM topic_handlers WHERE topic = ? AND id = ?", (h.topic, old_id))
            c.execute(
                _INSERT,
                (h.topic, h.id, h.kind, json.dumps(h.options, sort_keys=True), h.match),
            )
        if old_id != h.id:
            self._changed(h.topic, old_id, None)
        self._changed(h.topic, h.id, h)

    def get(self, topic: str, ident: str) -> HandlerRecord | None:
        rows = self.db.query("SELECT * FROM topic_handlers WHERE topic = ? AND id = ?", (topic, ident))
        return self._from_row(rows[0]) if rows else None

    def for_topic(self, topic: str, pattern: str = "") -> list[HandlerRecord]:
        rows = self.db.query("SELECT * FROM topic_handlers WHERE topic = ? ORDER BY id", (topic,))
        return [self._from_row(r) for r in rows if not pattern or fnmatch.fnmatchcase(r["id"], pattern)]

    def all(self) -> list[HandlerRecord]:
        rows = self.db.query("SELECT * FROM topic_handlers ORDER BY topic, id")
        return [self._from_row(r) for r in rows]

    def topics(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT DISTINCT topic FROM topic_handlers ORDER BY topic")]

    def delete(self, topic: str, ident: str) -> bool:
        with self.db.transaction() as c:
            n = c.execute("DELETE FROM topic_handlers WHERE topic = ? AND id = ?", (topic, ident)).rowcount
        if n > 0:
            self._changed(topic, ident, None)
        return bool(n > 0)

    def delete_topic(self, topic: str) -> int:
        gone = [h.id for h in self.for_topic(topic)]
        with self.db.transaction() as c:
            n = int(c.execute("DELETE FROM topic_handlers WHERE topic = ?", (topic,)).rowcount)
        for ident in gone:
            self._changed(topic, ident, None)
        return n

    @staticmethod
    def _from_row(r: sqlite3.Row) -> HandlerRecord:
        try:
            options = json.loads(r["options"])
        except ValueError:
            options = {}
        return HandlerRecord(
            r["topic"], r["id"], r["kind"], options if isinstance(options, dict) else {}, r["match"]
        )
