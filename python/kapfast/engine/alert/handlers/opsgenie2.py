"""``.opsGenie2()`` and the ``opsgenie2`` topic handler: OpsGenie's v2 alert API, as Kapacitor's
services/opsgenie2 sends it.

A WARNING, CRITICAL or INFO event creates an alert: a POST to the section's ``url`` with
``Authorization: GenieKey KEY`` of ``{"alias":base64url(ID),"description":RESULT as a JSON string,
"details":{"Kapacitor Task Name":MEASUREMENT,"Level":L,"Monitoring Tool":"Kapacitor", the first
series' tags},"entity":ID,"message":MESSAGE,"note":"","priority":P1|P3|P5,"responders":[{"name":T,
"type":"team"}..,{"type":"user","username":U}..]}`` (sorted keys, a newline at the end). An OK event
acts on that alert: a POST of ``{"note":MESSAGE}`` to ``url/ALIAS/ACTION?identifierType=alias``,
ACTION being the section's ``recovery_action`` (``notes`` or ``close``) unless the handler sets one.
With ``details = true`` the description is the event's details instead of its data. Only 202 is
success.
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.opsgenie import test_options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    error_message,
    join_path,
    require_url,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import json_encode

_PRIORITY = {"INFO": "P5", "WARNING": "P3", "CRITICAL": "P1"}


def alias(alert_id: str) -> str:
    """Go's ``base64.URLEncoding`` (with padding) of the alert ID."""
    return base64.urlsafe_b64encode(alert_id.encode()).decode()


def create_payload(event: AlertEvent, teams: list[str], recipients: list[str], use_details: bool) -> bytes:
    details: dict[str, str] = {"Monitoring Tool": "Kapacitor", "Level": event.level}
    if event.data:
        first = event.data[0]
        details.update({str(k): str(v) for k, v in (first.get("tags") or {}).items()})
        details["Kapacitor Task Name"] = str(first.get("name") or "")
    body: dict[str, Any] = {
        "entity": event.id,
        "alias": alias(event.id),
        "message": event.message,
        "note": "",
        "priority": _PRIORITY.get(event.level, ""),
        "description": event.details if use_details else event.result_json(),
        "details": details,
    }
    responders = [{"name": t, "type": "team"} for t in teams] + [
        {"username": u, "type": "user"} for u in recipients
    ]
    if responders:
        body["responders"] = responders
    return (json_encode(body) + "\n").encode()


class OpsGenie2Service(WebService):
    kind = "opsgenie2"
    title = "OpsGenie"

    def alert(
        self, teams: list[str], recipients: list[str], event: AlertEvent, recovery_action: str = ""
    ) -> None:
        self.require_enabled()
        c = self.c
        if event.level == "OK":
            target = join_path(c.url, alias(event.id), recovery_action or c.recovery_action)
            parts = urllib.parse.urlsplit(target)
            url = urllib.parse.urlunsplit((*parts[:3], "identifierType=alias", parts.fragment))
            body = (json_encode({"note": event.message}) + "\n").encode()
        else:
            url = c.url
            body = create_payload(event, teams or list(c.teams), recipients or list(c.recipients), c.details)
        headers = {"Content-Type": "application/json", "Authorization": f"GenieKey {c.api_key}"}
        try:
            reply = self.post(url, body, headers)
        except HandlerError as e:
            raise HandlerError(f"opsgenie2: failed to execute API request: {e}") from None
        if reply.status != 202:
            raise HandlerError(f"opsgenie2: opsgenie error: {error_message(reply, self.title)}")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    teams, recipients = o.strings("teams-list"), o.strings("recipients-list")
    action = o.text("recovery_action")
    if action not in ("", "notes", "close"):
        raise o.bad("recovery_action", "notes or close", action)
    return ServiceHandler("opsgenie2", ctx.service, lambda s, e: s.alert(teams, recipients, e, action))


def _validate(c: Any) -> None:
    require_url("opsgenie2", c.url)
    if not c.recovery_action:
        raise ConfigError("[opsgenie2] recovery_action cannot be empty")
    if c.enabled and not c.api_key:
        raise ConfigError("[opsgenie2] api-key cannot be empty")


def _test(service: OpsGenie2Service, o: Options) -> None:
    kind = o.text("message-type").upper()
    level = "OK" if kind == "RECOVERY" else kind
    if level not in ("OK", "INFO", "WARNING", "CRITICAL"):
        raise HandlerError(f"unknown alert level '{kind}'")
    service.alert(
        o.strings("teams"), o.strings("recipients"), test_event(o.text("entity-id"), o.text("message"), level)
    )


IMPL = HandlerImpl(
    build=_build,
    service=OpsGenie2Service,
    validate=_validate,
    test_options=test_options,  # the same as v1's
    test=_test,
)
