"""teams, telegram, hipchat, pushover and discord: the exact request each sends to a real aiohttp
server on 127.0.0.1, for a CRITICAL event and its recovery, inline (TICKscript through the alert
node) and as topic handlers; their config sections and service tests."""

from __future__ import annotations

import json
import tomllib
import urllib.parse
from typing import Any

import pytest
from aiohttp import web
from tests.engine.alert.harness import build
from tests.engine.alert.servers import AiohttpReceiver
from tests.engine.alert.util import values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.config import Config, from_mapping
from kapfast.engine.alert.handlers.base import HandlerError, Options, ServiceDisabled
from kapfast.engine.alert.services import AlertServices, HandlerSpec, HandlerSpecError
from kapfast.errors import ConfigError
from kapfast.handler_table import HANDLERS

Request = tuple[str, dict[str, str], bytes]


class Receiver(AiohttpReceiver):
    """Records the path with its query string (hipchat's token travels there)."""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.received:
            self.requests.append((request.path_qs, dict(request.headers), body))
            self.received.notify_all()
        return web.Response(status=self.status, body=self.reply)


def services(**sections: object) -> AlertServices:
    cfg, _ = from_mapping(sections)
    return AlertServices(cfg)


def event(level: str, t_s: int = 0, id: str = "cpu:nil") -> AlertEvent:
    return AlertEvent(
        id=id,
        message=f"{id} is {level}",
        details="",
        time_ns=t_s * 1_000_000_000,
        duration_ns=0,
        level=level,
        data=[],
        previous_level="CRITICAL" if level == "OK" else "OK",
    )


def inline(svc: AlertServices, handler: str, hook: AiohttpReceiver) -> list[Request]:
    """A CRITICAL point then a recovering one through ``|alert()...handler``."""
    r = build(
        f"stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5){handler}",
        "t",
        services={"alert_services": svc},
    )
    r.node.push(values_chunk([10, 1]))
    return hook.wait(2)


def topic(svc: AlertServices, kind: str, options: dict[str, Any], hook: AiohttpReceiver) -> list[Request]:
    entry = svc.build_entry(HandlerSpec("h", "ops", kind, options), None)
    entry.handler.handle(event("CRITICAL"))
    entry.handler.handle(event("OK", 1))
    return hook.wait(2)


def service_test(svc: AlertServices, kind: str, **given: Any) -> None:
    impl = HANDLERS[kind].implementation()
    assert impl.test is not None and impl.test_options is not None
    service = svc.service(kind)
    impl.test(service, Options(kind, {**impl.test_options(service), **given}))


def parse_toml(text: str) -> Config:
    return from_mapping(tomllib.loads(text))[0]


def form(body: bytes) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)


# --- teams ----------------------------------------------------------------------------------------


def teams_card(level: str, color: str) -> dict[str, Any]:
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "title": f"{level}: [cpu:nil]",
        "text": f"cpu:nil is {level}",
        "summary": f"{level}: [cpu:nil] - cpu:nil is {level}...",
        "themeColor": color,
    }


def test_teams_inline_critical_and_recovery() -> None:
    with Receiver() as hook:
        svc = services(teams={"enabled": True, "channel-url": hook.url("/webhook/abc")})
        reqs = inline(svc, ".teams()", hook)
    assert [p for p, _, _ in reqs] == ["/webhook/abc", "/webhook/abc"]
    assert reqs[0][1]["Content-Type"] == "application/json"
    assert json.loads(reqs[0][2]) == teams_card("CRITICAL", "CC4A31")
    assert json.loads(reqs[1][2]) == teams_card("OK", "34CC25")
    # json.Marshal of the Card struct: field order, no newline
    assert reqs[0][2].startswith(b'{"@type":"MessageCard","@context":') and not reqs[0][2].endswith(b"\n")


def test_teams_topic_handler_channel_url_overrides() -> None:
    with Receiver() as hook:
        svc = services(teams={"enabled": True, "channel-url": hook.url("/default")})
        reqs = topic(svc, "teams", {"channel-url": hook.url("/other")}, hook)
    assert [p for p, _, _ in reqs] == ["/other", "/other"]
    assert json.loads(reqs[1][2])["themeColor"] == "34CC25"


def test_teams_summary_is_cut_at_70_bytes_and_warning_colour() -> None:
    from kapfast.engine.alert.handlers.teams import teams_card as card

    doc = json.loads(card("", "id", "x" * 100, "WARNING"))
    assert doc["summary"] == ("WARNING: [id] - " + "x" * 100)[:70] + "..."
    assert doc["themeColor"] == "FFA533"
    assert json.loads(card("", "", "m", "INFO"))["title"] == "INFO"


