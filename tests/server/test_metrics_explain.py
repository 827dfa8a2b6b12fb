"""``/metrics`` (Prometheus, parsed by prometheus_client's own parser) against /debug/vars, and
``GET /kapacitor/v1/tasks/{id}/explain``: 404s, auth, and an explanation of a live alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kapfastd_proc import Kapfastd, wait_for
from prometheus_client.parser import text_string_to_metric_families
from test_auth import USERS, basic, secured  # noqa: F401  (the fixture)

DBRPS = [{"db": "telegraf", "rp": "autogen"}]
ALERT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .warn(lambda: "usage" > 50)
        .crit(lambda: "usage" > 90)
        .stateChangesOnly()
        .log('{log}')
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def node_vars(k: Kapfastd, task: str, node: str) -> dict[str, Any]:
    dv = k.api("GET", "/debug/vars").json()["kapacitor"]
    return dict(dv[f"nodes:{task}:{node}"]["values"])


def define(k: Kapfastd, tmp_path: Path, ident: str = "cpu_alert") -> None:
    script = ALERT.format(log=tmp_path / "alerts.log")
    body = {"id": ident, "type": "stream", "dbrps": DBRPS, "script": script, "status": "enabled"}
    ans = k.api("POST", "/tasks", body)
    assert ans.status == 200, ans


def test_metrics_match_debug_vars(kapfastd: Kapfastd, tmp_path: Path) -> None:
    k = kapfastd
    define(k, tmp_path)
    lines = "cpu,host=a usage=95 1\ncpu,host=a usage=96 2\ncpu,host=b usage=10 3\ncpu,host=b usage=60 4\n"
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    assert k.write("cpu,host=c usage=oops= 5\n", "db=telegraf&rp=autogen&precision=s").status == 400
    ans = k.request("GET", "/metrics")
    assert ans.status == 200 and ans.headers["Content-Type"].startswith("text/plain; version=")
    got = samples(ans.text)
    want = node_vars(k, "cpu_alert", "alert2")

    def one(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    nl = {"task": "cpu_alert", "node": "alert2", "kind": "alert"}
    assert one("kapfast_node_errors_total", **nl) == want["errors"]
    assert one("kapfast_node_groups", **nl) == want["working_cardinality"] == 2
    assert one("kapfast_node_points_in_total", **nl) == 4
    for counter, level in (
        ("crits_triggered", "CRITICAL"),
        ("warns_triggered", "WARNING"),
        ("oks_triggered", "OK"),
    ):
        assert one("kapfast_alerts_total", task="cpu_alert", node="alert2", level=level) == want[counter]
    assert want["crits_triggered"] == 1 and want["warns_triggered"] == 1
    assert one("kapfast_alerts_inhibited_total", task="cpu_alert", node="alert2") == want["alerts_inhibited"]
    dv = k.api("GET", "/debug/vars").json()["kapacitor"]
    assert (
        one("kapfast_ingest_points_total", database="telegraf", retention_policy="autogen", measurement="cpu")
        == (dv["ingress:telegraf:autogen:cpu"]["values"]["points_received"])
    )
    assert one("kapfast_task_executing", task="cpu_alert") == 1
    assert one("kapfast_ingest_bad_lines_total") == 1
    assert one("kapfast_ingest_bytes_total") == len(lines) + len("cpu,host=c usage=oops= 5\n")
    assert one("kapfast_write_request_duration_seconds_count") == 2
    assert one("kapfast_process_resident_memory_bytes") > 0
    assert ("kapfast_event_loop_lag_seconds", ()) in got
    # the watchdog's count of event-loop stalls, in both places (/debug/vars read later)
    assert 0 <= one("kapfast_event_loop_stalls_total") <= dv["kapfast_loop"]["values"]["stalls"]


def test_explain_live_task(kapfastd: Kapfastd, tmp_path: Path) -> None:
    k = kapfastd
    define(k, tmp_path)
    lines = "cpu,host=a usage=95 1\ncpu,host=a usage=96 2\ncpu,host=b usage=60 3\n"
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    ans = k.api("GET", "/tasks/cpu_alert/explain")
    assert ans.status == 200, ans
    body = ans.json()
    assert body["task"] == "cpu_alert" and body["at"] is None
    (node,) = body["nodes"]
    groups = {g["group"]: g for g in node["groups"]}
    a, b = groups["host=a"], groups["host=b"]
    assert a["tags"] == {"host": "a"} and a["values"] == {"usage": 96.0}
    assert (a["level"], a["previous_level"]) == ("CRITICAL", "CRITICAL")
    assert a["deciding"] == {"level": "CRITICAL", "expression": '"usage" > 90'}
    assert a["sent"] is False and a["reason"] == "stateChangesOnly"
    assert b["sent"] is True and b["reason"] is None and b["level"] == "WARNING"
    crit = next(e for e in b["expressions"] if e["level"] == "CRITICAL")
    assert crit == {
        "level": "CRITICAL",
        "kind": "level",
        "expression": '"usage" > 90',
        "result": False,
        "error": None,
    }
    only = k.api("GET", "/tasks/cpu_alert/explain?node=alert2").json()
    assert [n["node"] for n in only["nodes"]] == ["alert2"]
    assert k.api("GET", "/tasks/cpu_alert/explain?node=nope").status == 404
    assert k.api("GET", "/tasks/cpu_alert/explain?at=1970-01-01T00:00:02Z").status == 400  # no recording
    assert k.api("GET", "/tasks/cpu_alert/explain?at=yesterday&recording=x").status == 400


def test_explain_unknown_or_disabled_task_is_404(kapfastd: Kapfastd, tmp_path: Path) -> None:
    k = kapfastd
    ans = k.api("GET", "/tasks/nope/explain")
    assert ans.status == 404 and "nope" in ans.json()["error"]
    define(k, tmp_path, "idle")
    assert k.api("PATCH", "/tasks/idle", {"status": "disabled"}).status == 200
    assert k.api("GET", "/tasks/idle/explain").status == 404


def test_explain_at_replays_a_recording(kapfastd: Kapfastd, tmp_path: Path) -> None:
    k = kapfastd
    define(k, tmp_path)
    # a stream recording's stop is data time: the first point past it ends the recording
    stop = "1970-01-01T00:00:03Z"
    rec = k.api("POST", "/recordings/stream", {"task": "cpu_alert", "stop": stop}).json()
    for line in ("usage=95 1", "usage=10 2", "usage=60 3", "usage=1 4"):
        assert k.write(f"cpu,host=a {line}\n", "db=telegraf&rp=autogen&precision=s").status == 204
    wait_for(
        lambda: k.api("GET", f"/recordings/{rec['id']}").json().get("status") == "finished", what="recording"
    )

    def at(t: str) -> dict[str, Any]:
        ans = k.api("GET", f"/tasks/cpu_alert/explain?at={t}&recording={rec['id']}")
        assert ans.status == 200, ans
        body = ans.json()
        assert body["at"] == t
        (g,) = body["nodes"][0]["groups"]
        return dict(g)

    first, second = at("1970-01-01T00:00:01Z"), at("1970-01-01T00:00:02Z")
    assert (first["level"], first["values"], first["sent"]) == ("CRITICAL", {"usage": 95.0}, True)
    assert (second["level"], second["previous_level"], second["sent"]) == ("OK", "CRITICAL", True)
    assert json.dumps(second)  # plain JSON


def test_metrics_and_explain_need_credentials(secured: Kapfastd) -> None:  # noqa: F811
    k = secured
    none = {"Authorization": ""}
    for path in ("/metrics", "/kapacitor/v1/tasks/x/explain"):
        assert k.request("GET", path, headers=none).status == 401
    bob = next(u["password"] for u in USERS if u["name"] == "bob")
    assert k.request("GET", "/metrics", headers=basic("bob", bob)).status == 200
    assert k.request("GET", "/kapacitor/v1/tasks/x/explain", headers=basic("bob", bob)).status == 404
    writer = next(u["password"] for u in USERS if u["name"] == "writer")
    assert k.request("GET", "/metrics", headers=basic("writer", writer)).status == 403


def test_buffered_points_of_a_window(kapfastd: Kapfastd) -> None:
    """A window's buffered points (#22): the ``kapfast_node_buffered_points`` gauge, kapfast's own
    ``buffered_points`` (task JSON ``kapfast-node-stats``, /debug/vars ``kapfast_nodes``); never in
    Kapacitor's node-stats, its /debug/vars ``nodes`` or the task's DOT."""
    k = kapfastd
    script = "stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |window()\n"
    script += "        .period(1h)\n        .every(1h)\n    |count('usage')\n"
    body = {"id": "win", "type": "stream", "dbrps": DBRPS, "script": script, "status": "enabled"}
    assert k.api("POST", "/tasks", body).status == 200
    lines = "".join(f"cpu,host=h{i % 3} usage={i} {i + 1}\n" for i in range(7))
    assert k.write(lines, "db=telegraf&rp=autogen&precision=s").status == 204
    task = k.api("GET", "/tasks/win").json()
    assert task["stats"]["kapfast-node-stats"]["window2"]["buffered_points"] == 7
    assert "buffered_points" not in task["stats"]["node-stats"]["window2"]
    assert "buffered" not in task["dot"]
    dv = k.api("GET", "/debug/vars").json()["kapacitor"]
    assert dv["kapfast_nodes:win:window2"]["values"]["buffered_points"] == 7
    assert "buffered_points" not in dv["nodes:win:window2"]["values"]
    got = samples(k.request("GET", "/metrics").text)
    labels = tuple(sorted({"task": "win", "node": "window2", "kind": "window"}.items()))
    assert got[("kapfast_node_buffered_points", labels)] == 7
    assert not any(
        name == "kapfast_node_counter_total" and ("counter", "buffered_points") in lab for name, lab in got
    )
