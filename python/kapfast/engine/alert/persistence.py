"""Alert levels that survive a restart, through ``kapfast.storage.AlertStateStore``.

When the engine puts the store in ``ctx.services["alert_states"]``, an alert node loads the saved
states of its topics into the topic registry when it starts, and saves an event id's state when
its level changes (the store deletes it when the level returns to OK, as Kapacitor's topic store
does). Saving on level changes only keeps a hot alert from writing SQLite for every point; what a
restart needs — the level, and when the alert began (``time - duration``) — is in that record.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.topics import EventState, TopicRegistry
from kapfast.errors import KapfastError
from kapfast.storage import AlertState


class LevelPersistence:
    def __init__(self, store: Any, task: str, node: str, log: logging.Logger) -> None:
        self.store = store
        self.task = task
        self.node = node
        self.log = log
        self._saved: dict[tuple[str, str], str] = {}
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
            self._saved[(topic, event_id)] = s.level

    def save(self, topic: str, event: AlertEvent) -> None:
        key = (topic, event.id)
        if self._saved.get(key, "OK") == event.level:
            return
        try:
            self.store.save(
                AlertState(
                    topic=topic,
                    event_id=event.id,
                    level=event.level,
                    time=event.time_ns,
                    duration=event.duration_ns,
                    message=event.message,
                    details=event.details,
                    task=self.task,
                    node=self.node,
                )
            )
        except (KapfastError, OSError, sqlite3.Error) as e:
            self.failures += 1
            self.log.error("cannot save alert state %s of topic %s: %s", event.id, topic, e)
            return
        self._saved[key] = event.level
