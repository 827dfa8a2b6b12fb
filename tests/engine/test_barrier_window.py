"""``barrier()`` flushing windows, as Kapacitor's windowByTime.Barrier: a barrier whose time reached
the window's next emit closes the window (the last window of an idle group goes out), an idle
barrier fires again every ``idle``, and count windows pass barriers on."""

from __future__ import annotations

from kapfast.testing import TaskHarness

SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |barrier()
        .idle(5s)
    |window()
        .period(10s)
        .every(10s)
    |count('v')
    |httpOut('out')
"""


def _counts(t: TaskHarness) -> list[tuple[str, str, int]]:
    return [(s["tags"]["host"], s["values"][0][0], s["values"][0][1]) for s in t.http_out("out")]


def test_idle_barrier_closes_the_last_window() -> None:
    with TaskHarness(SCRIPT, dbrp="telegraf.autogen") as t:
        t.write("cpu,host=a v=1 1s\ncpu,host=a v=2 2s\ncpu,host=a v=3 3s")
        t.advance(to="9s")  # barrier at 9s: before the window's next emit (11s)
        assert _counts(t) == []
        t.advance(to="14s")  # idle again for 5s: a second barrier, past 11s
        assert _counts(t) == [("a", "1970-01-01T00:00:11Z", 3)]
        # the next window starts after the barrier (next emit 24s); a new point goes in it
        t.write("cpu,host=a v=4 15s")
        t.advance(to="25s")
        assert _counts(t) == [("a", "1970-01-01T00:00:24Z", 1)]


def test_idle_barrier_fires_every_idle() -> None:
    script = """stream
    |from()
        .measurement('cpu')
    |barrier()
        .idle(5s)
    |window()
        .period(10s)
        .every(2s)
    |count('v')
    |httpOut('out')
"""
    with TaskHarness(script, dbrp="telegraf.autogen") as t:
        t.write("cpu v=1 0s")
        times = []
        for s in range(1, 13):
            t.advance(to=f"{s}s")
            out = t.http_out("out")
            if out and (not times or out[0]["values"][0][0] != times[-1]):
                times.append(out[0]["values"][0][0])
        # barriers at 5s and 10s with no point in between, each closing the window due by then
        # (both still hold the point of 0s: the period is 10s)
        assert times == ["1970-01-01T00:00:02Z", "1970-01-01T00:00:07Z"]


def test_count_windows_pass_barriers_on() -> None:
    script = """stream
    |from()
        .measurement('cpu')
    |barrier()
        .idle(5s)
    |window()
        .periodCount(5)
    |count('v')
    |httpOut('out')
"""
    with TaskHarness(script, dbrp="telegraf.autogen") as t:
        t.write("cpu v=1 1s\ncpu v=2 2s")
        t.advance(to="20s")
        assert t.http_out("out") == []
