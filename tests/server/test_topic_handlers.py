"""Topic handlers over kapfastd's HTTP API: create/list/get/put/patch/delete with Kapacitor's JSON
shapes, handlers receiving the events of ``.topic()`` alerts (log, tcp, slack on a real aiohttp
server, smtp on a real SMTP server), persistence across a restart, service tests."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd, alerts, wait_for
from tests.engine.alert.servers import AiohttpReceiver, SmtpServer, TcpReceiver

DBRPS = [{"db": "telegraf", "rp": "autogen"}]
H = "/alerts/topics/ops/handlers"


def script(extra: str = "") -> str:
    return f"""stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .crit(lambda: "v" > 90)
        .topic('ops')
{extra}"""


def define(k: Kapfastd, task_id: str, text: str) -> None:
    ans = k.api("POST", "/tasks", {"id": task_id, "dbrps": DBRPS, "script": text, "status": "enabled"})
    assert ans.status == 200, ans


def test_handler_crud_shapes_and_errors(kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path) -> None:
    k = kapfastd_factory()
    log_path = str(tmp_path / "ops.log")
    created = k.api(
        "POST", H, {"id": "log1", "kind": "log", "options": {"path": log_path}, "match": "changed()"}
    )
    assert created.status == 200, created
    assert created.json() == {
        "link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/ops/handlers/log1"},
        "id": "log1",
        "kind": "log",
        "options": {"path": log_path},
        "match": "changed()",
    }
    assert created.body.startswith(b'{\n    "link"')  # pretty-printed like Kapacitor
    assert k.api("POST", H, {"id": "pub", "kind": "publish", "options": {"topics": ["other"]}}).status == 200
    listing = k.api("GET", H).json()
    assert listing["link"] == {"rel": "self", "href": "/kapacitor/v1/alerts/topics/ops/handlers"}
    assert listing["topic"] == "ops"
    assert [h["id"] for h in listing["handlers"]] == ["log1", "pub"]
    assert [h["id"] for h in k.api("GET", H + "?pattern=p*").json()["handlers"]] == ["pub"]
    # a topic with handlers exists even without events
    topic = k.api("GET", "/alerts/topics/ops").json()
    assert (topic["id"], topic["level"], topic["collected"]) == ("ops", "OK", 0)
    assert [t["id"] for t in k.api("GET", "/alerts/topics").json()["topics"]] == ["ops"]

    # PUT replaces, PATCH applies a JSON Patch (and may rename)
    put = k.api("PUT", f"{H}/pub", {"id": "pub", "kind": "publish", "options": {"topics": ["a", "b"]}})
    assert put.status == 200 and put.json()["options"] == {"topics": ["a", "b"]}
    patch = [
        {"op": "replace", "path": "/match", "value": "level() == CRITICAL"},
        {"op": "add", "path": "/options/topics/-", "value": "c"},
        {"op": "replace", "path": "/id", "value": "pub2"},
    ]
    patched = k.api("PATCH", f"{H}/pub", patch)
    assert patched.status == 200, patched
    assert patched.json()["id"] == "pub2" and patched.json()["options"] == {"topics": ["a", "b", "c"]}
    assert patched.json()["match"] == "level() == CRITICAL"
    assert k.api("GET", f"{H}/pub").status == 404
    assert k.api("GET", f"{H}/pub2").json()["link"]["href"].endswith("/handlers/pub2")

    # errors: clear 400s, nothing stored
    def err(method: str, path: str, body: object) -> str:
        ans = k.api(method, path, body)
        assert ans.status == 400, ans
        return str(ans.json()["error"])

    assert "'alertmanager' is not supported by kapfast" in err(
        "POST", H, {"id": "pd", "kind": "alertmanager"}
    )
    assert "unknown handler kind 'nope'" in err("POST", H, {"id": "x", "kind": "nope"})
    assert "handler ID must contain only" in err("POST", H, {"id": "a b", "kind": "log"})
    assert "must be absolute" in err("POST", H, {"id": "l", "kind": "log", "options": {"path": "x.log"}})
    assert 'unknown identifier "LOUD"' in err(
        "POST", H, {"id": "l", "kind": "log", "options": {"path": log_path}, "match": "level() > LOUD"}
    )
    # Kapacitor answers a duplicate id with its registrar's error as a 500
    dup = k.api("POST", H, {"id": "log1", "kind": "log", "options": {"path": log_path}})
    assert dup.status == 500, dup
    assert dup.body == (
        b'{\n    "error": "failed to create handler: cannot register handler, '
        b'handler with ID \\"log1\\" already exists"\n}'
    )
    assert "test failed" in err("PATCH", f"{H}/log1", [{"op": "test", "path": "/kind", "value": "tcp"}])
    assert "invalid patch json" in err("PATCH", f"{H}/log1", {"op": "replace"})
    assert "expected an object" in err("PUT", f"{H}/log1", ["not", "an", "object"])
    assert k.api("PUT", f"{H}/missing", {"id": "missing", "kind": "log"}).status == 404
    assert k.api("GET", f"{H}/missing").json()["error"] == 'unknown handler: "missing"'
    assert [h["id"] for h in k.api("GET", H).json()["handlers"]] == ["log1", "pub2"]

    assert k.api("DELETE", f"{H}/pub2").status == 204
    assert k.api("DELETE", f"{H}/pub2").status == 204  # idempotent
    assert [h["id"] for h in k.api("GET", H).json()["handlers"]] == ["log1"]
    # the preview base path serves the same resources
    assert k.request("GET", "/kapacitor/v1preview" + H).json()["handlers"][0]["id"] == "log1"


def test_handlers_receive_topic_events_and_survive_restart(
    kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path
) -> None:
    k = kapfastd_factory()
    changes, every = tmp_path / "changes.log", tmp_path / "every.log"
    assert k.api("POST", H, {"id": "every", "kind": "log", "options": {"path": str(every)}}).status == 200
    spec = {
        "id": "changes",
        "kind": "log",
        "options": {"path": str(changes)},
        "match": "changed() == TRUE AND level() >= WARNING",
    }
    assert k.api("POST", H, spec).status == 200
    define(k, "cpu_alert", script())
    t0 = time.time_ns() // 10**9 * 10**9
    assert (
        k.write(f"cpu,host=a v=95 {t0}\ncpu,host=a v=96 {t0 + 10**9}\ncpu,host=b v=10 {t0}\n").status == 204
    )
    wait_for(lambda: len(alerts(every)) == 2, what="both CRITICAL events on the every handler")
    assert [e["level"] for e in alerts(changes)] == ["CRITICAL"]
    assert alerts(every)[1]["previousLevel"] == "CRITICAL"

    k.stop()
    k.start()
    assert [h["id"] for h in k.api("GET", H).json()["handlers"]] == ["changes", "every"]
    # the handlers are attached again: the recovery reaches both, in order
    assert k.write(f"cpu,host=a v=10 {t0 + 5 * 10**9}\n").status == 204
    wait_for(lambda: len(alerts(every)) == 3, what="the recovery on the every handler")
    assert alerts(every)[2]["level"] == "OK"
    assert [e["level"] for e in alerts(changes)] == ["CRITICAL"]  # OK < WARNING: not matched


def test_tcp_slack_and_smtp_handlers_from_config(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    with SmtpServer() as smtp, AiohttpReceiver() as hook, TcpReceiver() as tcp:
        k = kapfastd_factory(
            f"""
