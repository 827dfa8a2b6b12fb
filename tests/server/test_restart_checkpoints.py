"""A window survives a kapfastd restart (#15): its buffered points are in the task's checkpoint,
stored on a graceful stop and every ``[task] snapshot-interval``, and restored when the task
starts again. Kapacitor empties every window on a restart; kapfast carries on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import pytest
from kapfastd_proc import Kapfastd, wait_for

S = 10**9
T0 = 1_700_000_040  # a whole minute (s)
SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(1m)
        .every(1m)
        .align()
    |count('v')
    |httpOut('out')
"""


def define(k: Kapfastd) -> None:
    body = {"id": "w", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": SCRIPT, "status": "enabled"}
    ans = k.api("POST", "/tasks", body)
    assert ans.status == 200, ans


def counts(k: Kapfastd) -> dict[str, int]:
    body = k.request("GET", "/kapacitor/v1/tasks/w/out").json()
    return {s["tags"]["host"]: s["values"][0][1] for s in body["series"] or []}


def stored(k: Kapfastd) -> bool:
    with sqlite3.connect(k.data_dir / "kapfast.db") as db:
        return db.execute("SELECT count(*) FROM task_snapshots WHERE task = 'w'").fetchone()[0] > 0


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_an_open_window_survives_a_restart(how: str, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory('[task]\n  snapshot-interval = "1s"\n')
    define(k)
    lines = [f"cpu,host={h} v={i} {(T0 + i) * S}" for i in (1, 2, 3) for h in ("a", "b")]
    assert k.write("\n".join(lines)).status == 204
    if how == "sigterm":
        k.stop()  # a graceful stop stores the checkpoint
    else:
        wait_for(lambda: stored(k), what="a periodic checkpoint")
        time.sleep(0.1)
        k.kill()
    assert stored(k)
    k.start()
    assert k.api("GET", "/tasks/w").json()["executing"] is True
    assert k.write(f"cpu,host=a v=4 {(T0 + 10) * S}\ncpu,host=b v=4 {(T0 + 10) * S}").status == 204
    # a point of the next minute closes each window: 3 points from before the restart, 1 after
    assert k.write(f"cpu,host=a v=5 {(T0 + 61) * S}\ncpu,host=b v=5 {(T0 + 62) * S}").status == 204
    assert wait_for(lambda: counts(k) == {"a": 4, "b": 4} or None, what="the windows") is not None


def test_a_changed_script_starts_fresh_with_a_warning(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    define(k)
    assert k.write(f"cpu,host=a v=1 {(T0 + 1) * S}").status == 204
    k.stop()
    k.start()
    ans = k.api("PATCH", "/tasks/w", {"script": SCRIPT.replace("count('v')", "sum('v')")})
    assert ans.status == 200, ans
    assert k.write(f"cpu,host=a v=2 {(T0 + 5) * S}\ncpu,host=a v=3 {(T0 + 61) * S}").status == 204
    body = k.request("GET", "/kapacitor/v1/tasks/w/out").json()
    (s,) = body["series"]
    assert s["values"][0][1] == 2  # only the point written after the change
    assert "task checkpoint not used" in k.log_path.read_text()
