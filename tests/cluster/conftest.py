"""A real ``nats-server -js`` on a free loopback port (temporary store), and kapfastd processes
joined to it as a scale-out cluster (docs/scaleout.md)."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_SERVER = Path(__file__).resolve().parents[1] / "server"
sys.path.insert(0, str(_SERVER))
from kapfastd_proc import free_port  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/bin")


class NatsServer:
    def __init__(self, store: Path, extra_args: list[str] | None = None) -> None:
        self.port = free_port()
        self.store = store
        self.extra_args = extra_args or []  # e.g. a NATS cluster's name and routes
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert NATS_SERVER is not None
        self.log = open(self.store.parent / "nats-server.log", "ab")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            [
                NATS_SERVER,
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                str(self.store),
                *self.extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"INFO"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if NATS_SERVER is None:
        pytest.skip("nats-server is not installed (make system-deps)")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


def nats_cluster(root: Path, size: int = 3) -> list[NatsServer]:
    """``size`` nats-server processes routed to each other as one NATS cluster (JetStream clustered:
    streams and KV buckets with ``replicas`` up to ``size``), not yet started."""
    routes = [free_port() for _ in range(size)]
    servers = []
    for i, route in enumerate(routes):
        (root / f"n{i}").mkdir()
        args = ["-n", f"n{i}", "--cluster_name", "kapfast-test", "--cluster", f"nats://127.0.0.1:{route}"]
        args += ["--routes", ",".join(f"nats://127.0.0.1:{r}" for r in routes if r != route)]
        servers.append(NatsServer(root / f"n{i}" / "jetstream", args))
    return servers


def cluster_config(
    nats: NatsServer | list[NatsServer],
    role: str,
    node_id: str,
    partitions: int = 6,
    lease_ttl: str = "3s",  # a loaded 2-core CI machine can hold a process up for a second
    checkpoint_interval: str = "1s",
    **extra: str,
) -> str:
    urls = ", ".join(f'"{n.url}"' for n in (nats if isinstance(nats, list) else [nats]))
    lines = [
        "[cluster]",
        "  enabled = true",
        f"  urls = [{urls}]",
        f'  role = "{role}"',
        f'  node-id = "{node_id}"',
        f"  partitions = {partitions}",
        '  partition-key = ["host"]',
        f'  lease-ttl = "{lease_ttl}"',
        f'  checkpoint-interval = "{checkpoint_interval}"',
        *(f"  {k.replace('_', '-')} = {v}" for k, v in extra.items()),
    ]
    return "\n".join(lines) + "\n[stats]\n  enabled = false\n"


# kapfastd processes on free ports, killed at the end: the fixture of tests/server/conftest.py
_spec = importlib.util.spec_from_file_location("_kapfast_server_fixtures", _SERVER / "conftest.py")
assert _spec is not None and _spec.loader is not None
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)
node_factory = _server.kapfastd_factory
