"""opsgenie, opsgenie2 and victorops against a real aiohttp server on 127.0.0.1: the exact requests
for a CRITICAL event and its recovery, inline and as topic handlers, the config sections and the
service tests."""

from __future__ import annotations

import json

import pytest
from tests.engine.alert.servers import AiohttpReceiver
from tests.engine.alert.webfixtures import RESULT, bodies, event, run_inline, run_service_test, services

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.services import HandlerSpecError
from kapfast.errors import ConfigError
from kapfast.handler_table import HANDLERS

RESULT_TEXT = json.dumps(RESULT, separators=(",", ":"))


def test_sections() -> None:
    cfg, _ = from_mapping({})
    og, og2, vo = (cfg.handlers[k] for k in ("opsgenie", "opsgenie2", "victorops"))
    assert (og.url, og.recovery_url, og.teams, og.recipients) == (
        "https://api.opsgenie.com/v1/json/alert",
        "https://api.opsgenie.com/v1/json/alert/note",
        [],
        [],
    )
    assert (og2.url, og2.recovery_action, og2.details) == (
        "https://api.opsgenie.com/v2/alerts",
        "notes",
        False,
    )
    assert (vo.url, vo.json_data) == (
        "https://alert.victorops.com/integrations/generic/20131114/alert",
        False,
    )
    assert {HANDLERS[k].secrets for k in ("opsgenie", "opsgenie2", "victorops")} == {frozenset({"api-key"})}
    with pytest.raises(ConfigError, match="api-key cannot be empty"):
        from_mapping({"opsgenie2": {"enabled": True}})
    with pytest.raises(ConfigError, match="recovery_url cannot be empty"):
        from_mapping({"opsgenie": {"recovery_url": ""}})


# --- opsgenie (v1) -------------------------------------------------------------------------------


def test_opsgenie_create_and_recovery() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            opsgenie={
                "enabled": True,
                "api-key": "KEY",
                "url": hook.url("/v1/json/alert"),
                "recovery_url": hook.url("/v1/json/alert/note"),
                "teams": ["ops"],
            }
        )
        h = svc.build("opsgenie", {"recipients-list": ["bob"]})
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (p2, _, b2) = hook.wait(2)
    assert (p1, p2) == ("/v1/json/alert/", "/v1/json/alert/note/")
    assert h1["Content-Type"] == "application/json"
    assert b1 == (
        b'{"alias":"cpu:host=a","apiKey":"KEY","description":' + json.dumps(RESULT_TEXT).encode() + b","
        b'"details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"cpu:host=a",'
        b'"message":"cpu:host=a is CRITICAL","monitoring_tool":"kapacitor","note":"",'
        b'"recipients":["bob"],"teams":["ops"]}\n'
    )
    doc = json.loads(b2)
    assert doc["note"] == doc["message"] == "cpu:host=a is OK"
    assert doc["details"] == {"Level": "RECOVERY", "Monitoring Tool": "Kapacitor"}


def test_opsgenie_inline_and_service_test() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            opsgenie={"enabled": True, "api-key": "K", "url": hook.url("/a"), "recovery_url": hook.url("/r")}
        )
        run_inline(
            svc,
            ".crit(lambda: \"value\" > 5).opsGenie().teams('t1', 't2').recipients('r1')",
            [10, 1],
        )
        run_service_test("opsgenie", svc)
        docs = bodies(hook, 3)
        paths = [p for p, _, _ in hook.requests]
    assert paths == ["/a/", "/r/", "/a/"]
    assert (docs[0]["teams"], docs[0]["recipients"]) == (["t1", "t2"], ["r1"])
    assert docs[1]["details"]["Level"] == "RECOVERY"
    assert (docs[2]["entity"], docs[2]["message"], docs[2]["description"]) == (
        "testEntityID",
        "test opsgenie message",
        '{"series":null}',
    )
    assert "teams" not in docs[2]


def test_opsgenie_error_answer() -> None:
    with AiohttpReceiver(status=422, reply=b'{"message":"Key format is not valid!"}') as hook:
        svc = services(opsgenie={"enabled": True, "api-key": "K", "url": hook.url()})
        with pytest.raises(HandlerError, match="opsgenie: Key format is not valid!"):
            svc.build("opsgenie", {}).handle(event())


# --- opsgenie2 -----------------------------------------------------------------------------------


