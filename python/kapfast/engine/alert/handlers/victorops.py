"""``.victorOps()`` and the ``victorops`` topic handler: VictorOps' REST endpoint, as Kapacitor's
services/victorops sends it.

A POST to ``url/API_KEY/ROUTING_KEY`` (the handler's routing key, else the section's) of
``{"data":RESULT,"entity_id":ID,"message_type":L,"monitoring_tool":"kapacitor","state_message":
MESSAGE,"timestamp":UNIX_SECONDS}`` (sorted keys, a newline at the end): ``L`` is the level name,
``RECOVERY`` for OK; ``data`` is the event's data as a JSON string, or as JSON itself with
``json-data = true``. Only 200 is success (a 404 says "URL or API key not found: 404").
"""

from __future__ import annotations

from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.clock import WallClock
from kapfast.engine.alert.handlers.base import BuildContext, HandlerError, HandlerImpl, Options
from kapfast.engine.alert.handlers.webapi import (
    WebService,
    join_path,
    require_url,
    test_event,
)
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
)
from kapfast.gofmt import GoRawJSON, json_encode


def payload(message_type: str, event: AlertEvent, json_data: bool) -> bytes:
    result = event.result_json()
    body = {
        "message_type": message_type,
        "entity_id": event.id,
        "state_message": event.message,
        "timestamp": event.time_ns // 1_000_000_000,
        "monitoring_tool": "kapacitor",
        "data": GoRawJSON(result) if json_data else result,
    }
    return (json_encode(body) + "\n").encode()


class VictorOpsService(WebService):
    kind = "victorops"
    title = "VictorOps"

    def alert(self, routing_key: str, message_type: str, event: AlertEvent) -> None:
        self.require_enabled()
        c = self.c
        url = join_path(c.url, c.api_key, routing_key or c.routing_key)
        reply = self.post(
            url, payload(message_type, event, c.json_data), {"Content-Type": "application/json"}
        )
        if reply.status == 404:
            raise HandlerError("victorops: URL or API key not found: 404")
        self.check(reply, (200,))


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    routing_key = o.text("routing-key")
    return ServiceHandler(
        "victorops",
        ctx.service,
        lambda s, e: s.alert(routing_key, "RECOVERY" if e.level == "OK" else e.level, e),
    )


def _validate(c: Any) -> None:
    require_url("victorops", c.url)


def _test_options(service: VictorOpsService) -> dict[str, Any]:
    return {
        "routingKey": service.c.routing_key,
        "messageType": "CRITICAL",
        "message": "test victorops message",
        "entityID": "testEntityID",
    }


def _test(service: VictorOpsService, o: Options) -> None:
    # Kapacitor's test alert is "now"
    event = test_event(o.text("entityID"), o.text("message"), "CRITICAL", WallClock().now_ns())
    service.alert(o.text("routingKey"), o.text("messageType"), event)


IMPL = HandlerImpl(
    build=_build,
    service=VictorOpsService,
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
