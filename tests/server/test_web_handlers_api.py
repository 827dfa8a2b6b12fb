"""The web API handlers (pagerduty2, opsgenie2, victorops, alerta, talk...) through kapfastd: a
task's inline handler and a topic handler receiving real events, the service tests over
``/kapacitor/v1/service-tests``, the sections in ``/kapacitor/v1/config`` with their secrets
redacted, and a section changed through the config API taking effect without a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for
from tests.engine.alert.servers import AiohttpReceiver
from tests.server.test_topic_handlers import define, script


def test_web_handlers_through_kapfastd(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    # PagerDuty2 and OpsGenie2 answer 202 Accepted, VictorOps and Talk 200 OK
    with AiohttpReceiver(status=202) as hook, AiohttpReceiver(status=200) as hook200:
        k = kapfastd_factory(
            f"""
[pagerduty2]
  enabled = true
  url = "{hook.url("/pd2")}"
  routing-key = "s3cret-routing"
[opsgenie2]
  enabled = true
  url = "{hook.url("/og2")}"
  api-key = "s3cret-genie"
[victorops]
  enabled = true
  url = "{hook200.url("/vo")}"
  api-key = "s3cret-vo"
  routing-key = "rk"
[talk]
  enabled = true
  url = "{hook200.url("/talk")}"
  author_name = "kap"
"""
        )
        define(k, "cpu", script("        .pagerDuty2()"))
        spec = {"id": "og", "kind": "opsgenie2", "options": {"teams-list": ["ops"]}}
        assert k.api("POST", "/alerts/topics/ops/handlers", spec).status == 200
        t0 = time.time_ns() // 10**9 * 10**9
        assert k.write(f"cpu,host=a v=95 {t0}\ncpu,host=a v=5 {t0 + 10**9}\n").status == 204
        reqs = hook.wait(4)
        by_path: dict[str, list[dict[str, object]]] = {}
        for (path, _, body), query in zip(reqs, hook.queries, strict=True):
            by_path.setdefault(path + ("?" + query if query else ""), []).append(json.loads(body))
        pd2 = by_path["/pd2"]
        assert [d["event_action"] for d in pd2] == ["trigger", "resolve"]
        assert pd2[0]["routing_key"] == "s3cret-routing" and pd2[0]["dedup_key"] == "cpu:host=a"
        assert pd2[0]["payload"]["class"] == "cpu" and pd2[0]["payload"]["source"] == "a"  # type: ignore[index]
        assert str(pd2[0]["client_url"]).endswith("/kapacitor/v1")
        og = by_path["/og2"][0]
        assert og["responders"] == [{"name": "ops", "type": "team"}] and og["priority"] == "P1"
        assert by_path["/og2/Y3B1Omhvc3Q9YQ==/notes?identifierType=alias"] == [{"note": "cpu:host=a is OK"}]

        # service tests
        names = {s["name"] for s in k.api("GET", "/service-tests").json()["services"]}
        assert {"pagerduty", "pagerduty2", "opsgenie", "opsgenie2", "victorops", "alerta", "bigpanda",
                "servicenow", "zenoss", "talk"} <= names  # fmt: skip
        assert k.api("GET", "/service-tests/talk").json()["options"] == {
            "title": "testTitle",
            "text": "test talk text",
        }
        assert k.api("POST", "/service-tests/talk", {}).json() == {"success": True, "message": ""}
        assert k.api("POST", "/service-tests/victorops", {"routingKey": "other"}).json()["success"] is True
        failed = k.api("POST", "/service-tests/alerta", {}).json()
        assert failed == {
            "success": False,
            "message": "alerta: service is not enabled ([alerta] enabled = false)",
        }
        reqs = hook200.wait(2)
        assert [r[0] for r in reqs] == ["/talk", "/vo/s3cret-vo/other"]

        # the config API: secrets redacted, a live change applies to the running task's handler
        doc = k.api("GET", "/config/pagerduty2").json()
        (elem,) = doc["elements"]
        assert elem["redacted"] == ["routing-key"] and elem["options"]["routing-key"] is True
        assert "s3cret" not in json.dumps(k.api("GET", "/config").json())
        assert k.api("POST", "/config/pagerduty2", {"set": {"url": hook.url("/pd2-new")}}).status == 204
        assert k.write(f"cpu,host=a v=96 {t0 + 2 * 10**9}\n").status == 204
        wait_for(lambda: any(p == "/pd2-new" for p, _, _ in hook.requests), what="request to the new URL")
        k.stop()
