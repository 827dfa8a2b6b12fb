"""kafka: the records a Kafka broker receives from the handler, for a CRITICAL event and its
recovery, inline and as a topic handler; partitioning; the section; the service test.

No Kafka broker can be installed on the test machines: the broker is the stand-in of
kafka_standin.py (real Kafka frames, decoded with kafka-python's protocol classes; see there)."""

from __future__ import annotations

import json
import tomllib
import zlib
from typing import Any

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.kafka_standin import KafkaStandIn
from tests.engine.alert.test_web_handlers import event, service_test, services
from tests.engine.alert.util import values_chunk

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError, ServiceDisabled
from kapfast.engine.alert.handlers.kafka import partition_of
from kapfast.engine.alert.services import HandlerSpec, HandlerSpecError
from kapfast.errors import ConfigError


def test_kafka_inline_critical_and_recovery() -> None:
    with KafkaStandIn(partitions=8) as broker:
        svc = services(kafka=[{"enabled": True, "id": "main", "brokers": [broker.address], "timeout": "5s"}])
        try:
            r = build(
                "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)"
                ".kafka().cluster('main').kafkaTopic('alerts')",
                "t",
                services={"alert_services": svc},
            )
            r.node.push(values_chunk([10, 1]))
            records = broker.wait(2)
        finally:
            svc.close()
    assert [(x.topic, x.key) for x in records] == [("alerts", b"cpu:nil"), ("alerts", b"cpu:nil")]
    # the partition: CRC-32 of the alert ID, as Kapacitor's default partitioner
    assert {x.partition for x in records} == {zlib.crc32(b"cpu:nil") % 8}
    assert records[0].value is not None and records[0].value.endswith(b"}\n")
    crit, ok = (json.loads(x.value or b"") for x in records)
    assert (crit["id"], crit["message"], crit["level"]) == ("cpu:nil", "cpu:nil is CRITICAL", "CRITICAL")
    assert (ok["level"], ok["previousLevel"]) == ("OK", "CRITICAL")
    assert crit["data"]["series"][0]["columns"] == ["time", "value"]
    assert broker.client_ids == {"main"}


def test_kafka_topic_handler_template_and_partition_algorithms() -> None:
    with KafkaStandIn(partitions=5) as broker:
        svc = services(kafka=[{"enabled": True, "brokers": [broker.address], "timeout": "5s"}])
        try:
            opts = {"cluster": "default", "topic": "ops", "template": "{{ .Level }}: {{ .Message }}"}
            h = svc.build_entry(HandlerSpec("h", "ops", "kafka", opts), None).handler
            h.handle(event("CRITICAL"))
            h.handle(event("OK", 1))
            for algorithm in ("murmur2", "murmur3", "fnv-1a"):
                spec = {"cluster": "default", "topic": algorithm, "partitionAlgorithm": algorithm}
                svc.build("kafka", spec).handle(event("WARNING"))
            svc.build("kafka", {"cluster": "default", "topic": "off", "disablePartitionById": True}).handle(
                event("WARNING")
            )
            records = broker.wait(6)
        finally:
            svc.close()
    assert [(x.topic, x.key, x.value) for x in records[:2]] == [
        ("ops", b"cpu:nil", b"CRITICAL: cpu:nil is CRITICAL"),
        ("ops", b"cpu:nil", b"OK: cpu:nil is OK"),
    ]
    by_topic = {x.topic: x.partition for x in records[2:]}
    for algorithm in ("murmur2", "murmur3", "fnv-1a"):
        assert by_topic[algorithm] == partition_of(algorithm, b"cpu:nil", range(5))
    assert by_topic["off"] == partition_of("fnv-1a", b"cpu:nil", range(5))  # sarama's default


def test_partitioners_are_kapacitors() -> None:
    # known vectors: murmur3_32("hello") = 0x248bfa47, fnv1a_32("hello") = 0x4f9f2cab (both
    # positive as int32, so sarama's index is the hash mod n)
    assert partition_of("murmur3", b"hello", range(7)) == 0x248BFA47 % 7
    assert partition_of("fnv-1a", b"hello", range(7)) == 0x4F9F2CAB % 7
    assert partition_of("crc32", b"hello", [3, 1, 2]) == [1, 2, 3][zlib.crc32(b"hello") % 3]


def test_kafka_service_test_errors_and_section() -> None:
    with KafkaStandIn(refuse_topics=frozenset({"full"})) as broker:
        svc = services(
            kafka=[{"enabled": True, "id": "example", "brokers": [broker.address], "timeout": "5s"}]
        )
        try:
            service_test(svc, "kafka")
            (record,) = broker.wait(1)
            with pytest.raises(ServiceDisabled, match="unknown cluster 'nope'"):
                service_test(svc, "kafka", cluster="nope")
            # a broker that refuses the record: the event's delivery fails, with the reason
            with pytest.raises(
                HandlerError, match=r"kafka cluster 'example' topic 'full': .*MessageSizeTooLarge"
            ):
                svc.build("kafka", {"cluster": "example", "topic": "full"}).handle(event("CRITICAL"))
        finally:
            svc.close()
    assert (record.topic, record.key, record.value) == ("test", b"key", b"test kafka message")
    svc = services(kafka=[{"enabled": True, "brokers": ["127.0.0.1:9"], "timeout": "1s"}])
    try:
        with pytest.raises(HandlerSpecError, match="unknown cluster 'zz'"):
            svc.build("kafka", {"cluster": "zz", "topic": "x"})
        with pytest.raises(HandlerSpecError, match="invalid partition algorithm"):
            svc.build("kafka", {"cluster": "default", "topic": "x", "partitionAlgorithm": "md5"})
        with pytest.raises(HandlerSpecError, match="topic must not be empty"):
            svc.build("kafka", {"cluster": "default"})
    finally:
        svc.close()
    cfg: Any = from_mapping(tomllib.loads('[[kafka]]\n  enabled = true\n  brokers = ["k:9092"]\n'))[0]
    (c,) = cfg.handlers["kafka"]
    assert (c.id, c.timeout, c.batch_size, c.sasl_oauth_token_expiry_margin) == ("default", "0s", 0, "1s")
    with pytest.raises(ConfigError, match="no brokers specified"):
        from_mapping(tomllib.loads("[[kafka]]\n  enabled = true\n"))
    with pytest.raises(ConfigError, match="GSSAPI"):
        from_mapping(
            tomllib.loads('[[kafka]]\n  enabled = true\n  brokers = ["k:1"]\n  sasl-mechanism = "GSSAPI"\n')
        )
