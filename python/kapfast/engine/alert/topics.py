"""Alert topics: where alert nodes publish events and handlers receive them.

An alert node with inline handlers publishes to its *anonymous* topic
``<task_master>:<task>:<node>`` (a replay uses its replay id as task master, as Kapacitor does);
``.topic(name)`` publishes to a named topic as well, whose handlers are attached through the API
(``define-topic-handler``). A topic remembers the last event state of every event id: that gives
an event its ``previousLevel`` and is what the alert state store persists.

The registry is shared by every task of a server through ``ctx.services["alert_topics"]``; a task
run without one (``kapfast test``) gets a private registry. A private registry runs the handlers
of a topic on the publishing thread; the server's :meth:`TopicRegistry.start` s a delivery thread
instead, fed by a queue of ``[alert] topic-buffer-length`` events, so a slow mail server or web
hook never stalls ingestion (a full queue drops the event, logged and counted). Either way one
event at a time reaches the handlers, in publishing order. Inhibitors (``.inhibit(category,
tags...)``) live in the same registry so that one task's alert can inhibit another's.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import AlertHandler, HandlerError
from kapfast.engine.alert.match import Match, MatchError, MatchEvent
from kapfast.storage import AlertState

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
class HandlerEntry:
    """A handler attached to a topic through the API (``define-topic-handler``)."""

    id: str
    kind: str
    handler: AlertHandler
    match: Match
    sent: int = 0
    failed: int = 0
    _warned: bool = False


#: a publish handler that republishes into a topic that republishes ... stops here
MAX_PUBLISH_DEPTH = 8
log = logging.getLogger("kapfast.alert.topics")


@dataclass
class Topic:
    name: str
    events: dict[str, EventState] = field(default_factory=dict)
    handlers: list[TopicHandler] = field(default_factory=list)
    recent: deque[AlertEvent] = field(default_factory=lambda: deque(maxlen=DEFAULT_EVENT_BUFFER))
    entries: dict[str, HandlerEntry] = field(default_factory=dict)
    collected: int = 0
    # delivery lock: the events of a topic reach its handlers one at a time, in order. The
    # registry gives all its topics the same one, so a publish handler republishing from topic A
    # into B while another thread republishes from B into A cannot deadlock.
    delivery: threading.RLock = field(default_factory=threading.RLock)

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

    def __init__(self, buffer_length: int = DEFAULT_EVENT_BUFFER) -> None:
        self._lock = threading.RLock()
        self._topics: dict[str, Topic] = {}
        # inhibitors by owner key (topic, event id) so a recovery removes exactly its own
        self._inhibitors: dict[tuple[str, str], Inhibitor] = {}
        self.buffer_length = buffer_length
        #: where :meth:`collect` saves event states (a ``kapfast.storage.AlertStateStore``)
        self.states: Any = None
        self._depth = threading.local()
        self._delivery = threading.RLock()
        self._queue: queue.Queue[tuple[str, AlertEvent, str] | None] | None = None
        self._worker: threading.Thread | None = None
        #: events the delivery queue had no room for
        self.dropped = 0

    def topic(self, name: str) -> Topic:
        with self._lock:
            t = self._topics.get(name)
            if t is None:
                t = self._topics[name] = Topic(
                    name, recent=deque(maxlen=self.buffer_length), delivery=self._delivery
                )
            return t

    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def get(self, name: str) -> Topic | None:
        with self._lock:
            return self._topics.get(name)

    def delete_topic(self, name: str) -> None:
        """Forget the topic's events and state; its handlers stay attached (they are defined
        apart from the events, and deleting a topic must not silently drop its alerting)."""
        with self._lock:
            t = self._topics.pop(name, None)
            for key in [k for k in self._inhibitors if k[0] == name]:
                del self._inhibitors[key]
            if t is not None and (t.entries or t.handlers):
                self._topics[name] = Topic(
                    name,
                    handlers=t.handlers,
                    entries=t.entries,
                    recent=deque(maxlen=self.buffer_length),
                    delivery=self._delivery,
                )

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
            t.collected += 1
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

    # --- handlers defined through the API -------------------------------------------------------

    def set_entry(self, topic: str, entry: HandlerEntry, replaces: str = "") -> None:
        """Attach ``entry`` (replacing the handler ``replaces`` or one of the same id)."""
        with self._lock:
            t = self.topic(topic)
            entries = dict(t.entries)
            old = [entries.pop(i) for i in {replaces, entry.id} if i and i in entries]
            entries[entry.id] = entry
            # copy on write: a delivery in progress keeps the dict it started with
            t.entries = dict(sorted(entries.items()))
        for o in old:
            if o.handler is not entry.handler:
                o.handler.close()

    def remove_entry(self, topic: str, handler_id: str) -> bool:
        with self._lock:
            t = self._topics.get(topic)
            if t is None:
                return False
            entries = dict(t.entries)
            entry = entries.pop(handler_id, None)
            t.entries = entries
        if entry is None:
            return False
        entry.handler.close()
        return True

    def entries(self, topic: str) -> list[HandlerEntry]:
        with self._lock:
            t = self._topics.get(topic)
            return [] if t is None else list(t.entries.values())

    @property
    def asynchronous(self) -> bool:
        """Whether events are delivered off the publishing thread (the server started it)."""
        return self._worker is not None

    def start(self) -> None:
        """Deliver from a thread of its own from now on (the server does this)."""
        with self._lock:
            if self._worker is not None:
                return
            self._queue = queue.Queue(maxsize=self.buffer_length)
            self._worker = threading.Thread(target=self._run, name="alert-topics", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        q = self._queue
        assert q is not None
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                self._deliver_now(*item)
            except Exception:  # the delivery thread must outlive any bug
                log.exception("alert topic delivery failed")
            finally:
                q.task_done()

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued event was delivered; False on timeout."""
        q = self._queue
        deadline = time.monotonic() + timeout_s
        while q is not None and q.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return q is None or not q.unfinished_tasks

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (for up to ``timeout_s``), stop the delivery thread and close
        every attached handler (server shutdown)."""
        worker, q = self._worker, self._queue
        if worker is not None and q is not None:
            try:
                q.put(None, timeout=timeout_s)
            except queue.Full:
                log.error("alert topics: %d queued events not delivered at shutdown", q.qsize())
            worker.join(timeout_s)
        with self._lock:
            topics = list(self._topics.values())
            self._worker = self._queue = None
        for t in topics:
            with self._lock:
                entries, t.entries = list(t.entries.values()), {}
            for e in entries:
                e.handler.close()

    # --- delivery ----------------------------------------------------------------------------

    def deliver(self, topic: str, event: AlertEvent, task: str = "") -> int:
        """Run the handlers of ``topic`` on ``event``, in order; returns how many failed (with a
        delivery thread: 1 when the queue had no room, else 0 - the thread counts the rest).

        A failing handler is logged (once per run of failures when it says it is quiet) and
        counted; it never stops the others or the task that published."""
        with self._lock:
            t = self._topics.get(topic)
            if t is None or not (t.entries or t.handlers):
                return 0
            q, worker = self._queue, self._worker
        if q is None or worker is None or threading.current_thread() is worker:
            # no delivery thread, or a publish handler running on it: deliver right here
            return self._deliver_now(topic, event, task)
        try:
            q.put_nowait((topic, event, task))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error(
                    "alert topic %s: delivery queue full (%d events, [alert] topic-buffer-length): "
                    "event dropped (%d so far)",
                    topic,
                    self.buffer_length,
                    self.dropped,
                )
            return 1
        return 0

    def _deliver_now(self, topic: str, event: AlertEvent, task: str) -> int:
        with self._lock:
            t = self._topics.get(topic)
        if t is None:
            return 0
        failures = 0
        with t.delivery:
            for fn in list(t.handlers):
                try:
                    fn(event)
                except Exception as e:  # someone else's callable: count, go on
                    failures += 1
                    log.error("topic %s handler failed: %s", topic, e)
            if not t.entries:
                return failures
            seen = _match_event(event, task)
            for entry in list(t.entries.values()):
                try:
                    if not entry.match.matches(seen):
                        continue
                    entry.handler.handle(event)
                    entry.sent += 1
                    entry._warned = False
                except (HandlerError, MatchError) as e:
                    failures += 1
                    entry.failed += 1
                    quiet = isinstance(e, HandlerError) and e.quiet
                    if not (quiet and entry._warned):
                        log.error("topic %s: handler %s (%s): %s", topic, entry.id, entry.kind, e)
                    entry._warned = True
                except Exception as e:  # a handler bug must not stop alerting
                    failures += 1
                    entry.failed += 1
                    log.exception("topic %s: handler %s (%s) crashed: %s", topic, entry.id, entry.kind, e)
        return failures

    def collect(self, topic: str, event: AlertEvent, task: str = "") -> int:
        """Publish an event into a topic (publish/aggregate handlers): remember it, save its
        state when the registry persists, and deliver it; returns the failures."""
        depth = getattr(self._depth, "n", 0)
        if depth >= MAX_PUBLISH_DEPTH:
            raise HandlerError(f"event {event.id} republished more than {MAX_PUBLISH_DEPTH} times (a loop?)")
        self._depth.n = depth + 1
        try:
            self.record(topic, event)
            self._save(topic, event, task)
            return self.deliver(topic, event, task)
        finally:
            self._depth.n = depth

    def _save(self, topic: str, event: AlertEvent, task: str) -> None:
        if self.states is None:
            return
        try:
            self.states.save(saved_state(topic, event, task))
        except Exception as e:  # persistence is best effort: alerting goes on
            log.error("cannot save alert state %s of topic %s: %s", event.id, topic, e)

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


def saved_state(topic: str, event: AlertEvent, task: str, node: str = "") -> AlertState:
    """What the alert state store keeps of ``event`` published on ``topic`` by ``task`` (and
    alert node ``node``): the latest state of its id, a recovery (OK) included, as Kapacitor's
    topic store keeps it. Read back by the topics API and after a restart."""
    return AlertState(
        topic=topic,
        event_id=event.id,
        level=event.level,
        time=event.time_ns,
        duration=event.duration_ns,
        message=event.message,
        details=event.details,
        task=task,
        node=node,
    )


def _match_event(event: AlertEvent, task: str) -> MatchEvent:
    first = event.data[0] if event.data else {}
    return MatchEvent(
        level=event.level,
        previous_level=event.previous_level,
        name=str(first.get("name") or ""),
        task_name=task,
        duration_ns=event.duration_ns,
        tags=dict(first.get("tags") or {}),
    )
