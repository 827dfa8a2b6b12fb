"""``.hipChat()`` and the ``hipchat`` topic handler: a room notification, as Kapacitor's
services/hipchat sends it: POST ``{url}/{room}/notification?auth_token={token}`` with
``{"color":C,"from":"kapacitor","message":MESSAGE,"notify":true}`` plus a newline (Go's
``json.Encoder`` of a map: sorted keys), C being ``red`` (CRITICAL), ``yellow`` (WARNING) or
``green`` (OK, INFO). The handler's room and token override the section's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
    error_field,
    not_enabled,
    post_hiding,
    service_test_level,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import json_encode

_COLORS = {"WARNING": "yellow", "CRITICAL": "red"}


def hipchat_body(message: str, level: str) -> bytes:
    doc = {"from": "kapacitor", "color": _COLORS.get(level, "green"), "message": message, "notify": True}
    return (json_encode(doc) + "\n").encode()


@dataclass(frozen=True)
class HipChatService:
    enabled: bool = False
    url: str = ""
    token: str = ""
    room: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def alert(self, room: str, token: str, message: str, level: str) -> None:
        if not self.enabled:
            raise not_enabled("hipchat", "hipchat")
        room, token = room or self.room, token or self.token
        # Kapacitor joins the pieces as strings (no escaping), then parses the result as a URL
        url = f"{self.url}/{room}/notification?auth_token={token}"
        reply = post_hiding(url, hipchat_body(message, level), "application/json", self.timeout_s, token)
        if reply.status != 200:
            text = reply.body.decode("utf-8", "replace")
            default = f"failed to understand HipChat response. code: {reply.status} content: {text}"
            raise HandlerError(f"hipchat: {error_field(reply.body, default)}")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    room, token = o.text("room"), o.text("token")

    def send(service: HipChatService, event: AlertEvent) -> None:
        service.alert(room, token, event.message, event.level)

    return ServiceHandler("hipchat", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.url:
        raise ConfigError("[hipchat]: must specify url")


def _test_options(service: HipChatService) -> dict[str, Any]:
    return {"room": service.room, "message": "test hipchat message", "level": "CRITICAL"}


def _test(service: HipChatService, o: Options) -> None:
    service.alert(o.text("room"), "", o.text("message"), service_test_level(o))


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: HipChatService(c.enabled, c.url, c.token, c.room),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
