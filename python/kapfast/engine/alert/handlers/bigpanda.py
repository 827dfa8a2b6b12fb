"""``.bigPanda()`` and the ``bigpanda`` topic handler: BigPanda's alerts API, as Kapacitor's
services/bigpanda sends it.

A POST to the section's ``url`` with ``Authorization: Bearer TOKEN`` of one JSON object (sorted
keys, Go's ``json.Marshal``): ``app_key`` (the handler's, else the section's), ``check`` (the alert
ID), ``description`` (the message), ``details`` (the details, unless they are the default JSON),
``status`` (ok for OK and INFO, warning, critical), ``task`` (``TASK:MEASUREMENT``), ``timestamp``
(Unix seconds), ``host``/``primary_property``/``secondary_property`` when the handler sets them,
then as attributes the event's tags and fields (as ``auto-attributes`` says: ``tags,fields`` by
default) and the handler's ``attributes``, every non-string value as its JSON text. Only 201 is
success.
"""

from __future__ import annotations

import html
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    test_event,
    test_event_data,
    test_event_data_options,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.engine.alert.handlers.webservice import (
    service_test_level as test_level,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import json_encode

_STATUS = {"OK": "ok", "INFO": "ok", "WARNING": "warning", "CRITICAL": "critical"}


def _attribute(v: Any) -> str:
    return v if isinstance(v, str) else json_encode(v)


class BigPandaService(WebService):
    kind = "bigpanda"
    title = "BigPanda"

    def auto(self) -> set[str]:
        return {p.strip() for p in str(self.c.auto_attributes).split(",") if p.strip()}

    def payload(self, event: AlertEvent, handler: dict[str, Any]) -> bytes:
        c = self.c
        body: dict[str, Any] = {}
        if event.message:
            body["description"] = event.message
        if event.details:
            # Kapacitor leaves out the default details (the whole event as JSON)
            details = html.unescape(event.details)
            if not details.startswith("{"):
                body["details"] = details
        if event.id:
            body["check"] = event.id
        body["task"] = f"{event.task_name}:{event.name}"
        body["timestamp"] = event.time_ns // 1_000_000_000
        body["status"] = _STATUS.get(event.level, "critical")
        body["app_key"] = handler.get("app-key") or c.app_key
        for key in ("host", "primary_property", "secondary_property"):
            if handler.get(key):
                body[key] = handler[key]
        auto = self.auto()
        if "tags" in auto:
            body.update(event.tags)
        if "fields" in auto:
            body.update({k: _attribute(v) for k, v in event.fields.items()})
        body.update({k: _attribute(v) for k, v in (handler.get("attributes") or {}).items()})
        return json_encode(body).encode()

    def alert(self, event: AlertEvent, handler: dict[str, Any]) -> None:
        self.require_enabled()
        c = self.c
        headers = {"Authorization": f"Bearer {c.token}", "Content-Type": "application/json"}
        reply = self.post(c.url, self.payload(event, handler), headers, c.insecure_skip_verify)
        self.check(reply, (201,), key="error")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    handler = {
        "app-key": o.text("app-key"),
        "host": o.text("host"),
        "primary_property": o.text("primary-property"),
        "secondary_property": o.text("secondary-property"),
        "attributes": o.mapping("attributes"),
    }
    return ServiceHandler("bigpanda", ctx.service, lambda s, e: s.alert(e, handler))


def _validate(c: Any) -> None:
    if c.enabled and not c.app_key:
        raise ConfigError("[bigpanda] must specify BigPanda app-key")
    if c.enabled and not c.token:
        raise ConfigError("[bigpanda] must specify BigPanda token")


_TEST_TIME = "1970-01-01T00:00:01Z"


def _test_options(service: BigPandaService) -> dict[str, Any]:
    return {
        "app_key": "my-app-key-123456",
        "message": "test bigpanda message",
        "level": "CRITICAL",
        **test_event_data_options("testBigPanda", _TEST_TIME),
    }


def _test(service: BigPandaService, o: Options) -> None:
    event = test_event_data(o, test_event("", o.text("message"), test_level(o)), _TEST_TIME)
    service.alert(event, {"app-key": o.text("app_key")})


IMPL = HandlerImpl(
    build=_build,
    service=BigPandaService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
