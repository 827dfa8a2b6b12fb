"""sensu: the check result a real TCP server on 127.0.0.1 receives (it answers ``ok`` as a Sensu
client does), for a CRITICAL event and its recovery, inline and as a topic handler; the [sensu]
section and the service test."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.servers import TcpReceiver
from tests.engine.alert.test_web_handlers import event, service_test, services
from tests.engine.alert.util import values_chunk

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.services import HandlerSpec
from kapfast.errors import ConfigError


def sensu_client(reply: bytes = b"ok") -> TcpReceiver:
    """A Sensu client's socket: one JSON document per connection, answered ``ok``."""
    return TcpReceiver(reply)


def test_sensu_inline_critical_and_recovery() -> None:
    with sensu_client() as client:
        svc = services(sensu={"enabled": True, "addr": client.address, "source": "kap"})
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)"
            ".id('cpu-{{ .TaskName }}')"
            ".sensu().source('{{ .TaskName }}-{{ .Name }}').handlers('h1', 'h2')"
            ".metadata('k1', 'v1').metadata('k2', 5)",
            "mytask",
            services={"alert_services": svc},
        )
        r.node.push(values_chunk([10, 1]))
        docs = client.wait(2)
    assert docs[0] == (
        b'{"handlers":["h1","h2"],"k1":"v1","k2":5,"name":"cpu-mytask","output":"cpu-mytask is CRITICAL",'
        b'"source":"mytask-cpu","status":2}\n'
    )
    assert json.loads(docs[1])["status"] == 0
    assert json.loads(docs[1])["output"] == "cpu-mytask is OK"


def test_sensu_topic_handler_section_defaults() -> None:
    with sensu_client() as client:
        svc = services(sensu={"enabled": True, "addr": client.address, "handlers": ["default"]})
        h = svc.build_entry(
            HandlerSpec("h", "ops", "sensu", {"metadata": {"name": "not me", "x": 1.5}}), None
        )
        h.handler.handle(event("CRITICAL", id="cpu.nil"))
        h.handler.handle(event("WARNING", id="cpu.nil"))
        h.handler.handle(event("OK", id="cpu.nil"))
        docs = [json.loads(d) for d in client.wait(3)]
    assert docs[0] == {
        "handlers": ["default"],
        "name": "cpu.nil",
        "output": "cpu.nil is CRITICAL",
        "source": "Kapacitor",
        "status": 2,
        "x": 1.5,
    }
    assert [d["status"] for d in docs] == [2, 1, 0]


def test_sensu_errors_config_and_service_test() -> None:
    with sensu_client(reply=b"invalid") as client:
        svc = services(sensu={"enabled": True, "addr": client.address})
        with pytest.raises(HandlerError, match="sensu socket error: invalid"):
            svc.build("sensu", {}).handle(event("CRITICAL", id="cpu.nil"))
        with pytest.raises(HandlerError, match='invalid name "cpu:nil"'):
            svc.build("sensu", {}).handle(event("CRITICAL"))
    with sensu_client() as client:
        svc = services(sensu={"enabled": True, "addr": client.address})
        service_test(svc, "sensu")
        (doc,) = client.wait(1)
        with pytest.raises(HandlerError, match="invalid name"):
            service_test(svc, "sensu", name="bad name")
    assert json.loads(doc) == {
        "handlers": None,
        "name": "testName",
        "output": "testOutput",
        "source": "Kapacitor",
        "status": 2,
    }
    with pytest.raises(ConfigError, match="must specify client address"):
        from_mapping(tomllib.loads("[sensu]\n  enabled = true\n"))
    cfg: Any = from_mapping(tomllib.loads('[sensu]\n  addr = "a:1"\n  handlers = ["x"]\n'))[0]
    assert (cfg.handlers["sensu"].source, cfg.handlers["sensu"].handlers) == ("Kapacitor", ["x"])
    with pytest.raises(Exception, match="source template"):
        svc.build("sensu", {"source": "{{ .Bad "})
