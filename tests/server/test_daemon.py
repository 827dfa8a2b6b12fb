"""kapfastd's command line: config, version, bad configs and a busy port are clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

from kapfast import __version__


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    return subprocess.run(
        [sys.executable, "-m", "kapfast.daemon", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **(env or {})},
    )


def test_config_prints_the_defaults_as_toml() -> None:
    out = run("config")
    assert out.returncode == 0, out.stderr
    doc = tomllib.loads(out.stdout)
    assert doc["http"]["bind-address"] == "127.0.0.1:9092"
    assert doc["data_dir"] == "~/.kapfast"
    env = run("config", env={"KAPFAST_HTTP_BIND_ADDRESS": "127.0.0.1:9999"})
    assert tomllib.loads(env.stdout)["http"]["bind-address"] == "127.0.0.1:9999"


def test_version() -> None:
    out = run("version")
    assert out.returncode == 0 and out.stdout.strip() == f"kapfastd {__version__}"


def test_bad_config_and_busy_port(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nbind-adress = ':1'\n")
    out = run("-config", str(bad))
    assert out.returncode == 1
    assert "unknown key 'bind-adress' in [http]" in out.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = tmp_path / "busy.toml"
        cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[http]\n  bind-address = "127.0.0.1:{port}"\n')
        busy = run("-config", str(cfg))
    assert busy.returncode == 1
    assert "address already in use" in busy.stderr.lower()
