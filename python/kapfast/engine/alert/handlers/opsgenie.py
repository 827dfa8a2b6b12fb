"""``.opsGenie()`` and the ``opsgenie`` topic handler: OpsGenie's v1 alert API, as Kapacitor's
services/opsgenie sends it.

A POST to the section's ``url`` plus ``/`` (its ``recovery_url`` plus ``/`` for an OK event) of
``{"alias":ID,"apiKey":KEY,"description":RESULT as a JSON string,"details":{"Level":L,
"Monitoring Tool":"Kapacitor"},"entity":ID,"message":MESSAGE,"monitoring_tool":"kapacitor",
"note":"" (the message on recovery),"recipients":[..],"teams":[..]}`` (Go's encoder of a map: sorted
keys, a newline at the end). ``L`` is the level name, ``RECOVERY`` for OK. Teams and recipients are
the handler's, else the section's, and are left out when empty.
"""

from __future__ import annotations

from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import BuildContext, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    require_url,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.errors import ConfigError
from kapfast.gofmt import json_encode


def payload(
    api_key: str, message_type: str, event: AlertEvent, teams: list[str], recipients: list[str]
) -> bytes:
    body: dict[str, Any] = {
        "apiKey": api_key,
        "entity": event.id,
        "alias": event.id,
        "message": event.message,
        "note": event.message if message_type == "RECOVERY" else "",
        "monitoring_tool": "kapacitor",
        "details": {"Level": message_type, "Monitoring Tool": "Kapacitor"},
        "description": event.result_json(),
    }
    if teams:
        body["teams"] = teams
    if recipients:
        body["recipients"] = recipients
    return (json_encode(body) + "\n").encode()


class OpsGenieService(WebService):
    kind = "opsgenie"
    title = "OpsGenie"

    def alert(self, teams: list[str], recipients: list[str], message_type: str, event: AlertEvent) -> None:
        self.require_enabled()
        c = self.c
        url = (c.recovery_url if message_type == "RECOVERY" else c.url) + "/"
        body = payload(
            c.api_key, message_type, event, teams or list(c.teams), recipients or list(c.recipients)
        )
        self.check(self.post(url, body, {"Content-Type": "application/json"}), (200,))


def message_type(level: str) -> str:
    return "RECOVERY" if level == "OK" else level


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    teams, recipients = o.strings("teams-list"), o.strings("recipients-list")
    return ServiceHandler(
        "opsgenie", ctx.service, lambda s, e: s.alert(teams, recipients, message_type(e.level), e)
    )


def _validate(c: Any) -> None:
    require_url("opsgenie", c.url)
    if not c.recovery_url:
        raise ConfigError("[opsgenie] recovery_url cannot be empty")
    if c.enabled and not c.api_key:
        raise ConfigError("[opsgenie] api-key cannot be empty")


def test_options(service: Any) -> dict[str, Any]:
    """Kapacitor's test options of OpsGenie (v1 and v2): the section's teams and recipients."""
    return {
        "teams": list(service.c.teams),
        "recipients": list(service.c.recipients),
        "message-type": "CRITICAL",
        "message": "test opsgenie message",
        "entity-id": "testEntityID",
    }


def _test(service: OpsGenieService, o: Options) -> None:
    event = test_event(o.text("entity-id"), o.text("message"), "CRITICAL")
    service.alert(o.strings("teams"), o.strings("recipients"), o.text("message-type"), event)


IMPL = HandlerImpl(
    build=_build,
    service=OpsGenieService,
    validate=_validate,
    test_options=test_options,
    test=_test,
)
