"""Faults kapfastd must survive with clear errors and nothing acknowledged lost: its SQLite store
locked by another process, its data dir's disk full (a real tmpfs of a few MB, mounted here
when the tests run as root), and SIGKILL in the middle of a write burst."""

from __future__ import annotations

import functools
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd, free_port, wait_for

DBRPS = [{"db": "telegraf", "rp": "autogen"}]
SCRIPT = "stream\n    |from()\n        .measurement('cpu')\n    |httpOut('out')\n"


def define(k: Kapfastd, task_id: str, status: str = "enabled") -> object:
    return k.api("POST", "/tasks", {"id": task_id, "dbrps": DBRPS, "script": SCRIPT, "status": status})


def assert_store_sound(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def hold_write_lock(db: Path, seconds: float, locked: threading.Event) -> None:
    """What a backup tool or an operator's `sqlite3` shell does: a write transaction held open."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_burst(
    k: Kapfastd, stop: threading.Event, body: Callable[[int], str], acknowledged: list[int]
) -> None:
    """POST ``body(i)`` for i = 0, 1, ... until ``stop`` or the kill cuts a write; the ``i`` of
    every write answered 204 goes into ``acknowledged``."""
    i = 0
    while not stop.is_set():
        try:
            if k.write(body(i)).status == 204:
                acknowledged.append(i)
        except OSError:
            return  # the kill cut this one: never acknowledged
        i += 1


def test_store_locked_by_another_process(kapfastd: Kapfastd) -> None:
    db = kapfastd.data_dir / "kapfast.db"
    # a short lock: SQLite's busy wait rides it out, the define succeeds
    locked = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(db, 1.0, locked))
    holder.start()
    assert locked.wait(5)
    started = time.monotonic()
    ans = define(kapfastd, "short")
    holder.join()
    assert ans.status == 200, ans  # type: ignore[attr-defined]
    assert time.monotonic() - started >= 0.5  # it did wait for the lock

    # a long lock: a clear, retryable refusal; the server keeps answering meanwhile
    locked = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(db, 7.0, locked))
    holder.start()
    assert locked.wait(5)
    pings: list[float] = []
    done = threading.Event()

    def ping() -> None:
        while not done.is_set():
            t = time.monotonic()
            kapfastd.request("GET", "/kapacitor/v1/ping")
            pings.append(time.monotonic() - t)
            time.sleep(0.05)

    pinger = threading.Thread(target=ping)
    pinger.start()
    ans = kapfastd.api("POST", "/tasks", {"id": "long", "dbrps": DBRPS, "script": SCRIPT})
    done.set()
    pinger.join()
    holder.join()
    assert ans.status == 503, ans
    assert ans.headers.get("Retry-After") == "1"
    assert "locked by another process" in ans.json()["error"]
    # /ping did not wait for the lock: pings kept being answered while the define waited out
    # SQLite's busy timeout (a loop blocked by it would answer one ping, after the define)
    assert len(pings) >= 3, pings
    # the lock is gone: everything works again, nothing of the refused request was stored
    assert kapfastd.api("GET", "/tasks/long").status == 404
    assert define(kapfastd, "long").status == 200  # type: ignore[attr-defined]
    assert [t["id"] for t in kapfastd.api("GET", "/tasks").json()["tasks"]] == ["long", "short"]


def test_a_locked_store_holds_up_only_the_requests_that_write_to_it(kapfastd: Kapfastd) -> None:
    """Another process holds the store's write lock (``BEGIN EXCLUSIVE``) for a few seconds, less
    than SQLite's busy timeout, while a task is defined and a topic handler created (both must
    write the store and wait for the lock). Meanwhile ``/ping``, a write of points and reads of
    the store (a task, the handlers) answer while the lock is still held, however long the
    writers wait; once it is released the two API calls answer 200 and what they stored is there.

    Before #19's last step the handler was stored on the event loop (the loop waited out the
    lock: one ping in 4 s) and reads of the store waited for any writer holding the store's
    connection (a define stuck on the lock held up ``GET /tasks/<id>``)."""
    db = kapfastd.data_dir / "kapfast.db"
    assert define(kapfastd, "first").status == 200  # type: ignore[attr-defined]
    locked, released = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=10)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            time.sleep(4.0)  # under the server's 5 s busy timeout: the writers wait, then succeed
            conn.execute("COMMIT")
        finally:
            released.set()
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    answers: dict[str, tuple[int, bool]] = {}

    def call(name: str, method: str, path: str, body: object) -> None:
        ans = kapfastd.api(method, path, body)
        answers[name] = (ans.status, released.is_set())

    writers = [
        threading.Thread(
            target=call, args=("define", "POST", "/tasks", {"id": "second", "dbrps": DBRPS, "script": SCRIPT})
        ),
        threading.Thread(
            target=call,
            args=(
                "handler",
                "POST",
                "/alerts/topics/locked/handlers",
                {"id": "h", "kind": "log", "options": {"path": "/dev/null"}},
            ),
        ),
    ]
    for w in writers:
        w.start()
    rounds = 0  # of ping, write and two reads, all answered while the lock was held
    i = 0
    while not released.is_set():
        i += 1
        ping = kapfastd.request("GET", "/kapacitor/v1/ping")
        wrote = kapfastd.write(f"cpu,host=a value={i} {i}")
        read = kapfastd.api("GET", "/tasks/first")
        handlers = kapfastd.api("GET", "/alerts/topics/locked/handlers")
        if released.is_set():
            break  # answered, but perhaps only after the release: not counted
        assert (ping.status, wrote.status, read.status, handlers.status) == (204, 204, 200, 200)
        rounds += 1
        time.sleep(0.05)
    holder.join()
    for w in writers:
        w.join(60)
    # answered again and again while the lock was held (a loop blocked by a writer answers at
    # most the first round, before the writers reach the store)
    assert rounds >= 3, rounds
    # the writers waited for the lock and then succeeded
    assert answers == {"define": (200, True), "handler": (200, True)}, answers
    assert kapfastd.api("GET", "/tasks/second").status == 200
    got = kapfastd.api("GET", "/alerts/topics/locked/handlers").json()["handlers"]
    assert [h["id"] for h in got] == ["h"]
    assert_store_sound(db)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 MB (root only; skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True)
    if got.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> Path:
    """Take every free byte of ``path``'s file system."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (64 << 10))
                f.flush()
        except OSError:
            pass
    return filler


