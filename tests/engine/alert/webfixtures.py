"""What the tests of the web API handlers share: an event with Kapacitor's EventData, the alert
services of a config, and the JSON bodies a loopback server received."""

from __future__ import annotations

import json
from typing import Any

from tests.engine.alert.harness import build
from tests.engine.alert.servers import AiohttpReceiver
from tests.engine.alert.util import values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import Options
from kapfast.engine.alert.services import AlertServices
from kapfast.handler_table import HANDLERS

SERIES = {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"], "values": [[0, 10.0]]}
RESULT = {"series": [{"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"],
                      "values": [["1970-01-01T00:00:00Z", 10]]}]}  # fmt: skip


def event(level: str = "CRITICAL") -> AlertEvent:
    return AlertEvent(
        id="cpu:host=a",
        message=f"cpu:host=a is {level}",
        details="<b>d</b>",
        time_ns=1_500_000_000,
        duration_ns=0,
        level=level,
        data=[SERIES],
        task_name="t1",
        name="cpu",
        group="host=a",
        tags={"host": "a"},
        fields={"value": 10.0},
    )


def services(**sections: object) -> AlertServices:
    cfg, _ = from_mapping(sections)
    return AlertServices(cfg)


def bodies(hook: AiohttpReceiver, n: int) -> list[dict[str, Any]]:
    return [json.loads(b) for _, _, b in hook.wait(n)[:n]]


def run_service_test(kind: str, svc: AlertServices, **options: Any) -> None:
    """A handler's service test with its default options, some replaced."""
    impl = HANDLERS[kind].implementation()
    assert impl.test_options is not None and impl.test is not None
    service = svc.service(kind)
    opts = impl.test_options(service)
    opts.update(options)
    impl.test(service, Options(kind, opts))


def run_inline(svc: AlertServices, script: str, values: list[float], task: str = "t", **tags: str) -> None:
    """Run ``stream|from().measurement('cpu')|alert()`` + ``script`` over one point per value
    (field ``value``, grouped by ``tags``) with these alert services."""
    r = build("stream|from().measurement('cpu')|alert()" + script, task, services={"alert_services": svc})
    r.node.push(values_chunk(values, **tags))