def test_teams_config_service_test_and_failures() -> None:
    with pytest.raises(ConfigError, match="channel webhook URL"):
        parse_toml("[teams]\n  enabled = true\n")
    with Receiver() as hook:
        svc = services(teams={"enabled": True, "channel-url": hook.url("/t")})
        service_test(svc, "teams")
        ((path, _, body),) = hook.wait(1)
    assert path == "/t"
    assert json.loads(body)["title"] == "CRITICAL: [foo/bar/bat]"
    with Receiver(status=400, reply=b'{"error":"bad card"}') as hook:
        svc = services(teams={"enabled": True, "channel-url": hook.url("/t")})
        with pytest.raises(HandlerError, match="teams: bad card"):
            svc.build("teams", {}).handle(event("CRITICAL"))
    with pytest.raises(ServiceDisabled, match="not enabled"):
        services().build("teams", {}).handle(event("CRITICAL"))


# --- telegram -------------------------------------------------------------------------------------


def test_telegram_inline_critical_and_recovery() -> None:
    with Receiver() as hook:
        svc = services(
            telegram={"enabled": True, "url": hook.url("/bot"), "token": "123:ABC", "chat-id": "-100"}
        )
        reqs = inline(svc, ".telegram().chatId('42').parseMode('HTML').disableWebPagePreview()", hook)
    assert [p for p, _, _ in reqs] == ["/bot123:ABC/sendMessage"] * 2
    assert reqs[0][2] == (
        b'{"chat_id":"42","disable_web_page_preview":true,"parse_mode":"HTML","text":"cpu:nil is CRITICAL"}\n'
    )
    assert json.loads(reqs[1][2])["text"] == "cpu:nil is OK"


def test_telegram_topic_handler_uses_section_defaults() -> None:
    with Receiver() as hook:
        svc = services(
            telegram={
                "enabled": True,
                "url": hook.url("/bot"),
                "token": "T",
                "chat-id": "-100",
                "disable-notification": True,
            }
        )
        reqs = topic(svc, "telegram", {}, hook)
    assert json.loads(reqs[0][2]) == {
        "chat_id": "-100",
        "text": "cpu:nil is CRITICAL",
        "disable_notification": True,
    }


def test_telegram_config_service_test_and_errors() -> None:
    cfg = parse_toml('[telegram]\n  enabled = true\n  token = "x"\n')
    assert cfg.handlers["telegram"].url == "https://api.telegram.org/bot"
    with pytest.raises(ConfigError, match="must specify token"):
        parse_toml("[telegram]\n  enabled = true\n")
    with Receiver(status=400, reply=b'{"ok":false,"error_code":400,"description":"chat not found"}') as hook:
        svc = services(telegram={"enabled": True, "url": hook.url("/bot"), "token": "T"})
        with pytest.raises(HandlerError, match=r"sendMessage error \(400\) description: chat not found"):
            service_test(svc, "telegram", **{"chat-id": "1"})
        ((_, _, body),) = hook.wait(1)
    assert json.loads(body)["text"] == "test telegram message"
    svc = services(telegram={"enabled": True, "url": "http://127.0.0.1:9/bot", "token": "SECRET"})
    with pytest.raises(HandlerError) as err:
        svc.build("telegram", {}).handle(event("CRITICAL"))
    assert "SECRET" not in str(err.value)
    with pytest.raises(HandlerSpecError, match="parseMode x is not valid"):
        svc.build("telegram", {"parse-mode": "x"})


# --- hipchat --------------------------------------------------------------------------------------


def test_hipchat_inline_critical_and_recovery() -> None:
    with Receiver() as hook:
        svc = services(hipchat={"enabled": True, "url": hook.url("/v2/room"), "room": "ops", "token": "cfg"})
        reqs = inline(svc, ".hipChat().room('kapacitor').token('tok')", hook)
    assert [p for p, _, _ in reqs] == ["/v2/room/kapacitor/notification?auth_token=tok"] * 2
    assert reqs[0][2] == b'{"color":"red","from":"kapacitor","message":"cpu:nil is CRITICAL","notify":true}\n'
    assert json.loads(reqs[1][2])["color"] == "green"


def test_hipchat_topic_handler_defaults_and_service_test() -> None:
    with Receiver() as hook:
        svc = services(hipchat={"enabled": True, "url": hook.url("/v2/room"), "room": "ops", "token": "cfg"})
        reqs = topic(svc, "hipchat", {}, hook)
        service_test(svc, "hipchat")
        reqs = hook.wait(3)
    assert reqs[0][0] == "/v2/room/ops/notification?auth_token=cfg"
    assert json.loads(reqs[2][2]) == {
        "color": "red",
        "from": "kapacitor",
        "message": "test hipchat message",
        "notify": True,
    }
    with pytest.raises(ConfigError, match="must specify url"):
        parse_toml("[hipchat]\n  enabled = true\n")
    svc = services(hipchat={"enabled": True, "url": "http://127.0.0.1:9/v2/room", "token": "SECRET"})
    with pytest.raises(HandlerError) as err:
        svc.build("hipchat", {}).handle(event("WARNING"))
    assert "SECRET" not in str(err.value)


# --- pushover -------------------------------------------------------------------------------------


