"""``.kafka().cluster(ID).kafkaTopic(T)`` and the ``kafka`` topic handler: one record per event
on a topic of a ``[[kafka]]`` cluster, as Kapacitor's services/kafka writes it: key = the alert
ID, value = the event's JSON (``alert.Data`` plus a newline) or the handler's ``template``
rendered over it; partition = a hash of the key: ``crc32`` (default: CRC-32 IEEE mod the partition
count), ``murmur2`` (Kafka's Java client's), ``murmur3`` or ``fnv-1a`` (signed 32-bit mod, then
absolute, as sarama's hash partitioner). ``disablePartitionById`` leaves the choice to the
producer's default partitioner, which in Kapacitor (sarama) is FNV-1a of the key again.

Client: kafka-python (pure Python). Each record is sent at once and its acknowledgement (acks=1,
as sarama's default) awaited, bounded by the cluster's ``timeout`` (default 10s), so a failed
delivery is the event's failure, counted and logged; ``batch-size``/``batch-timeout`` (Kapacitor
batches asynchronously) are accepted and have nothing to batch. TLS with ``use-ssl``; SASL
PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER with a static ``sasl-access-token``; GSSAPI and OAuth
client-credential flows are refused when the section is loaded (kapfast cannot authenticate so).
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.config import parse_go_duration
from kapfast.engine.alert.handlers.base import (
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    ServiceDisabled,
)
from kapfast.engine.alert.handlers.post import _alert_data as alert_data
from kapfast.engine.alert.handlers.webservice import ServiceHandler, from_section
from kapfast.errors import ConfigError
from kapfast.gotemplate import Template, TemplateError

DEFAULT_TIMEOUT_S = 10.0
_SASL_MECHANISMS = ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")


# --- partitioners: Kapacitor's, so the same alert lands in the same partition -----------------------


def _murmur3_32(data: bytes, seed: int = 0) -> int:
    c1, c2, m = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & m
        k = ((k << 15) | (k >> 17)) & m
        k = (k * c2) & m
        h ^= k
        h = ((h << 13) | (h >> 19)) & m
        h = (h * 5 + 0xE6546B64) & m
    tail = data[n:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & m
        k = ((k << 15) | (k >> 17)) & m
        k = (k * c2) & m
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & m
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & m
    return h ^ (h >> 16)


def _fnv1a_32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _sarama_index(h: int, n: int) -> int:
    """sarama's hashPartitioner: int32(hash) % n (Go truncates), made non-negative."""
    signed = h - 2**32 if h >= 2**31 else h
    return abs(signed) % n


def _murmur2_index(key: bytes, n: int) -> int:
    from kafka.partitioner.default import murmur2  # the Java client's murmur2, as Kafka defines it

    h: int = murmur2(key)
    return (h & 0x7FFFFFFF) % n


PARTITIONERS: dict[str, Callable[[bytes, int], int]] = {
    "crc32": lambda key, n: zlib.crc32(key) % n,
    "murmur2": _murmur2_index,
    "murmur3": lambda key, n: _sarama_index(_murmur3_32(key), n),
    "fnv-1a": lambda key, n: _sarama_index(_fnv1a_32(key), n),
}


def partition_of(algorithm: str, key: bytes, partitions: Sequence[int]) -> int:
    ordered = sorted(partitions)
    if not key and algorithm in ("crc32", ""):
        return random.choice(ordered)  # Kapacitor's crc32 partitioner: an empty key is unset
    return ordered[PARTITIONERS[algorithm or "crc32"](key, len(ordered))]


# --- the [[kafka]] clusters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    id: str = "default"
    enabled: bool = False
    brokers: tuple[str, ...] | list[str] = field(default_factory=tuple)
    timeout: str = "0s"
    use_ssl: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    sasl_username: str = ""
    sasl_password: str = ""
    sasl_mechanism: str = ""
    sasl_access_token: str = ""

    def timeout_s(self) -> float:
        ns = parse_go_duration(self.timeout or "0s")
        return ns / 1e9 if ns > 0 else DEFAULT_TIMEOUT_S

    def producer_config(self) -> dict[str, Any]:
        ms = int(self.timeout_s() * 1000)
        cfg: dict[str, Any] = {
            "bootstrap_servers": list(self.brokers),
            "client_id": self.id,
            "acks": 1,
            "linger_ms": 0,
            # every wait bounded by the cluster's timeout: bootstrap, metadata, the acknowledgement
            "request_timeout_ms": ms,
            "max_block_ms": ms,
            "bootstrap_timeout_ms": ms,
            "delivery_timeout_ms": ms,
            "metadata_max_age_ms": 300_000,
        }
        sasl = bool(self.sasl_username or self.sasl_mechanism)
        cfg["security_protocol"] = ("SASL_" if sasl else "") + ("SSL" if self.use_ssl else "PLAINTEXT")
        if self.use_ssl:
            cfg["ssl_cafile"] = self.ssl_ca or None
            cfg["ssl_certfile"] = self.ssl_cert or None
            cfg["ssl_keyfile"] = self.ssl_key or None
            cfg["ssl_check_hostname"] = not self.insecure_skip_verify
        if sasl:
            mechanism = self.sasl_mechanism or "PLAIN"
            cfg["sasl_mechanism"] = mechanism
            if mechanism == "OAUTHBEARER":
                cfg["sasl_oauth_token_provider"] = _StaticToken(self.sasl_access_token)
            else:
                cfg["sasl_plain_username"] = self.sasl_username
                cfg["sasl_plain_password"] = self.sasl_password
        return cfg


