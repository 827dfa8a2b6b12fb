"""The event-loop lag gauge of /metrics: measured by a timer against the server's Clock."""

from __future__ import annotations

import asyncio

from kapfast.server.metrics import LoopLag


class _SteppingClock:
    """Each read is 0.3 s after the previous one: a 0.1 s timer looks 0.2 s late."""

    def __init__(self) -> None:
        self.t = 0

    def now_ns(self) -> int:
        self.t += 300_000_000
        return self.t


def test_lag_is_how_late_the_timer_ran() -> None:
    async def main() -> LoopLag:
        lag = LoopLag(_SteppingClock(), interval_s=0.1)
        lag.start()
        await asyncio.sleep(0.35)
        await lag.close()
        return lag

    lag = asyncio.run(main())
    assert abs(lag.last_s - 0.2) < 1e-9
    assert abs(lag.take_max() - 0.2) < 1e-9
    lag.observe(-5)  # a clock that ran slow is no negative lag
    assert lag.last_s == 0.0
