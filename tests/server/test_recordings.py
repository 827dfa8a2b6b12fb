"""Recordings and replays over HTTP: stream recordings from the live write path, replay bookkeeping."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for

from kapfast.recordings import read_stream_recording
from kapfast.recordings.compression import is_live_recording

SCRIPT = """stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 10)
"""
DBRPS = [{"db": "telegraf", "rp": "autogen"}]


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def define(k: Kapfastd, ident: str = "cpu_alert", script: str = SCRIPT) -> None:
    ans = k.api("POST", "/tasks", {"id": ident, "dbrps": DBRPS, "script": script})
    assert ans.status == 200, ans


def test_stream_recording_captures_the_tasks_points_until_stop(kapfastd: Kapfastd) -> None:
    define(kapfastd)
    started = kapfastd.api(
        "POST", "/recordings/stream", {"id": "rec1", "task": "cpu_alert", "stop": rfc3339(time.time() + 1.5)}
    )
    assert started.status == 201, started
    body = started.json()
    assert body["status"] == "running" and body["type"] == "stream"
    assert body["link"] == {"rel": "self", "href": "/kapacitor/v1/recordings/rec1"}
    assert kapfastd.api("GET", "/recordings/rec1").status == 202  # running
    now = time.time_ns()
    kapfastd.write(
        f"cpu,host=a usage_idle=5 {now}\nmem,host=a free=1i {now}\ncpu,host=b usage_idle=50 {now + 1}\n"
    )
    kapfastd.write(f"cpu,host=a usage_idle=7 {now}\n", "db=other&rp=autogen")  # another db: not recorded
    kapfastd.write(f"cpu,host=a usage_idle=8 {now + 2}\n", "db=telegraf&rp=autogen")
    # Nothing newer than stop arrives: kapfast still ends the recording when the clock passes stop.
    done = kapfastd.wait_status("recordings", "rec1", timeout_s=10)
    assert done["status"] == "finished" and done["error"] == "" and done["progress"] == 1.0
    path = kapfastd.data_dir / "replay" / "rec1.srpl"
    assert done["size"] > 0
    # written in stored blocks while it ran, compressed once finished: the size follows the file
    wait_for(lambda: not is_live_recording(path), what="the finished recording compressed")
    assert kapfastd.api("GET", "/recordings/rec1").json()["size"] == os.path.getsize(path) > 0
    records = list(read_stream_recording(path))
    assert [(r.db, r.rp) for r in records] == [("telegraf", "autogen")] * 3
    assert [r.line.split(b" ")[0] for r in records] == [b"cpu,host=a", b"cpu,host=b", b"cpu,host=a"]
    listed = kapfastd.api("GET", "/recordings").json()["recordings"]
    assert [r["id"] for r in listed] == ["rec1"]
    assert kapfastd.api("DELETE", "/recordings/rec1").status == 204
    assert not path.exists()
    assert kapfastd.api("GET", "/recordings/rec1").status == 404
    assert kapfastd.api("DELETE", "/recordings/rec1").status == 204


def test_recording_errors(kapfastd: Kapfastd) -> None:
    stop = rfc3339(time.time() + 60)
    unknown = kapfastd.api("POST", "/recordings/stream", {"task": "nope", "stop": stop})
    assert unknown.status == 404 and "nope" in unknown.json()["error"]
    define(kapfastd)
    no_stop = kapfastd.api("POST", "/recordings/stream", {"task": "cpu_alert"})
    assert no_stop.status == 400 and no_stop.json()["error"] == "must provide stop time"
    bad_stop = kapfastd.api("POST", "/recordings/stream", {"task": "cpu_alert", "stop": "tomorrow"})
    assert bad_stop.status == 400 and "invalid stop time" in bad_stop.json()["error"]
    bad_id = kapfastd.api("POST", "/recordings/stream", {"id": "a/b", "task": "cpu_alert", "stop": stop})
    assert bad_id.status == 400
    batch = kapfastd.api(
        "POST", "/recordings/batch", {"task": "cpu_alert", "start": rfc3339(time.time() - 60)}
    )
    assert batch.status == 400 and "stream task" in batch.json()["error"]
    query = kapfastd.api(
        "POST", "/recordings/query", {"query": 'SELECT * FROM "telegraf"."autogen"."cpu"', "type": "stream"}
    )
    assert query.status == 400 and "no InfluxDB is configured" in query.json()["error"]
    # Generated ids are UUIDs.
    auto = kapfastd.api("POST", "/recordings/stream", {"task": "cpu_alert", "stop": stop}).json()
    assert len(auto["id"]) == 36


def test_running_recording_is_settled_by_a_restart(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """A live stream recording killed while running keeps what it recorded and is ``finished``
    (replayable, its error saying why it ended early); tests/reliability/test_faults.py checks
    every acknowledged point is in it."""
    k = kapfastd_factory()
    define(k)
    assert (
        k.api(
            "POST",
            "/recordings/stream",
            {"id": "r", "task": "cpu_alert", "stop": rfc3339(time.time() + 3600)},
        ).status
        == 201
    )
    k.kill()
    k.start()
    rec = k.api("GET", "/recordings/r")
    assert rec.status == 200
    assert rec.json()["status"] == "finished"
    assert "stopped while the recording was running" in rec.json()["error"]
    assert "(0 points)" in rec.json()["error"]


def test_replay_bookkeeping(kapfastd: Kapfastd) -> None:
    define(kapfastd)
    stop = time.time() + 0.5
    assert (
        kapfastd.api(
            "POST", "/recordings/stream", {"id": "rec", "task": "cpu_alert", "stop": rfc3339(stop)}
        ).status
        == 201
    )
    kapfastd.write(f"cpu,host=a usage_idle=5 {time.time_ns()}\n")
    assert kapfastd.wait_status("recordings", "rec")["status"] == "finished"
    assert kapfastd.api("POST", "/replays", {"task": "nope", "recording": "rec"}).status == 404
    assert kapfastd.api("POST", "/replays", {"task": "cpu_alert", "recording": "nope"}).status == 404
    clock = kapfastd.api("POST", "/replays", {"task": "cpu_alert", "recording": "rec", "clock": "slow"})
    assert clock.status == 400 and "invalid clock" in clock.json()["error"]
    rt = kapfastd.api("POST", "/replays", {"task": "cpu_alert", "recording": "rec", "recording-time": "yes"})
    assert rt.status == 400
    started = kapfastd.api(
        "POST",
        "/replays",
        {"id": "rp", "task": "cpu_alert", "recording": "rec", "clock": "fast", "recording-time": True},
    )
    assert started.status == 201, started
    body = started.json()
    assert body["task"] == "cpu_alert" and body["recording"] == "rec" and body["recording-time"] is True
    assert body["clock"] == "fast"
    done = kapfastd.wait_status("replays", "rp")
    assert done["status"] in {"finished", "failed"}
    # A replay the engine cannot run fails with its reason (e.g. no engine in this build).
    assert (done["status"] == "failed") == bool(done["error"]), done
    assert [r["id"] for r in kapfastd.api("GET", "/replays").json()["replays"]] == ["rp"]
    assert kapfastd.api("DELETE", "/replays/rp").status == 204
    assert kapfastd.api("GET", "/replays/rp").status == 404


def test_stream_recording_stop_is_data_time(kapfastd: Kapfastd) -> None:
    """Kapacitor's stream recording ends at the first point newer than ``stop``: with points
    stamped 1970 and ``stop: 1970-01-01T00:00:10Z`` it captures them (not by wall clock)."""
    define(kapfastd)
    started = kapfastd.api(
        "POST", "/recordings/stream", {"id": "old", "task": "cpu_alert", "stop": "1970-01-01T00:00:10Z"}
    )
    assert started.status == 201, started
    time.sleep(0.3)
    assert kapfastd.api("GET", "/recordings/old").status == 202  # still running: no newer point yet
    s = 1_000_000_000
    kapfastd.write(f"cpu,host=a usage_idle=5 {1 * s}\ncpu,host=a usage_idle=6 {5 * s}\n")
    kapfastd.write(f"cpu,host=a usage_idle=7 {10 * s}\ncpu,host=a usage_idle=8 {11 * s}\n")
    done = kapfastd.wait_status("recordings", "old", timeout_s=10)
    assert done["status"] == "finished" and done["error"] == ""
    records = list(read_stream_recording(kapfastd.data_dir / "replay" / "old.srpl"))
    assert [r.line.split(b" ")[1] for r in records] == [b"usage_idle=5", b"usage_idle=6", b"usage_idle=7"]


def test_stream_recording_keeps_clean_bodies_as_sent(kapfastd: Kapfastd) -> None:
    """A body that is one timestamped ns line per point is stored as it came; any other body
    (a line without a time, a blank line, another precision) is stored as the parsed points."""
    define(kapfastd, "all", "stream\n    |from()\n    |httpOut('x')\n")
    stop = rfc3339(time.time() + 60)
    assert kapfastd.api("POST", "/recordings/stream", {"id": "r", "task": "all", "stop": stop}).status == 201
    now = time.time_ns()
    assert kapfastd.write(f'cpu,host=a v=5.50 {now}\nmem f=1i,s="a b" {now + 1}').status == 204
    assert kapfastd.write(f"cpu,host=b v=6.50 {now + 2}\n\ncpu,host=c v=7.50\n").status == 204
    assert (
        kapfastd.write(f"cpu,host=d v=8.50 {now // 10**9}\n", "db=telegraf&rp=autogen&precision=s").status
        == 204
    )
    path = kapfastd.data_dir / "replay" / "r.srpl"
    kapfastd.stop()  # closes the running recording's file
    lines = [r.line for r in read_stream_recording(path)]
    assert lines[:2] == [f"cpu,host=a v=5.50 {now}".encode(), f'mem f=1i,s="a b" {now + 1}'.encode()]
    assert lines[2] == f"cpu,host=b v=6.5 {now + 2}".encode()  # serialized: the body had a blank line
    assert lines[3].startswith(b"cpu,host=c v=7.5 ")  # the server's time
    assert lines[4] == f"cpu,host=d v=8.5 {now // 10**9 * 10**9}".encode()
    assert len(lines) == 5
