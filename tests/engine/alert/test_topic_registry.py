"""Handlers attached to topics: specs built by the alert services, delivery in order with match,
failures counted, publish and aggregate."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.servers import TcpReceiver
from tests.engine.alert.util import values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.aggregate import AggregateHandler
from kapfast.engine.alert.handlers.base import AlertHandler, HandlerError
from kapfast.engine.alert.match import compile_match
from kapfast.engine.alert.services import AlertServices, HandlerSpec, HandlerSpecError
from kapfast.engine.alert.topics import HandlerEntry, TopicRegistry

S = 1_000_000_000


def event(level: str, prev: str = "OK", id: str = "cpu:nil", t: int = 0, host: str = "a") -> AlertEvent:
    return AlertEvent(
        id=id,
        message=f"{id} is {level}",
        details="",
        time_ns=t,
        duration_ns=t,
        level=level,
        data=[{"name": "cpu", "tags": {"host": host}, "columns": ["time", "v"], "values": [[t, 1.0]]}],
        previous_level=prev,
    )


class Keep(AlertHandler):
    kind = "keep"

    def __init__(self, fail: bool = False) -> None:
        self.events: list[AlertEvent] = []
        self.fail = fail

    def handle(self, e: AlertEvent) -> None:
        if self.fail:
            raise HandlerError("refused")
        self.events.append(e)


def attach(
    reg: TopicRegistry, topic: str, hid: str, kind: str, options: dict[str, object], match: str = ""
) -> None:
    reg.set_entry(topic, AlertServices().build_entry(HandlerSpec(hid, topic, kind, options, match), reg))


def test_log_handler_spec_with_match_gets_the_matching_events(tmp_path: Path) -> None:
    reg = TopicRegistry()
    path = tmp_path / "a.log"
    attach(reg, "cpu", "log1", "log", {"path": str(path)}, "changed() == TRUE AND level() >= WARNING")
    for e in (event("WARNING"), event("WARNING", "WARNING"), event("OK", "WARNING"), event("CRITICAL", "OK")):
        assert reg.collect("cpu", e, task="t") == 0
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["level"], x["previousLevel"]) for x in lines] == [("WARNING", "OK"), ("CRITICAL", "OK")]
    (entry,) = reg.entries("cpu")
    assert (entry.sent, entry.failed) == (2, 0)


def test_tcp_handler_spec_delivers_in_order() -> None:
    reg = TopicRegistry()
    with TcpReceiver() as rx:
        attach(reg, "cpu", "tcp", "tcp", {"address": rx.address})
        for i in range(5):
            reg.collect("cpu", event("CRITICAL", t=i * S))
        deadline = time.monotonic() + 5
        while len(rx.payloads) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    times = [json.loads(p)["time"] for p in rx.payloads]
    assert times == [f"1970-01-01T00:00:0{i}Z" for i in range(5)]
    assert all(p.endswith(b"\n\n") for p in rx.payloads)


def test_failures_are_counted_and_do_not_stop_other_handlers(caplog: pytest.LogCaptureFixture) -> None:
    reg = TopicRegistry()
    bad, good = Keep(fail=True), Keep()
    reg.set_entry("t", HandlerEntry("a", "keep", bad, compile_match("")))
    reg.set_entry("t", HandlerEntry("b", "keep", good, compile_match("\"host\" == 'a'")))
    with caplog.at_level(logging.ERROR):
        assert reg.collect("t", event("CRITICAL")) == 1
        assert reg.collect("t", event("CRITICAL", host="b")) == 1
        # an event without the tag the match reads is a match failure: counted, logged
        e = event("CRITICAL")
        e.data = []
        assert reg.collect("t", e) == 2
    assert len(good.events) == 1
    assert "refused" in caplog.text and "no tag exists for host" in caplog.text
    entries = {x.id: x for x in reg.entries("t")}
    assert (entries["a"].failed, entries["b"].failed, entries["b"].sent) == (3, 1, 1)


def test_publish_republishes_to_other_topics_and_loops_stop() -> None:
    reg = TopicRegistry()
    attach(reg, "in", "pub", "publish", {"topics": ["out1", "out2"]})
    k1, k2 = Keep(), Keep()
    reg.set_entry("out1", HandlerEntry("k", "keep", k1, compile_match("")))
    reg.set_entry("out2", HandlerEntry("k", "keep", k2, compile_match("level() == CRITICAL")))
    reg.collect("in", event("WARNING"))
    reg.collect("in", event("CRITICAL"))
    assert [e.level for e in k1.events] == ["WARNING", "CRITICAL"]
    assert [e.level for e in k2.events] == ["CRITICAL"]
    assert reg.event_state("out1", "cpu:nil") is not None  # the event is on the other topic too
    attach(reg, "loop", "self", "publish", {"topics": ["loop"]})
    assert reg.collect("loop", event("CRITICAL")) == 1  # stopped and counted, not a crash


def test_aggregate_sums_up_an_interval() -> None:
    reg = TopicRegistry()
    out = Keep()
    reg.set_entry("agg", HandlerEntry("k", "keep", out, compile_match("")))
    h = AggregateHandler(reg, 60 * S, "agg", event_id="cpu-agg", start=False)
    h.handle(event("WARNING", t=3 * S, id="a"))
    h.handle(event("CRITICAL", t=2 * S, id="b"))
    h.handle(event("INFO", t=1 * S, id="c"))
    agg = h.flush()
    assert agg is not None and out.events == [agg]
    assert (agg.id, agg.level, agg.time_ns, agg.duration_ns) == ("cpu-agg", "CRITICAL", 3 * S, 3 * S)
    assert agg.message == "Received 3 events in the last 1m0s."
    assert agg.details == "a is WARNING\nb is CRITICAL\nc is INFO"
    assert len(agg.data or []) == 3
    assert h.flush() is None  # an empty interval publishes nothing
    h.close()


def test_aggregate_spec_with_timer_publishes() -> None:
    reg = TopicRegistry()
    out = Keep()
    reg.set_entry("sum", HandlerEntry("k", "keep", out, compile_match("")))
    attach(
        reg,
        "cpu",
        "agg",
        "aggregate",
        {"interval": "100ms", "topic": "sum", "message": "{{.Count}} in {{.Interval}}"},
    )
    reg.collect("cpu", event("CRITICAL"))
    reg.collect("cpu", event("WARNING"))
    deadline = time.monotonic() + 5
    while not out.events and time.monotonic() < deadline:
        time.sleep(0.02)
    reg.close()
    assert [e.message for e in out.events] == ["2 in 100ms"]
    assert out.events[0].id == "agg"  # defaults to the handler id


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (HandlerSpec("a b", "t", "log"), "handler ID must contain only"),
        (HandlerSpec("a", "t/x", "log"), "topic must contain only"),
        (HandlerSpec("a", "t", ""), "kind must not be empty"),
        (HandlerSpec("a", "t", "alertmanager"), "'alertmanager' is not supported by kapfast"),
        (HandlerSpec("a", "t", "carrier-pigeon"), "unknown handler kind 'carrier-pigeon'"),
        (HandlerSpec("a", "t", "log", {"path": "rel.log"}), "must be absolute"),
        (HandlerSpec("a", "t", "log", {"path": "/tmp/a.log", "pth": 1}), r"unknown option\(s\) pth"),
        (HandlerSpec("a", "t", "tcp", {"address": 5}), "must be a string"),
        (HandlerSpec("a", "t", "post", {"endpoint": "nope"}), "unknown \\[\\[httppost\\]\\] endpoint"),
        (HandlerSpec("a", "t", "aggregate", {"topic": "x"}), "positive options.interval"),
        (HandlerSpec("a", "t", "aggregate", {"interval": "soon", "topic": "x"}), "a duration such as"),
        (HandlerSpec("a", "t", "publish", {}), "at least one topic"),
        (HandlerSpec("a", "t", "log", {"path": "/tmp/a.log"}, "level() > LOUD"), 'unknown identifier "LOUD"'),
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: HandlerSpec, message: str) -> None:
    with pytest.raises(HandlerSpecError, match=message):
        AlertServices().build_entry(spec, TopicRegistry())


def test_named_topic_of_an_alert_node_reaches_its_handlers(tmp_path: Path) -> None:
    reg = TopicRegistry()
    path = tmp_path / "t.log"
    attach(reg, "ops", "log", "log", {"path": str(path)}, "changed()")
    r = build(
        "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5).topic('ops')",
        "task1",
        services={"alert_topics": reg},
    )
    r.node.push(values_chunk([10, 11, 1]))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["level"] for x in lines] == ["CRITICAL", "OK"]
    assert r.node.stats.extra["events_dropped"] == 0


def test_deleting_a_topic_keeps_its_handlers() -> None:
    reg = TopicRegistry()
    attach(reg, "ops", "pub", "publish", {"topics": ["x"]})
    reg.collect("ops", event("CRITICAL"))
    reg.delete_topic("ops")
    assert reg.event_state("ops", "cpu:nil") is None
    assert [e.id for e in reg.entries("ops")] == ["pub"]
    assert reg.remove_entry("ops", "pub") is True
    assert reg.remove_entry("ops", "pub") is False


def test_handler_on_the_anonymous_topic_gets_its_events(tmp_path: Path) -> None:
    reg = TopicRegistry()
    inline, api = tmp_path / "inline.log", tmp_path / "api.log"
    r = build(
        f"stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5).log('{inline}')",
        "task1",
        services={"alert_topics": reg},
    )
    assert r.node.anon_topic == "main:task1:alert2"
    attach(reg, r.node.anon_topic, "api", "log", {"path": str(api)})
    r.node.push(values_chunk([10, 1]))
    assert api.read_bytes() == inline.read_bytes() != b""


def test_publishing_both_ways_from_two_threads_does_not_deadlock() -> None:
    reg = TopicRegistry()
    # a -> b -> a ... until the depth guard stops it: 8 deliveries per event, 4 on each topic
    attach(reg, "a", "to-b", "publish", {"topics": ["b"]})
    attach(reg, "b", "to-a", "publish", {"topics": ["a"]})
    keep_a, keep_b = Keep(), Keep()
    reg.set_entry("a", HandlerEntry("keep", "keep", keep_a, compile_match("level() == CRITICAL")))
    reg.set_entry("b", HandlerEntry("keep", "keep", keep_b, compile_match("level() == CRITICAL")))

    def run(topic: str) -> None:
        for i in range(200):
            reg.collect(topic, event("CRITICAL", t=i))

    threads = [threading.Thread(target=run, args=(t,)) for t in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert not any(th.is_alive() for th in threads)
    assert len(keep_a.events) == len(keep_b.events) == 2 * 200 * 4


class Slow(Keep):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def handle(self, e: AlertEvent) -> None:
        time.sleep(self.delay)
        super().handle(e)


def test_delivery_thread_keeps_publishers_fast_and_events_in_order() -> None:
    reg = TopicRegistry()
    reg.start()
    slow = Slow(0.01)
    reg.set_entry("t", HandlerEntry("slow", "keep", slow, compile_match("")))
    attach(reg, "t", "zz-pub", "publish", {"topics": ["out"]})
    out = Keep()
    reg.set_entry("out", HandlerEntry("k", "keep", out, compile_match("")))
    started = time.monotonic()
    for i in range(20):
        assert reg.collect("t", event("CRITICAL", t=i)) == 0
    assert time.monotonic() - started < 0.15  # 20 x 10 ms of handler time not spent here
    assert reg.drain(10)
    assert [e.time_ns for e in slow.events] == list(range(20))
    assert [e.time_ns for e in out.events] == list(range(20))  # publish ran on the thread too
    reg.close()


def test_full_delivery_queue_drops_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    reg = TopicRegistry(buffer_length=2)
    reg.start()
    gate = threading.Event()

    class Gate(Keep):
        def handle(self, e: AlertEvent) -> None:
            gate.wait(10)
            super().handle(e)

    held = Gate()
    reg.set_entry("t", HandlerEntry("g", "keep", held, compile_match("")))
    with caplog.at_level(logging.ERROR):
        results = [reg.deliver("t", event("CRITICAL", t=i)) for i in range(6)]
        time.sleep(0.05)
    gate.set()
    assert reg.drain(10)
    # one event in the handler, two queued, the rest dropped (counted, logged)
    assert sum(results) == reg.dropped >= 3
    assert len(held.events) == 6 - reg.dropped
    assert "delivery queue full" in caplog.text
    reg.close()
    assert reg.deliver("t", event("OK")) == 0  # after close: nothing attached any more
