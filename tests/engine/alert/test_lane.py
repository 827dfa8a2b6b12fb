"""In the server, an alert node's inline handlers run on the node's own lane: a web hook that hangs
does not hold up the task, events still arrive in order, a full lane drops (and counts) instead of
blocking, and a stopping task delivers what is queued first."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tests.engine.recorder import Recorder, Request

from kapfast import lineproto
from kapfast.alert_event import AlertEvent
from kapfast.clock import VirtualClock
from kapfast.config import from_mapping
from kapfast.engine.alert.lane import DeliveryLane
from kapfast.engine.alert.services import AlertServices
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.tick import compile_script

S = 10**9


class GatedReceiver(Recorder):
    """Answers POSTs only once ``gate`` is set; keeps the bodies in the order they were let in."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived = threading.Event()
        self.bodies: list[dict[str, Any]] = []
        super().__init__(self._let_in)
        self.thread.start()

    def _let_in(self, req: Request) -> tuple[int, str, bytes]:
        self.arrived.set()
        self.gate.wait(30)
        self.bodies.append(json.loads(req.body))
        return 200, "text/plain", b""

    @property
    def url(self) -> str:
        return super().url + "/hook"

    def close(self) -> None:
        self.gate.set()
        self.__exit__(None, None, None)


@pytest.fixture
def receiver() -> Iterator[GatedReceiver]:
    r = GatedReceiver()
    yield r
    r.close()


def _task(url: str, registry: TopicRegistry, capacity: int = 5000) -> Task:
    script = f"""stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "v" > 90).id('{{{{ index .Tags "host" }}}}').post('{url}').timeout(30s)
    |httpOut('after')
"""
    ctx = TaskContext(task_id="t", clock=VirtualClock(0))
    ctx.services["alert_topics"] = registry
    cfg, _ = from_mapping({"alert": {"topic-buffer-length": capacity}})
    ctx.services["alert_services"] = AlertServices(cfg)
    return Task("t", compile_script(script), ctx)


def _write(task: Task, lines: str) -> None:
    task.write_points(lineproto.parse(lines.encode(), now_ns=0).batch, "db", "rp")


def test_a_hanging_hook_does_not_hold_up_the_task(receiver: GatedReceiver) -> None:
    registry = TopicRegistry()
    registry.start()
    try:
        task = _task(receiver.url, registry)
        done = threading.Event()

        def feed() -> None:
            for i in range(3):
                _write(task, f"cpu,host=h{i} v=95 {i * S}")
            done.set()

        threading.Thread(target=feed, daemon=True).start()
        # the hook holds the first event; the task went on through all three points anyway
        assert receiver.arrived.wait(10)
        assert done.wait(10), "the task waited for the web hook"
        after = task.http_out("after")
        assert after is not None and len(after["series"]) == 3
        assert receiver.bodies == []
        receiver.gate.set()
        task.finish()  # delivers what is queued before the handlers close
        assert [b["id"] for b in receiver.bodies] == ["h0", "h1", "h2"]
    finally:
        registry.close()


def test_a_full_lane_drops_and_counts(receiver: GatedReceiver) -> None:
    registry = TopicRegistry()
    registry.start()
    try:
        task = _task(receiver.url, registry, capacity=2)
        _write(task, f"cpu,host=a v=95 {0}")
        assert receiver.arrived.wait(10)  # the lane is now busy with event 1
        for i in range(1, 6):
            _write(task, f"cpu,host=a v=95 {i * S}")
        # two wait in the lane, three had no room
        # kapfast's own counter, kept apart from Kapacitor's node-stats
        assert "events_dropped" not in task.node_stats()["alert2"]
        assert task.extra_stats()["alert2"]["events_dropped"] == 3
        receiver.gate.set()
        task.finish()
        assert len(receiver.bodies) == 3
    finally:
        registry.close()


def test_without_a_delivery_thread_handlers_run_in_line(receiver: GatedReceiver) -> None:
    # kapfast test and TaskHarness: delivered before the write returns (deterministic)
    receiver.gate.set()
    task = _task(receiver.url, TopicRegistry())
    _write(task, "cpu,host=a v=95 0")
    assert [b["id"] for b in receiver.bodies] == ["a"]
    assert task.nodes[2].lane is None  # type: ignore[attr-defined]
    task.finish()


def _event(n: int) -> AlertEvent:
    return AlertEvent(id=f"e{n}", message="", details="", time_ns=n, duration_ns=0, level="CRITICAL", data=[])


def test_an_idle_lane_lets_the_caller_start_a_delivery_and_keeps_the_order() -> None:
    """An event given to an idle lane is started on the caller's thread (no wake-up of the lane's
    thread for an event delivered at once); what it leaves, and every event put while the lane is
    busy, is delivered by the lane's thread, in the order the events were put."""
    import logging

    gate = threading.Event()
    done: list[tuple[str, str]] = []  # (event id, thread name)
    started: list[str] = []
    all_done = threading.Event()

    def deliver(e: AlertEvent) -> None:
        done.append((e.id, threading.current_thread().name))
        if len(done) == 3:
            all_done.set()

    def start(e: AlertEvent) -> Any:
        started.append(e.id)
        if e.id == "e0":
            return None  # delivered at once
        return lambda: (gate.wait(30), deliver(e))  # the rest waits for the gate

    lane = DeliveryLane("t/alert2", 10, deliver, logging.getLogger("test"))
    here = threading.current_thread().name
    assert lane.put(_event(0), start)
    assert started == ["e0"] and lane.thread is None  # delivered without the lane's thread
    assert lane.put(_event(1), start)  # idle: started here, its rest queued
    assert lane.put(_event(2), start)  # busy with e1's rest: queued as it is, not started
    assert lane.put(_event(3), start)
    assert started == ["e0", "e1"]
    gate.set()
    assert all_done.wait(30)
    lane.close()
    assert [d[0] for d in done] == ["e1", "e2", "e3"]
    assert all(name != here for _, name in done)


def test_tcp_events_started_by_the_task_arrive_in_order_and_failures_count() -> None:
    """In the server, ``.tcp()`` is dialled by the task's own thread when the lane is idle: each
    event arrives once, in order, after a ``.log()`` handler behind it has it too; a refused dial
    is counted as before."""
    import socket
    import tempfile

    from tests.engine.alert.servers import TcpReceiver

    registry = TopicRegistry()
    registry.start()
    try:
        with TcpReceiver() as rcv, tempfile.TemporaryDirectory() as tmp:
            dead = socket.socket()
            dead.bind(("127.0.0.1", 0))
            refused = "{}:{}".format(*dead.getsockname())
            dead.close()
            script = f"""stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "v" > 90).id('{{{{ index .Tags "host" }}}}')
        .tcp('{rcv.address}').tcp('{refused}').log('{tmp}/a.log')
"""
            ctx = TaskContext(task_id="t", clock=VirtualClock(0))
            ctx.services["alert_topics"] = registry
            cfg, _ = from_mapping({})
            ctx.services["alert_services"] = AlertServices(cfg)
            task = Task("t", compile_script(script), ctx)
            for i in range(5):
                _write(task, f"cpu,host=h{i} v=95 {i * S}")
            got = rcv.wait(5)
            task.finish()
            assert [json.loads(p)["id"] for p in got] == [f"h{i}" for i in range(5)]
            with open(f"{tmp}/a.log") as f:
                logged = [json.loads(line)["id"] for line in f]
            assert logged == [f"h{i}" for i in range(5)]
            assert task.extra_stats()["alert2"]["handler_errors_tcp"] == 5
    finally:
        registry.close()
