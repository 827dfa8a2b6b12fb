"""``.alerta()`` and the ``alerta`` topic handler: Alerta's alert API, as Kapacitor's
services/alerta sends it.

A POST to the section's ``url`` + ``/alert`` with ``Authorization: PREFIX TOKEN`` (the handler's
token and prefix, else the section's, the prefix defaulting to ``Bearer``) of ``{"attributes":{..}
(only when set),"correlate":[..],"environment","event","group","origin","rawData":RESULT,
"resource","service":[..],"severity","tags":["k=v",..],"text":MESSAGE,"timeout":SECONDS,"value"}``
(sorted keys, a newline at the end). ``resource`` (default ``{{ .Name }}``), ``event`` (``{{ .ID
}}``), ``environment``, ``group`` (``{{ .Group }}``), ``value`` and each ``service``/``correlate``
(both default to the measurement) are templates over the event. Severity: ok, informational,
warning, critical, renamed by ``rename-severities`` ({"crit": "major"}). Only 201 is success.

Kapacitor's severity expressions (``severity-expressions``) are not supported: such a handler is
refused with an unknown-option error rather than run without them.
"""

from __future__ import annotations

from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    event_struct,
    join_path,
    template_data,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import GoRawJSON, GoStruct, json_encode
from kapfast.gotemplate import Template, TemplateError

DEFAULT_TIMEOUT_NS = 24 * 3600 * 1_000_000_000
_SEVERITY = {"OK": ("ok", "ok"), "INFO": ("informational", "info"), "WARNING": ("warning", "warn"),
             "CRITICAL": ("critical", "crit")}  # fmt: skip


class AlertaService(WebService):
    kind = "alerta"
    title = "Alerta"

    def alert(
        self,
        token: str,
        token_prefix: str,
        fields: dict[str, Any],
        tags: dict[str, str],
        result_json: str,
    ) -> None:
        """``fields``: resource event environment severity group value text origin service
        correlate timeout_ns attributes (rendered)."""
        if not fields["resource"] or not fields["event"]:
            raise HandlerError("alerta: Resource and Event are required to send an alert")
        self.require_enabled()
        c = self.c
        body: dict[str, Any] = {
            "resource": fields["resource"],
            "event": fields["event"],
            "environment": fields["environment"] or c.environment,
            "severity": fields["severity"],
            "group": fields["group"],
            "value": fields["value"],
            "text": fields["text"],
            "origin": fields["origin"] or c.origin,
            "rawData": GoRawJSON(result_json),
            "timeout": int(fields["timeout_ns"] / 1_000_000_000),
            # Go ranges over a map here (random order); sorted is the same set, reproducibly
            "tags": [f"{k}={v}" for k, v in sorted(tags.items())],
        }
        if fields["service"]:
            body["service"] = fields["service"]
        if fields["correlate"]:
            body["correlate"] = fields["correlate"]
        if fields.get("attributes"):
            body["attributes"] = fields["attributes"]
        prefix = token_prefix or c.token_prefix or "Bearer"
        headers = {"Authorization": f"{prefix} {token or c.token}", "Content-Type": "application/json"}
        data = (json_encode(body) + "\n").encode()
        self.check(self.post(join_path(c.url, "alert"), data, headers, c.insecure_skip_verify), (201,))


def _template(o: Options, key: str, default: str = "") -> Template:
    text = o.text(key, default)
    try:
        return Template.parse(text, name=key)
    except TemplateError as e:
        raise ValueError(f"{key} template: {e}") from None


def _event_data(event: AlertEvent) -> GoStruct:
    """What the ``event`` template sees (Kapacitor's alerta.eventData)."""
    return event_struct("alerta.eventData", "ID Name TaskName Group Tags", event)


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    token, prefix, origin = o.text("token"), o.text("token-prefix"), o.text("origin")
    resource = _template(o, "resource", "{{ .Name }}")
    event_t = _template(o, "event", "{{ .ID }}")
    environment = _template(o, "environment")
    group = _template(o, "group", "{{ .Group }}")
    value = _template(o, "value")
    try:
        services = [Template.parse(s, name="service") for s in o.strings("service")]
        correlates = [Template.parse(s, name="correlate") for s in o.strings("correlate")]
    except TemplateError as e:
        raise ValueError(f"template: {e}") from None
    timeout_ns = o.duration_ns("timeout", DEFAULT_TIMEOUT_NS) or DEFAULT_TIMEOUT_NS
    attributes = o.mapping("attributes")
    renames = o.str_map("rename-severities")

    def send(service: AlertaService, event: AlertEvent) -> None:
        td = template_data(event)
        try:
            fields: dict[str, Any] = {
                "resource": resource.render(td),
                "event": event_t.render(_event_data(event)),
                "environment": environment.render(td),
                "group": group.render(td),
                "value": value.render(td),
                "service": [t.render(td) for t in services] or [event.name],
                "correlate": [t.render(td) for t in correlates] or [event.name],
            }
        except TemplateError as e:
            raise HandlerError(f"alerta: template: {e}") from None
        severity, key = _SEVERITY.get(event.level, ("indeterminate", ""))
        fields.update(
            severity=renames.get(key, severity),
            text=event.message,
            origin=origin,
            timeout_ns=timeout_ns,
            attributes=attributes,
        )
        service.alert(token, prefix, fields, event.tags, event.result_json())

    return ServiceHandler("alerta", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.url:
        raise ConfigError("[alerta] must specify url")


def _test_options(service: AlertaService) -> dict[str, Any]:
    return {
        "resource": "testResource",
        "event": "testEvent",
        "environment": service.c.environment,
        "severity": "critical",
        "group": "testGroup",
        "value": "testValue",
        "message": "test alerta message",
        "origin": service.c.origin,
        "service": ["testServiceA", "testServiceB"],
        "correlate": ["testServiceX", "testServiceY"],
        "timeout": "24h0m0s",
    }


def _test(service: AlertaService, o: Options) -> None:
    fields = {
        "resource": o.text("resource"),
        "event": o.text("event"),
        "environment": o.text("environment"),
        "severity": o.text("severity"),
        "group": o.text("group"),
        "value": o.text("value"),
        "text": o.text("message"),
        "origin": o.text("origin"),
        "service": o.strings("service"),
        "correlate": o.strings("correlate"),
        "timeout_ns": o.duration_ns("timeout"),
    }
    service.alert(service.c.token, service.c.token_prefix, fields, {}, test_event("", "", "OK").result_json())


IMPL = HandlerImpl(
    build=_build,
    service=AlertaService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