OUT = (
    "stream\n    |from()\n        .measurement('cpu')\n"
    "    |influxDBOut()\n        .database('gone')\n        .buffer(1)\n"
)


def test_data_dir_full(small_disk: Path, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    # an InfluxDB that is not there: influxDBOut's points go to its disk buffer, on the small disk
    k = kapfastd_factory(
        f'[[influxdb]]\n  enabled = true\n  urls = ["http://127.0.0.1:{free_port()}"]\n'
        "  disable-subscriptions = true\n",
        start=False,
    )
    k.data_dir = small_disk / "data"
    k.start()
    assert define(k, "before").status == 200  # type: ignore[attr-defined]
    out = {"id": "out", "dbrps": DBRPS, "script": OUT, "status": "enabled"}
    assert k.api("POST", "/tasks", out).status == 200
    assert k.write("cpu,host=a v=1 1000000000\n").status == 204

    def out_stats() -> dict[str, int]:
        return dict(k.api("GET", "/tasks/out").json()["stats"]["kapfast-node-stats"]["influxdb_out2"])

    spool = k.data_dir / "influxdb_out"
    wait_for(lambda: list(spool.glob("dest-*/*.seg")), timeout_s=30, what="a point in the disk buffer")
    filler = fill(small_disk)

    ans = k.api("POST", "/tasks", {"id": "during", "dbrps": DBRPS, "script": SCRIPT})
    assert ans.status == 507, ans
    assert "no space left" in ans.json()["error"]
    # what was acknowledged before is intact, reads and writes of points go on
    assert k.api("GET", "/tasks/before").json()["executing"] is True
    assert k.write("cpu,host=a v=2 2000000000\n").status == 204
    out = wait_for(lambda: k.api("GET", "/tasks/before/out").json().get("series"), what="httpOut")
    assert out[0]["values"][-1][-1] == 2
    assert k.request("GET", "/kapacitor/v1/ping").status == 204
    # influxDBOut's disk buffer cannot grow (by more than what its file's last page still
    # holds): the points are dropped, counted and logged
    assert k.write("\n".join(f"cpu,host=b v={i} {i + 10}000000000" for i in range(300))).status == 204
    wait_for(lambda: out_stats()["points_dropped"] >= 300, what="300 dropped points")
    st = out_stats()
    # kept: what was stored before (and v=2, if it fitted in the page): dropped and kept add up
    assert st["points_dropped"] + st["points_buffered"] == 302 and st["points_buffered"] >= 1
    assert "cannot write to the disk buffer" in k.log_tail(300)

    filler.unlink()  # space comes back: so does everything
    assert define(k, "during").status == 200  # type: ignore[attr-defined]
    assert k.write("cpu,host=a v=3 3000000000\n").status == 204
    kept = st["points_buffered"] + 1
    wait_for(lambda: out_stats()["points_buffered"] == kept, what="buffering on disk again")
    k.kill()
    k.start()
    assert sorted(t["id"] for t in k.api("GET", "/tasks").json()["tasks"]) == ["before", "during", "out"]
    vars_ = k.request("GET", "/kapacitor/v1/debug/vars").json()["kapacitor"]["influxdb_out"]["values"]
    assert vars_["points_buffered"] == kept  # kept across the kill, waiting for InfluxDB
    k.stop()
    assert_store_sound(k.data_dir / "kapfast.db")


def test_sigkill_during_a_write_burst(kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path) -> None:
    """Everything acknowledged before the kill is there after the restart (docs/operations.md,
    "What survives a crash"): task definitions, topic handlers, alert levels; the store is sound."""
    k = kapfastd_factory()
    log = tmp_path / "alerts.log"
    script = (
        "stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n"
        "    |alert()\n        .crit(lambda: \"v\" > 90)\n        .topic('cpu')\n"
        f"        .log('{log}')\n"
    )
    ans = k.api("POST", "/tasks", {"id": "alerting", "dbrps": DBRPS, "script": script, "status": "enabled"})
    assert ans.status == 200, ans
    handler = {"id": "h", "kind": "log", "options": {"path": str(tmp_path / "topic.log")}}
    assert k.api("POST", "/alerts/topics/cpu/handlers", handler).status == 200
    stop = threading.Event()
    acknowledged: list[int] = []

    def body(i: int) -> str:
        return "\n".join(f"cpu,host=h{j} v={95 if j % 2 else 5} {10**9 * (i + 1)}" for j in range(40))

    writer = threading.Thread(target=write_burst, args=(k, stop, body, acknowledged))
    writer.start()
    wait_for(lambda: len(acknowledged) >= 3, what="a few acknowledged writes")
    k.kill()
    stop.set()
    writer.join()
    k.start()
    assert k.api("GET", "/tasks/alerting").json()["executing"] is True
    assert k.api("GET", "/alerts/topics/cpu/handlers/h").status == 200
    topic = k.api("GET", "/alerts/topics/cpu").json()
    assert topic["level"] == "CRITICAL"  # the odd hosts' level, from before the kill
    events = k.api("GET", "/alerts/topics/cpu/events").json()["events"]
    assert {e["id"] for e in events if e["state"]["level"] == "CRITICAL"} == {
        f"cpu:host=h{j}" for j in range(1, 40, 2)
    }
    k.stop()
    assert_store_sound(k.data_dir / "kapfast.db")


def test_sigkill_during_a_write_burst_keeps_every_recorded_point(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    """A stream recording running when kapfastd is killed (docs/operations.md, "What survives a
    crash"): after the restart it is ``finished``, replayable, and holds every point acknowledged
    with 204 while it ran; a torn last block is cut, and the file reads to its end."""
    from kapfast.recordings import read_stream_recording
    from kapfast.recordings.compression import is_live_recording

    k = kapfastd_factory()
    assert define(k, "rec_task").status == 200  # type: ignore[attr-defined]
    ans = k.api(
        "POST", "/recordings/stream", {"id": "burst", "task": "rec_task", "stop": "2100-01-01T00:00:00Z"}
    )
    assert ans.status == 201, ans
    stop = threading.Event()

    def first_time(worker: int, i: int) -> int:
        return 10**9 * (worker * 10**6 + i + 1)

    def body(worker: int, i: int) -> str:
        t = first_time(worker, i)
        return "\n".join(f"cpu,host=h{j},w={worker} v={i} {t + j}" for j in range(200))

    acked: list[list[int]] = [[], []]
    writers = [
        threading.Thread(target=write_burst, args=(k, stop, functools.partial(body, w), acked[w]))
        for w in range(2)
    ]
    for w in writers:
        w.start()
    wait_for(lambda: len(acked[0]) + len(acked[1]) >= 20, what="acknowledged writes while recording")
    k.kill()
    stop.set()
    for w in writers:
        w.join()
    k.start()
    rec = k.api("GET", "/recordings/burst").json()
    assert rec["status"] == "finished", rec
    assert "the server stopped while the recording was running" in rec["error"]
    path = k.data_dir / "replay" / "burst.srpl"
    # the recovered recording is compressed after the start: its size then follows the file
    wait_for(
        lambda: (
            not is_live_recording(path)
            and k.api("GET", "/recordings/burst").json()["size"] == path.stat().st_size
        ),
        what="the recovered recording compressed",
    )
    times = {int(r.line.rsplit(b" ", 1)[1]) for r in read_stream_recording(path)}
    acknowledged = [first_time(w, i) for w in range(2) for i in acked[w]]
    missing = [t + j for t in acknowledged for j in range(200) if t + j not in times]
    assert not missing, f"{len(missing)} acknowledged points are not in the recording"
    assert f"({len(times)} points)" in rec["error"]
    # a finished recording replays
    assert define(k, "again").status == 200  # type: ignore[attr-defined]
    rep = k.api("POST", "/replays", {"task": "again", "recording": "burst", "clock": "fast"})
    assert rep.status == 201, rep
    wait_for(
        lambda: k.api("GET", f"/replays/{rep.json()['id']}").json()["status"] != "running", what="replay"
    )
    assert k.api("GET", f"/replays/{rep.json()['id']}").json()["status"] == "finished"
