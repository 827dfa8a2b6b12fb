"""A kapfastd subprocess on a free loopback port and an HTTP client for it (used by the tests
of this folder through the fixtures of conftest.py)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Answer {self.status} {self.body[:300]!r}>"


class Kapfastd:
    """One kapfastd process; ``start()``/``stop()``/``kill()`` may repeat over the same data dir."""

    def __init__(self, directory: Path, extra_config: str = "", http_options: str = "") -> None:
        self.dir = directory
        self.port = free_port()
        self.data_dir = directory / "data"
        self.log_path = directory / "kapfastd.log"
        self.config_path = directory / "kapfastd.toml"
        self.extra_config = extra_config
        self.http_options = http_options
        self.proc: subprocess.Popen[bytes] | None = None
        #: "https" when the config enables it (requests then skip certificate checks)
        self.scheme = "http"
        #: (user, password) sent as basic auth with every request unless headers say otherwise
        self.auth: tuple[str, str] | None = None
        #: more command-line arguments (`-disable-handlers exec`)
        self.args: list[str] = []

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.config_path.write_text(
            f'hostname = "127.0.0.1"\ndata_dir = "{self.data_dir}"\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            f"{self.http_options}\n"
            f'[logging]\n  level = "DEBUG"\n' + self.extra_config
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self, timeout_s: float = 60.0) -> None:  # a loaded 2-core machine starts slowly
        self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kapfast.daemon", "-config", str(self.config_path), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kapfastd exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                # 401: up, with [http] auth-enabled (even ping needs credentials then)
                if self.request("GET", "/kapacitor/v1/ping", headers={"Authorization": ""}).status in (
                    204,
                    401,
                ):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"kapfastd did not answer on {self.url}:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"kapfastd ignored SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: what a crash or a power cut looks like to the data dir."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    # -- HTTP -----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = dict(headers or {})
        if self.auth is not None and "Authorization" not in headers:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        headers = {k: v for k, v in headers.items() if v}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        context = None
        if self.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(req, timeout=15, context=context) as resp:
                return Answer(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read(), dict(err.headers))

    def api(self, method: str, path: str, body: Any = None) -> Answer:
        return self.request(method, "/kapacitor/v1" + path, body)

    def write(self, body: bytes | str, query: str = "db=telegraf&rp=autogen", *, gz: bool = False) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        headers = {}
        if gz:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        return self.request("POST", f"/write?{query}", raw=data, headers=headers)

    def wait_status(self, kind: str, ident: str, timeout_s: float = 20.0) -> dict[str, Any]:
        """Poll a recording or replay until it is no longer running (GET answers 200)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ans = self.api("GET", f"/{kind}/{ident}")
            if ans.status == 200:
                return dict(ans.json())
            assert ans.status == 202, ans
            time.sleep(0.1)
        raise AssertionError(f"{kind} {ident} still running after {timeout_s}s")


def influxdb_config(server: Any, **options: str) -> str:
    lines = [
        "[[influxdb]]",
        "  enabled = true",
        '  name = "default"',
        f'  urls = ["{server.url}"]',
        '  subscriptions-sync-interval = "1s"',
        *(f"  {k.replace('_', '-')} = {v}" for k, v in options.items()),
    ]
    return "\n".join(lines) + "\n"


def alerts(path: Path) -> list[dict[str, Any]]:
    """The alert events a `.log()` handler wrote to ``path`` (none yet: ``[]``)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(cond: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
