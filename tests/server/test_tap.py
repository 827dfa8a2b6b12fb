"""``kapfast tap`` / ``GET /kapfast/v1/tap/{task}/{node}``: a node's output, live, from a running
kapfastd, without changing the task."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable

from kapfastd_proc import Kapfastd

from kapfast import lineproto
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.tap import Tap
from kapfast.engine.task import Task
from kapfast.tick import compile_script

SCRIPT = """stream
    |from()
        .measurement('cpu')
    |where(lambda: "v" > 10)
    |httpOut('out')
"""


def _tap_cli(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kapfast.cli.main", "-url", url, "tap", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_tap_shows_what_a_node_lets_through(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    body = {
        "id": "cpu",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": SCRIPT,
        "status": "enabled",
    }
    assert k.api("POST", "/tasks", body).status == 200
    proc = _tap_cli(k.url, "cpu", "where2", "-limit", "2")
    try:
        # the tap is open once the server has it: write until the two points came through
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            lines.extend(proc.stdout.read().splitlines())
            done.set()

        threading.Thread(target=read, daemon=True).start()
        i = 0
        while not done.wait(0.2) and i < 100:
            k.write(f"cpu,host=a v=5 {i}\ncpu,host=b v=50 {i}\n", "db=telegraf&rp=autogen&precision=s")
            i += 1
        assert done.is_set()
        assert proc.wait(10) == 0
        assert len(lines) == 2
        assert all(line.startswith("cpu,host=b v=50 ") for line in lines)  # where2 drops host=a
    finally:
        proc.kill()
        proc.communicate()  # closes the pipes


def test_tap_errors_name_what_is_missing(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    body = {
        "id": "cpu",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": SCRIPT,
        "status": "enabled",
    }
    assert k.api("POST", "/tasks", body).status == 200
    r = k.request("GET", "/kapfast/v1/tap/cpu/where9")
    assert r.status == 404
    assert r.json()["error"] == "task cpu has no node where9 (its nodes: stream0, from1, where2, http_out3)"
    assert k.request("GET", "/kapfast/v1/tap/nope/where2").status == 404
    assert k.request("GET", "/kapfast/v1/tap/cpu/where2?limit=x").status == 400
    proc = _tap_cli(k.url, "cpu")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode != 0
    assert "Must provide a task ID and a node name." in err


def test_batches_and_drops_are_shown_as_comments() -> None:
    async def run() -> list[str | None]:
        script = """stream|from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)|httpOut('o')"""
        task = Task("t", compile_script(script), TaskContext("t", VirtualClock(0)))
        tap = Tap(asyncio.get_running_loop(), max_queued=2)
        task.add_tap("window2", tap)
        for s in (0, 5, 10, 20, 30):
            b = lineproto.parse(f"cpu,host=a v={s} {s}".encode(), precision="s", now_ns=0).batch
            task.write_points(b)
        task.finish()
        await asyncio.sleep(0)
        out: list[str | None] = []
        while not tap.queue.empty():
            out.append(tap.queue.get_nowait())
        return out

    out = asyncio.run(run())
    # three windows closed; the reader (never reading) had room for two: the third was dropped,
    # the end of the task still ends its stream
    assert out[0] == (
        "# batch cpu group=host=a time=1970-01-01T00:00:10Z points=2\n"
        "cpu,host=a v=0 0\ncpu,host=a v=5 5000000000\n"
    )
    assert out[1] is not None and out[1].startswith("# batch cpu group=host=a time=1970-01-01T00:00:20Z")
    assert out[-1] is None
    assert len(out) == 3
