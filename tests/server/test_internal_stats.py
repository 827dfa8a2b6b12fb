"""kapfastd's own statistics: in /debug/vars, and as points in its stream every [stats] interval
(``_kapacitor.autogen``), where tasks can read them as Kapacitor's users do."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, wait_for

WATCH = """stream
    |from()
        .database('_kapacitor')
        .retentionPolicy('autogen')
        .measurement('{m}')
        .groupBy('task', 'node')
    |httpOut('out')
"""
DBRPS = [{"db": "_kapacitor", "rp": "autogen"}]
CPU = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(1h)
        .every(1h)
"""


def out(k: Kapfastd, task: str) -> list[dict[str, Any]]:
    got = k.api("GET", f"/tasks/{task}/out")
    return list(got.json().get("series") or []) if got.status == 200 else []


def test_stats_are_points_in_the_stream(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory('[stats]\n  stats-interval = "1s"\n')
    for m in ("kapacitor", "nodes"):
        body = {"id": f"watch_{m}", "dbrps": DBRPS, "script": WATCH.format(m=m), "status": "enabled"}
        assert k.api("POST", "/tasks", body).status == 200
    body = {"id": "cpu", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": CPU, "status": "enabled"}
    assert k.api("POST", "/tasks", body).status == 200
    assert k.write("cpu,host=a v=1\ncpu,host=b v=2\n").status == 204

    series = wait_for(lambda: out(k, "watch_kapacitor"), what="the kapacitor measurement")
    cols, row = series[0]["columns"], series[0]["values"][0]
    got = dict(zip(cols, row, strict=True))
    assert got["num_tasks"] == 3 and got["num_enabled_tasks"] == 3 and got["num_subscriptions"] == 0

    def window_node() -> dict[str, Any] | None:
        for s in out(k, "watch_nodes"):
            tags = s.get("tags", {})
            if (tags.get("task"), tags.get("node")) == ("cpu", "window2"):
                return s
        return None

    win = wait_for(window_node, what="the cpu task's window node")
    tags = win["tags"]
    assert (tags["type"], tags["kind"]) == ("stream", "window")
    assert {"cluster_id", "server_id", "host"} <= set(tags)
    values = dict(zip(win["columns"], win["values"][0], strict=True))
    assert values["working_cardinality"] == 2 and values["errors"] == 0

    # /debug/vars lists the same node and edge statistics; ingress counts the stats points too
    kv = k.api("GET", "/debug/vars").json()["kapacitor"]
    assert kv["nodes:cpu:window2"]["values"]["working_cardinality"] == 2
    assert kv["edges:cpu:from1:window2"]["values"]["collected"] == 2
    assert any(v["name"] == "ingress" and v["tags"]["database"] == "_kapacitor" for v in kv.values())
    # the task master's edges tell the points written (2) from kapfastd's own statistics points
    assert kv["edges:task_master:main:write_points:stream"]["values"]["collected"] == 2
    assert kv["edges:task_master:main:stats:stream"]["values"]["collected"] > 0


def test_stats_can_be_turned_off(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory('[stats]\n  enabled = false\n  stats-interval = "1s"\n')
    body = {"id": "w", "dbrps": DBRPS, "script": WATCH.format(m="kapacitor"), "status": "enabled"}
    assert k.api("POST", "/tasks", body).status == 200
    time.sleep(2.5)
    assert out(k, "w") == []
    kv = k.api("GET", "/debug/vars").json()["kapacitor"]
    assert not any(v["name"] == "ingress" for v in kv.values())
