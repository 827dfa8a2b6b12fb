"""A real InfluxDB 1.x (the Debian ``influxdb`` package's ``influxd``) on 127.0.0.1 for tests.

``influxdb`` is one server for the whole session; ``influxdb_factory`` makes extra throwaway
servers (for tests that stop and start one). Every server gets its own temp dirs, free loopback
ports for HTTP and RPC, reporting off, no ``_internal`` database, and always ``-config FILE``
(without it influxd would read /etc/influxdb and listen on :8086 on every interface). Stray
``INFLUXDB_*`` environment variables, which override the file, are removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

INFLUXD = shutil.which("influxd")

_CONFIG = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = true
  http-timeout = "5s"
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
[ifql]
  enabled = false
[logging]
  level = "info"
  suppress-logo = true
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class InfluxDBServer:
    """One ``influxd`` process with its own directory; ``start()`` / ``stop()`` may repeat."""

    def __init__(self, directory: Path, http_port: int | None = None, *, auth: bool = False) -> None:
        self.dir = directory
        self.auth = auth
        self.http_port = http_port or free_port()
        self.rpc_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "influxd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _ping(self) -> bool:
        # /ping answers 204 without credentials even when auth is on.
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as resp:
                return int(resp.status) == 204
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        assert INFLUXD is not None
        for attempt in range(3):
            conf = self.dir / "influxdb.conf"
            conf.write_text(
                _CONFIG.format(
                    dir=self.dir,
                    http_port=self.http_port,
                    rpc_port=self.rpc_port,
                    auth="true" if self.auth else "false",
                )
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [INFLUXD, "run", "-config", str(conf), "-pidfile", str(self.dir / "influxd.pid")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self._ping():
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            self.stop(graceful=False)
            if "address already in use" in self.log_tail() and attempt < 2:
                # Another process took a port between free_port() and bind: pick new ones.
                self.rpc_port = free_port()
                continue
            raise RuntimeError(f"influxd did not start on {self.url}; log:\n{self.log_tail()}")

    def stop(self, *, graceful: bool = True, timeout_s: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _require_influxd() -> None:
    if INFLUXD is None:
        pytest.skip("influxd (InfluxDB 1.x) is not installed; `make system-deps` installs the Debian package")


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxDBServer]:
    """The session's InfluxDB: ``.url``, ``.http_port``. Tests use their own database names."""
    _require_influxd()
    with tempfile.TemporaryDirectory(prefix="kapfast-influxdb-") as d:
        server = InfluxDBServer(Path(d))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def influxdb_factory(tmp_path: Path) -> Iterator[Callable[..., InfluxDBServer]]:
    """Make extra servers (not started) that a test may stop and start; killed afterwards."""
    _require_influxd()
    made: list[InfluxDBServer] = []

    def make(http_port: int | None = None, *, auth: bool = False) -> InfluxDBServer:
        directory = tmp_path / f"influxd{len(made)}"
        directory.mkdir()
        server = InfluxDBServer(directory, http_port, auth=auth)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop(graceful=False)  # throwaway data: no need to wait for a graceful stop
