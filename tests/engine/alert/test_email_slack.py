"""The smtp and slack handlers against a real SMTP server and a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import time

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.servers import AiohttpReceiver, SmtpServer
from tests.engine.alert.util import values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError, ServiceDisabled
from kapfast.engine.alert.handlers.slack import SlackService, SlackWorkspace, slack_payload
from kapfast.engine.alert.handlers.smtp import EmailHandler, Mailer, SMTPSettings
from kapfast.engine.alert.services import AlertServices

EVENT = AlertEvent(
    id="cpu:nil",
    message="cpu:nil is CRITICAL",
    details="<b>details</b> &amp; more",
    time_ns=10_000_000_000,
    duration_ns=0,
    level="CRITICAL",
    data=[],
)


def _services(**sections: object) -> AlertServices:
    """The alert services of a config with these kapacitord sections."""
    cfg, _ = from_mapping(sections)
    return AlertServices(cfg)


def _settings(server: SmtpServer, **kw: object) -> SMTPSettings:
    base: dict[str, object] = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": server.port,
        "from_": "kapfast@example.com",
        "to": ("ops@example.com",),
        "timeout_s": 5.0,
    }
    base.update(kw)
    return SMTPSettings(**base)  # type: ignore[arg-type]


def _parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_email_subject_is_message_body_is_html_details() -> None:
    with SmtpServer() as server:
        mailer = Mailer(_settings(server))
        try:
            EmailHandler(mailer, ["a@example.com", "b@example.com"]).handle(EVENT)
            ((mail_from, rcpt, raw),) = server.wait(1)
        finally:
            mailer.close()
    assert mail_from == "kapfast@example.com"
    assert rcpt == ["a@example.com", "b@example.com"]
    msg = _parse(raw)
    assert msg["Subject"] == "cpu:nil is CRITICAL"
    assert msg["From"] == "kapfast@example.com"
    assert msg["To"] == "a@example.com, b@example.com"
    assert msg.get_content_type() == "text/html"
    assert msg.get_content().strip() == "<b>details</b> &amp; more"


def test_email_default_recipients_and_connection_reuse() -> None:
    with SmtpServer() as server:
        mailer = Mailer(_settings(server))
        try:
            h = EmailHandler(mailer)
            h.handle(EVENT)
            h.handle(EVENT)
            mails = server.wait(2)
        finally:
            mailer.close()
    assert [m[1] for m in mails] == [["ops@example.com"], ["ops@example.com"]]
    assert server.connections == 1  # one connection while mail keeps coming


def test_email_idle_timeout_closes_then_redials() -> None:
    with SmtpServer() as server:
        mailer = Mailer(_settings(server, idle_timeout_s=0.1))
        try:
            h = EmailHandler(mailer)
            h.handle(EVENT)
            time.sleep(0.4)
            h.handle(EVENT)
            server.wait(2)
        finally:
            mailer.close()
    assert server.connections == 2


def test_email_login_and_refused_login() -> None:
    with SmtpServer(credentials=("kap", "secret")) as server:
        ok = Mailer(_settings(server, username="kap", password="secret"))
        bad = Mailer(_settings(server, username="kap", password="nope"))
        try:
            EmailHandler(ok).handle(EVENT)
            server.wait(1)
            with pytest.raises(HandlerError, match=r"smtp 127\.0\.0\.1"):
                EmailHandler(bad).handle(EVENT)
        finally:
            ok.close()
            bad.close()
    assert server.logins == ["kap"]
    assert len(server.messages) == 1


def test_email_disabled_or_without_recipients_says_so_once() -> None:
    h = EmailHandler(Mailer(SMTPSettings(enabled=False)))
    with pytest.raises(ServiceDisabled, match="not enabled") as first:
        h.handle(EVENT)
    assert first.value.quiet is False
    with pytest.raises(ServiceDisabled) as second:
        h.handle(EVENT)
    assert second.value.quiet is True
    with pytest.raises(ServiceDisabled, match="no recipients"):
        EmailHandler(Mailer(SMTPSettings(enabled=True, from_="a@b"))).handle(EVENT)


def test_email_unreachable_server_is_a_handler_error() -> None:
    with SmtpServer() as server:
        port = server.port
    mailer = Mailer(SMTPSettings(enabled=True, host="127.0.0.1", port=port, from_="a@b", to=("c@d",)))
    with pytest.raises(HandlerError, match=f"smtp 127.0.0.1:{port}"):
        EmailHandler(mailer).handle(EVENT)


def test_inline_email_through_services() -> None:
    with SmtpServer() as server:
        services = _services(
            smtp={"enabled": True, "host": "127.0.0.1", "port": server.port, "from": "kapfast@example.com"}
        )
        try:
            r = build(
                "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)"
                ".email('x@example.com').to('y@example.com', 'z@example.com')",
                "t",
                services={"alert_services": services},
            )
            r.node.push(values_chunk([10]))
            ((_, rcpt, raw),) = server.wait(1)
        finally:
            services.close()
    assert rcpt == ["x@example.com", "y@example.com", "z@example.com"]
    assert _parse(raw)["Subject"] == "cpu:nil is CRITICAL"


# --- slack ---------------------------------------------------------------------------------------


def test_slack_payload_is_kapacitors_json() -> None:
    body = slack_payload("#ops", "cpu <high> & hot", "kapacitor", ":fire:", "WARNING")
    assert body == (
        b'{"as_user":false,"attachments":[{"fallback":"cpu \\u003chigh\\u003e \\u0026 hot",'
        b'"color":"warning","text":"cpu \\u003chigh\\u003e \\u0026 hot","mrkdwn_in":["text"]}],'
        b'"channel":"#ops","icon_emoji":":fire:","text":"","username":"kapacitor"}\n'
    )
    assert json.loads(slack_payload("", "m", "u", "", "CRITICAL"))["attachments"][0]["color"] == "danger"
    assert json.loads(slack_payload("", "m", "u", "", "OK"))["attachments"][0]["color"] == "good"


def test_slack_posts_to_the_workspace_webhook_with_defaults() -> None:
    with AiohttpReceiver() as hook:
        service = SlackService(
            [
                SlackWorkspace("a", True, True, hook.url("/a"), "#general", "kapacitor", ":bell:"),
                SlackWorkspace("b", True, False, hook.url("/b"), "#b", "bot-b"),
            ]
        )
        service.alert("", "", "one", "", "", "CRITICAL")
        service.alert("b", "#other", "two", "me", "", "OK")
        (path1, headers1, body1), (path2, _, body2) = hook.wait(2)
    assert path1 == "/a" and headers1["Content-Type"] == "application/json"
    doc = json.loads(body1)
    assert (doc["channel"], doc["username"], doc["icon_emoji"], doc["text"]) == (
        "#general",
        "kapacitor",
        ":bell:",
        "",
    )
    assert doc["attachments"] == [
        {"fallback": "one", "color": "danger", "text": "one", "mrkdwn_in": ["text"]}
    ]
    assert path2 == "/b"
    assert (json.loads(body2)["channel"], json.loads(body2)["username"]) == ("#other", "me")


def test_slack_error_answer_is_reported() -> None:
    with AiohttpReceiver(status=404, reply=b'{"error": "channel_not_found"}') as hook:
        service = SlackService([SlackWorkspace("", True, True, hook.url())])
        with pytest.raises(HandlerError, match="slack: channel_not_found"):
            service.alert("", "#nope", "m", "", "", "CRITICAL")
    with AiohttpReceiver(status=500, reply=b"boom") as hook:
        service = SlackService([SlackWorkspace("", True, True, hook.url())])
        with pytest.raises(HandlerError, match="code: 500 content: boom"):
            service.alert("", "", "m", "", "", "CRITICAL")


def test_slack_unknown_workspace_or_disabled() -> None:
    with pytest.raises(ServiceDisabled, match="no slack configuration"):
        SlackService([]).alert("", "", "m", "", "", "OK")
    service = SlackService([SlackWorkspace("a", False, True, "http://127.0.0.1:1/")])
    with pytest.raises(ServiceDisabled, match="not enabled"):
        service.alert("a", "", "m", "", "", "OK")
    with pytest.raises(ServiceDisabled, match="'zz' not found"):
        service.alert("zz", "", "m", "", "", "OK")


def test_inline_slack_and_global_state_changes_only(caplog: pytest.LogCaptureFixture) -> None:
    with AiohttpReceiver() as hook:
        services = _services(
            slack=[
                {
                    "enabled": True,
                    "url": hook.url(),
                    "channel": "#alerts",
                    "global": True,
                    "state-changes-only": True,
                }
            ]
        )
        # no .slack() in the script: the global handler alerts, and only on changes
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)",
            "t",
            services={"alert_services": services},
        )
        r.node.push(values_chunk([10, 11, 12, 1]))
        reqs = hook.wait(2)
        time.sleep(0.1)
        inline = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5).slack().channel('#x')",
            "t2",
            services={"alert_services": services},
        )
        inline.node.push(values_chunk([10]))
        reqs = hook.wait(3)
    levels = [json.loads(b)["attachments"][0]["color"] for _, _, b in reqs]
    assert levels == ["danger", "good", "danger"]
    assert json.loads(reqs[2][2])["channel"] == "#x"  # the inline handler, not a second global one
    assert len(reqs) == 3


def test_slack_handler_failures_are_counted_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    services = _services(slack=[{"enabled": True, "url": "http://127.0.0.1:9/"}])
    with caplog.at_level(logging.ERROR):
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).slack()",
            "t",
            services={"alert_services": services},
        )
        r.node.push(values_chunk([1, 2]))
    assert r.node.stats.extra["events_dropped"] == 2
    assert len(r.out.rows()) == 2


def test_slack_bad_tls_files_are_reported() -> None:
    service = SlackService(
        [SlackWorkspace("", True, True, "https://127.0.0.1:1/", ssl_ca="/nonexistent/ca.pem")]
    )
    with pytest.raises(ServiceDisabled, match="TLS settings"):
        service.alert("", "", "m", "", "", "OK")
