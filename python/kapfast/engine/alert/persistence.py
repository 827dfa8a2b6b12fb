"""Alert levels that survive a restart, through ``kapfast.storage.AlertStateStore``.

When the engine puts the store in ``ctx.services["alert_states"]``, an alert node loads the saved
states of its topics into the topic registry when it starts, and keeps the store up to date with
the latest event of every event id (a recovery is kept as the OK state, as Kapacitor's topic
store keeps it); the server's ``/alerts/topics`` API reads the same records.
Writes are coalesced: the node records events as they fire and :meth:`flush` writes the last
state of each id once per input message, so a hot alert costs one write per chunk, not per point.
"""

from __future__ import annotations

import logging
import sqlite3
from concurrent.futures import Future
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.topics import EventState, TopicRegistry, saved_state
from kapfast.errors import KapfastError


class LevelPersistence:
    def __init__(self, store: Any, task: str, node: str, log: logging.Logger) -> None:
        self.store = store
        self.task = task
        self.node = node
        self.log = log
        self._pending: dict[tuple[str, str], AlertEvent] = {}
        self.failures = 0

    def load(self, registry: TopicRegistry, topic: str) -> None:
        """Put the saved states of ``topic`` into the registry (without overriding live ones)."""
        try:
            states = self.store.for_topic(topic)
        except (KapfastError, OSError, sqlite3.Error) as e:
            self.failures += 1
            self.log.error("cannot read saved alert states of topic %s: %s", topic, e)
            return
        for event_id, s in states.items():
            registry.restore(topic, event_id, EventState(s.level, s.time, s.duration, s.message, s.details))

    def save(self, topic: str, event: AlertEvent) -> None:
        """Remember ``event`` as the state to write at the next :meth:`flush`."""
        self._pending[(topic, event.id)] = event

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        # an OK is stored too (a recovery: Kapacitor's topic keeps the event as OK)
        states = [saved_state(topic, event, self.task, self.node) for (topic, _), event in pending.items()]
        if getattr(self.store, "group_commit", False):
            # the server: committed on the store's thread, the write's answer waits for it
            self.store.save_later(states).add_done_callback(self._committed)
            return
        for state in states:
            try:
                self.store.save(state)
            except (KapfastError, OSError, sqlite3.Error) as e:
                self.failures += 1
                self.log.error("cannot save alert state %s of topic %s: %s", state.event_id, state.topic, e)

    def _committed(self, fut: Future[None]) -> None:
        if fut.exception() is not None:  # the store logged it
            self.failures += 1
