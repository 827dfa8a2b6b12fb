"""``.pagerDuty2()`` and the ``pagerduty2`` topic handler: PagerDuty's Events API v2, as Kapacitor's
services/pagerduty2 sends it.

A WARNING, CRITICAL or INFO event triggers (``severity`` warning/critical/info): a POST to the
section's ``url`` of ``{"routing_key","event_action":"trigger","dedup_key":ID,"payload":{"summary":
MESSAGE,"source":host tag or "unknown","severity","timestamp":"…T…​.000000000Z","class":TASK,
"component":"","group":"","custom_details":{"result":RESULT}},"images":null,"links":[{href,text}]
or null,"client":"kapacitor","client_url":KAPACITOR_URL}`` (Go's encoder: struct field order, a
newline at the end), with ``Accept: application/vnd.pagerduty+json;version=2``. An OK event
resolves: ``{"routing_key","dedup_key","event_action":"resolve"}``. The routing key is the
handler's, else the section's; link ``href``/``text`` are templates over the event (text defaults
to the rendered href). 200 and 202 are success.
"""

from __future__ import annotations

import json
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    error_message,
    require_url,
    template_data,
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
from kapfast.gofmt import GoRawJSON, GoStruct, json_encode, json_string
from kapfast.gotemplate import Template, TemplateError
from kapfast.timefmt import format_rfc3339_ns

_SEVERITY = {"WARNING": "warning", "CRITICAL": "critical", "INFO": "info"}
_HEADERS = {"Content-Type": "application/json", "Accept": "application/vnd.pagerduty+json;version=2"}


def timestamp(ns: int) -> str:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` of a UTC time: always nine fraction digits."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = format_rfc3339_ns(secs * 1_000_000_000)  # "...:SSZ"
    return f"{base[:-1]}.{frac:09d}Z"


def trigger_body(
    routing_key: str,
    event: AlertEvent,
    links: list[tuple[str, str]],
    client_url: str,
) -> bytes:
    payload = GoStruct(
        "pagerduty2.PDCEF",
        {
            "summary": event.message,
            "source": event.tags.get("host", "unknown"),
            "severity": _SEVERITY[event.level],
            "timestamp": timestamp(event.time_ns),
            "class": event.task_name,
            "component": "",
            "group": "",
            "custom_details": {"result": GoRawJSON(event.result_json())},
        },
    )
    body = GoStruct(
        "pagerduty2.AlertPayload",
        {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": event.id,
            "payload": payload,
            "images": None,
            "links": [GoStruct("pagerduty2.Link", {"href": h, "text": t}) for h, t in links] or None,
            "client": "kapacitor",
            "client_url": client_url,
        },
    )
    return (json_encode(body) + "\n").encode()


def resolve_body(routing_key: str, dedup_key: str) -> bytes:
    return (
        '{"routing_key":'
        + json_string(routing_key)
        + ',"dedup_key":'
        + json_string(dedup_key)
        + ',"event_action":"resolve"}\n'
    ).encode()


class PagerDuty2Service(WebService):
    kind = "pagerduty2"
    title = "PagerDuty2"

    def alert(self, routing_key: str, event: AlertEvent, links: list[tuple[str, str]]) -> None:
        self.require_enabled()
        key = routing_key or self.c.routing_key
        if event.level in _SEVERITY:
            body = trigger_body(key, event, links, self.kapacitor_url)
        else:
            body = resolve_body(key, event.id)
        reply = self.post(self.c.url, body, _HEADERS)
        if reply.status in (200, 202):
            return
        # Kapacitor decodes {"status","message","errors"} over its default message
        status, message, errors = "", error_message(reply, self.title), []
        try:
            doc = json.loads(reply.body)
            if isinstance(doc, dict):
                status = str(doc["status"]) if isinstance(doc.get("status"), str) else ""
                if isinstance(doc.get("errors"), list):
                    errors = [str(x) for x in doc["errors"]]
        except ValueError:
            pass
        raise HandlerError(f"pagerduty2: Status: {status}, Message: {message} Errors: [{' '.join(errors)}]")


class _Link:
    def __init__(self, href: str, text: str) -> None:
        try:
            self.href = Template.parse(href, name="href")
            self.text = Template.parse(text, name="text") if text else None
        except TemplateError as e:
            raise ValueError(f"link template: {e}") from None

    def render(self, data: Any) -> tuple[str, str]:
        href = self.href.render(data)
        return href, (self.text.render(data) if self.text is not None else href)


def _links(o: Options) -> list[_Link]:
    out = []
    for r in o.records("links", ("href", "text")):
        href, text = r["href"], r["text"] or ""
        if not isinstance(href, str) or not isinstance(text, str):
            raise o.bad("links", "a list of {href, text} strings", r)
        out.append(_Link(href, text))
    return out


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    # service-key: the option's name before Kapacitor 1.5 (and the inline .serviceKey())
    routing_key = o.text("routing-key") or o.text("service-key")
    links = _links(o)

    def send(service: PagerDuty2Service, event: AlertEvent) -> None:
        rendered: list[tuple[str, str]] = []
        if links:
            data = template_data(event)
            try:
                rendered = [link.render(data) for link in links]
            except TemplateError as e:
                raise HandlerError(f"pagerduty2: link template: {e}") from None
        service.alert(routing_key, event, rendered)

    return ServiceHandler("pagerduty2", ctx.service, send)


def _validate(c: Any) -> None:
    require_url("pagerduty2", c.url)


_TEST_TIME = "2014-11-12T11:45:26.371Z"


def _test_options(service: PagerDuty2Service) -> dict[str, Any]:
    return {
        "alert_id": "testAlertID",
        "description": "test pagerduty2 message",
        "level": "CRITICAL",
        **test_event_data_options("testPagerDuty2", _TEST_TIME),
        "links": [
            {"href": "https://example.com/a", "text": "a"},
            {"href": "https://example.com/b", "text": "b"},
        ],
    }


def _test(service: PagerDuty2Service, o: Options) -> None:
    event = test_event_data(
        o, test_event(o.text("alert_id"), o.text("description"), test_level(o)), _TEST_TIME
    )
    links = [
        (str(r["href"] or ""), str(r["text"] or r["href"] or ""))
        for r in o.records("links", ("href", "text"))
    ]
    service.alert(service.c.routing_key, event, links)


IMPL = HandlerImpl(
    build=_build,
    service=PagerDuty2Service,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
