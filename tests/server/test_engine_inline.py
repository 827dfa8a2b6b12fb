"""A small write finding the engine idle runs on the caller's thread (kapfast.server.engine_thread
Engine.submit): no hop to the engine thread for a few points. It never overtakes what is queued,
a large batch still goes to the engine thread, and what a task calls back into the engine from
such a write runs at once (as on the engine thread) instead of waiting for itself."""

from __future__ import annotations

import threading

from kapfast.batch import PointBatch
from kapfast.server.engine_thread import INLINE_POINTS, Engine

WAIT_S = 30


def _batch(n: int) -> PointBatch:
    return PointBatch.from_rows([("cpu", {"host": "a"}, {"v": float(i)}, i) for i in range(n)])


class _Router:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[int, str]] = []  # (points, thread name)

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        self.seen.append((len(batch), threading.current_thread().name))

    def wants_raw(self) -> bool:
        return False


def _engine() -> tuple[Engine, _Router]:
    engine = Engine()
    router = _Router(engine)
    engine.router = router  # type: ignore[assignment]
    engine.start()
    return engine, router


def test_a_small_batch_on_an_idle_engine_runs_on_the_callers_thread() -> None:
    engine, router = _engine()
    try:
        here = threading.current_thread().name
        fut = engine.submit("db", "rp", _batch(1))
        assert fut.done() and fut.result() is None  # no commit pending: no durable set
        assert router.seen == [(1, here)]
        assert engine.batches == 1
        engine.submit("db", "rp", _batch(INLINE_POINTS + 1)).result(WAIT_S)
        assert router.seen[-1] == (INLINE_POINTS + 1, "kapfast-engine")
    finally:
        engine.stop()


def test_a_small_batch_waits_behind_a_busy_engine_in_order() -> None:
    engine, router = _engine()
    release = threading.Event()
    try:
        engine.post(lambda: release.wait(WAIT_S))  # the engine thread is busy
        big = engine.submit("db", "rp", _batch(INLINE_POINTS + 1))
        small = engine.submit("db", "rp", _batch(1))
        assert not small.done() and router.seen == []
        release.set()
        small.result(WAIT_S)
        assert big.done()
        assert router.seen == [(INLINE_POINTS + 1, "kapfast-engine"), (1, "kapfast-engine")]
    finally:
        release.set()
        engine.stop()


def test_a_small_batch_runs_while_the_engine_parses_a_large_body_but_overtakes_nothing_queued() -> None:
    """While an item lets go of the engine's lock (a large body's parse, Engine.unlocked), a small
    write finding nothing queued runs on the caller's thread instead of waiting for the parse and
    the body's points; the item takes the lock back after it. With an item queued, the small write
    still waits its turn behind it."""
    engine, router = _engine()
    parsing, parsed = threading.Event(), threading.Event()
    order: list[str] = []

    def large_body() -> None:  # as kapfast.server.write's item: parse unlocked, then route
        with engine.unlocked():
            parsing.set()
            parsed.wait(WAIT_S)
        order.append("large routed")

    try:
        engine.post(large_body)
        assert parsing.wait(WAIT_S)
        small = engine.submit("db", "rp", _batch(1))
        assert small.done() and router.seen == [(1, threading.current_thread().name)]
        order.append("small routed")
        queued = threading.Event()
        engine.post(queued.wait)  # now something is queued behind the large body
        later = engine.submit("db", "rp", _batch(1))
        assert not later.done()
        parsed.set()
        queued.set()
        later.result(WAIT_S)
        assert router.seen[-1] == (1, "kapfast-engine")
        assert order == ["small routed", "large routed"]
        assert engine.run(lambda: 1) == 1  # the lock was taken back and let go
    finally:
        parsed.set()
        engine.stop()


def test_a_task_calling_the_engine_from_a_small_batch_does_not_wait_for_itself() -> None:
    engine, router = _engine()
    nested: list[str] = []

    def write_points(db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        # what kapacitorLoopback or a recording's end does: a serialized call into the engine
        nested.append(engine.run(lambda: threading.current_thread().name))

    router.write_points = write_points  # type: ignore[method-assign]
    try:
        fut = engine.submit("db", "rp", _batch(1))
        assert fut.result(WAIT_S) is None
        assert nested == [threading.current_thread().name]
        # from another thread, a call still goes through the engine thread
        assert engine.run(lambda: threading.current_thread().name) == "kapfast-engine"
    finally:
        engine.stop()


def test_an_error_in_a_small_batch_is_the_futures() -> None:
    engine, router = _engine()

    def fail(db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        raise ValueError("boom")

    router.write_points = fail  # type: ignore[method-assign]
    try:
        fut = engine.submit("db", "rp", _batch(1))
        assert isinstance(fut.exception(WAIT_S), ValueError)
        assert engine.run(lambda: 1) == 1  # the lock was let go
    finally:
        engine.stop()


def test_not_on_the_callers_thread_while_a_task_may_wait_on_the_outside() -> None:
    engine, router = _engine()
    waiting = [True]
    engine.inline_ok = lambda: not waiting[0]
    try:
        engine.submit("db", "rp", _batch(1)).result(WAIT_S)
        assert router.seen[-1] == (1, "kapfast-engine")
        waiting[0] = False
        engine.submit("db", "rp", _batch(1)).result(WAIT_S)
        assert router.seen[-1] == (1, threading.current_thread().name)
    finally:
        engine.stop()


def test_tasks_that_may_wait_on_the_outside_are_known() -> None:
    from kapfast.clock import VirtualClock
    from kapfast.engine.context import TaskContext
    from kapfast.engine.task import Task
    from kapfast.tick import compile_script

    def task(script: str) -> Task:
        return Task("t", compile_script(script), TaskContext(task_id="t", clock=VirtualClock(0)))

    plain = task("stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1).tcp('127.0.0.1:1')")
    posting = task("stream|from().measurement('cpu')|httpPost('http://127.0.0.1:1/')")
    try:
        assert not plain.may_wait
        assert posting.may_wait
    finally:
        plain.finish()
        posting.finish()
