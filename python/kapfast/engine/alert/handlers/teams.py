"""``.teams()`` and the ``teams`` topic handler: a MessageCard POSTed to a Microsoft Teams channel
webhook, as Kapacitor's services/teams sends it:

``{"@type":"MessageCard","@context":"http://schema.org/extensions","title":"CRITICAL: [ID]",
"text":MESSAGE,"summary":S,"themeColor":C}`` (``json.Marshal``: struct order, no newline), where
S is the title, `` - `` and the message cut to 70 bytes, then ``...``; C is ``CC4A31`` (CRITICAL),
``FFA533`` (WARNING) or ``34CC25`` (OK, INFO). The handler's ``channel-url`` overrides the
section's; 200 and 204 are success.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    ServiceDisabled,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
    error_field,
    not_enabled,
    service_test_level,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import GoStruct, json_encode

_COLORS = {"WARNING": "FFA533", "CRITICAL": "CC4A31"}
_SUMMARY_CUTOFF = 70


def _cut_bytes(s: str, n: int) -> str:
    """Go's ``s[:n]`` on the UTF-8 bytes; a split character's bytes each become U+FFFD, as Go's
    JSON encoder replaces invalid bytes one by one."""
    b = s.encode("utf-8")[:n]
    text = b.decode("utf-8", "surrogateescape")
    return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)


def teams_card(alert_topic: str, alert_id: str, message: str, level: str) -> bytes:
    if not alert_id and not alert_topic:
        title = level
        summary = f"{title}: {message}"
    else:
        title = f"{level}: [{alert_id or alert_topic}]"
        summary = f"{title} - {message}"
    card = GoStruct(
        "teams.Card",
        {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "title": title,
            "text": message,
            "summary": _cut_bytes(summary, _SUMMARY_CUTOFF) + "...",
            "themeColor": _COLORS.get(level, "34CC25"),
        },
    )
    return json_encode(card).encode()


@dataclass(frozen=True)
class TeamsService:
    enabled: bool = False
    channel_url: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def alert(self, channel_url: str, alert_topic: str, alert_id: str, message: str, level: str) -> None:
        if not self.enabled:
            raise not_enabled("teams", "teams")
        url = channel_url or self.channel_url
        if not url:
            raise ServiceDisabled("teams: no channel-url is configured")
        body = teams_card(alert_topic, alert_id, message, level)
        opener: urllib.request.OpenerDirector = httpclient.opener_for(url)
        reply = httpclient.post(opener, url, body, {"Content-Type": "application/json"}, self.timeout_s)
        if reply.status not in (200, 204):
            text = reply.body.decode("utf-8", "replace")
            default = f"failed to understand Teams response. code: {reply.status} content: {text}"
            raise HandlerError(f"teams: {error_field(reply.body, default)}")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    channel_url = o.text("channel-url")

    def send(service: TeamsService, event: AlertEvent) -> None:
        service.alert(channel_url, "", event.id, event.message, event.level)

    return ServiceHandler("teams", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.channel_url:
        raise ConfigError("[teams]: must specify Teams channel webhook URL")


def _test_options(service: TeamsService) -> dict[str, Any]:
    return {
        "channel_url": service.channel_url,
        "alert_topic": "test kapacitor alert topic",
        "alert_id": "foo/bar/bat",
        "message": "test teams message",
        "level": "CRITICAL",
    }


def _test(service: TeamsService, o: Options) -> None:
    service.alert(
        o.text("channel_url"),
        o.text("alert_topic"),
        o.text("alert_id"),
        o.text("message"),
        service_test_level(o),
    )


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: TeamsService(c.enabled, c.channel_url),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
