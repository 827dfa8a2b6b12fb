"""UDFs in kapfastd: options checked when a task is defined, points through a process agent,
and an agent that dies failing its task (error shown, other tasks and the server fine)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from kapfastd_proc import Answer, Kapfastd

AGENT = str(Path(__file__).resolve().parents[1] / "udf" / "agentlib.py")


def udf_config(**kinds: str) -> str:
    out = "[udf]\n[udf.functions]\n"
    for name, kind in kinds.items():
        out += (
            f"  [udf.functions.{name}]\n"
            f'    prog = "{sys.executable}"\n'
            f'    args = ["-u", "{AGENT}", "{kind}"]\n'
            '    timeout = "5s"\n'
        )
    return out


def define(k: Kapfastd, task_id: str, script: str) -> Answer:
    dbrps = [{"db": "telegraf", "rp": "autogen"}]
    return k.api("POST", "/tasks", {"id": task_id, "dbrps": dbrps, "script": script, "status": "enabled"})


def output(k: Kapfastd, task_id: str, want: list[object]) -> list[object]:
    """The last row of the task's httpOut once it is ``want`` (kapfastd takes an agent's answers
    as they arrive: they may come after the write was answered)."""
    deadline = time.monotonic() + 10
    row: list[object] = []
    while time.monotonic() < deadline:
        series = k.api("GET", f"/tasks/{task_id}/out").json().get("series") or []
        row = series[0]["values"][-1][1:] if series else []
        if row == want:
            break
        time.sleep(0.02)
    return row


def test_udf_tasks_in_kapfastd(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(udf_config(mirror="mirror", crash="crash"))
    bad = define(k, "bad", "stream|from()@mirror().tag(3)|httpOut('out')")
    assert bad.status == 400
    assert "unexpected arg to tag, got INT expected STRING" in bad.json()["error"]

    assert (
        define(k, "good", "stream|from().measurement('cpu')@mirror().tag('g')|httpOut('out')").status == 200
    )
    assert define(k, "dies", "stream|from().measurement('cpu')@crash()|httpOut('out')").status == 200
    for i in range(4):
        assert (
            k.write(f"cpu,host=a value={i} {1_600_000_000 + i}", "db=telegraf&rp=autogen&precision=s").status
            == 204
        )
    assert output(k, "good", [4, 3]) == [4, 3]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = k.api("GET", "/tasks/dies").json()
        if not task["executing"]:
            break
        time.sleep(0.05)
    assert task["executing"] is False
    assert task["status"] == "enabled"
    assert task["error"] == "crash2: UDF crash: process exited unexpectedly: exit status 3"
    assert k.api("GET", "/tasks/good").json()["executing"] is True
    good = k.api("GET", "/tasks/good").json()
    assert "mirror2 [avg_exec_time_ns=" in good["dot"]
    # the agent's stderr is in kapfastd's log, tagged with the UDF's name
    assert "crasher: giving up" in k.log_path.read_text()
    assert "udf=crash" in k.log_path.read_text()


def test_udf_state_survives_a_kapfastd_restart(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(udf_config(mirror="mirror"))
    assert define(k, "m", "stream|from().measurement('cpu')@mirror()|httpOut('out')").status == 200
    for i in range(3):
        assert (
            k.write(f"cpu value={i} {1_600_000_000 + i}", "db=telegraf&rp=autogen&precision=s").status == 204
        )
    k.stop()  # a clean stop: the agent's snapshot is stored with the task
    k.start()
    assert k.write(f"cpu value=9 {1_600_000_010}", "db=telegraf&rp=autogen&precision=s").status == 204
    assert output(k, "m", [4, 9]) == [4, 9]
    assert k.api("GET", "/tasks/m/out").json()["series"][0]["columns"] == ["time", "seen", "value"]