[smtp]
  enabled = true
  host = "127.0.0.1"
  port = {smtp.port}
  from = "kapfast@example.com"
  to = ["oncall@example.com"]
[[slack]]
  enabled = true
  url = "{hook.url("/services/T/B/X")}"
  channel = "#alerts"
"""
        )
        for spec in (
            {"id": "mail", "kind": "smtp", "options": {"to": ["ops@example.com"]}},
            {"id": "chat", "kind": "slack", "options": {"channel": "#ops", "icon-emoji": ":fire:"}},
            {"id": "wire", "kind": "tcp", "options": {"address": tcp.address}},
        ):
            assert k.api("POST", H, spec).status == 200
        define(k, "cpu_alert", script())
        t0 = time.time_ns() // 10**9 * 10**9
        assert k.write(f"cpu,host=a v=99 {t0}\n").status == 204
        ((_, rcpt, raw),) = smtp.wait(1)
        ((path, _, body),) = hook.wait(1)
        wait_for(lambda: tcp.payloads, what="the tcp handler's event")
        k.stop()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert rcpt == ["ops@example.com"] and msg["Subject"] == "cpu:host=a is CRITICAL"
    assert path == "/services/T/B/X"
    doc = json.loads(body)
    assert (doc["channel"], doc["icon_emoji"], doc["username"]) == ("#ops", ":fire:", "kapacitor")
    assert doc["attachments"][0]["color"] == "danger"
    assert json.loads(tcp.payloads[0])["id"] == "cpu:host=a"


def test_service_tests(kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path) -> None:
    with SmtpServer() as smtp, AiohttpReceiver() as hook:
        k = kapfastd_factory(
            f"""
