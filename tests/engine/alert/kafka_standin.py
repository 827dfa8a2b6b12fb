"""A stand-in Kafka broker on 127.0.0.1, for the kafka handler's tests (no Kafka broker can be
installed on the test machines).

It speaks just enough of the real Kafka wire protocol for a producer: ApiVersions, Metadata (one
broker, itself; each topic with ``partitions`` partitions, led by it) and Produce (acks the
records and keeps them). Requests are decoded, and responses encoded, with kafka-python's own
protocol schema classes (generated from Apache Kafka's message definitions), and the record
batches the producer sent are read back with kafka-python's record decoder: so the frames are
real Kafka frames at whatever API versions the client negotiates, but encoder and decoder come
from one library, and a bug they share would not show. What the tests can prove: topic, key,
value and partition of each record as the producer put them on the wire.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse
from kafka.protocol.producer import ProduceRequest, ProduceResponse
from kafka.record import MemoryRecords

_REQUESTS: dict[int, Any] = {
    ApiVersionsRequest.API_KEY: (ApiVersionsRequest, ApiVersionsResponse),
    MetadataRequest.API_KEY: (MetadataRequest, MetadataResponse),
    ProduceRequest.API_KEY: (ProduceRequest, ProduceResponse),
}


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None


class KafkaStandIn:
    def __init__(self, partitions: int = 8, refuse_topics: frozenset[str] = frozenset()) -> None:
        self.partitions = partitions
        self.refuse_topics = refuse_topics  # produce answers MESSAGE_TOO_LARGE (10) for these
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.records: list[Record] = []
        self.client_ids: set[str] = set()
        self.received = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buf = b""
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 4:
                    (size,) = struct.unpack(">i", buf[:4])
                    if len(buf) < 4 + size:
                        break
                    frame, buf = buf[4 : 4 + size], buf[4 + size :]
                    reply = self._answer(frame)
                    if reply is not None:
                        conn.sendall(reply)

    def _answer(self, frame: bytes) -> bytes | None:
        api_key, version = struct.unpack(">hh", frame[:4])
        request_class = _REQUESTS[api_key][0]
        req = request_class.decode(frame, version=version, header=True)
        self.client_ids.add(req.header.client_id)
        if api_key == ApiVersionsRequest.API_KEY:
            resp = ApiVersionsResponse(
                version=version,
                error_code=0,
                api_keys=[
                    ApiVersionsResponse.ApiVersion(
                        api_key=k, min_version=c.min_version, max_version=c.max_version
                    )
                    for k, (c, _) in _REQUESTS.items()
                ],
                throttle_time_ms=0,
            )
        elif api_key == MetadataRequest.API_KEY:
            names = [t.name for t in req.topics or []]
            resp = MetadataResponse(
                version=version,
                throttle_time_ms=0,
                brokers=[
                    MetadataResponse.MetadataResponseBroker(node_id=0, host="127.0.0.1", port=self.port)
                ],
                cluster_id="standin",
                controller_id=0,
                topics=[
                    MetadataResponse.MetadataResponseTopic(
                        error_code=0,
                        name=name,
                        is_internal=False,
                        partitions=[
                            MetadataResponse.MetadataResponseTopic.MetadataResponsePartition(
                                error_code=0, partition_index=i, leader_id=0, replica_nodes=[0], isr_nodes=[0]
                            )
                            for i in range(self.partitions)
                        ],
                    )
                    for name in names
                ],
            )
        else:
            responses = []
            for topic in req.topic_data:
                parts = []
                refused = topic.name in self.refuse_topics
                for p in topic.partition_data:
                    with self.received:
                        if refused:
                            self.received.notify_all()
                            parts.append(
                                ProduceResponse.TopicProduceResponse.PartitionProduceResponse(
                                    index=p.index, error_code=10, base_offset=-1
                                )
                            )
                            continue
                        for batch in _batches(p.records):
                            for r in batch:
                                self.records.append(Record(topic.name, p.index, r.key, r.value))
                        self.received.notify_all()
                    parts.append(
                        ProduceResponse.TopicProduceResponse.PartitionProduceResponse(
                            index=p.index, error_code=0, base_offset=len(self.records) - 1
                        )
                    )
                responses.append(
                    ProduceResponse.TopicProduceResponse(name=topic.name, partition_responses=parts)
                )
            if req.acks == 0:
                return None
            resp = ProduceResponse(version=version, responses=responses, throttle_time_ms=0)
        resp.with_header(correlation_id=req.header.correlation_id)
        out: bytes = resp.encode(header=True, framed=True)
        return out

    def wait(self, n: int, timeout: float = 10.0) -> list[Record]:
        with self.received:
            self.received.wait_for(lambda: len(self.records) >= n, timeout)
        return list(self.records)

    def __enter__(self) -> KafkaStandIn:
        self.thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self.thread.join(2)
        for th in self._threads:
            th.join(2)
        self.sock.close()


def _batches(data: Any) -> list[Any]:
    records = MemoryRecords(bytes(data))
    out = []
    while True:
        batch = records.next_batch()
        if batch is None:
            return out
        out.append(list(batch))
