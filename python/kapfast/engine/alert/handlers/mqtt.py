"""``.mqtt(topic)`` and the ``mqtt`` topic handler: the event's message PUBLISHed to a broker of a
``[[mqtt]]`` section, as Kapacitor's services/mqtt does: payload = the message, QoS and retained
as the handler sets them (QoS 0 and not retained by default), the topic a template over the event
(``alerts/{{ .TaskName }}``). The broker is the handler's ``broker-name`` or the default one (the
only one, or the one marked ``default``); the client connects with ``client-id`` (default: the
broker's name), ``username``/``password`` and the TLS settings for ``ssl://`` URLs.

Client: paho-mqtt (Eclipse's, like the Go client Kapacitor uses). A connection is made at the
first publish and kept (paho reconnects); a publish not acknowledged within the timeout fails.
"""

from __future__ import annotations

import ssl
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    BuildContext,
    HandlerError,
    HandlerImpl,
    OptionError,
    Options,
    ServiceDisabled,
)
from kapfast.engine.alert.handlers.eventdata import OptionTemplate
from kapfast.engine.alert.handlers.webservice import ServiceHandler, from_section
from kapfast.errors import ConfigError

_QOS_NAMES = {"at-most-once": 0, "at-least-once": 1, "exactly-once": 2}


def parse_qos(o: Options, key: str = "qos") -> int:
    """0, 1 or 2, or their names (``at-least-once``, ``AT_LEAST_ONCE``)."""
    v = o.get(key)
    if v is None:
        return 0
    if isinstance(v, str):
        q = _QOS_NAMES.get(v.strip().lower().replace("_", "-"))
        if q is None and v.strip().isdigit():
            q = int(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        q = v
    else:
        q = None
    if q not in (0, 1, 2):
        raise o.bad(key, "0, 1, 2 or at-most-once, at-least-once, exactly-once", v)
    return q


@dataclass(frozen=True)
class Broker:
    name: str = "default"
    enabled: bool = False
    default: bool = False
    url: str = ""
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    client_id: str = ""
    username: str = ""
    password: str = ""


class _Connection:
    """One paho client, connected at first use; publishes wait for the broker's acknowledgement."""

    def __init__(self, broker: Broker, timeout_s: float) -> None:
        self.broker = broker
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._client: Any = None

    def _connect(self) -> Any:
        # local: only brokers that are used load the library
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        b = self.broker
        u = urllib.parse.urlsplit(b.url if "://" in b.url else "tcp://" + b.url)
        scheme = u.scheme.lower()
        transport: Literal["tcp", "websockets"] = "websockets" if scheme in ("ws", "wss") else "tcp"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=b.client_id or b.name,
            clean_session=True,
            transport=transport,
        )
        if b.username or b.password:
            client.username_pw_set(b.username, b.password or None)
        tls = scheme in ("ssl", "tls", "mqtts", "wss")
        if tls:
            client.tls_set_context(
                httpclient.tls_context(b.ssl_ca, b.ssl_cert, b.ssl_key, b.insecure_skip_verify)
            )
        port = u.port or (8883 if tls else 1883)
        connected = threading.Event()
        result: list[Any] = []

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            result.append(reason)
            connected.set()

        client.on_connect = on_connect
        client.connect(u.hostname or "localhost", port, keepalive=60)
        client.loop_start()
        if not connected.wait(self.timeout_s):
            client.loop_stop()
            raise HandlerError(f"mqtt broker {b.name!r} ({b.url}): no CONNACK within {self.timeout_s:g}s")
        if result and getattr(result[0], "is_failure", False):
            client.loop_stop()
            raise HandlerError(f"mqtt broker {b.name!r} ({b.url}): connection refused: {result[0]}")
        return client

    def publish(self, topic: str, payload: str, qos: int, retained: bool) -> None:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._connect()
                except (OSError, ValueError, ssl.SSLError) as e:
                    raise HandlerError(f"mqtt broker {self.broker.name!r} ({self.broker.url}): {e}") from None
            client = self._client
        info = client.publish(topic, payload.encode("utf-8"), qos=qos, retain=retained)
        if info.rc != 0:
            raise HandlerError(
                f"mqtt broker {self.broker.name!r}: publish to {topic!r} failed (rc {info.rc})"
            )
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as e:
            raise HandlerError(f"mqtt broker {self.broker.name!r}: publish to {topic!r}: {e}") from None
        if not info.is_published():
            raise HandlerError(
                f"mqtt broker {self.broker.name!r}: publish to {topic!r} not acknowledged "
                f"within {self.timeout_s:g}s"
            )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()


class MQTTService:
    """The ``[[mqtt]]`` brokers by name; ``""`` is the default broker."""

    def __init__(self, brokers: Sequence[Broker], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.brokers = {b.name: b for b in brokers}
        self.default_name = next((b.name for b in brokers if b.default), "")
        if len(brokers) == 1:
            self.default_name = brokers[0].name
        self._connections = {b.name: _Connection(b, timeout_s) for b in brokers if b.enabled}

    def alert(self, broker_name: str, topic: str, qos: int, retained: bool, message: str) -> None:
        name = broker_name or self.default_name
        conn = self._connections.get(name)
        if conn is None:
            if name in self.brokers:
                raise ServiceDisabled(f"mqtt broker {name!r} is not enabled ([[mqtt]] enabled = false)")
            raise ServiceDisabled(f"unknown MQTT broker {name!r}")
        if not topic:
            raise HandlerError("mqtt: the topic is empty")
        conn.publish(topic, message, qos, retained)

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    broker_name = o.text("broker-name")
    topic_text = o.text("topic")
    if not topic_text:
        raise OptionError("mqtt handler: option 'topic' must be set")
    topic = OptionTemplate("mqtt", "topic", topic_text)
    qos = parse_qos(o)
    retained = o.flag("retained")

    def send(service: MQTTService, event: AlertEvent) -> None:
        service.alert(broker_name, topic.render(event), qos, retained, event.message)

    return ServiceHandler("mqtt", ctx.service, send)


def _validate(cs: list[Any]) -> None:
    """kapacitord's checks of ``[[mqtt]]`` (services/mqtt/config.go)."""
    for c in cs:
        if not c.name:
            raise ConfigError("[[mqtt]]: must specify a name for the mqtt broker")
        if c.enabled and not c.url:
            raise ConfigError(f"[[mqtt]] {c.name}: must specify a url for mqtt service")
    defaults = sum(1 for c in cs if c.default)
    if defaults > 1:
        raise ConfigError("[[mqtt]]: more than one configuration is marked as the default")
    if defaults == 0 and len(cs) > 1:
        raise ConfigError("[[mqtt]]: no configuration is marked as the default")
    if len({c.name for c in cs}) != len(cs):
        raise ConfigError("[[mqtt]]: broker names must be unique")


def _test_options(service: MQTTService) -> dict[str, Any]:
    return {
        "broker-name": service.default_name,
        "topic": "",
        "message": "test MQTT message",
        "qos": "at-most-once",
        "retained": False,
    }


def _test(service: MQTTService, o: Options) -> None:
    service.alert(o.text("broker-name"), o.text("topic"), parse_qos(o), o.flag("retained"), o.text("message"))


IMPL = HandlerImpl(
    build=_build,
    service=lambda cs: MQTTService([from_section(Broker, c) for c in cs]),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
