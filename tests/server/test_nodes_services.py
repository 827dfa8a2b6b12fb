"""kapfastd running httpPost (through an [[httppost]] endpoint's row-template), sideload (with
POST /kapacitor/v1/sideload/reload), kapacitorLoopback, k8sAutoscale (through [[kubernetes]]) and
queryFlux (through a 2.x [[influxdb]]) end to end: config file, task API, /write, loopback peers
on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kapfastd_proc import Kapfastd, wait_for
from tests.engine.recorder import Recorder, Request
from tests.engine.test_node_autoscale import FakeK8s

from kapfast.timefmt import parse_rfc3339_ns


def define(k: Kapfastd, task_id: str, db: str, script: str) -> None:
    ans = k.api(
        "POST",
        "/tasks",
        {"id": task_id, "dbrps": [{"db": db, "rp": "autogen"}], "script": script, "status": "enabled"},
    )
    assert ans.status == 200, ans
    assert ans.json()["executing"] is True, ans


def test_sideload_loopback_and_httppost_through_kapfastd(
    kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path
) -> None:
    folder = tmp_path / "sideload"
    folder.mkdir()
    (folder / "web.yml").write_text("threshold: 80\n")
    with Recorder() as hook:
        config = f"""
[[httppost]]
  endpoint = "hook"
  url = "{hook.url}/rows/{{{{.Name}}}}"
  row-template = '{{{{range .Values}}}}{{{{index . "threshold"}}}};{{{{end}}}}'
"""
        k = kapfastd_factory(config)
        # cpu -> sideloaded threshold -> looped back into db "loop" as "enriched"
        define(
            k,
            "enrich",
            "telegraf",
            f"""stream|from().measurement('cpu')
  |sideload().source('file://{folder}').order('{{{{.host}}}}.yml').field('threshold', 0.0)
  |kapacitorLoopback().database('loop').retentionPolicy('autogen').measurement('enriched')
""",
        )
        define(k, "post", "loop", "stream|from().measurement('enriched')|httpPost().endpoint('hook')")
        assert k.write("cpu,host=web v=1 1000000000").status == 204
        wait_for(lambda: hook.requests, what="the first POST")
        assert hook.requests[0].path == "/rows/enriched"
        assert hook.requests[0].body == b"80;"

        (folder / "web.yml").write_text("threshold: 95.5\n")
        assert k.api("POST", "/sideload/reload").status == 204
        assert k.write("cpu,host=web v=1 2000000000").status == 204
        wait_for(lambda: len(hook.requests) == 2, what="the second POST")
        assert hook.requests[1].body == b"95.5;"

        (folder / "web.yml").write_text("threshold: [broken\n")
        ans = k.api("POST", "/sideload/reload")
        assert ans.status == 500 and "failed to update source" in ans.json()["error"]

        stats = k.api("GET", "/tasks/enrich").json()["stats"]["node-stats"]
        assert stats["kapacitor_loopback3"]["points_written"] == 2


def test_k8s_autoscale_through_kapfastd(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    fake = FakeK8s({"api": 2})
    with Recorder(fake) as k8s:
        k = kapfastd_factory(f'[[kubernetes]]\n  enabled = true\n  api-servers = ["{k8s.url}"]\n')
        define(
            k,
            "scale",
            "telegraf",
            """stream|from().measurement('load').groupBy('deployment')
  |k8sAutoscale().resourceNameTag('deployment').replicas(lambda: int("want"))
  |httpOut('events')
