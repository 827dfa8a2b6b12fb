"""pagerduty and pagerduty2 against a real aiohttp server on 127.0.0.1: the exact requests for a
CRITICAL event and its recovery, inline and as topic handlers, the config sections and the service
tests."""

from __future__ import annotations

import json
import time

import pytest
from tests.engine.alert.servers import AiohttpReceiver
from tests.engine.alert.webfixtures import bodies, event, run_inline, services

from kapfast.config import apply_env, from_mapping
from kapfast.engine.alert.handlers.base import HandlerError, Options, ServiceDisabled
from kapfast.engine.alert.services import HandlerSpecError
from kapfast.errors import ConfigError
from kapfast.handler_table import HANDLERS

# --- config sections -----------------------------------------------------------------------------


def test_sections_defaults_and_secrets() -> None:
    cfg, _ = from_mapping({})
    pd2 = cfg.handlers["pagerduty2"]
    assert (pd2.enabled, pd2.url, pd2.routing_key, pd2.global_) == (
        False,
        "https://events.pagerduty.com/v2/enqueue",
        "",
        False,
    )
    pd = cfg.handlers["pagerduty"]
    assert pd.url == "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
    assert HANDLERS["pagerduty2"].secrets == {"routing-key"}
    assert HANDLERS["pagerduty"].secrets == {"service-key"}
    cfg, _ = from_mapping({"pagerduty2": {"enabled": True, "url": "http://x/", "routing-key": "rk"}})
    assert cfg.handlers["pagerduty2"].routing_key == "rk"
    cfg = apply_env(cfg, {"KAPACITOR_PAGERDUTY2_ROUTING_KEY": "env", "KAPACITOR_PAGERDUTY_GLOBAL": "true"})
    assert (cfg.handlers["pagerduty2"].routing_key, cfg.handlers["pagerduty"].global_) == ("env", True)
    with pytest.raises(ConfigError, match="url cannot be empty"):
        from_mapping({"pagerduty": {"url": ""}})


# --- pagerduty2 ----------------------------------------------------------------------------------


def test_pagerduty2_trigger_and_resolve_exact_bytes() -> None:
    with AiohttpReceiver(status=202) as hook:
        svc = services(pagerduty2={"enabled": True, "url": hook.url("/v2/enqueue"), "routing-key": "cfg-key"})
        h = svc.build("pagerduty2", {"links": [{"href": "http://h/{{ .ID }}", "text": "{{ .Level }}"}]})
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (p2, _, b2) = hook.wait(2)
    assert p1 == p2 == "/v2/enqueue"
    assert h1["Content-Type"] == "application/json"
    assert h1["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert b1 == (
        b'{"routing_key":"cfg-key","event_action":"trigger","dedup_key":"cpu:host=a","payload":'
        b'{"summary":"cpu:host=a is CRITICAL","source":"a","severity":"critical",'
        b'"timestamp":"1970-01-01T00:00:01.500000000Z","class":"t1","component":"","group":"",'
        b'"custom_details":{"result":{"series":[{"name":"cpu","tags":{"host":"a"},'
        b'"columns":["time","value"],"values":[["1970-01-01T00:00:00Z",10]]}]}}},'
        b'"images":null,"links":[{"href":"http://h/cpu:host=a","text":"CRITICAL"}],'
        b'"client":"kapacitor","client_url":"http://127.0.0.1:9092/kapacitor/v1"}\n'
    )
    assert b2 == b'{"routing_key":"cfg-key","dedup_key":"cpu:host=a","event_action":"resolve"}\n'


def test_pagerduty2_inline_levels_and_routing_key() -> None:
    with AiohttpReceiver(status=200) as hook:
        svc = services(pagerduty2={"enabled": True, "url": hook.url()})
        run_inline(
            svc,
            '.warn(lambda: "value" > 5).crit(lambda: "value" > 8).info(lambda: "value" > 2)'
            ".pagerDuty2().routingKey('rk').link('http://x/{{ .TaskName }}')",
            [9, 6, 3, 1],
            task="task1",
        )
        docs = bodies(hook, 4)
    assert [d.get("payload", {}).get("severity") for d in docs] == ["critical", "warning", "info", None]  # type: ignore[union-attr]
    assert docs[0]["routing_key"] == "rk" and docs[0]["links"] == [
        {"href": "http://x/task1", "text": "http://x/task1"}
    ]
    assert docs[0]["payload"]["class"] == "task1"  # type: ignore[index]
    assert docs[0]["payload"]["source"] == "unknown"  # type: ignore[index]
    assert docs[3] == {"routing_key": "rk", "dedup_key": "cpu:nil", "event_action": "resolve"}


def test_pagerduty2_errors_are_kapacitors() -> None:
    reply = (
        b'{"status":"invalid event","message":"Event object is invalid",'
        b'"errors":["Length of routing_key is incorrect"]}'
    )
    with AiohttpReceiver(status=400, reply=reply) as hook:
        svc = services(pagerduty2={"enabled": True, "url": hook.url()})
        h = svc.build("pagerduty2", {})
        with pytest.raises(HandlerError) as e:
            h.handle(event())
    assert str(e.value) == (
        "pagerduty2: Status: invalid event, Message: Event object is invalid "
        "Errors: [Length of routing_key is incorrect]"
    )
    disabled = services().build("pagerduty2", {})
    with pytest.raises(ServiceDisabled, match="not enabled"):
        disabled.handle(event())
    with pytest.raises(HandlerSpecError, match="unknown option"):
        services().build("pagerduty2", {"routing_key": "x"})
    with pytest.raises(HandlerSpecError, match="link template"):
        services().build("pagerduty2", {"links": [{"href": "{{ .ID"}]})


