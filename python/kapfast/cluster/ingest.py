"""Ingest: the points a node receives go to JetStream, split by partition, and the writer is
acknowledged only once JetStream has stored them.

One write request becomes at most one message per partition (line protocol in nanoseconds, the
database and retention policy in headers), cut in pieces below NATS's payload limit; the pieces
of one request are published concurrently and every publish ack is awaited. A point is never
published one message per point.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from nats.aio.msg import Msg

from kapfast._native import PointBatch
from kapfast.clock import Clock
from kapfast.cluster.connection import ClusterHandles, subject
from kapfast.cluster.partition import split
from kapfast.config import ClusterConfig
from kapfast.lineproto import parse

log = logging.getLogger("kapfast.cluster")

H_DB = "Kapfast-Db"
H_RP = "Kapfast-Rp"
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
    def __init__(self, cc: ClusterConfig, handles: ClusterHandles, timeout_s: float = 10.0) -> None:
        self.cc = cc
        self.h = handles
        self.timeout_s = timeout_s
        self.published_points = 0
        self.published_messages = 0

    async def publish(self, db: str, rp: str, batch: PointBatch) -> None:
        parts = split(batch, self.cc.partition_key, self.cc.partitions)
        limit = max(self.h.nc.max_payload - _HEADROOM, 1024)
        headers = {H_DB: db, H_RP: rp}
        sends = [
            self.h.js.publish(subject(p), piece, timeout=self.timeout_s, headers=headers)
            for p, part in sorted(parts.items())
            for piece in pieces(part.to_line_protocol("ns"), limit)
        ]
        try:
            await asyncio.gather(*sends)
        except Exception as exc:
            raise PublishError(f"JetStream did not store the points: {type(exc).__name__}: {exc}") from None
        self.published_points += len(batch)
        self.published_messages += len(sends)


def decode(msg: Msg) -> tuple[str, str, PointBatch]:
    """A published message back to (db, rp, points)."""
    headers = msg.headers or {}
    result = parse(msg.data, precision="ns", now_ns=0)  # every published point has its time
    return headers.get(H_DB, ""), headers.get(H_RP, ""), result.batch


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
