"""Live batch tasks in kapfastd against a real InfluxDB 1.x: queries run on their schedule, their
answers flow through the pipeline, failures are counted without stopping the task."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, influxdb_config, wait_for
from test_influxdb import influx_query, influx_write

from kapfast.timefmt import parse_rfc3339_ns

DBRPS = [{"db": "btask", "rp": "autogen"}]


def script(query: str, props: str = ".period(1h).every(1s).groupBy('host')", then: str = "") -> str:
    step = f"    |{then}\n" if then else ""
    return f"batch\n    |query('''{query}'''){props}\n{step}    |httpOut('out')\n"


def series(k: Kapfastd, task: str) -> list[dict[str, Any]]:
    got = k.api("GET", f"/tasks/{task}/out")
    return list(got.json().get("series") or []) if got.status == 200 else []


def test_batch_task_queries_influxdb_on_its_schedule(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    influx_query(influxdb, "CREATE DATABASE btask")
    now = int(time.time())
    lines = [f"cpu,host=h{i % 2} usage_idle={i} {(now - 60 + i) * 10**9}" for i in range(10)]
    influx_write(influxdb, "btask", "\n".join(lines))
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    body = {
        "id": "b",
        "dbrps": DBRPS,
        "status": "enabled",
        "script": script('SELECT mean(usage_idle) AS m FROM "btask"."autogen"."cpu"'),
    }
    assert k.api("POST", "/tasks", body).status == 200
    got = wait_for(lambda: len(series(k, "b")) == 2 and series(k, "b"), what="the batch task's httpOut")
    by_host = {s["tags"]["host"]: s["values"][0][1] for s in got}
    assert by_host == {"h0": 4.0, "h1": 5.0}  # mean(0,2,4,6,8), mean(1,3,5,7,9)
    # the query node counts what it got; the task keeps querying every second
    first = k.api("GET", "/tasks/b").json()["stats"]["node-stats"]["query1"]
    assert first["batches_queried"] >= 2 and first["points_queried"] >= 2
    influx_write(influxdb, "btask", f"cpu,host=h2 usage_idle=42 {(now - 30) * 10**9}")
    assert wait_for(lambda: len(series(k, "b")) == 3, what="the new host in the next run")


def test_live_batches_are_stamped_with_the_query_stop(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    """Kapacitor's QueryNode.doQuery: the batch of a query not grouped by time is stamped with
    the query's stop, so an aggregate of it is too (not the start of the period or the last
    point); grouped by time, the batch keeps its last point's time."""
    influx_query(influxdb, "CREATE DATABASE bstamp")
    now = int(time.time())
    lines = [f"cpu,host=h0 usage_idle={i} {(now - 600 + 60 * i) * 10**9}" for i in range(10)]
    influx_write(influxdb, "bstamp", "\n".join(lines))
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    raw = 'SELECT usage_idle FROM "bstamp"."autogen"."cpu"'
    means = 'SELECT mean(usage_idle) AS m FROM "bstamp"."autogen"."cpu"'
    tasks = {
        "flat": script(raw, ".period(30m).every(1s)", "mean('usage_idle')"),
        "bytime": script(means, ".period(30m).every(1s).groupBy(time(5m))", "count('m')"),
    }
    before = time.time()
    for ident, text in tasks.items():
        body = {"id": ident, "dbrps": [{"db": "bstamp", "rp": "autogen"}], "status": "enabled"}
        body["script"] = text
        assert k.api("POST", "/tasks", body).status == 200, ident
    flat = wait_for(lambda: series(k, "flat"), what="the flat query's httpOut")
    stamped = parse_rfc3339_ns(flat[0]["values"][0][0]) / 1e9
    assert before - 1 <= stamped <= time.time() + 1, (flat, before)
    assert flat[0]["values"][0][1] == 4.5
    by_time = wait_for(lambda: series(k, "bytime"), what="the time-grouped query's httpOut")
    last = parse_rfc3339_ns(by_time[0]["values"][-1][0])
    assert last % (300 * 10**9) == 0 and last <= now * 10**9  # a 5m bucket's start, not the stop


def test_query_failures_are_counted_and_the_task_keeps_running(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    body = {
        "id": "nodb",
        "dbrps": [{"db": "nowhere", "rp": "autogen"}],
        "status": "enabled",
        "script": script('SELECT mean(v) FROM "nowhere"."autogen"."cpu"', ".period(10s).every(1s)"),
    }
    assert k.api("POST", "/tasks", body).status == 200

    def errors() -> int:
        return int(k.api("GET", "/tasks/nodb").json()["stats"]["node-stats"]["query1"]["errors"])

    wait_for(lambda: errors() >= 2, what="two failed runs")
    task = k.api("GET", "/tasks/nodb").json()
    assert task["executing"] is True and task["status"] == "enabled"
    assert "database not found: nowhere" in k.log_tail(200)


def test_a_query_kapacitor_refuses_fails_the_start_with_its_reason(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    bad_script = "batch\n    |query('DROP DATABASE btask')\n        .every(1s)\n"
    body = {"id": "bad", "dbrps": DBRPS, "status": "enabled", "script": bad_script}
    answer = k.api("POST", "/tasks", body)
    assert answer.status == 400
    assert 'query is not a select statement "DROP DATABASE btask"' in answer.json()["error"]
    task = k.api("GET", "/tasks/bad").json()
    assert task["executing"] is False and "not a select statement" in task["error"]


def test_batch_task_without_influxdb_says_so(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    body = {"id": "b", "dbrps": DBRPS, "status": "enabled", "script": script('SELECT v FROM "a"."b"."c"')}
    answer = k.api("POST", "/tasks", body)
    assert answer.status == 400 and "InfluxDB not configured" in answer.json()["error"]