def test_pushover_inline_critical_and_recovery() -> None:
    with Receiver() as hook:
        svc = services(
            pushover={"enabled": True, "url": hook.url("/1/messages.json"), "token": "tk", "user-key": "uk"}
        )
        reqs = inline(
            svc, ".pushover().title('disk & cpu').uRL('http://x/y?a=1').uRLTitle('see').sound('siren')", hook
        )
    assert reqs[0][0] == "/1/messages.json"
    assert reqs[0][1]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(reqs[0][2]) == [
        ("message", "cpu:nil is CRITICAL"),
        ("priority", "1"),
        ("sound", "siren"),
        ("title", "disk & cpu"),
        ("token", "tk"),
        ("url", "http://x/y?a=1"),
        ("url_title", "see"),
        ("user", "uk"),
    ]
    assert reqs[0][2].startswith(b"message=cpu%3Anil+is+CRITICAL&priority=1&")
    assert dict(form(reqs[1][2]))["priority"] == "-2"


def test_pushover_topic_handler_levels_and_service_test() -> None:
    with Receiver() as hook:
        svc = services(pushover={"enabled": True, "url": hook.url("/m"), "token": "tk", "user-key": "uk"})
        h = svc.build_entry(HandlerSpec("h", "ops", "pushover", {"device": "phone"}), None).handler
        for level in ("INFO", "WARNING"):
            h.handle(event(level))
        service_test(svc, "pushover")
        reqs = hook.wait(3)
    assert [dict(form(b))["priority"] for _, _, b in reqs] == ["-1", "0", "1"]
    assert dict(form(reqs[0][2]))["device"] == "phone"
    assert dict(form(reqs[2][2]))["message"] == "test pushover message"
    with pytest.raises(ConfigError, match="must specify user key"):
        parse_toml('[pushover]\n  enabled = true\n  token = "t"\n')
    with Receiver(status=400, reply=b'{"errors":["user key is invalid"],"status":0}') as hook:
        svc = services(pushover={"enabled": True, "url": hook.url("/m"), "token": "tk", "user-key": "uk"})
        with pytest.raises(HandlerError, match="code: 400 content: user key is invalid"):
            svc.build("pushover", {}).handle(event("CRITICAL"))


# --- discord --------------------------------------------------------------------------------------


def test_discord_inline_critical_and_recovery() -> None:
    with Receiver() as hook:
        svc = services(discord=[{"enabled": True, "url": hook.url("/api/webhooks/1/x")}])
        reqs = inline(
            svc,
            ".discord().username('kap').avatarUrl('http://a/b.png').embedTitle('Alert').timestamp()",
            hook,
        )
    assert [p for p, _, _ in reqs] == ["/api/webhooks/1/x"] * 2
    assert reqs[0][2] == (
        b'{"avatar_url":"http://a/b.png","embeds":[{"color":16342867,"title":"Alert",'
        b'"description":"cpu:nil is CRITICAL","timestamp":"1970-01-01T00:00:00Z"}],"username":"kap"}\n'
    )
    assert json.loads(reqs[1][2])["embeds"] == [
        {
            "color": 0x7A65F2,
            "title": "Alert",
            "description": "cpu:nil is OK",
            "timestamp": "1970-01-01T00:00:01Z",
        }
    ]


def test_discord_topic_handler_workspaces() -> None:
    with Receiver() as hook:
        svc = services(
            discord=[
                {"workspace": "a", "default": True, "enabled": True, "url": hook.url("/a"), "username": "A"},
                {"workspace": "b", "enabled": True, "url": hook.url("/b")},
            ]
        )
        reqs = topic(svc, "discord", {"workspace": "b"}, hook)
        svc.build("discord", {}).handle(event("WARNING"))
        reqs = hook.wait(3)
    assert [p for p, _, _ in reqs] == ["/b", "/b", "/a"]
    assert json.loads(reqs[0][2]) == {
        "embeds": [{"color": 16342867, "title": "", "description": "cpu:nil is CRITICAL", "timestamp": ""}]
    }
    assert json.loads(reqs[2][2])["username"] == "A"  # the section's username as the default
    assert json.loads(reqs[2][2])["embeds"][0]["color"] == 0xF48D38
    with pytest.raises(Exception, match="no \\[\\[discord\\]\\] workspace 'zz'"):
        svc.build("discord", {"workspace": "zz"})


def test_discord_config_and_service_test() -> None:
    with pytest.raises(ConfigError, match="Must specify the Discord channel webhook URL"):
        parse_toml("[[discord]]\n  enabled = true\n")
    with pytest.raises(ConfigError, match="at least one Discord config must be set as default"):
        parse_toml('[[discord]]\n  workspace = "a"\n[[discord]]\n  workspace = "b"\n')
    with Receiver() as hook:
        svc = services(discord=[{"enabled": True, "url": hook.url("/d")}])
        service_test(svc, "discord")
        ((_, _, body),) = hook.wait(1)
    embed = json.loads(body)["embeds"][0]
    assert (embed["title"], embed["description"], embed["color"]) == (
        "Kapacitor Alert",
        "test discord message",
        0x7A65F2,
    )
    assert embed["timestamp"].endswith("Z")
