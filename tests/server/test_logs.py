"""Structured logs and GET /kapacitor/v1preview/logs: tags, level filters, logfmt and JSON, and a
live stream from a real kapfastd that follows a task's log() node."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from kapfastd_proc import Kapfastd, wait_for

from kapfast.logs import LogBroker, LogEntry, LogFilter, LogfmtFormatter, entry_of, tagged, tags_of_logger

# ---- in-process: tags, filters, formats -------------------------------------------------------


def test_logger_names_give_kapacitor_tags() -> None:
    assert tags_of_logger("kapfast.task.cpu_alert.log2") == {
        "service": "kapacitor",
        "task_master": "main",
        "task": "cpu_alert",
        "node": "log2",
    }
    # task IDs may hold dots; node names never do
    assert tags_of_logger("kapfast.task.my.task.alert3")["task"] == "my.task"
    assert tags_of_logger("kapfast.http") == {"service": "http"}
    assert tags_of_logger("kapfast.influxdb.subscriptions") == {"service": "influxdb"}
    assert tags_of_logger("kapfast.tasks") == {"service": "task_store"}
    assert tags_of_logger("kapfastd") == {"service": "run"}
    assert tags_of_logger("aiohttp.access") == {"service": "aiohttp.access"}


def _record(name: str, level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    rec.created = 0.25
    return rec


def test_logfmt_and_json_lines() -> None:
    rec = _record(
        "kapfast.task.cpu.log2", logging.WARNING, 'got "%s" = %d', "x y", 3, tags={"db": "telegraf"}
    )
    entry = entry_of(rec)
    assert entry.logfmt() == (
        'ts=1970-01-01T00:00:00.250Z lvl=warn msg="got \\"x y\\" = 3" service=kapacitor '
        "task_master=main task=cpu node=log2 db=telegraf"
    )
    assert json.loads(entry.json()) == {
        "ts": "1970-01-01T00:00:00.250Z",
        "lvl": "warn",
        "msg": 'got "x y" = 3',
        "service": "kapacitor",
        "task_master": "main",
        "task": "cpu",
        "node": "log2",
        "db": "telegraf",
    }
    assert LogEntry("t", "info", "", {"k": ""}).logfmt() == 'ts=t lvl=info msg="" k=""'


def test_formatter_tags_exceptions_and_keeps_the_traceback() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError:
        import sys

        rec = logging.LogRecord("kapfast.server", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = LogfmtFormatter().format(rec)
    first, *rest = text.splitlines()
    assert first.endswith('msg=failed service=kapacitor err="ValueError: bad thing"')
    assert rest[0].startswith("Traceback")


def test_tagged_logger_adds_its_tags() -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    base = logging.getLogger("kapfast.test_tagged")
    base.addHandler(h := Keep())
    base.setLevel(logging.INFO)
    try:
        tagged(base, cluster="default").info("synced", extra={"tags": {"db": "x"}})
    finally:
        base.removeHandler(h)
    assert entry_of(seen[0]).tags == {"service": "test_tagged", "cluster": "default", "db": "x"}


@pytest.mark.parametrize(
    ("query", "level", "tags", "expected"),
    [
        ([("lvl", "info")], "info", {}, True),
        ([("lvl", "info")], "error", {}, False),
        ([("lvl", "info+")], "error", {}, True),
        ([("lvl", "info+")], "debug", {}, False),
        ([("lvl", "warn+")], "warn", {}, True),
        ([("task", "cpu")], "debug", {"task": "cpu"}, True),
        ([("task", "cpu")], "info", {"task": "mem"}, False),
        ([("task", "cpu"), ("node", "log2")], "info", {"task": "cpu"}, False),
        ([("task", "cpu"), ("lvl", "error+")], "error", {"task": "cpu"}, True),
    ],
)
def test_filters(query: list[tuple[str, str]], level: str, tags: dict[str, str], expected: bool) -> None:
    assert LogFilter.from_pairs(query).matches(LogEntry("t", level, "m", tags)) is expected


def test_bad_level_filter() -> None:
    with pytest.raises(ValueError, match="invalid lvl 'loud'"):
        LogFilter.from_pairs([("lvl", "loud")])


def test_broker_fans_out_from_any_thread_and_counts_drops() -> None:
    async def main() -> tuple[list[str], int, list[str]]:
        broker = LogBroker(max_lines_per_stream=3)
        cpu = broker.open(LogFilter.from_pairs([("task", "cpu")]))
        everything = broker.open(LogFilter())
        log = logging.getLogger("kapfast.task.cpu.log2")
        other = logging.getLogger("kapfast.task.mem.log2")
        log.addHandler(broker)
        other.addHandler(broker)
        log.setLevel(logging.INFO)
        other.setLevel(logging.INFO)
        try:
            log.info("one")
            other.info("two")
            t = threading.Thread(target=lambda: log.info("three"))
            t.start()
            t.join()
            await asyncio.sleep(0.01)
            for i in range(5):
                other.info("flood %d", i)
        finally:
            log.removeHandler(broker)
            other.removeHandler(broker)
        got = []
        while not cpu.queue.empty():
            e = cpu.queue.get_nowait()
            assert e is not None
            got.append(e.msg)
        broker.end_all()
        rest = []
        while not everything.queue.empty():
            e = everything.queue.get_nowait()
            rest.append("END" if e is None else e.msg)
        return got, everything.dropped, rest

    got, dropped, rest = asyncio.run(main())
    assert got == ["one", "three"]
    # 3 fit; 5 more dropped, then one more to make room for the end of the stream
    assert dropped == 6
    assert rest == ["two", "three", "END"]


# ---- a real kapfastd --------------------------------------------------------------------------

LOG_TICK = "stream\n    |from()\n        .measurement('cpu')\n    |log()\n        .prefix('SEEN')\n"


class Reader:
    """Reads a log stream in a thread; lines arrive on ``lines``."""

    def __init__(self, server: Kapfastd, query: str, headers: dict[str, str] | None = None) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.ended = threading.Event()
        self._conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self._conn.request("GET", f"/kapacitor/v1preview/logs?{query}", headers=headers or {})
        self._resp = self._conn.getresponse()
        assert self._resp.status == 200, self._resp.read()
        self.headers = dict(self._resp.headers)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            while raw := self._resp.readline():
                self.lines.put(raw.decode().rstrip("\n"))
        except (OSError, ValueError, http.client.HTTPException):
            pass
        self.ended.set()

    def wait_line(self, contains: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if contains in line:
                return line
        raise AssertionError(f"no log line with {contains!r} within {timeout_s}s")

    def close(self) -> None:
        # Wake the reading thread at once (closing alone would wait for its read to time out).
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._t.join(5)
        self._conn.close()


@pytest.fixture
def reader_factory(kapfastd: Kapfastd) -> Iterator[list[Reader]]:
    made: list[Reader] = []
    yield made
    for r in made:
        r.close()


def define(server: Kapfastd, task_id: str, script: str = LOG_TICK) -> None:
    body = {
        "id": task_id,
        "type": "stream",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": script,
        "status": "enabled",
    }
    assert server.api("POST", "/tasks", body).status == 200


def test_stream_follows_one_task_in_logfmt(kapfastd: Kapfastd, reader_factory: list[Reader]) -> None:
    define(kapfastd, "cpu_log")
    define(kapfastd, "other_log")
    r = Reader(kapfastd, "task=cpu_log")
    reader_factory.append(r)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert r.headers["X-Kapacitor-Version"]
    assert kapfastd.write("cpu,host=a usage_idle=5 1000000000").status == 204
    line = r.wait_line("SEEN")
    assert " lvl=info " in line
    assert "service=kapacitor task_master=main task=cpu_log node=log" in line
    # the other task logged the same point, but not into this stream
    assert kapfastd.write("cpu,host=b usage_idle=6 2000000000").status == 204
    second = r.wait_line("SEEN")
    assert "task=cpu_log" in second
    time.sleep(0.2)
    assert all("other_log" not in line for line in list(r.lines.queue))


def test_stream_as_json_with_level_at_least(kapfastd: Kapfastd, reader_factory: list[Reader]) -> None:
    define(kapfastd, "quiet", LOG_TICK)  # logs at INFO
    define(kapfastd, "loud", LOG_TICK.replace(".prefix('SEEN')", ".prefix('LOUD')\n        .level('WARN')"))
    r = Reader(kapfastd, "lvl=warn%2B", {"Content-Type": "application/json"})
    reader_factory.append(r)
    exact = Reader(kapfastd, "lvl=info")
    reader_factory.append(exact)
    assert r.headers["Content-Type"].startswith("application/json")
    assert kapfastd.write("cpu,host=a usage_idle=5 1000000000").status == 204
    doc = json.loads(r.wait_line("LOUD"))
    assert doc["lvl"] == "warn" and doc["task"] == "loud" and doc["service"] == "kapacitor"
    assert "SEEN" in exact.wait_line("SEEN")
    time.sleep(0.2)
    assert all(json.loads(line)["lvl"] in {"warn", "error"} for line in list(r.lines.queue))
    assert all("lvl=info" in line for line in list(exact.lines.queue))


def test_bad_filter_is_a_400(kapfastd: Kapfastd) -> None:
    ans = kapfastd.request("GET", "/kapacitor/v1preview/logs?lvl=chatty")
    assert ans.status == 400
    assert "invalid lvl 'chatty'" in ans.json()["error"]


def test_streams_end_when_the_server_stops(kapfastd: Kapfastd) -> None:
    r = Reader(kapfastd, "")
    try:
        kapfastd.stop()  # fails if kapfastd ignores SIGTERM while a stream is open
        assert r.ended.wait(10)
    finally:
        r.close()


def test_a_quiet_stream_ends_when_its_reader_goes(kapfastd: Kapfastd) -> None:
    r = Reader(kapfastd, "task=never_logs")
    wait_for(
        lambda: 'msg="log stream opened" service=logs filter="task=never_logs"' in kapfastd.log_tail(), 5
    )
    r.close()
    wait_for(
        lambda: 'msg="log stream closed" service=logs filter="task=never_logs"' in kapfastd.log_tail(), 5
    )


def test_stream_shows_a_tasks_start_and_stop(kapfastd: Kapfastd, reader_factory: list[Reader]) -> None:
    r = Reader(kapfastd, "task=lifecycle")
    reader_factory.append(r)
    define(kapfastd, "lifecycle")
    assert "lvl=info" in r.wait_line("started task")
    assert kapfastd.api("PATCH", "/tasks/lifecycle", {"status": "disabled"}).status == 200
    assert "task=lifecycle" in r.wait_line("stopped task")
