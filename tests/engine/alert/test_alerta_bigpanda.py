"""alerta, bigpanda, servicenow, zenoss and talk against a real aiohttp server on 127.0.0.1: the
exact requests for a CRITICAL event and its recovery, inline and as topic handlers, the config
sections and the service tests."""

from __future__ import annotations

import base64
import json

import pytest
from tests.engine.alert.servers import AiohttpReceiver
from tests.engine.alert.webfixtures import RESULT, bodies, event, run_inline, run_service_test, services

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.services import HandlerSpecError
from kapfast.errors import ConfigError
from kapfast.handler_table import HANDLERS


def test_sections() -> None:
    cfg, _ = from_mapping({})
    al, bp, sn, zn, tk = (cfg.handlers[k] for k in ("alerta", "bigpanda", "servicenow", "zenoss", "talk"))
    assert (al.url, al.token_prefix, al.origin, al.timeout) == ("", "", "", "0s")
    assert (bp.url, bp.auto_attributes) == ("https://api.bigpanda.io/data/v2/alerts", "tags,fields")
    assert (sn.url, sn.source) == ("https://instance.service-now.com/api/global/em/jsonv2", "")
    assert (zn.action, zn.method, zn.type, zn.tid, zn.collector) == (
        "EventsRouter",
        "add_event",
        "rpc",
        1,
        "Kapacitor",
    )
    assert zn.severity_map == {"OK": "Clear", "Info": "Info", "Warning": "Warning", "Critical": "Critical"}
    assert (tk.url, tk.author_name) == ("", "")
    assert HANDLERS["alerta"].secrets == HANDLERS["bigpanda"].secrets == {"token"}
    assert HANDLERS["servicenow"].secrets == HANDLERS["zenoss"].secrets == {"password"}
    assert HANDLERS["talk"].secrets == {"url"}
    for doc, msg in [
        ({"alerta": {"enabled": True}}, "must specify url"),
        ({"bigpanda": {"enabled": True, "token": "t"}}, "app-key"),
        ({"bigpanda": {"enabled": True, "app-key": "a"}}, "token"),
        ({"zenoss": {"severity-map": {"Fatal": "x"}}}, "unknown level"),
        ({"talk": {"enabled": True}}, "must specify url"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            from_mapping(doc)


# --- alerta --------------------------------------------------------------------------------------


def test_alerta_critical_and_recovery_exact() -> None:
    with AiohttpReceiver(status=201) as hook:
        svc = services(
            alerta={
                "enabled": True,
                "url": hook.url("/api"),
                "token": "T",
                "environment": "prod",
                "origin": "kap",
            }
        )
        h = svc.build(
            "alerta",
            {
                "resource": '{{ index .Tags "host" }}',
                "value": '{{ index .Fields "value" }}',
                "service": ["svc-{{ .Name }}"],
                "timeout": "1h",
                "attributes": {"region": "eu"},
                "rename-severities": {"crit": "major"},
            },
        )
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (_, _, b2) = hook.wait(2)
    assert p1 == "/api/alert"
    assert (h1["Authorization"], h1["Content-Type"]) == ("Bearer T", "application/json")
    assert b1 == (
        b'{"attributes":{"region":"eu"},"correlate":["cpu"],"environment":"prod","event":"cpu:host=a",'
        b'"group":"host=a","origin":"kap","rawData":'
        + json.dumps(RESULT, separators=(",", ":")).encode()
        + b","
        b'"resource":"a","service":["svc-cpu"],"severity":"major","tags":["host=a"],'
        b'"text":"cpu:host=a is CRITICAL","timeout":3600,"value":"10"}\n'
    )
    assert json.loads(b2)["severity"] == "ok"


def test_alerta_inline_defaults_token_prefix_and_service_test() -> None:
    with AiohttpReceiver(status=201) as hook:
        svc = services(alerta={"enabled": True, "url": hook.url(), "token": "T", "token-prefix": "Key"})
        run_inline(
            svc,
            '.warn(lambda: "value" > 5)'
            ".alerta().token('mine').environment('{{ .TaskName }}').origin('o')"
            ".correlated('c1', 'c2').services('s1').timeout(1h)",
            [10, 1],
            task="task7",
        )
        run_service_test("alerta", svc)
        reqs = hook.wait(3)
    docs = [json.loads(b) for _, _, b in reqs]
    assert reqs[0][1]["Authorization"] == "Key mine"
    d = docs[0]
    assert (d["resource"], d["event"], d["group"], d["environment"], d["origin"]) == (
        "cpu",
        "cpu:nil",
        "",
        "task7",
        "o",
    )
    assert (d["severity"], d["service"], d["correlate"], d["timeout"], d["tags"]) == (
        "warning", ["s1"], ["c1", "c2"], 3600, [])  # fmt: skip
    assert "attributes" not in d and docs[1]["severity"] == "ok"
    t = docs[2]
    assert (t["resource"], t["event"], t["group"], t["value"], t["severity"], t["timeout"]) == (
        "testResource", "testEvent", "testGroup", "testValue", "critical", 86400)  # fmt: skip
    assert (t["service"], t["correlate"], t["rawData"]) == (
        ["testServiceA", "testServiceB"], ["testServiceX", "testServiceY"], {"series": None})  # fmt: skip
    assert reqs[2][1]["Authorization"] == "Key T"


def test_alerta_errors() -> None:
    with AiohttpReceiver(status=200) as hook:  # only 201 Created is success
        svc = services(alerta={"enabled": True, "url": hook.url()})
        with pytest.raises(HandlerError, match=r"failed to understand Alerta response\. code: 200"):
            svc.build("alerta", {}).handle(event())
        with pytest.raises(HandlerError, match="Resource and Event are required"):
            svc.build("alerta", {"resource": ""}).handle(event())
    with pytest.raises(HandlerSpecError, match="unknown option"):
        svc.build("alerta", {"severity-expressions": ["x"]})
    with pytest.raises(HandlerSpecError, match="template"):
        svc.build("alerta", {"group": "{{ .Group"})


# --- bigpanda ------------------------------------------------------------------------------------


def test_bigpanda_critical_and_recovery_exact() -> None:
    with AiohttpReceiver(status=201) as hook:
        svc = services(
            bigpanda={"enabled": True, "url": hook.url("/alerts"), "app-key": "APP", "token": "TOK"}
        )
        h = svc.build(
            "bigpanda", {"host": "h1", "primary-property": "host", "attributes": {"n": 2, "s": "x"}}
        )
        e = event("CRITICAL")
        e.details = "line &amp; more"
        h.handle(e)
        ok = event("OK")
        ok.details = '{"Name":"cpu"}'
        h.handle(ok)
        (p1, h1, b1), (_, _, b2) = hook.wait(2)
    assert p1 == "/alerts" and h1["Authorization"] == "Bearer TOK"
    assert b1 == (
        b'{"app_key":"APP","check":"cpu:host=a","description":"cpu:host=a is CRITICAL",'
        b'"details":"line \\u0026 more","host":"a","n":"2","primary_property":"host","s":"x",'
        b'"status":"critical","task":"t1:cpu","timestamp":1,"value":"10"}'
    )
    doc = json.loads(b2)
    assert doc["status"] == "ok" and "details" not in doc  # the default JSON details are left out


def test_bigpanda_inline_auto_attributes_and_service_test() -> None:
    with AiohttpReceiver(status=201) as hook:
        svc = services(
            bigpanda={
                "enabled": True,
                "url": hook.url(),
                "app-key": "APP",
                "token": "T",
                "auto-attributes": "tags",
            }
        )
        run_inline(
            svc,
            '.warn(lambda: "value" > 5)'
            ".bigPanda().appKey('mine').secondaryProperty('check').attribute('team', 'ops')",
            [10, 1],
            host="a",
        )
        run_service_test("bigpanda", svc)
        docs = bodies(hook, 3)
    assert docs[0] == {
        "app_key": "mine",
        "check": "cpu:host=a",
        "description": "cpu:host=a is WARNING",
        "host": "a",
        "secondary_property": "check",
        "status": "warning",
        "task": "t:cpu",
        "team": "ops",
        "timestamp": 0,
    }
    assert docs[1]["status"] == "ok"
    assert docs[2] == {
        "app_key": "my-app-key-123456",
        "description": "test bigpanda message",
        "status": "critical",
        "task": ":testBigPanda",
        "timestamp": 1,
    }
    with AiohttpReceiver(status=400, reply=b'{"error":"bad app key"}') as hook:
        svc = services(bigpanda={"enabled": True, "url": hook.url(), "app-key": "A", "token": "T"})
        with pytest.raises(HandlerError, match="bigpanda: bad app key"):
            svc.build("bigpanda", {}).handle(event())


# --- servicenow ----------------------------------------------------------------------------------


def test_servicenow_exact_auth_and_templates() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            servicenow={
                "enabled": True,
                "url": hook.url("/em"),
                "source": "Kap",
                "username": "u",
                "password": "p",
            }
        )
        h = svc.build(
            "servicenow",
            {
                "node": '{{ index .Tags "host" }}',
                "type": "CPU",
                "metricName": "{{ .Name }}",
                "additional_info": {"task": "{{ .TaskName }}", "n": 1},
            },
        )
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (_, _, b2) = hook.wait(2)
    assert p1 == "/em" and h1["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert b1 == (
        b'{"records":[{"source":"Kap","node":"a","type":"CPU","metric_name":"cpu","message_key":"cpu:host=a",'
        b'"severity":"1","description":"cpu:host=a is CRITICAL",'
        b'"additional_info":"{\\"n\\":\\"1\\",\\"task\\":\\"t1\\"}"}]}'
    )
    assert json.loads(b2)["records"][0]["severity"] == "5"


def test_servicenow_inline_url_and_service_test() -> None:
    with AiohttpReceiver() as hook:
        svc = services(servicenow={"enabled": True, "url": hook.url("/cfg")})
        run_inline(
            svc,
            '.warn(lambda: "value" > 5)'
            f".serviceNow().url('{hook.url('/mine')}').source('S').messageKey('k-{{{{ .ID }}}}')",
            [10, 1],
        )
        run_service_test("servicenow", svc)
        docs = bodies(hook, 3)
        paths = [p for p, h, _ in hook.requests]
        auths = [h.get("Authorization") for _, h, _ in hook.requests]
    assert paths == ["/mine", "/mine", "/cfg"] and auths == [None, None, None]
    assert docs[0] == {"records": [{"source": "S", "message_key": "k-cpu:nil", "severity": "4",
                                    "description": "cpu:nil is WARNING"}]}  # fmt: skip
    assert docs[2] == {"records": [{"source": "Kapacitor", "message_key": "id", "severity": "1",
                                    "description": "test servicenow alert"}]}  # fmt: skip


# --- zenoss --------------------------------------------------------------------------------------


def test_zenoss_exact_and_severity_map() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            zenoss={
                "enabled": True,
                "url": hook.url("/zport/dmd/evconsole_router"),
                "username": "z",
                "password": "pw",
                "severity-map": {"OK": "Clear", "Info": "Info", "Warning": "Warning", "Critical": 5},
            }
        )
        h = svc.build(
            "zenoss",
            {
                "device": '{{ index .Tags "host" }}',
                "component": "{{ .Name }}",
                "eventclass": "/Kapacitor",
                "customField": {"json": '{"a":1}', "lvl": "{{ .Level }}"},
            },
        )
        h.handle(event("CRITICAL"))
        h.handle(event("OK"))
        (p1, h1, b1), (_, _, b2) = hook.wait(2)
    assert p1 == "/zport/dmd/evconsole_router"
    assert h1["Authorization"] == "Basic " + base64.b64encode(b"z:pw").decode()
    assert b1 == (
        b'{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"cpu",'
        b'"device":"a","evclass":"/Kapacitor","evclasskey":"","json":{"a":1},"lvl":"CRITICAL","severity":5,'
        b'"summary":"cpu:host=a is CRITICAL"}],"type":"rpc","tid":1}'
    )
    assert json.loads(b2)["data"][0]["severity"] == "Clear"


