"""The two workflows users start from, end to end over HTTP (they need the task engine):

1. define a stream task with a ``.log()`` alert, record the live stream, replay it fast (alerts
   land in the log file), enable it on the live stream, show it; it comes back after a restart;
2. a stream task that computes over the live stream and writes back into InfluxDB (influxDBOut).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kapfastd_proc import Kapfastd, alerts, influxdb_config, wait_for


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def test_record_replay_enable_show(kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path) -> None:
    k = kapfastd_factory()
    log_file = tmp_path / "alerts.log"
    script = f"""stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 10)
        .log('{log_file}')
"""
    task = {"id": "cpu_alert", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}
    assert k.api("POST", "/tasks", task).status == 200
    stop = time.time() + 2
    assert (
        k.api("POST", "/recordings/stream", {"id": "rec", "task": "cpu_alert", "stop": rfc3339(stop)}).status
        == 201
    )
    now = time.time_ns()
    k.write(f"cpu,host=a usage_idle=50 {now}\ncpu,host=a usage_idle=5 {now + 10**9}\n")
    assert k.wait_status("recordings", "rec")["status"] == "finished"
    assert [r["id"] for r in k.api("GET", "/recordings").json()["recordings"]] == ["rec"]
    assert (
        k.api(
            "POST", "/replays", {"id": "rp", "task": "cpu_alert", "recording": "rec", "clock": "fast"}
        ).status
        == 201
    )
    replay = k.wait_status("replays", "rp")
    assert replay["status"] == "finished", replay
    fired = alerts(log_file)
    assert [a["level"] for a in fired] == ["CRITICAL"]
    assert k.api("PATCH", "/tasks/cpu_alert", {"status": "enabled"}).status == 200
    k.write(f"cpu,host=b usage_idle=1 {time.time_ns()}\n")
    wait_for(lambda: len(alerts(log_file)) == 2, what="live alert")
    shown = k.api("GET", "/tasks/cpu_alert").json()
    assert shown["executing"] is True
    assert "alert2" in shown["stats"]["node-stats"]
    k.stop()
    k.start()
    assert k.api("GET", "/tasks/cpu_alert").json()["executing"] is True


def _influx_rows(server: Any, db: str, q: str) -> list[Any]:
    data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "s"}).encode()
    with urllib.request.urlopen(server.url + "/query", data=data, timeout=10) as resp:
        series = json.loads(resp.read())["results"][0].get("series") or []
    return [row for s in series for row in s["values"]]


def test_stream_task_writes_back_into_influxdb(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    urllib.request.urlopen(
        influxdb.url + "/query", data=urllib.parse.urlencode({"q": "CREATE DATABASE derived"}).encode()
    ).read()
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    script = """stream
    |from()
        .measurement('cpu')
    |window()
        .period(10s)
        .every(10s)
    |mean('usage_idle')
    |influxDBOut()
        .database('derived')
        .retentionPolicy('autogen')
        .measurement('cpu_mean')
        .tag('source', 'kapfast')
        .flushInterval(100ms)
"""
    task = {
        "id": "mean",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": script,
        "status": "enabled",
    }
    created = k.api("POST", "/tasks", task)
    assert created.status == 200, created
    base = 1_700_000_000
    lines = "\n".join(f"cpu,host=a usage_idle={v} {base + i}" for i, v in enumerate(range(0, 30, 2)))
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    k.write(f"cpu,host=a usage_idle=0 {base + 40}", "db=telegraf&rp=autogen&precision=s")
    rows = wait_for(
        lambda: _influx_rows(influxdb, "derived", "SELECT mean, source FROM cpu_mean"), what="rows"
    )
    assert rows[0] == [base + 10, 9.0, "kapfast"]  # mean of 0, 2, ..., 18: the first window, at its end