[smtp]
  enabled = true
  host = "127.0.0.1"
  port = {smtp.port}
  from = "kapfast@example.com"
  to = ["oncall@example.com"]
[[slack]]
  enabled = true
  url = "{hook.url()}"
  channel = "#alerts"
[[httppost]]
  endpoint = "hook"
  url = "{hook.url("/post")}"
  headers = {{ X-Token = "t0k" }}
"""
        )
        listing = k.api("GET", "/service-tests").json()
        assert listing["link"] == {"rel": "self", "href": "/kapacitor/v1/service-tests"}
        names = [s["name"] for s in listing["services"]]
        assert {"influxdb", "smtp", "slack", "httppost", "tcp", "log", "exec"} <= set(names)
        smtp_test = k.api("GET", "/service-tests/smtp").json()
        assert smtp_test == {
            "link": {"rel": "self", "href": "/kapacitor/v1/service-tests/smtp"},
            "name": "smtp",
            "options": {"to": ["oncall@example.com"], "subject": "test subject", "body": "test body"},
        }
        assert k.api("POST", "/service-tests/smtp", {}).json() == {"success": True, "message": ""}
        # kapacitor's own client posts `null` when it has no options
        nil = k.request("POST", "/kapacitor/v1/service-tests/smtp", raw=b"null")
        assert nil.json() == {"success": True, "message": ""}
        assert smtp.wait(2)[0][1] == ["oncall@example.com"]
        assert k.api("POST", "/service-tests/slack", {"channel": "#t"}).json()["success"] is True
        assert k.api("POST", "/service-tests/httppost", {}).json()["success"] is True
        reqs = hook.wait(2)
        assert json.loads(reqs[0][2])["channel"] == "#t"
        assert reqs[1][0] == "/post" and reqs[1][1]["X-Token"] == "t0k"
        log_path = tmp_path / "svc.log"
        assert k.api("POST", "/service-tests/log", {"path": str(log_path)}).json()["success"] is True
        assert alerts(log_path)[0]["id"] == "kapfast-service-test"
        failed = k.api("POST", "/service-tests/influxdb", {}).json()
        assert failed["success"] is False and "no InfluxDB is configured" in failed["message"]
        assert k.api("POST", "/service-tests/tcp", {"address": "127.0.0.1:1"}).json()["success"] is False
        bad = k.api("POST", "/service-tests/smtp", {"too": ["x@y"]})
        assert bad.status == 400 and "unknown option(s) too" in bad.json()["error"]
        assert k.api("GET", "/service-tests/nope").status == 404
        k.stop()


def test_persist_topics_false_still_shows_live_topics(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory("[alert]\n  persist-topics = false\n  topic-buffer-length = 10\n")
    define(k, "cpu_alert", script())
    t0 = time.time_ns() // 10**9 * 10**9
    assert k.write(f"cpu,host=a v=95 {t0}\n").status == 204
    topic = wait_for(
        lambda: k.api("GET", "/alerts/topics/ops").json().get("level") == "CRITICAL", what="live topic"
    )
    assert topic
    k.stop()
    k.start()
    # nothing was saved: after a restart the topic is gone
    assert k.api("GET", "/alerts/topics/ops").status == 404


def test_python_client_handlers_and_service_tests(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    from kapfast.client import Client
    from kapfast.errors import NotFoundError, RequestError

    k = kapfastd_factory()
    with Client(k.url) as c:
        h = c.create_topic_handler("ops", {"id": "p", "kind": "publish", "options": {"topics": ["x"]}})
        assert (h.id, h.kind, h.options) == ("p", "publish", {"topics": ["x"]})
        h = c.patch_topic_handler("ops", "p", [{"op": "replace", "path": "/options/topics/0", "value": "y"}])
        assert h.options == {"topics": ["y"]}
        assert [x.id for x in c.list_topic_handlers("ops")] == ["p"]
        with pytest.raises(RequestError, match="not supported by kapfast"):
            c.create_topic_handler("ops", {"id": "t", "kind": "alertmanager"})
        c.delete_topic_handler("ops", "p")
        with pytest.raises(NotFoundError):
            c.topic_handler("ops", "p")
        assert c.service_test("smtp").options == {"to": [], "subject": "test subject", "body": "test body"}
        r = c.run_service_test("smtp", {"to": ["a@b.c"]})
        assert (r.success, r.message) == (False, "smtp service is not enabled ([smtp] enabled = false)")