def test_zenoss_inline_and_service_test() -> None:
    with AiohttpReceiver() as hook:
        svc = services(zenoss={"enabled": True, "url": hook.url(), "collector": ""})
        run_inline(
            svc,
            '.warn(lambda: "value" > 5)'
            ".zenoss().action('A').method('m').type('t').tid(7).summary('S {{ .ID }}').message('long')",
            [10, 1],
        )
        run_service_test("zenoss", svc)
        docs = bodies(hook, 3)
    assert docs[0] == {
        "action": "A",
        "method": "m",
        "type": "t",
        "tid": 7,
        "data": [
            {"summary": "S cpu:nil", "device": "", "component": "", "severity": "Warning",
             "evclasskey": "", "evclass": "", "message": "long"}
        ],
    }  # fmt: skip
    assert docs[1]["data"][0]["severity"] == "Clear"
    assert docs[2] == {
        "action": "EventsRouter",
        "method": "add_event",
        "type": "rpc",
        "tid": 1,
        "data": [{"summary": "test zenoss message", "device": "", "component": "", "severity": "Critical",
                  "evclasskey": "", "evclass": ""}],
    }  # fmt: skip


# --- talk ----------------------------------------------------------------------------------------


def test_talk_inline_topic_and_service_test() -> None:
    with AiohttpReceiver() as hook:
        svc = services(
            talk={"enabled": True, "url": hook.url("/v2/services/webhook/u"), "author_name": "Kap"}
        )
        run_inline(
            svc,
            '.crit(lambda: "value" > 5).talk()',
            [10, 1],
        )
        svc.build("talk", {}).handle(event())
        run_service_test("talk", svc)
        reqs = hook.wait(4)
    assert reqs[0][0] == "/v2/services/webhook/u"
    assert reqs[0][2] == b'{"authorName":"Kap","text":"cpu:nil is CRITICAL","title":"cpu:nil"}\n'
    assert json.loads(reqs[1][2])["text"] == "cpu:nil is OK"
    assert json.loads(reqs[2][2])["title"] == "cpu:host=a"
    assert json.loads(reqs[3][2]) == {"authorName": "Kap", "text": "test talk text", "title": "testTitle"}
    with AiohttpReceiver(status=500, reply=b'{"error":"down"}') as hook:
        svc = services(talk={"enabled": True, "url": hook.url()})
        with pytest.raises(HandlerError, match="talk: down"):
            svc.build("talk", {}).handle(event())
