"""``.zenoss()`` and the ``zenoss`` topic handler: Zenoss' JSON API (the events router), as
Kapacitor's services/zenoss sends it.

A POST to the section's ``url`` (with HTTP basic authentication when a username and password are
set) of ``{"action","method","data":[EVENT],"type","tid"}`` (Go's ``json.Marshal``): action, method,
type and tid are the handler's, else the section's (``EventsRouter``, ``add_event``, ``rpc``, 1).
EVENT has sorted keys: ``collector`` (the handler's, else the section's; left out when empty),
``component``, ``device``, ``evclass``, ``evclasskey``, ``message`` (left out when empty),
``severity`` (the section's ``severity-map`` of the level: Clear, Info, Warning, Critical by
default), ``summary`` (default: the alert message; 256 bytes at most) and the handler's custom
fields (a string that is JSON is sent as that JSON). The text options are templates over
``{Name, TaskName, ID, Message, Details, Time, Duration, Level, Recoverable, Tags}``. Only 200 is
success.
"""

from __future__ import annotations

import json
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.servicenow import cutoff
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    basic_auth,
    case_insensitive,
    event_struct,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.engine.alert.handlers.webservice import (
    service_test_level as test_level,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import GoStruct, json_encode
from kapfast.gotemplate import Template, TemplateError

DEFAULT_SEVERITIES = {"OK": "Clear", "Info": "Info", "Warning": "Warning", "Critical": "Critical"}
_LEVEL_KEY = {"OK": "OK", "INFO": "Info", "WARNING": "Warning", "CRITICAL": "Critical"}
#: the handler's template options (Kapacitor decodes them by field name, any case)
_TEXT = ("summary", "device", "component", "eventclasskey", "eventclass", "collector", "message")


def severity(severity_map: dict[str, Any], level: str) -> Any:
    """The section's mapping of a level (its TOML keys ``OK Info Warning Critical``, or the
    config API's ``ok info warning critical``), Kapacitor's default for a key not given."""
    want = _LEVEL_KEY[level]
    for k, v in severity_map.items():
        if k.lower() == want.lower():
            return v
    return DEFAULT_SEVERITIES[want]


def _info(event: AlertEvent) -> GoStruct:
    return event_struct(
        "zenoss.info", "Name TaskName ID Message Details Time Duration Level Recoverable Tags", event
    )


def _custom(v: Any) -> Any:
    if isinstance(v, str) and v.startswith(("{", "[")):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


class ZenossService(WebService):
    kind = "zenoss"
    title = "Zenoss"

    def alert(
        self, handler: dict[str, Any], event: AlertEvent, text: dict[str, str], custom: dict[str, Any]
    ) -> None:
        self.require_enabled()
        c = self.c
        data: dict[str, Any] = {
            "summary": cutoff(text.get("summary") or event.message, 256),
            "device": text.get("device", ""),
            "component": text.get("component", ""),
            "severity": severity(c.severity_map, event.level),
            "evclasskey": text.get("eventclasskey", ""),
            "evclass": text.get("eventclass", ""),
        }
        collector = text.get("collector") or c.collector
        if collector:
            data["collector"] = collector
        message = cutoff(text.get("message", ""), 4096)
        if message:
            data["message"] = message
        data.update({k: _custom(v) for k, v in custom.items()})
        body = GoStruct(
            "zenoss.Event",
            {
                "action": handler.get("action") or c.action,
                "method": handler.get("method") or c.method,
                "data": [data],
                "type": handler.get("type") or c.type,
                "tid": handler.get("tid") or c.tid,
            },
        )
        auth = basic_auth(handler.get("username") or c.username, handler.get("password") or c.password)
        url = handler.get("url") or c.url
        self.check(self.post(url, json_encode(body).encode(), {"Content-Type": "application/json", **auth}),
                   (200,), key="error")  # fmt: skip


def _parse(text: str, name: str) -> Template:
    try:
        return Template.parse(text, name=name)
    except TemplateError as e:
        raise ValueError(f"{name} template: {e}") from None


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    case_insensitive(o, *_TEXT, "customField")
    handler: dict[str, Any] = {
        k: o.text(k) for k in ("action", "method", "type", "url", "username", "password")
    }
    handler["tid"] = o.integer("tid")
    templates = {k: _parse(o.text(k), k) for k in _TEXT if o.text(k)}
    custom_t = {
        k: (_parse(v, "customData." + k) if isinstance(v, str) else v)
        for k, v in o.mapping("customField").items()
    }

    def send(service: ZenossService, event: AlertEvent) -> None:
        info = _info(event)
        try:
            text = {k: t.render(info) for k, t in templates.items()}
            custom = {k: (v.render(info) if isinstance(v, Template) else v) for k, v in custom_t.items()}
        except TemplateError as e:
            raise HandlerError(f"zenoss: template: {e}") from None
        service.alert(handler, event, text, custom)

    return ServiceHandler("zenoss", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.url:
        raise ConfigError("[zenoss] must specify events URL")
    for k, v in c.severity_map.items():
        if k.lower() not in ("ok", "info", "warning", "critical"):
            raise ConfigError(f"[zenoss] severity-map: unknown level {k!r} (OK, Info, Warning, Critical)")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise ConfigError(f"[zenoss] severity-map: {k} must be a number or a string")


def _test_options(service: ZenossService) -> dict[str, Any]:
    c = service.c
    return {
        "alert_id": "1001",
        "level": "CRITICAL",
        "message": "test zenoss message",
        "action": c.action,
        "method": c.method,
        "type": c.type,
        "tid": c.tid,
        "summary": "",
        "device": "",
        "component": "",
        "eventclasskey": "",
        "eventclass": "",
        "collector": c.collector,
        "custom_fields": {},
    }


def _test(service: ZenossService, o: Options) -> None:
    event = test_event(o.text("alert_id"), o.text("message"), test_level(o))
    handler: dict[str, Any] = {k: o.text(k) for k in ("action", "method", "type")}
    handler["tid"] = o.integer("tid")
    text = {k: o.text(k) for k in _TEXT if k != "message"}
    service.alert(handler, event, text, o.mapping("custom_fields"))


IMPL = HandlerImpl(
    build=_build,
    service=ZenossService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