class _StaticToken:
    """kafka-python's token provider interface for a fixed ``sasl-access-token``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def extensions(self) -> dict[str, str]:
        return {}


def _new_producer(config: dict[str, Any]) -> Any:
    """A KafkaProducer; when it cannot bootstrap, the network client it made is closed (the
    producer leaves it, and its sockets, to the garbage collector)."""
    from kafka import KafkaProducer
    from kafka.net.compat import KafkaNetClient

    made: list[Any] = []

    def client(**kw: Any) -> Any:
        made.append(KafkaNetClient(**kw))
        return made[-1]

    try:
        return KafkaProducer(kafka_client=client, **config)
    except BaseException:
        for c in made:
            c.close()
        raise


class _Producer:
    """One kafka-python producer per cluster, made at first use; partitions chosen here."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._producer: Any = None

    def send(self, topic: str, key: bytes, value: bytes, algorithm: str) -> None:
        from kafka.errors import KafkaError

        timeout = self.cluster.timeout_s()
        failure = ""
        try:
            with self._lock:
                if self._producer is None:
                    self._producer = _new_producer(self.cluster.producer_config())
                producer = self._producer
            partitions = producer.partitions_for(topic)  # waits for the topic's metadata
            if not partitions:
                raise HandlerError(f"kafka cluster {self.cluster.id!r}: topic {topic!r} has no partitions")
            partition = partition_of(algorithm, key, list(partitions))
            producer.send(topic, key=key, value=value, partition=partition).get(timeout=timeout)
        except (KafkaError, OSError, ValueError, AssertionError) as e:
            failure = str(e)
        if failure:
            # raised outside the except block: the client's exception, its traceback and the
            # sockets its frames hold are not kept alive by the error the alert node records
            raise HandlerError(f"kafka cluster {self.cluster.id!r} topic {topic!r}: {failure}")

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=self.cluster.timeout_s())


class KafkaService:
    def __init__(self, clusters: Sequence[Cluster]) -> None:
        self.clusters = {c.id: c for c in clusters}
        self._producers = {c.id: _Producer(c) for c in clusters if c.enabled}

    def write(self, cluster: str, topic: str, key: bytes, value: bytes, algorithm: str) -> None:
        producer = self._producers.get(cluster)
        if producer is None:
            if cluster in self.clusters:
                raise ServiceDisabled(f"kafka cluster {cluster!r} is not enabled ([[kafka]] enabled = false)")
            raise ServiceDisabled(f"unknown cluster {cluster!r}")
        if not topic:
            raise HandlerError("kafka: topic must not be empty")
        producer.send(topic, key, value, algorithm)

    def close(self) -> None:
        for p in self._producers.values():
            p.close()


# --- the handler kind ----------------------------------------------------------------------------------


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    cluster, topic = o.text("cluster"), o.text("topic")
    template_text = o.text("template")
    by_id = not o.flag("disablePartitionById")
    algorithm = o.text("partitionAlgorithm") or "crc32"
    if algorithm not in PARTITIONERS:
        raise ValueError(f"invalid partition algorithm: {algorithm!r} (valid: {', '.join(PARTITIONERS)})")
    if not topic:
        raise ValueError("topic must not be empty")
    service: KafkaService = ctx.service()
    if cluster not in service.clusters:
        raise ValueError(f"unknown cluster {cluster!r}")
    template: Template | None = None
    if template_text:
        try:
            template = Template.parse(template_text, name="kafka alert template")
        except TemplateError as e:
            raise ValueError(f"failed to parse template: {e}") from None

    def send(svc: KafkaService, event: AlertEvent) -> None:
        if template is None:
            value = event.to_json_bytes()
        else:
            try:
                value = template.render(alert_data(event)).encode()
            except TemplateError as e:
                raise HandlerError(f"kafka: failed to execute alert template: {e}") from None
        # without partitioning by ID, sarama's default partitioner hashes the key with FNV-1a
        svc.write(cluster, topic, event.id.encode(), value, algorithm if by_id else "fnv-1a")

    return ServiceHandler("kafka", ctx.service, send)


def _validate(cs: list[Any]) -> None:
    """kapacitord's checks of ``[[kafka]]`` (services/kafka/config.go, sasl.go)."""
    for c in cs:
        if not c.enabled:
            continue
        where = f"[[kafka]] {c.id}".rstrip()
        if not c.id:
            raise ConfigError("[[kafka]]: id must not be empty")
        if not c.brokers:
            raise ConfigError(f"{where}: no brokers specified, must provide at least one broker URL")
        if c.sasl_mechanism not in _SASL_MECHANISMS:
            raise ConfigError(f"{where}: invalid sasl-mechanism")
        if c.sasl_mechanism == "GSSAPI":
            raise ConfigError(f"{where}: sasl-mechanism GSSAPI (Kerberos) is not supported by kapfast")
        if c.sasl_mechanism == "OAUTHBEARER" and not c.sasl_access_token:
            raise ConfigError(
                f"{where}: kapfast supports OAUTHBEARER with a static sasl-access-token only "
                "(the sasl-oauth-* client-credential flows are not supported)"
            )
    ids = [c.id for c in cs]
    if len(set(ids)) != len(ids):
        raise ConfigError("[[kafka]]: ids must be unique")


def _test_options(service: KafkaService) -> dict[str, Any]:
    return {"cluster": "example", "topic": "test", "key": "key", "message": "test kafka message"}


def _test(service: KafkaService, o: Options) -> None:
    # Kapacitor's test writes without partitioning by ID: sarama's default, FNV-1a of the key
    key = o.text("key").encode()
    service.write(o.text("cluster"), o.text("topic"), key, o.text("message").encode(), "fnv-1a")


IMPL = HandlerImpl(
    build=_build,
    service=lambda cs: KafkaService([from_section(Cluster, c) for c in cs]),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
