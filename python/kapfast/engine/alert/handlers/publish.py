"""The ``publish`` topic handler: send the event on to other topics (``options.topics``), whose
own handlers then see it (Kapacitor's ``publishHandler``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import AlertHandler, BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.names import valid_topic


class Collector(Protocol):
    """What publishing needs of ``kapfast.engine.alert.topics.TopicRegistry``."""

    def collect(self, topic: str, event: AlertEvent, task: str = "") -> int: ...


class PublishHandler(AlertHandler):
    kind = "publish"

    def __init__(self, collector: Collector, topics: Sequence[str]) -> None:
        if not topics:
            raise ValueError("publish handler needs at least one topic in options.topics")
        self.collector = collector
        self.topics = list(topics)

    def handle(self, event: AlertEvent) -> None:
        failed = [t for t in self.topics if self.collector.collect(t, event) > 0]
        if failed:
            raise HandlerError(f"publish: handlers of topic(s) {', '.join(failed)} failed", quiet=True)

    def describe(self) -> str:
        return f"publish {', '.join(self.topics)}"


def _build(ctx: BuildContext, o: Options) -> PublishHandler:
    if ctx.collector is None:
        raise ValueError("publish is a topic handler only")
    topics = o.strings("topics")
    bad = [t for t in topics if not valid_topic(t)]
    if bad:
        raise ValueError(f"invalid topic name(s) {', '.join(bad)}")
    return PublishHandler(ctx.collector, topics)


IMPL = HandlerImpl(build=_build)