""",
        )
        assert k.write("load,deployment=api want=5i 1000000000").status == 204

        def scaled() -> bool:
            return fake.replicas["api"] == 5

        wait_for(scaled, what="the scale PATCH")
        body = k.api("GET", "/tasks/scale/events").json()
        (series,) = body["series"]
        assert series["tags"] == {
            "deployment": "api",
            "kind": "deployments",
            "namespace": "default",
            "resource": "api",
        }
        assert series["columns"] == ["time", "new", "old"] and series["values"][0][1:] == [5, 2]


def test_query_flux_through_kapfastd(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """A batch task's queryFlux against a loopback server speaking InfluxDB 2's query API and its
    annotated CSV (no InfluxDB 2.x can be installed here)."""
    answer = (Path(__file__).resolve().parents[1] / "test_flux_query.py").read_text()
    csv_text = answer.split('ANSWER = """\\\n', 1)[1].split('"""', 1)[0]

    def influx2(req: Request) -> tuple[int, str, bytes]:
        if req.path.startswith("/api/v2/query"):
            return 200, "text/csv; charset=utf-8", csv_text.encode()
        if req.path.startswith("/ping"):
            return 204, "text/plain", b""
        return 404, "application/json", b'{"code":"not found","message":"path not found"}'

    with Recorder(influx2) as influx:
        config = (
            f'[[influxdb]]\n  enabled = true\n  name = "v2"\n  urls = ["{influx.url}"]\n'
            '  token = "tok123"\n  org = "acme"\n  disable-subscriptions = true\n'
        )
        k = kapfastd_factory(config)
        define(
            k,
            "flux",
            "telegraf",
            """batch|queryFlux('from(bucket: "b") |> range(start: -1m)').every(1s).offset(2s).orgID('0a1b')
  |httpOut('out')
""",
        )

        def queried() -> list[Request]:
            return [r for r in influx.requests if r.path.startswith("/api/v2/query")]

        wait_for(queried, what="a flux query")
        req = queried()[0]
        assert req.method == "POST" and req.path == "/api/v2/query?orgID=0a1b"
        assert req.headers["Authorization"] == "Token tok123"
        body = json.loads(req.body)
        assert body["type"] == "flux" and body["query"] == 'from(bucket: "b") |> range(start: -1m)'
        assert body["dialect"]["header"] is True and body["dialect"]["delimiter"] == ","
        assert {"datatype", "group"} <= set(body["dialect"]["annotations"])
        # now is the tick minus the offset: about 2 s before the request
        now = parse_rfc3339_ns(body["now"])
        assert 1 * 10**9 < time.time_ns() - now < 10 * 10**9

        def out() -> Any:
            ans = k.api("GET", "/tasks/flux/out")
            return ans.status == 200 and ans.json()["series"] and ans.json()

        body = wait_for(out, what="the batches")
        assert [(s["name"], s["tags"]) for s in body["series"]] == [
            ("cpu", {"_field": "usage", "host": "a"}),
            ("cpu", {"_field": "usage", "host": "b"}),
            ("mem", {"region": "eu"}),
        ]
        assert body["series"][0]["values"] == [
            ["2024-01-01T00:00:10Z", 1.5],
            ["2024-01-01T00:00:20.5Z", 2.5],
        ]
        stats = k.api("GET", "/tasks/flux").json()["stats"]["node-stats"]
        assert stats["query_flux1"]["batches_queried"] >= 3


def test_kubernetes_section_changed_through_the_config_api_applies_live(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    fake = FakeK8s({"api": 1})
    with Recorder(fake) as k8s:
        dead = "http://127.0.0.1:9"  # discard port: nothing answers
        k = kapfastd_factory(f'[[kubernetes]]\n  enabled = true\n  id = "k1"\n  api-servers = ["{dead}"]\n')
        define(
            k,
            "scale",
            "telegraf",
            "stream|from().measurement('load')"
            "|k8sAutoscale().cluster('k1').resourceName('api').replicas(lambda: 3)",
        )
        ans = k.api("POST", "/config/kubernetes/k1", {"set": {"api-servers": [k8s.url]}})
        assert ans.status == 204, ans
        assert k.write("load v=1 1000000000").status == 204
        wait_for(lambda: fake.replicas["api"] == 3, what="the scale through the new api-servers")
