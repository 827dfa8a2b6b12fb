"""Time as a dependency: nothing in kapfast reads the wall clock except through a :class:`Clock`.

Live servers use :class:`WallClock`; replays and tests use :class:`VirtualClock`, which only moves
when told to, so that a run is deterministic. Times are int nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Current time, nanoseconds since the Unix epoch."""
        ...


class WallClock:
    """The real time."""

    def now_ns(self) -> int:
        return time.time_ns()


class VirtualClock:
    """A clock that stands still until :meth:`set` or :meth:`advance` moves it (never backwards)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, t_ns: int) -> None:
        if t_ns > self._now:
            self._now = t_ns

    def advance(self, d_ns: int) -> None:
        if d_ns < 0:
            raise ValueError("a virtual clock does not go backwards")
        self._now += d_ns


__all__ = ["Clock", "VirtualClock", "WallClock"]