def test_opsgenie2_create_then_notes_or_close() -> None:
    with AiohttpReceiver(status=202) as hook:
        svc = services(
            opsgenie2={
                "enabled": True,
                "api-key": "KEY",
                "url": hook.url("/v2/alerts"),
                "recipients": ["amy"],
            }
        )
        h = svc.build("opsgenie2", {"teams-list": ["ops"]})
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        closer = svc.build("opsgenie2", {"recovery_action": "close"})
        closer.handle(event("OK"))
        reqs = hook.wait(3)
        queries = list(hook.queries)
    (p1, h1, b1), (p2, h2, b2), (p3, _, b3) = reqs
    assert p1 == "/v2/alerts" and queries[0] == ""
    assert h1["Authorization"] == h2["Authorization"] == "GenieKey KEY"
    assert b1 == (
        b'{"alias":"Y3B1Omhvc3Q9YQ==","description":' + json.dumps(RESULT_TEXT).encode() + b","
        b'"details":{"Kapacitor Task Name":"cpu","Level":"CRITICAL",'
        b'"Monitoring Tool":"Kapacitor","host":"a"},'
        b'"entity":"cpu:host=a","message":"cpu:host=a is CRITICAL","note":"","priority":"P1",'
        b'"responders":[{"name":"ops","type":"team"},{"type":"user","username":"amy"}]}\n'
    )
    assert (p2, queries[1], b2) == ("/v2/alerts/Y3B1Omhvc3Q9YQ==/notes", "identifierType=alias",
                                    b'{"note":"cpu:host=a is OK"}\n')  # fmt: skip
    assert (p3, queries[2], b3) == ("/v2/alerts/Y3B1Omhvc3Q9YQ==/close", "identifierType=alias",
                                    b'{"note":"cpu:host=a is OK"}\n')  # fmt: skip


def test_opsgenie2_inline_priorities_details_and_errors() -> None:
    with AiohttpReceiver(status=202) as hook:
        svc = services(opsgenie2={"enabled": True, "api-key": "K", "url": hook.url(), "details": True})
        run_inline(
            svc,
            '.info(lambda: "value" > 1).warn(lambda: "value" > 5).crit(lambda: "value" > 8)'
            ".details('d').opsGenie2().teams('a').recoveryAction('close')",
            [9, 6, 2, 0],
        )
        run_service_test("opsgenie2", svc, **{"message-type": "RECOVERY"})
        docs = bodies(hook, 5)
        paths = [p for p, _, _ in hook.requests]
    assert [d.get("priority") for d in docs[:3]] == ["P1", "P3", "P5"]
    assert docs[0]["description"] == "d" and docs[0]["responders"] == [{"name": "a", "type": "team"}]
    assert paths[3].endswith("/Y3B1Om5pbA==/close") and docs[3] == {"note": "cpu:nil is OK"}
    assert paths[4].endswith("/dGVzdEVudGl0eUlE/notes")
    with AiohttpReceiver(status=200) as hook:  # only 202 is success
        svc = services(opsgenie2={"enabled": True, "api-key": "K", "url": hook.url()})
        with pytest.raises(
            HandlerError, match=r"opsgenie error: failed to understand OpsGenie response\. code: 200"
        ):
            svc.build("opsgenie2", {}).handle(event())
    with pytest.raises(HandlerSpecError, match="recovery_action"):
        svc.build("opsgenie2", {"recovery_action": "delete"})


# --- victorops -----------------------------------------------------------------------------------


def test_victorops_critical_and_recovery() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            victorops={"enabled": True, "api-key": "API", "routing-key": "rk", "url": hook.url("/alert")}
        )
        h = svc.build("victorops", {})
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (p2, _, b2) = hook.wait(2)
    assert p1 == p2 == "/alert/API/rk" and h1["Content-Type"] == "application/json"
    assert b1 == (
        b'{"data":' + json.dumps(RESULT_TEXT).encode() + b',"entity_id":"cpu:host=a",'
        b'"message_type":"CRITICAL","monitoring_tool":"kapacitor",'
        b'"state_message":"cpu:host=a is CRITICAL","timestamp":1}\n'
    )
    assert json.loads(b2)["message_type"] == "RECOVERY"


def test_victorops_inline_json_data_service_test_and_404() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            victorops={
                "enabled": True,
                "api-key": "API",
                "routing-key": "rk",
                "url": hook.url(),
                "json-data": True,
            }
        )
        run_inline(
            svc,
            ".warn(lambda: \"value\" > 5).victorOps().routingKey('mine')",
            [10, 1],
        )
        run_service_test("victorops", svc)
        docs = bodies(hook, 3)
        paths = [p for p, _, _ in hook.requests]
    assert paths == ["/hook/API/mine", "/hook/API/mine", "/hook/API/rk"]
    assert [d["message_type"] for d in docs] == ["WARNING", "RECOVERY", "CRITICAL"]
    assert docs[0]["data"]["series"][0]["values"] == [["1970-01-01T00:00:00Z", 10]]
    assert docs[2]["entity_id"] == "testEntityID" and docs[2]["timestamp"] > 1_600_000_000
    with AiohttpReceiver(status=404) as hook:
        svc = services(victorops={"enabled": True, "url": hook.url()})
        with pytest.raises(HandlerError, match="URL or API key not found: 404"):
            svc.build("victorops", {}).handle(event())


def test_victorops_failure_does_not_log_the_api_key() -> None:
    with AiohttpReceiver() as hook:
        port = hook.port
    svc = services(victorops={"enabled": True, "api-key": "S3CRET", "url": f"http://127.0.0.1:{port}/alert"})
    with pytest.raises(HandlerError) as e:
        svc.build("victorops", {}).handle(event())
    assert "S3CRET" not in str(e.value) and "/alert/<redacted>:" in str(e.value)
