"""The event loop's watchdog: a thread that notices, while it happens, that the loop is blocked,
and says what blocked it.

A blocked loop answers nothing (``/ping`` and the API wait), and after the fact nothing tells
why (:class:`kapfast.server.metrics.LoopLag` only measures how late a timer ran). So:

* The loop beats: a timer on it notes the time every ``interval_s``.
* The ``kapfast-watchdog`` thread looks every ``interval_s``. When the last beat is older than
  ``threshold_s``, the loop is blocked: it takes a stack sample of every thread
  (``sys._current_frames()``: the loop thread's shows the code that blocks it; the others show
  what it may wait for: a lock, the engine thread...), logs the loop thread's stack as a warning
  (all threads' at debug level) and counts the stall; when the beats resume it logs how long the
  stall lasted. A stall that goes on is sampled again every ``resample_s``.
* The watchdog needs the GIL to look: when its own sleep overran by more than ``threshold_s``,
  the GIL was held (a long call into native code that did not release it) or the process was
  not scheduled; that is counted too (``watchdog_late``), and is why the sample may show the
  code that ran after the holder, not the holder.
* Garbage collections are timed (``gc.callbacks``): a stall that spans a collection says so, and
  the longest collection is reported.

Counters are in ``/kapacitor/v1/debug/vars`` (``kapfast_loop``); the stalls also in ``/metrics``
(``kapfast_event_loop_stalls_total``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kapfast.watchdog")

#: a loop blocked longer than this is a stall (the brief's "no request over 1 s caused by another
#: request" leaves room for a few of them; a stall this long is already felt by clients)
THRESHOLD_S = 0.2
INTERVAL_S = 0.05
#: a stall that goes on is sampled again this often (each sample logged at debug level)
RESAMPLE_S = 1.0
#: stacks are logged as a warning at most this often (the stalls are all counted)
QUIET_S = 10.0
#: stack frames logged per thread (the innermost)
FRAMES = 25


def _stack(frame: Any) -> str:
    return "".join(traceback.format_stack(frame, limit=FRAMES))


class LoopWatchdog:
    """See the module's docstring. ``now`` is a monotonic clock in seconds (real time: a stall is
    real time, whatever clock the server's tasks run on)."""

    def __init__(
        self,
        *,
        threshold_s: float = THRESHOLD_S,
        interval_s: float = INTERVAL_S,
        resample_s: float = RESAMPLE_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold_s = threshold_s
        self.interval_s = interval_s
        self.resample_s = resample_s
        self.now = now
        #: stalls seen, and the longest and last one (seconds)
        self.stalls = 0
        self.max_stall_s = 0.0
        self.last_stall_s = 0.0
        #: the watchdog's own wake-ups that came over ``threshold_s`` late (GIL held, or the
        #: process not scheduled)
        self.watchdog_late = 0
        #: the longest garbage collection (seconds) and collections of the oldest generation
        self.max_gc_s = 0.0
        self.gc_full = 0
        #: the first stack sample of the last stall: the loop thread's stack
        self.last_stack = ""
        self._beat = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._gc_started: float | None = None
        self._gc_seen = False
        self._last_loud = float("-inf")

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start beating on the running loop and watching from a thread."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat = self.now()
        self._timer = self._loop.call_later(self.interval_s, self._on_beat)
        gc.callbacks.append(self._on_gc)
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="kapfast-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def expvars(self) -> dict[str, Any]:
        return {
            "name": "kapfast_loop",
            "tags": {},
            "values": {
                "stalls": self.stalls,
                "max_stall_ms": round(self.max_stall_s * 1000, 1),
                "last_stall_ms": round(self.last_stall_s * 1000, 1),
                "watchdog_late": self.watchdog_late,
                "max_gc_ms": round(self.max_gc_s * 1000, 1),
                "gc_full_collections": self.gc_full,
            },
        }

    # --- on the loop -----------------------------------------------------------------------------

    def _on_beat(self) -> None:
        self._beat = self.now()
        if self._loop is not None and self._thread is not None:
            self._timer = self._loop.call_later(self.interval_s, self._on_beat)

    # --- in any thread (the collector's) ---------------------------------------------------------

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = self.now()
            return
        started, self._gc_started = self._gc_started, None
        if started is None:
            return
        took = self.now() - started
        self.max_gc_s = max(self.max_gc_s, took)
        if info.get("generation") == 2:
            self.gc_full += 1
        if took > self.threshold_s / 2:
            self._gc_seen = True
            log.info("a garbage collection (generation %s) took %.0f ms", info.get("generation"), took * 1000)

    # --- the watchdog thread ---------------------------------------------------------------------

    def _watch(self) -> None:
        stalled_since: float | None = None
        next_sample = 0.0
        woke = self.now()
        while not self._stop.wait(self.interval_s):
            now = self.now()
            if now - woke - self.interval_s > self.threshold_s:
                self.watchdog_late += 1
                log.info(
                    "the watchdog woke %.0f ms late: the GIL was held (native code) or the process "
                    "was not scheduled",
                    (now - woke - self.interval_s) * 1000,
                )
            woke = now
            lag = now - self._beat
            if lag > self.threshold_s:
                if stalled_since is None:
                    stalled_since = self._beat
                    self._gc_seen = self._gc_started is not None
                    self.stalls += 1
                    self.last_stack = self._sample(lag, first=True)
                    next_sample = now + self.resample_s
                elif now >= next_sample:
                    self._sample(lag, first=False)
                    next_sample = now + self.resample_s
            elif stalled_since is not None:
                took = self._beat - stalled_since
                self.last_stall_s = took
                self.max_stall_s = max(self.max_stall_s, took)
                log.log(
                    logging.WARNING if took >= 1.0 else logging.INFO,
                    "the event loop was blocked for %.0f ms%s",
                    took * 1000,
                    " (a garbage collection ran meanwhile)" if self._gc_seen else "",
                )
                stalled_since = None

    def _sample(self, lag: float, *, first: bool) -> str:
        """Every thread's stack, the loop thread's first, logged: as a warning for the first
        sample of a stall (at most one every ``QUIET_S``: an overloaded server does not flood its
        log), else at debug level. Returns the loop thread's."""
        frames = sys._current_frames()
        names = {t.ident: t.name for t in threading.enumerate()}
        me = threading.get_ident()
        loop_stack = ""
        others = []
        for ident, frame in frames.items():
            if ident == me:
                continue
            text = _stack(frame)
            if ident == self._loop_thread:
                loop_stack = text
            else:
                others.append(f"thread {names.get(ident, ident)}:\n{text}")
        now = self.now()
        loud = first and now - self._last_loud >= QUIET_S
        if loud:
            self._last_loud = now
        level = logging.WARNING if loud else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "the event loop has been blocked for %.0f ms%s; it is running:\n%s\nthe other threads:\n%s",
                lag * 1000,
                " (a garbage collection is running)" if self._gc_started is not None else "",
                loop_stack or "(no Python frame: native code or a garbage collection)\n",
                "\n".join(others),
            )
        return loop_stack


__all__ = ["LoopWatchdog"]
