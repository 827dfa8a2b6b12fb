"""The connection to NATS and the JetStream objects the cluster uses (one place creates them).

- stream ``[cluster] stream`` (``KAPFAST_IN``): subjects ``kapfast.in.<partition>``, file storage;
- KV ``kapfast_meta``: the cluster's fixed settings (``partitions``, ``partition-key``), written by
  the first node and checked by every other one;
- KV ``kapfast_members`` and ``kapfast_leases``: entries expire after ``lease-ttl`` unless renewed;
- KV ``kapfast_checkpoints``: per partition the stream sequence covered;
- object store ``kapfast_state``: per placed task its state (``Task.snapshot()``) with the stream
  sequence it covers, in one object (written whole or not at all).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from kapfast.config import ClusterConfig, parse_go_duration
from kapfast.errors import ConfigError

log = logging.getLogger("kapfast.cluster")
T = TypeVar("T")

SUBJECT_PREFIX = "kapfast.in"
META = "kapfast_meta"
MEMBERS = "kapfast_members"
LEASES = "kapfast_leases"
CHECKPOINTS = "kapfast_checkpoints"
STATE = "kapfast_state"


def subject(partition: int) -> str:
    return f"{SUBJECT_PREFIX}.{partition}"


def _tls(cc: ClusterConfig) -> ssl.SSLContext | None:
    if not (cc.tls_ca or cc.tls_cert or any(u.startswith("tls://") for u in cc.urls)):
        return None
    ctx = ssl.create_default_context(cafile=cc.tls_ca or None)
    if cc.tls_cert:
        ctx.load_cert_chain(cc.tls_cert, cc.tls_key or None)
    if cc.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def connect(cc: ClusterConfig, name: str) -> NATS:
    """A connection that reconnects for ever (a NATS restart must not stop kapfastd)."""
    options: dict[str, Any] = {
        "servers": cc.urls,
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "allow_reconnect": True,
    }
    if cc.credentials:
        options["user_credentials"] = cc.credentials
    if cc.token:
        options["token"] = cc.token
    if cc.username:
        options["user"], options["password"] = cc.username, cc.password
    tls = _tls(cc)
    if tls is not None:
        options["tls"] = tls
    return await nats.connect(**options)


@dataclass
class ClusterHandles:
    nc: NATS
    js: JetStreamContext
    meta: KeyValue
    members: KeyValue
    leases: KeyValue
    checkpoints: KeyValue
    state: ObjectStore


async def _kv(js: JetStreamContext, bucket: str, ttl_s: float | None, replicas: int) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except (NotFoundError, BucketNotFoundError):
        pass
    config = KeyValueConfig(bucket=bucket, history=1, replicas=replicas, ttl=ttl_s)
    return await js.create_key_value(config=config)


async def open_cluster(cc: ClusterConfig, nc: NATS) -> ClusterHandles:
    """Create (or find) the stream and buckets, and check the cluster's fixed settings."""
    js = nc.jetstream()
    max_age_s = parse_go_duration(cc.max_age) / 1e9
    ttl_s = parse_go_duration(cc.lease_ttl) / 1e9
    config = StreamConfig(
        name=cc.stream,
        subjects=[f"{SUBJECT_PREFIX}.*"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=cc.replicas,
        max_age=max_age_s or None,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)  # exists with other limits: this node's config wins
    meta = await _kv(js, META, None, cc.replicas)
    wanted = {"partitions": cc.partitions, "partition-key": list(cc.partition_key)}
    try:
        await meta.create("settings", json.dumps(wanted).encode())
    except KeyWrongLastSequenceError:
        entry = await meta.get("settings")
        stored = json.loads(entry.value or b"{}")
        if stored != wanted:
            raise ConfigError(
                f"[cluster] partitions = {cc.partitions}, partition-key = {cc.partition_key}: the "
                f"cluster was created with partitions = {stored.get('partitions')}, partition-key = "
                f"{stored.get('partition-key')} (fixed at creation; see docs/scaleout.md)"
            ) from None
    return ClusterHandles(
        nc=nc,
        js=js,
        meta=meta,
        members=await _kv(js, MEMBERS, ttl_s, cc.replicas),
        leases=await _kv(js, LEASES, ttl_s, cc.replicas),
        checkpoints=await _kv(js, CHECKPOINTS, None, cc.replicas),
        state=await _objects(js, STATE, cc.replicas),
    )


#: what NATS answers (or fails to) while JetStream elects a leader: worth trying again
TRANSIENT: tuple[type[BaseException], ...] = (
    TimeoutError,  # nats.errors.TimeoutError is one too
    nats.errors.NoRespondersError,
    ServiceUnavailableError,
    nats.errors.ConnectionClosedError,
)


async def retrying(what: str, make: Callable[[], Awaitable[T]], total_s: float = 60.0) -> T:
    """``make()`` again while NATS answers with a transient error (a JetStream cluster electing
    its leaders when kapfastd starts), for up to ``total_s``; any other error at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_s
    while True:
        try:
            return await make()
        except TRANSIENT as exc:
            if loop.time() >= deadline:
                raise
            log.warning("cluster: %s: %r (retrying)", what, exc)
            await asyncio.sleep(0.5)


async def _objects(js: JetStreamContext, bucket: str, replicas: int) -> ObjectStore:
    try:
        return await js.object_store(bucket)
    except (NotFoundError, BucketNotFoundError):
        return await js.create_object_store(bucket, config=ObjectStoreConfig(replicas=replicas))