def test_pagerduty2_service_test() -> None:
    impl = HANDLERS["pagerduty2"].implementation()
    with AiohttpReceiver(status=202) as hook:
        svc = services(pagerduty2={"enabled": True, "url": hook.url(), "routing-key": "k"})
        service = svc.service("pagerduty2")
        assert impl.test_options is not None and impl.test is not None
        opts = impl.test_options(service)
        impl.test(service, Options("pagerduty2", opts))
        (doc,) = bodies(hook, 1)
    assert doc["dedup_key"] == "testAlertID" and doc["routing_key"] == "k"
    assert doc["payload"]["summary"] == "test pagerduty2 message"  # type: ignore[index]
    assert doc["payload"]["timestamp"] == "2014-11-12T11:45:26.371000000Z"  # type: ignore[index]
    assert doc["payload"]["custom_details"] == {"result": {"series": None}}  # type: ignore[index]
    assert doc["links"] == [
        {"href": "https://example.com/a", "text": "a"},
        {"href": "https://example.com/b", "text": "b"},
    ]


# --- pagerduty (v1) ------------------------------------------------------------------------------


def test_pagerduty_trigger_resolve_and_info() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            pagerduty={"enabled": True, "url": hook.url("/create_event.json"), "service-key": "sk"}
        )
        h = svc.build("pagerduty", {})
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        with pytest.raises(HandlerError, match="AlertLevel 'info' is currently ignored"):
            h.handle(event("INFO"))
        (p1, h1, b1), (_, _, b2) = hook.wait(2)
    assert p1 == "/create_event.json" and h1["Content-Type"] == "application/json"
    assert b1 == (
        b'{"client":"kapacitor","client_url":"http://127.0.0.1:9092/kapacitor/v1",'
        b'"description":"cpu:host=a is CRITICAL","details":"\\u003cb\\u003ed\\u003c/b\\u003e",'
        b'"event_type":"trigger","incident_key":"cpu:host=a","service_key":"sk"}\n'
    )
    assert json.loads(b2)["event_type"] == "resolve"
    assert len(hook.requests) == 2


def test_pagerduty_inline_service_key_and_error() -> None:
    with AiohttpReceiver() as hook:
        svc = services(pagerduty={"enabled": True, "url": hook.url(), "service-key": "sk"})
        run_inline(
            svc,
            ".crit(lambda: \"value\" > 5).pagerDuty().serviceKey('mine')",
            [10, 1],
        )
        docs = bodies(hook, 2)
    assert [(d["service_key"], d["event_type"]) for d in docs] == [("mine", "trigger"), ("mine", "resolve")]
    with AiohttpReceiver(status=400, reply=b'{"message":"bad key"}') as hook:
        svc = services(pagerduty={"enabled": True, "url": hook.url()})
        with pytest.raises(HandlerError, match=r"^pagerduty: bad key$"):
            svc.build("pagerduty", {}).handle(event())


def test_pagerduty_service_test() -> None:
    impl = HANDLERS["pagerduty"].implementation()
    with AiohttpReceiver() as hook:
        svc = services(pagerduty={"enabled": True, "url": hook.url(), "service-key": "k"})
        service = svc.service("pagerduty")
        assert impl.test_options is not None and impl.test is not None
        impl.test(service, Options("pagerduty", impl.test_options(service)))
        (doc,) = bodies(hook, 1)
    assert (doc["incident_key"], doc["description"], doc["service_key"]) == (
        "testIncidentKey",
        "test pagerduty message",
        "k",
    )


def test_global_pagerduty2_and_global_state_changes_only_bigpanda() -> None:
    with AiohttpReceiver(status=202) as hook:
        svc = services(pagerduty2={"enabled": True, "url": hook.url(), "global": True})
        run_inline(svc, '.crit(lambda: "value" > 5)', [10, 11, 1])  # no .pagerDuty2(): global
        docs = bodies(hook, 3)
    assert [d["event_action"] for d in docs] == ["trigger", "trigger", "resolve"]
    with AiohttpReceiver(status=201) as hook:
        svc = services(
            bigpanda={
                "enabled": True,
                "url": hook.url(),
                "app-key": "a",
                "token": "t",
                "global": True,
                "state-changes-only": True,
            }
        )
        run_inline(svc, '.crit(lambda: "value" > 5)', [10, 11, 12, 1])
        docs = bodies(hook, 2)
        time.sleep(0.1)
        assert len(hook.requests) == 2  # the repeated CRITICALs were not sent
    assert [d["status"] for d in docs] == ["critical", "ok"]


def test_a_hanging_service_is_cut_by_the_timeout() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts (in the backlog) and never answers
        port = sock.getsockname()[1]
        svc = services(pagerduty2={"enabled": True, "url": f"http://127.0.0.1:{port}/"})
        svc.service("pagerduty2").timeout_s = 0.3
        t0 = time.monotonic()
        with pytest.raises(HandlerError, match="timed out"):
            svc.build("pagerduty2", {}).handle(event())
        assert time.monotonic() - t0 < 5
