"""The event loop's watchdog (kapfast.server.watchdog): a loop blocked on purpose is noticed while
it is blocked, counted, and the warning names the code that blocks it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from kapfast.server.watchdog import LoopWatchdog


def _hold_the_loop_until(event: threading.Event) -> None:
    """Blocks the thread it runs on (the loop's) until ``event`` is set."""
    event.wait(60)


def test_a_blocked_loop_is_counted_and_its_stack_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kapfast.watchdog")
    dog = LoopWatchdog(threshold_s=0.1, interval_s=0.02)
    release = threading.Event()

    def release_once_sampled() -> None:
        # the loop stays blocked until the watchdog has sampled it (no sleep-then-assert)
        deadline = time.monotonic() + 60
        while dog.stalls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()

    async def main() -> None:
        dog.start()
        try:
            await asyncio.sleep(0.1)  # a few beats first
            threading.Thread(target=release_once_sampled).start()
            _hold_the_loop_until(release)  # blocks the loop: no beat until released
            # beats resume: wait (on the loop) for the watchdog to see the stall ended
            deadline = time.monotonic() + 60
            while dog.last_stall_s == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            dog.stop()

    asyncio.run(main())
    assert dog.stalls == 1
    assert dog.max_stall_s == dog.last_stall_s > 0.1
    # the loop thread's stack names the function that blocks it
    assert "_hold_the_loop_until" in dog.last_stack
    assert "event.wait(60)" in dog.last_stack
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("_hold_the_loop_until" in m and "blocked for" in m for m in warnings), warnings
    # the other threads are named in the same warning (here: the one that will release it)
    assert any("release_once_sampled" in m for m in warnings), warnings
    ended = [r.getMessage() for r in caplog.records if "was blocked for" in r.getMessage()]
    assert len(ended) == 1
    values = dog.expvars()["values"]
    assert values["stalls"] == 1 and values["max_stall_ms"] > 100


def test_a_loop_that_keeps_beating_is_no_stall() -> None:
    dog = LoopWatchdog(threshold_s=0.5, interval_s=0.02)

    async def main() -> None:
        dog.start()
        try:
            for _ in range(20):  # short waits on the loop: it beats throughout
                await asyncio.sleep(0.01)
        finally:
            dog.stop()

    asyncio.run(main())
    assert dog.stalls == 0
    assert dog.last_stack == ""


def test_stop_ends_the_thread_and_the_gc_hook() -> None:
    import gc

    dog = LoopWatchdog()

    async def main() -> None:
        dog.start()
        assert dog._on_gc in gc.callbacks
        gc.collect()
        dog.stop()

    asyncio.run(main())
    assert dog._on_gc not in gc.callbacks
    assert not any(t.name == "kapfast-watchdog" for t in threading.enumerate())
    assert dog.gc_full >= 1
