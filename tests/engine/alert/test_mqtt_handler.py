"""mqtt: messages published through a real broker (Debian's mosquitto, started here on a free
127.0.0.1 port) and read back by a subscriber: topic (a template), payload (the message), QoS and
retained flag, for a CRITICAL event and its recovery, inline and as a topic handler."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.test_web_handlers import event, service_test, services
from tests.engine.alert.util import values_chunk

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError, ServiceDisabled
from kapfast.engine.alert.services import HandlerSpec
from kapfast.errors import ConfigError

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (make system-deps)")

Message = tuple[str, bytes, int, bool]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A mosquitto on 127.0.0.1; yields its tcp:// URL."""
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    assert MOSQUITTO is not None
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"mosquitto did not start: {log.read_text()!r}") from None
                time.sleep(0.05)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


class Subscriber:
    def __init__(self, url: str, topic: str = "#") -> None:
        self.messages: list[Message] = []
        self.cond = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-subscriber-{id(self)}")
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=2)
        port = int(url.rsplit(":", 1)[1])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(5)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.cond:
            self.messages.append((msg.topic, msg.payload, msg.qos, bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, n: int) -> list[Message]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, 10)
        return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_inline_topic_template_qos_and_retained(broker: str) -> None:
    svc = services(mqtt=[{"enabled": True, "name": "local", "url": broker}])
    sub = Subscriber(broker)
    try:
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)"
            ".mqtt('alerts/{{ .TaskName }}/{{ .Name }}').qos(1).retained(TRUE)",
            "mytask",
            services={"alert_services": svc},
        )
        r.node.push(values_chunk([10, 1]))
        msgs = sub.wait(2)
        later = Subscriber(broker, "alerts/#")  # gets the retained message, flagged so
        try:
            kept = later.wait(1)
        finally:
            later.close()
    finally:
        sub.close()
        svc.close()
    # live deliveries to an existing subscription carry retain=0 (MQTT 3.1.1 §3.3.1.3)
    assert msgs == [
        ("alerts/mytask/cpu", b"cpu:nil is CRITICAL", 1, False),
        ("alerts/mytask/cpu", b"cpu:nil is OK", 1, False),
    ]
    assert kept == [("alerts/mytask/cpu", b"cpu:nil is OK", 1, True)]


def test_mqtt_topic_handler_retained_reaches_a_later_subscriber(broker: str) -> None:
    svc = services(mqtt=[{"enabled": True, "url": broker, "client-id": "kapfast-test"}])
    try:
        h = svc.build_entry(
            HandlerSpec("h", "ops", "mqtt", {"topic": "alerts/ops", "qos": "exactly-once", "retained": True}),
            None,
        ).handler
        h.handle(event("CRITICAL"))
        h.handle(event("OK", 1))
        # a subscriber that comes afterwards gets the retained (last) message, flagged retained
        sub = Subscriber(broker, "alerts/ops")
        try:
            msgs = sub.wait(1)
        finally:
            sub.close()
    finally:
        svc.close()
    assert msgs == [("alerts/ops", b"cpu:nil is OK", 2, True)]


def test_mqtt_brokers_by_name_service_test_and_failures(broker: str) -> None:
    svc = services(
        mqtt=[
            {"enabled": True, "name": "a", "default": True, "url": broker},
            {"enabled": False, "name": "off", "url": "tcp://127.0.0.1:9"},
        ]
    )
    sub = Subscriber(broker)
    try:
        service_test(svc, "mqtt", topic="test/topic")
        svc.build("mqtt", {"topic": "x", "broker-name": "a"}).handle(event("WARNING"))
        msgs = sub.wait(2)
        with pytest.raises(ServiceDisabled, match="'off' is not enabled"):
            svc.build("mqtt", {"topic": "x", "broker-name": "off"}).handle(event("CRITICAL"))
        with pytest.raises(ServiceDisabled, match="unknown MQTT broker 'nope'"):
            svc.build("mqtt", {"topic": "x", "broker-name": "nope"}).handle(event("CRITICAL"))
    finally:
        sub.close()
        svc.close()
    assert msgs == [("test/topic", b"test MQTT message", 0, False), ("x", b"cpu:nil is WARNING", 0, False)]
    down = services(mqtt=[{"enabled": True, "url": "tcp://127.0.0.1:9"}])
    with pytest.raises(HandlerError, match="mqtt broker 'default'"):
        down.build("mqtt", {"topic": "x"}).handle(event("CRITICAL"))
    with pytest.raises(Exception, match="qos"):
        down.build("mqtt", {"topic": "x", "qos": 3})


def test_mqtt_config_section() -> None:
    cfg: Any = from_mapping(tomllib.loads('[[mqtt]]\n  enabled = true\n  url = "tcp://h:1883"\n'))[0]
    (b,) = cfg.handlers["mqtt"]
    assert (b.name, b.default, b.client_id) == ("default", False, "")
    with pytest.raises(ConfigError, match="must specify a url"):
        from_mapping(tomllib.loads("[[mqtt]]\n  enabled = true\n"))
    with pytest.raises(ConfigError, match="no configuration is marked as the default"):
        from_mapping(tomllib.loads('[[mqtt]]\n  name = "a"\n[[mqtt]]\n  name = "b"\n'))
