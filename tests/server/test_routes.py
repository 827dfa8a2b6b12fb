"""Cross-cutting routes and kapfastd's kapacitord flags: /:routes, OPTIONS, the v1preview prefix,
-pidfile, -hostname, -log-file, -log-level and KAPACITOR_CONFIG_PATH."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kapfastd_proc import Kapfastd, free_port, wait_for


def test_routes_lists_every_api_path_with_its_methods(kapfastd: Kapfastd) -> None:
    routes = kapfastd.api("GET", "/:routes").json()
    assert routes["/kapacitor/v1/tasks"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert routes["/kapacitor/v1/tasks/{id}"] == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH"]
    assert routes["/kapacitor/v1/storage/backup"] == ["GET", "OPTIONS"]
    assert "POST" in routes["/kapacitor/v1/config/{section}/{element}"]
    assert routes["/kapacitor/v1preview/logs"] == ["GET", "OPTIONS"]
    assert "/kapacitor/v1/logs" not in routes  # preview only, as in Kapacitor
    assert all(p.startswith(("/kapacitor/v1/", "/kapacitor/v1preview/")) for p in routes)


def test_options_on_resources_is_204(kapfastd: Kapfastd) -> None:
    for path in ("/kapacitor/v1/tasks", "/kapacitor/v1/tasks/anything", "/kapacitor/v1preview/config"):
        ans = kapfastd.request("OPTIONS", path)
        assert ans.status == 204, (path, ans)
        assert "GET" in ans.headers["Access-Control-Allow-Methods"]
        assert ans.headers["X-Kapacitor-Version"]
    assert kapfastd.request("OPTIONS", "/elsewhere").status in (404, 405)


def test_every_v1_route_is_served_under_v1preview(kapfastd: Kapfastd) -> None:
    routes = kapfastd.api("GET", "/:routes").json()
    v1 = {p.removeprefix("/kapacitor/v1") for p in routes if p.startswith("/kapacitor/v1/")}
    preview = {
        p.removeprefix("/kapacitor/v1preview") for p in routes if p.startswith("/kapacitor/v1preview/")
    }
    assert v1 <= preview
    assert kapfastd.request("GET", "/kapacitor/v1preview/tasks").json() == {"tasks": []}
    assert kapfastd.request("GET", "/kapacitor/v1preview/ping").status == 204


def _wait_answer(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace") if log.exists() else "exited"
        try:
            with urllib.request.urlopen(url + "/kapacitor/v1/ping", timeout=2) as resp:
                if resp.status == 204:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("kapfastd did not answer")


def test_kapacitord_flags_and_config_path_variable(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "kapacitor.conf"
    cfg.write_text(
        f'hostname = "from-file"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = true\n'
        '[logging]\n  level = "ERROR"\n'
    )
    pidfile = tmp_path / "kapfastd.pid"
    logfile = tmp_path / "kapfastd.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    env["KAPACITOR_CONFIG_PATH"] = str(cfg)  # no -config: kapacitord's variable is read
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kapfast.daemon",
            "-pidfile",
            str(pidfile),
            "-hostname",
            "from-flag",
            "-log-file",
            str(logfile),
            "-log-level",
            "info",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_answer(url, proc, logfile)
        assert pidfile.read_text().strip() == str(proc.pid)
        with urllib.request.urlopen(url + "/kapacitor/v1/debug/vars", timeout=5) as resp:
            assert b'"host": "from-flag"' in resp.read()
        # -log-level info beats the file's ERROR; the lines go to -log-file, structured
        line = wait_for(
            lambda: next((ln for ln in logfile.read_text().splitlines() if "listening on" in ln), None),
            what="the listening line in the log file",
        )
        assert " lvl=info " in line and "service=run" in line and "hostname=from-flag" in line
        # [http] log-enabled: one structured line per request
        access = wait_for(
            lambda: next((ln for ln in logfile.read_text().splitlines() if "/debug/vars" in ln), None),
            what="the access line of GET /debug/vars",
        )
        assert 'msg="http request" service=http host=127.0.0.1 username=- method=GET' in access
        assert "uri=/kapacitor/v1/debug/vars protocol=HTTP/1.1 status=200" in access
        assert "request-id=" in access
        # a Go duration measured by the server (not uvloop's millisecond clock): 1.234ms, 850.1µs
        assert re.search(r"duration=[0-9.]+(ms|µs|s)\b", access) and "duration=1.000ms" not in access
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert not pidfile.exists()  # removed on a clean stop


def test_bad_log_level_flag_and_a_foreign_pidfile_is_kept(tmp_path: Path) -> None:
    pidfile = tmp_path / "other.pid"
    pidfile.write_text("12345\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    out = subprocess.run(
        [sys.executable, "-m", "kapfast.daemon", "-log-level", "chatty", "-pidfile", str(pidfile)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "-log-level: invalid log level 'chatty'" in out.stderr
    assert pidfile.read_text() == "12345\n"
