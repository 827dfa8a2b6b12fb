"""The ``aggregate`` topic handler: gather the events of ``interval`` and publish one event that
sums them up into ``topic`` (Kapacitor's ``aggregateHandler``).

The aggregate's id is ``options.id``, its message the ``message`` template (Go text/template over
``.Count`` and ``.Interval``; default ``Received {{ .Count }} events in the last {{.Interval}}.``),
its details the events' messages one per line; level, time and duration are the highest of the
events', and its data all their series. Nothing is published for an interval without events.
A timer thread (wall time) closes each interval; ``close`` stops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import AlertHandler, BuildContext, HandlerImpl, Options
from kapfast.engine.alert.handlers.publish import Collector
from kapfast.engine.alert.names import valid_topic
from kapfast.gofmt import GoDuration, GoStruct
from kapfast.gotemplate import Template, TemplateError

DEFAULT_MESSAGE = "Received {{ .Count }} events in the last {{.Interval}}."
_RANK = {"OK": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3}
log = logging.getLogger("kapfast.alert.aggregate")


def _data(count: int, interval_ns: int) -> GoStruct:
    return GoStruct("alert.aggregateMessageData", {"Count": count, "Interval": GoDuration(interval_ns)})


class AggregateHandler(AlertHandler):
    kind = "aggregate"

    def __init__(
        self,
        collector: Collector,
        interval_ns: int,
        topic: str,
        event_id: str = "",
        message: str = DEFAULT_MESSAGE,
        start: bool = True,
        now: Callable[[], int] | None = None,
    ) -> None:
        if interval_ns <= 0:
            raise ValueError("aggregate handler needs a positive options.interval")
        if not topic:
            raise ValueError("aggregate handler needs options.topic")
        try:
            self.template = Template.parse(message or DEFAULT_MESSAGE, name="message")
            self.template.render(_data(0, interval_ns))
        except TemplateError as e:
            raise ValueError(f"aggregate message template: {e}") from None
        self.collector = collector
        self.interval_ns = interval_ns
        self.topic = topic
        self.event_id = event_id
        self._events: list[AlertEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._run, name=f"aggregate-{topic}", daemon=True)
            self._thread.start()

    def handle(self, event: AlertEvent) -> None:
        with self._lock:
            self._events.append(event)

    def flush(self) -> AlertEvent | None:
        """Close the current interval: publish its aggregate (returned), if it had events."""
        with self._lock:
            events, self._events = self._events, []
        if not events:
            return None
        agg = self.aggregate(events)
        try:
            self.collector.collect(self.topic, agg)
        except Exception as e:  # the timer thread must survive a bad topic
            log.error("aggregate into topic %s failed: %s", self.topic, e)
        return agg

    def aggregate(self, events: list[AlertEvent]) -> AlertEvent:
        level = max((e.level for e in events), key=lambda lv: _RANK.get(lv, 0))
        series: list[dict[str, Any]] = []
        for e in events:
            series.extend(e.data or [])
        return AlertEvent(
            id=self.event_id,
            message=self.template.render(_data(len(events), self.interval_ns)),
            details="\n".join(e.message for e in events),
            time_ns=max(e.time_ns for e in events),
            duration_ns=max(e.duration_ns for e in events),
            level=level,
            data=series,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval_ns / 1e9):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def describe(self) -> str:
        return f"aggregate into {self.topic}"


def _build(ctx: BuildContext, o: Options) -> AggregateHandler:
    if ctx.collector is None:
        raise ValueError("aggregate is a topic handler only")
    topic = o.text("topic")
    if topic and not valid_topic(topic):
        raise ValueError(f"invalid topic name {topic!r}")
    return AggregateHandler(
        ctx.collector,
        o.duration_ns("interval"),
        topic,
        event_id=o.text("id", ctx.handler_id),
        message=o.text("message", DEFAULT_MESSAGE),
    )


IMPL = HandlerImpl(build=_build)
