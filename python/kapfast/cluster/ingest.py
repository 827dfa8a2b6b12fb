"""Ingest: the points a node receives go to JetStream, split by partition, and the writer is
acknowledged only once JetStream has stored them.

One write request becomes at most one message per partition (line protocol in nanoseconds, the
database and retention policy in headers), cut in pieces below NATS's payload limit; partitions
are published concurrently (a partition's pieces in order) and every publish ack is awaited. A
point is never published one message per point. A request spanning several partitions carries an
id and its message count, and its first message the partition of each point (1 byte a point
before zlib): a placed task, which reads every partition, puts the request back in its order.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from nats.aio.msg import Msg

from kapfast._native import PointBatch
from kapfast.clock import Clock
from kapfast.cluster.connection import ClusterHandles, subject
from kapfast.cluster.partition import assign, split_by
from kapfast.config import ClusterConfig
from kapfast.lineproto import parse

log = logging.getLogger("kapfast.cluster")

H_DB = "Kapfast-Db"
H_RP = "Kapfast-Rp"
H_REQ = "Kapfast-Req"
H_PARTS = "Kapfast-Parts"
H_ORDER = "Kapfast-Order"
#: JetStream stores a message id once within its duplicate window (a publish sent again)
MSG_ID = "Nats-Msg-Id"
#: room for headers and protocol under the server's max_payload
_HEADROOM = 4096


class PublishError(Exception):
    """JetStream did not store the points (the writer gets a 503 and retries)."""


def pieces(data: bytes, limit: int) -> Iterator[bytes]:
    """``data`` (lines) cut at line ends into pieces of at most ``limit`` bytes (a single longer
    line is its own piece: the server then refuses it and the write fails loudly)."""
    start = 0
    while len(data) - start > limit:
        cut = data.rfind(b"\n", start, start + limit)
        cut = data.find(b"\n", start + limit) if cut < 0 else cut
        if cut < 0:
            break
        yield data[start : cut + 1]
        start = cut + 1
    if start < len(data):
        yield data[start:]


class Publisher:
    def __init__(
        self, cc: ClusterConfig, handles: ClusterHandles, node_id: str, timeout_s: float = 10.0
    ) -> None:
        self.cc = cc
        self.h = handles
        self.node_id = node_id
        self.timeout_s = timeout_s
        self.published_points = 0
        self.published_messages = 0
        self._requests = itertools.count(1)
        #: message ids are this process's own: a restarted node must not reuse one within
        #: JetStream's duplicate window
        self._boot = secrets.token_hex(4)

    async def _send(self, subj: str, data: bytes, head: dict[str, str], deadline: float) -> None:
        """Publish until JetStream acknowledges (or ``deadline``): a publish whose ack did not
        come (a stream leader election) is sent again with the same ``Nats-Msg-Id``, which
        JetStream stores once (duplicate window)."""
        loop = asyncio.get_running_loop()
        while True:
            left = deadline - loop.time()
            try:
                await self.h.js.publish(subj, data, timeout=max(0.5, min(2.0, left)), headers=head)
                return
            except Exception:
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.2)

    async def publish(self, db: str, rp: str, batch: PointBatch) -> None:
        if not len(batch):
            return
        per_point = assign(batch, self.cc.partition_key, self.cc.partitions)
        parts = split_by(batch, per_point, self.cc.partitions)
        limit = max(self.h.nc.max_payload - _HEADROOM, 1024)
        messages = {p: list(pieces(part.to_line_protocol("ns"), limit)) for p, part in sorted(parts.items())}
        total = sum(len(m) for m in messages.values())
        base = {H_DB: db, H_RP: rp}
        request = f"{self.node_id}.{self._boot}.{next(self._requests)}"
        first: dict[str, str] = base
        order = b""
        if len(parts) > 1:
            # a placed task reads every partition: these let it put the request back in order
            base = {**base, H_REQ: request, H_PARTS: str(total)}
            dtype = "<u1" if self.cc.partitions <= 256 else "<u2"
            order = zlib.compress(per_point.astype(dtype).tobytes(), 1)
            first = {**base, H_ORDER: f"{len(order)}:{dtype}"}

        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def send(p: int, bodies: list[bytes]) -> None:
            # one partition's pieces one after the other: they are stored in their order
            for i, body in enumerate(bodies):
                head = first if (order and i == 0 and p == min(messages)) else base
                data = order + body if head is first and order else body
                await self._send(subject(p), data, {**head, MSG_ID: f"{request}.{p}.{i}"}, deadline)

        try:
            await asyncio.gather(*(send(p, bodies) for p, bodies in messages.items()))
        except Exception as exc:  # timeouts, no responders, disconnects
            raise PublishError(f"JetStream did not store the points: {type(exc).__name__}: {exc}") from None
        self.published_points += len(batch)
        self.published_messages += total


@dataclass
class Decoded:
    db: str
    rp: str
    batch: PointBatch
    partition: int
    #: several messages of one request (placed tasks reassemble it): its id and message count
    request: str = ""
    parts: int = 1
    #: each point's partition in the request, carried by one of its messages
    order: np.ndarray | None = None


def decode(msg: Msg) -> Decoded:
    """A published message back to its points (and how to put its request back together)."""
    headers = msg.headers or {}
    data = msg.data
    order = None
    if H_ORDER in headers:
        size, _, dtype = headers[H_ORDER].partition(":")
        n = int(size)
        order = np.frombuffer(zlib.decompress(data[:n]), dtype=dtype or "<u1")
        data = data[n:]
    result = parse(data, precision="ns", now_ns=0)  # every published point has its time
    return Decoded(
        headers.get(H_DB, ""),
        headers.get(H_RP, ""),
        result.batch,
        int(msg.subject.rpartition(".")[2]),
        headers.get(H_REQ, ""),
        int(headers.get(H_PARTS, "1")),
        order,
    )


async def subscribe_telegraf(
    cc: ClusterConfig, handles: ClusterHandles, publisher: Publisher, clock: Clock
) -> object:
    """``[cluster] telegraf-subject``: line protocol Telegraf's ``outputs.nats`` publishes (core
    NATS, queue group ``kapfast-ingest`` so ingest nodes share it) goes into the stream."""

    async def on_msg(msg: Msg) -> None:
        result = parse(msg.data, precision="ns", now_ns=clock.now_ns())
        if result.errors:
            log.warning(
                "%d bad lines from %s dropped: %s",
                len(result.errors),
                cc.telegraf_subject,
                result.errors[0].message,
            )
        if len(result.batch):
            try:
                await publisher.publish(cc.telegraf_database, cc.telegraf_retention_policy, result.batch)
            except PublishError as exc:
                log.error("points from %s lost: %s", cc.telegraf_subject, exc)
        if msg.reply:
            await msg.respond(b"")

    return await handles.nc.subscribe(cc.telegraf_subject, queue="kapfast-ingest", cb=on_msg)
