"""``kapfast watch TASK`` and ``kapfast logs``: live log lines from a real kapfastd until Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kapfast.client import DBRP, Client

if TYPE_CHECKING:
    from conftest import Kapfastd, Result

TICK = "stream\n    |from()\n        .measurement('cpu')\n    |log()\n        .prefix('SEEN')\n"


class Follow:
    """A ``kapfast`` process whose stdout lines arrive on ``lines``."""

    def __init__(self, exe: list[str], url: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
        self.proc = subprocess.Popen(
            [*exe, "-url", url, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, contains: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
                continue
            if contains in line:
                return line
        raise AssertionError(f"no line with {contains!r}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


def test_watch_streams_a_tasks_lines_until_ctrl_c(kapfastd: Kapfastd, kapfast_exe: list[str]) -> None:
    with Client(kapfastd.url) as c:
        c.create_task("cpu_log", type="stream", dbrps=[DBRP("telegraf", "autogen")], script=TICK)
        c.update_task("cpu_log", status="enabled")
        c.create_task("mem_log", type="stream", dbrps=[DBRP("telegraf", "autogen")], script=TICK)
        c.update_task("mem_log", status="enabled")
    follow = Follow(kapfast_exe, kapfastd.url, "watch", "cpu_log", "lvl=info+")
    try:
        line = ""
        for i in range(50):  # write until the stream, once open, shows a point
            kapfastd.write(f"cpu,host=a usage_idle={i} {i + 1}000000000")
            try:
                line = follow.wait_line("SEEN", timeout_s=0.2)
                break
            except AssertionError:
                continue
        assert "task=cpu_log" in line and "lvl=info" in line, line
        assert all("mem_log" not in seen for seen in list(follow.lines.queue))
    finally:
        code = follow.interrupt()
    assert code == 0


def test_logs_as_json(kapfastd: Kapfastd, kapfast_exe: list[str]) -> None:
    follow = Follow(kapfast_exe, kapfastd.url, "logs", "-json", "service=kapacitor")
    try:
        with Client(kapfastd.url) as c:
            doc: dict[str, str] = {}
            for _ in range(50):
                c.log_level("info")
                try:
                    doc = json.loads(follow.wait_line("log level set", timeout_s=0.2))
                    break
                except AssertionError:
                    continue
        assert doc["lvl"] == "info" and doc["service"] == "kapacitor"
    finally:
        assert follow.interrupt() == 0


def test_usage_errors(cli: Callable[..., Result]) -> None:
    res = cli("watch", url="http://127.0.0.1:9")
    assert res.code == 2 and "Must provide task ID." in res.err
    res = cli("logs", "service", url="http://127.0.0.1:9")
    assert res.code == 2 and "invalid filter 'service': expected key=value" in res.err
    res = cli("logs", url="http://127.0.0.1:9")
    assert res.code == 3
    assert "connection refused" in res.err
