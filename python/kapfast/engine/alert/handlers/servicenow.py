"""``.serviceNow()`` and the ``servicenow`` topic handler: ServiceNow's event web service, as
Kapacitor's services/servicenow sends it.

A POST to the handler's ``url`` (else the section's), with HTTP basic authentication when a username
and password are set, of ``{"records":[{"source","node","type","resource","metric_name",
"message_key","severity","description","additional_info"}]}`` (Go's ``json.Marshal``: struct field
order, empty fields but ``source`` left out). ``node``, ``type``, ``resource``, ``metric_name``,
``message_key`` (default: the alert ID) and each ``additional_info`` value are templates over
``{ID, Name, TaskName, Fields, Tags}``; ``additional_info`` is sent as a JSON string. Severity: 1
CRITICAL, 4 WARNING, 5 INFO and OK. Values are cut to ServiceNow's lengths (100 bytes, message key
1024, description 4000). Only 200 is success.

Better than Kapacitor: the handler's ``username``/``password`` are used (Kapacitor accepts them and
sends the section's), and a template that fails is an error rather than a half-rendered field.
"""

from __future__ import annotations

from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
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
from kapfast.gofmt import GoStruct, json_encode, sprint
from kapfast.gotemplate import Template, TemplateError

_SEVERITY = {"OK": 5, "INFO": 5, "WARNING": 4, "CRITICAL": 1}
#: the handler's template options: option name (Kapacitor's, any case) → record field
_TEMPLATES = {"node": "node", "type": "type", "resource": "resource", "metricName": "metric_name",
              "messageKey": "message_key"}  # fmt: skip


def cutoff(text: str, limit: int) -> str:
    """Go's ``text[:min(limit, len(text))]``: bytes (a cut rune becomes U+FFFD when encoded)."""
    raw = text.encode()
    return raw[:limit].decode("utf-8", "replace") if len(raw) > limit else text


def _data(event: AlertEvent) -> GoStruct:
    return event_struct("servicenow.dataInfo", "ID Name TaskName Fields Tags", event)


class ServiceNowService(WebService):
    kind = "servicenow"
    title = "ServiceNow"

    def alert(self, handler: dict[str, Any], event: AlertEvent, rendered: dict[str, str], info: str) -> None:
        self.require_enabled()
        c = self.c
        record: dict[str, Any] = {"source": cutoff(handler.get("source") or c.source, 100)}
        for key in ("node", "type", "resource", "metric_name"):
            if rendered.get(key):
                record[key] = cutoff(rendered[key], 100)
        record["message_key"] = cutoff(rendered.get("message_key") or event.id, 1024)
        record["severity"] = str(_SEVERITY.get(event.level, 0))
        if event.message:
            record["description"] = cutoff(event.message, 4000)
        if info:
            record["additional_info"] = info
        body = json_encode({"records": [GoStruct("servicenow.Event", record)]}).encode()
        auth = basic_auth(handler.get("username") or c.username, handler.get("password") or c.password)
        url = handler.get("url") or c.url
        self.check(self.post(url, body, {"Content-Type": "application/json", **auth}), (200,), key="error")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    case_insensitive(o, *_TEMPLATES)
    handler = {k: o.text(k) for k in ("url", "username", "password", "source")}
    try:
        templates = {
            field: Template.parse(o.text(opt), name=opt) for opt, field in _TEMPLATES.items() if o.text(opt)
        }
        info_t = {
            k: (Template.parse(v, name="additional_info." + k) if isinstance(v, str) else sprint(v))
            for k, v in o.mapping("additional_info").items()
        }
    except TemplateError as e:
        raise ValueError(f"template: {e}") from None

    def send(service: ServiceNowService, event: AlertEvent) -> None:
        data = _data(event)
        try:
            rendered = {field: t.render(data) for field, t in templates.items()}
            info = {k: (v.render(data) if isinstance(v, Template) else v) for k, v in info_t.items()}
        except TemplateError as e:
            raise HandlerError(f"servicenow: template: {e}") from None
        service.alert(handler, event, rendered, json_encode(info) if info else "")

    return ServiceHandler("servicenow", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.url:
        raise ConfigError("[servicenow] must specify events URL")


def _test_options(service: ServiceNowService) -> dict[str, Any]:
    return {"alert_id": "id", "source": "Kapacitor", "level": "CRITICAL", "message": "test servicenow alert"}


def _test(service: ServiceNowService, o: Options) -> None:
    event = test_event(o.text("alert_id"), o.text("message"), test_level(o))
    service.alert({"source": o.text("source")}, event, {}, "")


IMPL = HandlerImpl(
    build=_build,
    service=ServiceNowService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
