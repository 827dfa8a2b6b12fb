"""Servers for the CLI tests: a scripted fake of the HTTP API (to pin down exactly which requests
each verb sends) and a real kapfastd subprocess on a free loopback port (to drive end to end)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

Handler = Callable[["Request"], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.query if k == name), default)


@dataclass
class FakeAPI:
    """Answers from ``routes[(method, path)]`` (a handler or a fixed (status, body)); logs requests."""

    url: str
    routes: dict[tuple[str, str], Handler | tuple[int, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def route(self, method: str, path: str, answer: Handler | tuple[int, Any]) -> None:
        self.routes[(method, "/kapacitor/v1" + path)] = answer

    def sent(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method is None or r.method == method]


def _serve(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(
                self.command,
                parts.path,
                parse_qsl(parts.query, keep_blank_values=True),
                self.rfile.read(length),
            )
            api.requests.append(req)
            answer = api.routes.get((req.method, req.path))
            if answer is None:
                status, body = 404, {"error": f"no route {req.method} {req.path}"}
            elif callable(answer):
                status, body = answer(req)
            else:
                status, body = answer
            data = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

    return H


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _serve(FakeAPI("")))
    api = FakeAPI(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _serve(api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


# ---- running the CLI as a user does ----------------------------------------------------------


def kapfast_command() -> list[str]:
    exe = Path(sys.executable).parent / "kapfast"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("kapfast")
    return [found] if found else [sys.executable, "-m", "kapfast.cli.main"]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    *args: str, url: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    environ.update(env or {})
    if url is not None:
        environ["KAPACITOR_URL"] = url
    proc = subprocess.run(
        [*kapfast_command(), *args], capture_output=True, text=True, env=environ, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# ---- kapfastd --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Kapfastd:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.log = directory / "kapfastd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.dir / "kapfastd.toml"
        config.write_text(
            f'hostname = "127.0.0.1"\ndata_dir = "{self.dir / "data"}"\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kapfast.daemon", "-config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kapfastd exited:\n{self.log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/kapacitor/v1/ping", timeout=2) as resp:
                    if resp.status == 204:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"kapfastd did not answer:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def write(self, lines: str, db: str = "telegraf", rp: str = "autogen") -> int:
        req = urllib.request.Request(f"{self.url}/write?db={db}&rp={rp}", data=lines.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)


@pytest.fixture
def kapfastd(tmp_path: Path) -> Iterator[Kapfastd]:
    try:
        import kapfast.daemon  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"kapfastd is not part of this build ({exc})")
    server = Kapfastd(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the ``kapfast`` executable: ``cli("list", "tasks", url=...) -> Result(code, out, err)``."""
    return run_cli


@pytest.fixture
def kapfast_exe() -> list[str]:
    return kapfast_command()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for this test (list dates print in the local zone)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
