"""``.pushover()`` and the ``pushover`` topic handler: a Pushover notification, as Kapacitor's
services/pushover sends it: a form POST (``application/x-www-form-urlencoded``, keys sorted as
Go's ``url.Values.Encode``) of ``token``, ``user``, ``message``, ``priority`` and, when set,
``device``, ``title``, ``url``, ``url_title``, ``sound``. The priority is ``-2`` (OK: no
notification), ``-1`` (INFO: quiet), ``0`` (WARNING) or ``1`` (CRITICAL: needs confirmation).

The handler's ``user-key`` (``.userKey()``) overrides the section's; Kapacitor accepts that
property but always sends the section's key.
"""

from __future__ import annotations

import json
import urllib.parse
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
    not_enabled,
    post_hiding,
    service_test_level,
)
from kapfast.errors import ConfigError

PRIORITY = {"OK": -2, "INFO": -1, "WARNING": 0, "CRITICAL": 1}


@dataclass(frozen=True)
class Notification:
    message: str
    level: str
    user_key: str = ""
    device: str = ""
    title: str = ""
    url: str = ""
    url_title: str = ""
    sound: str = ""


def pushover_form(token: str, user_key: str, n: Notification) -> bytes:
    values = {"token": token, "user": user_key, "message": n.message, "priority": str(PRIORITY[n.level])}
    for key, v in (
        ("device", n.device),
        ("title", n.title),
        ("url", n.url),
        ("url_title", n.url_title),
        ("sound", n.sound),
    ):
        if v:
            values[key] = v
    # url.Values.Encode: sorted keys, QueryEscape (space as '+')
    return urllib.parse.urlencode(sorted(values.items()), quote_via=urllib.parse.quote_plus).encode()


@dataclass(frozen=True)
class PushoverService:
    enabled: bool = False
    token: str = ""
    user_key: str = ""
    url: str = "https://api.pushover.net/1/messages.json"
    timeout_s: float = DEFAULT_TIMEOUT_S

    def alert(self, n: Notification) -> None:
        if not self.enabled:
            raise not_enabled("pushover", "pushover")
        user_key = n.user_key or self.user_key
        body = pushover_form(self.token, user_key, n)
        reply = post_hiding(
            self.url, body, "application/x-www-form-urlencoded", self.timeout_s, self.token, user_key
        )
        if reply.status != 200:
            errors: list[str] = []
            try:
                doc = json.loads(reply.body)
                if isinstance(doc, dict) and isinstance(doc.get("errors"), list):
                    errors = [str(x) for x in doc["errors"]]
            except ValueError:
                errors = [reply.body.decode("utf-8", "replace")]
            raise HandlerError(
                f"pushover: failed to understand Pushover response. code: {reply.status} "
                f"content: {', '.join(errors)}"
            )


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    opts = {k: o.text(k) for k in ("user-key", "device", "title", "url", "url-title", "sound")}

    def send(service: PushoverService, event: AlertEvent) -> None:
        service.alert(
            Notification(
                event.message,
                event.level,
                opts["user-key"],
                opts["device"],
                opts["title"],
                opts["url"],
                opts["url-title"],
                opts["sound"],
            )
        )

    return ServiceHandler("pushover", ctx.service, send)


def _validate(c: Any) -> None:
    if not c.enabled:
        return
    if not c.token:
        raise ConfigError("[pushover]: must specify token")
    if not c.user_key:
        raise ConfigError("[pushover]: must specify user key")
    if not c.url:
        raise ConfigError("[pushover]: must specify url")


def _test_options(service: PushoverService) -> dict[str, Any]:
    return {
        "user-key": service.user_key,
        "message": "test pushover message",
        "device": "",
        "title": "",
        "url": "",
        "url-title": "",
        "sound": "",
        "level": "CRITICAL",
    }


def _test(service: PushoverService, o: Options) -> None:
    service.alert(
        Notification(
            o.text("message"),
            service_test_level(o),
            o.text("user-key"),
            o.text("device"),
            o.text("title"),
            o.text("url"),
            o.text("url-title"),
            o.text("sound"),
        )
    )


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: PushoverService(c.enabled, c.token, c.user_key, c.url),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
