"""``.pagerDuty()`` and the ``pagerduty`` topic handler: PagerDuty's (v1) generic events API, as
Kapacitor's services/pagerduty sends it.

A POST to the section's ``url`` of a JSON object of strings (Go's encoder of a map: sorted keys,
a newline at the end): ``client`` "kapacitor", ``client_url`` (the server's API URL),
``description`` (the message), ``details`` (the details), ``event_type`` ("trigger" for WARNING and
CRITICAL, "resolve" for OK), ``incident_key`` (the alert ID) and ``service_key`` (the handler's,
else the section's). An INFO event is not sent: Kapacitor answers "AlertLevel 'info' is currently
ignored by the PagerDuty service", and kapfast counts it as a failed delivery with that reason.
"""

from __future__ import annotations

from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    require_url,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.engine.alert.handlers.webservice import (
    service_test_level as test_level,
)
from kapfast.gofmt import json_encode


def payload(service_key: str, event: AlertEvent, client_url: str) -> bytes:
    event_type = "trigger" if event.level in ("WARNING", "CRITICAL") else "resolve"
    body = {
        "service_key": service_key,
        "event_type": event_type,
        "description": event.message,
        "incident_key": event.id,
        "client": "kapacitor",
        "client_url": client_url,
        "details": event.details,
    }
    return (json_encode(body) + "\n").encode()


class PagerDutyService(WebService):
    kind = "pagerduty"
    title = "PagerDuty"

    def alert(self, service_key: str, event: AlertEvent) -> None:
        self.require_enabled()
        if event.level == "INFO":
            raise HandlerError("pagerduty: AlertLevel 'info' is currently ignored by the PagerDuty service")
        body = payload(service_key or self.c.service_key, event, self.kapacitor_url)
        self.check(self.post(self.c.url, body, {"Content-Type": "application/json"}), (200,))


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    service_key = o.text("service-key")
    return ServiceHandler("pagerduty", ctx.service, lambda s, e: s.alert(service_key, e))


def _validate(c: Any) -> None:
    require_url("pagerduty", c.url)


def _test_options(service: PagerDutyService) -> dict[str, Any]:
    return {
        "incident-key": "testIncidentKey",
        "description": "test pagerduty message",
        "details": "",
        "level": "CRITICAL",
    }


def _test(service: PagerDutyService, o: Options) -> None:
    event = test_event(
        o.text("incident-key"), o.text("description"), test_level(o), details=o.text("details")
    )
    service.alert(service.c.service_key, event)


IMPL = HandlerImpl(
    build=_build,
    service=PagerDutyService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
