"""kapfastd running httpPost (through an [[httppost]] endpoint's row-template), sideload (with
POST /kapacitor/v1/sideload/reload), kapacitorLoopback and k8sAutoscale (through [[kubernetes]])
end to end: config file, task API, /write, loopback peers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kapfastd_proc import Kapfastd, wait_for
from tests.engine.recorder import Recorder
from tests.engine.test_node_autoscale import FakeK8s


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
