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
    out = k.api("GET", "/tasks/good/out").json()
    assert out["series"][0]["values"][0][1:] == [4, 3]

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
    out = k.api("GET", "/tasks/m/out").json()
    assert out["series"][0]["columns"] == ["time", "seen", "value"]
    assert out["series"][0]["values"][0][1:] == [4, 9]
