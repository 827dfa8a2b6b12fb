"""``barrier().idle()`` in kapfastd: the last window of a group that went quiet is emitted once
the idle barrier passes its end (Kapacitor's windowByTime.Barrier), on the wall clock."""

from __future__ import annotations

import time

from kapfastd_proc import Kapfastd, wait_for

SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |barrier()
        .idle(1s)
    |window()
        .period(2s)
        .every(2s)
    |count('v')
    |httpOut('out')
"""


def test_idle_barrier_flushes_the_last_window(kapfastd: Kapfastd) -> None:
    task = {"id": "b", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": SCRIPT, "status": "enabled"}
    assert kapfastd.api("POST", "/tasks", task).status == 200
    now = time.time_ns()
    assert kapfastd.write(f"cpu,host=a v=1 {now}\ncpu,host=a v=2 {now + 1}\n").status == 204

    def counts() -> list[int]:
        got = kapfastd.api("GET", "/tasks/b/out")
        return [s["values"][0][1] for s in got.json().get("series") or []] if got.status == 200 else []

    # no later point ever arrives: only a barrier can close the window
    assert wait_for(counts, what="the window closed by the idle barrier") == [2]
