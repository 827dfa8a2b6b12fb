"""Task and node statistics as Kapacitor's clients read them: ``stats`` of GET /tasks/ID (the
``kapacitor`` CLI, Chronograf) and /debug/vars parsed the way Telegraf's ``inputs.kapacitor``
parses it (plugins/inputs/kapacitor/kapacitor.go), checked against each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, wait_for

from kapfast.config import parse_go_duration

# a node with two children (from1), a batch edge (window2), an alert with its counters
SCRIPT = """var data = stream
    |from()
        .measurement('cpu')
        .groupBy('host')
data
    |window()
        .period(1h)
        .every(1h)
data
    |alert()
        .crit(lambda: "v" > 1)
        .topic('ops')
"""
COMMON = {"avg_exec_time_ns", "errors", "working_cardinality"}
ALERT = {"alerts_triggered", "oks_triggered", "infos_triggered", "warns_triggered", "crits_triggered"}
ALERT |= {"alerts_inhibited"}


def telegraf(debug_vars: dict[str, Any]) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """The series ``inputs.kapacitor`` makes of /debug/vars: per statistic, measurement
    ``kapacitor_<name>``, its tags without host/cluster_id/server_id, its values as fields with
    ``avg_exec_time_ns`` parsed as a Go duration (a statistic whose duration does not parse is
    skipped, as Telegraf does)."""
    out = [
        ("kapacitor", {}, {k: debug_vars[k] for k in ("num_enabled_tasks", "num_subscriptions", "num_tasks")})
    ]
    for obj in debug_vars["kapacitor"].values():
        tags = {k: v for k, v in obj["tags"].items() if k not in ("host", "cluster_id", "server_id")}
        values = dict(obj["values"])
        if "avg_exec_time_ns" in values:
            assert isinstance(values["avg_exec_time_ns"], str)  # Telegraf type-asserts a string
            values["avg_exec_time_ns"] = parse_go_duration(values["avg_exec_time_ns"])
        out.append(("kapacitor_" + obj["name"], tags, values))
    return out


def test_task_stats_and_debug_vars_as_kapacitor(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory("[stats]\n  enabled = false\n")
    body = {"id": "cpu", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": SCRIPT}
    assert k.api("POST", "/tasks", {**body, "status": "enabled"}).status == 200
    assert k.write("cpu,host=a v=1 1\ncpu,host=b v=2 2\ncpu,host=a v=3 3\n").status == 204

    def stats() -> dict[str, Any] | None:
        st: dict[str, Any] = k.api("GET", "/tasks/cpu").json()["stats"]
        return st if st["node-stats"]["alert3"]["collected"] == 3 else None

    st = wait_for(stats, what="the points through the task")
    assert set(st["task-stats"]) == {"throughput"} and isinstance(st["task-stats"]["throughput"], float)
    ns = st["node-stats"]
    # exactly Kapacitor's set of statistics per node, every one an int
    assert set(ns) == {"stream0", "from1", "window2", "alert3"}
    for name, node in ns.items():
        want = COMMON | {"collected", "emitted"} | (ALERT if name == "alert3" else set())
        assert set(node) == want, name
        assert all(type(v) is int for v in node.values()), name
    # collected and emitted as Kapacitor's edges count them
    assert (ns["stream0"]["collected"], ns["stream0"]["emitted"]) == (3, 3)
    assert (ns["from1"]["collected"], ns["from1"]["emitted"]) == (3, 6)  # two children
    assert (ns["window2"]["collected"], ns["window2"]["emitted"]) == (3, 0)  # no child
    assert (ns["alert3"]["collected"], ns["alert3"]["emitted"]) == (3, 0)
    # the groups each node holds (stream and from hold none)
    assert [ns[n]["working_cardinality"] for n in ("stream0", "from1", "window2", "alert3")] == [0, 0, 2, 2]
    # host=a: OK then CRITICAL; host=b: CRITICAL
    alert = ns["alert3"]
    assert (alert["crits_triggered"], alert["alerts_triggered"], alert["oks_triggered"]) == (2, 2, 0)
    # kapfast's own counters, apart
    assert st["kapfast-node-stats"] == {"alert3": {"events_dropped": 0}, "window2": {"buffered_points": 3}}

    series = telegraf(k.api("GET", "/debug/vars").json())
    kap = next(f for m, _, f in series if m == "kapacitor")
    assert kap == {"num_enabled_tasks": 1, "num_subscriptions": 0, "num_tasks": 1}
    nodes = {t["node"]: (t, f) for m, t, f in series if m == "kapacitor_nodes" and t["task"] == "cpu"}
    assert set(nodes) == set(ns)
    kinds = {"stream0": "stream", "from1": "from", "window2": "window", "alert3": "alert"}
    for name, (tags, fields) in nodes.items():
        assert tags == {"task": "cpu", "node": name, "type": "stream", "kind": kinds[name]}
        # the node's fields are the task JSON's, but collected/emitted (those are the edges')
        want = {k: v for k, v in ns[name].items() if k not in ("collected", "emitted")}
        assert fields == want, name
    edges = {(t["task"], t["parent"], t["child"]): (t, f) for m, t, f in series if m == "kapacitor_edges"}
    assert edges[("task_master:main", "write_points", "stream")][1] == {"collected": 3, "emitted": 3}
    assert edges[("task_master:main", "stats", "stream")][1] == {"collected": 0, "emitted": 0}
    # the alert's topic collected its two events
    topics = {t["id"]: f for m, t, f in series if m == "kapacitor_topics"}
    assert topics == {"ops": {"collected": 2}}
    mine = {key[1:]: v for key, v in edges.items() if key[0] == "cpu"}
    assert set(mine) == {
        ("stream", "stream0"),
        ("stream0", "from1"),
        ("from1", "window2"),
        ("from1", "alert3"),
    }
    for tags, fields in mine.values():
        assert fields["collected"] == fields["emitted"]
        assert tags["type"] == "stream"
    # a node's collected is what its parent edges carried; its emitted the sum of its child edges
    for name, node in ns.items():
        assert node["collected"] == sum(f["collected"] for (_, c), (_, f) in mine.items() if c == name), name
        assert node["emitted"] == sum(f["collected"] for (p, _), (_, f) in mine.items() if p == name), name
    extras = [(t, f) for m, t, f in series if m == "kapacitor_kapfast_nodes"]
    assert sorted(extras, key=lambda e: e[0]["node"]) == [
        ({"task": "cpu", "node": "alert3", "type": "stream", "kind": "alert"}, {"events_dropped": 0}),
        ({"task": "cpu", "node": "window2", "type": "stream", "kind": "window"}, {"buffered_points": 3}),
    ]


def test_window_edges_carry_batches(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory("[stats]\n  enabled = false\n")
    script = "stream|from().measurement('m')|window().period(1s).every(1s)|count('v')"
    body = {"id": "w", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}
    assert k.api("POST", "/tasks", {**body, "status": "enabled"}).status == 200
    assert k.write("m v=1 1000000000\nm v=1 2000000000\nm v=1 3000000000\n").status == 204

    def count() -> dict[str, Any] | None:
        ns: dict[str, Any] = k.api("GET", "/tasks/w").json()["stats"]["node-stats"]
        return ns if ns["count3"]["collected"] == 2 else None

    ns = wait_for(count, what="two windows")
    assert (ns["window2"]["collected"], ns["window2"]["emitted"]) == (3, 2)  # points in, batches out
    kv = k.api("GET", "/debug/vars").json()["kapacitor"]
    edge = [v for v in kv.values() if v["name"] == "edges" and v["tags"].get("parent") == "window2"]
    assert [(e["tags"]["type"], e["values"]["collected"]) for e in edge] == [("batch", 2)]
