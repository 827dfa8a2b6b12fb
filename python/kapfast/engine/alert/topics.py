"""Alert topics: where alert nodes publish events and handlers receive them.

An alert node with inline handlers publishes to its *anonymous* topic
``<task_master>:<task>:<node>`` (a replay uses its replay id as task master, as Kapacitor does);
``.topic(name)`` publishes to a named topic as well, whose handlers are attached through the API
(``define-topic-handler``). A topic remembers the last event state of every event id: that gives
an event its ``previousLevel`` and is what the alert state store persists.

The registry is shared by every task of a server through ``ctx.services["alert_topics"]``; a task
run without one (``kapfast test``) gets a private registry. Inhibitors (``.inhibit(category,
tags...)``) live in the same registry so that one task's alert can inhibit another's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kapfast.alert_event import AlertEvent

#: Kapacitor's default number of events a topic keeps (``[alert] topic-buffer-length``).
DEFAULT_EVENT_BUFFER = 5000

TopicHandler = Callable[[AlertEvent], None]


def anonymous_topic(task_master: str, task_id: str, node_name: str) -> str:
    return f"{task_master}:{task_id}:{node_name}"


@dataclass(slots=True)
class EventState:
    """The last state of one event id on a topic."""

    level: str
    time_ns: int
    duration_ns: int = 0
    message: str = ""
    details: str = ""


@dataclass
class Topic:
    name: str
    events: dict[str, EventState] = field(default_factory=dict)
    handlers: list[TopicHandler] = field(default_factory=list)
    recent: deque[AlertEvent] = field(default_factory=lambda: deque(maxlen=DEFAULT_EVENT_BUFFER))

    def max_level(self) -> str:
        order = {"OK": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3}
        best = "OK"
        for s in self.events.values():
            if order.get(s.level, 0) > order[best]:
                best = s.level
        return best


@dataclass(frozen=True, slots=True)
class Inhibitor:
    """``.inhibit(category, tags...)`` of one alert group that is currently not OK."""

    category: str
    equal_tags: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]

    def inhibits(self, category: str, tags: Mapping[str, str]) -> bool:
        if category != self.category:
            return False
        mine = dict(self.tags)
        return all(tags.get(k) == mine.get(k) for k in self.equal_tags)


class TopicRegistry:
    """All topics of a server (or of one offline run), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._topics: dict[str, Topic] = {}
        # inhibitors by owner key (topic, event id) so a recovery removes exactly its own
        self._inhibitors: dict[tuple[str, str], Inhibitor] = {}

    def topic(self, name: str) -> Topic:
        with self._lock:
            t = self._topics.get(name)
            if t is None:
                t = self._topics[name] = Topic(name)
            return t

    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def get(self, name: str) -> Topic | None:
        with self._lock:
            return self._topics.get(name)

    def delete_topic(self, name: str) -> None:
        with self._lock:
            self._topics.pop(name, None)
            for key in [k for k in self._inhibitors if k[0] == name]:
                del self._inhibitors[key]

    def event_state(self, topic: str, event_id: str) -> EventState | None:
        with self._lock:
            t = self._topics.get(topic)
            return None if t is None else t.events.get(event_id)

    def restore(self, topic: str, event_id: str, state: EventState) -> None:
        """Put back a state saved before a restart (no handler runs)."""
        with self._lock:
            self.topic(topic).events.setdefault(event_id, state)

    def previous_level(self, topic: str, event_id: str) -> str:
        s = self.event_state(topic, event_id)
        return "OK" if s is None else s.level

    def record(self, topic: str, event: AlertEvent) -> str:
        """Remember ``event`` as the latest state of its id; returns the previous level."""
        with self._lock:
            t = self.topic(topic)
            prev = t.events.get(event.id)
            t.events[event.id] = EventState(
                event.level, event.time_ns, event.duration_ns, event.message, event.details
            )
            t.recent.append(event)
            return "OK" if prev is None else prev.level

    def handlers(self, topic: str) -> list[TopicHandler]:
        with self._lock:
            t = self._topics.get(topic)
            return [] if t is None else list(t.handlers)

    def add_handler(self, topic: str, handler: TopicHandler) -> None:
        with self._lock:
            self.topic(topic).handlers.append(handler)

    def remove_handler(self, topic: str, handler: TopicHandler) -> None:
        with self._lock:
            t = self._topics.get(topic)
            if t is not None and handler in t.handlers:
                t.handlers.remove(handler)

    # --- inhibition --------------------------------------------------------------------------

    def set_inhibitors(
        self,
        owner: tuple[str, str],
        inhibits: Sequence[tuple[str, tuple[str, ...]]],
        tags: Mapping[str, str],
        active: bool,
    ) -> None:
        """Activate (non-OK) or clear (OK) the inhibitors of one alert event."""
        with self._lock:
            for i, (category, equal) in enumerate(inhibits):
                key = (owner[0], f"{owner[1]}\x00{i}")
                if active:
                    kept = tuple(sorted((k, tags[k]) for k in equal if k in tags))
                    self._inhibitors[key] = Inhibitor(category, equal, kept)
                else:
                    self._inhibitors.pop(key, None)

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        if not category:
            return False
        with self._lock:
            return any(inh.inhibits(category, tags) for inh in self._inhibitors.values())
