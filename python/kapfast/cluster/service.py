"""The cluster as kapfastd runs it: connection, publisher (ingest), worker, status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from nats.aio.client import Client as NATS
from nats.js.errors import NoKeysError, NotFoundError

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.cluster.connection import CHECKPOINTS, ClusterHandles, connect, open_cluster, retrying
from kapfast.cluster.control import ControlPlane, HandlerSink
from kapfast.cluster.ingest import Publisher, PublishError, subscribe_telegraf
from kapfast.cluster.placement import PARTITIONED
from kapfast.cluster.reads import fetch, gather_http_out
from kapfast.cluster.worker import (
    Apply,
    ClusterRunner,
    SnapshotOf,
    Worker,
    _lease_key,
    partition_durable,
    task_durable,
)
from kapfast.config import ClusterConfig
from kapfast.errors import KapfastError
from kapfast.storage.topic_handlers import TopicHandlerStore
from kapfast.tasks.service import TaskService
from kapfast.tasks.templates import TemplateService

log = logging.getLogger("kapfast.cluster")


class ClusterService:
    def __init__(
        self,
        cc: ClusterConfig,
        node_id: str,
        runner: ClusterRunner,
        apply: Apply,
        clock: Clock,
        snapshot_of: SnapshotOf,
        seed: Callable[[str, bytes | None], None],
    ) -> None:
        self.snapshot_of = snapshot_of
        self.seed = seed
        self.cc = cc
        self.node_id = node_id
        self.runner = runner
        self.apply = apply
        self.clock = clock
        self.nc: NATS | None = None
        self.h: ClusterHandles | None = None
        self.publisher: Publisher | None = None
        self.worker: Worker | None = None
        self._telegraf: Any = None
        self.control: ControlPlane | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def ingests(self) -> bool:
        return self.cc.role in ("ingest", "both")

    async def start(self, info: dict[str, Any]) -> None:
        self.nc = await connect(self.cc, f"kapfastd {self.node_id}")
        nc = self.nc
        self.h = await retrying("opening the stream and buckets", lambda: open_cluster(self.cc, nc))
        if self.ingests:
            self.publisher = Publisher(self.cc, self.h, self.node_id)
            if self.cc.telegraf_subject:
                self._telegraf = await subscribe_telegraf(self.cc, self.h, self.publisher, self.clock)
        self.worker = Worker(self.cc, self.h, self.node_id, self.apply, info)
        self.worker.snapshot_of, self.worker.seed = self.snapshot_of, self.seed
        if self.worker.is_worker:
            self.runner.worker = self.worker
            self.worker.runner = self.runner
        await self.worker.start()
        log.info(
            "cluster: node %s (%s) on %s, %d partitions by %s",
            self.node_id,
            self.cc.role,
            ", ".join(self.cc.urls),
            self.cc.partitions,
            ",".join(self.cc.partition_key),
        )

    async def start_control(
        self,
        tasks: TaskService,
        templates: TemplateService,
        handlers: tuple[TopicHandlerStore, HandlerSink] | None = None,
    ) -> None:
        """Tasks, templates and topic handlers from then on shared through NATS KV
        (kapfast.cluster.control)."""
        assert self.h is not None
        self.control = ControlPlane(self.h, tasks, templates, self.cc.replicas, self.cc.stream, handlers)
        await retrying("opening the control plane", self.control.open)
        await self.control.start()

    async def publish(self, db: str, rp: str, batch: PointBatch) -> None:
        if self.publisher is None:
            raise PublishError("not connected to the cluster yet")
        await self.publisher.publish(db, rp, batch)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self.control is not None:
            await self.control.close()
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await self.worker.close()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 5)

    async def http_out(
        self,
        task_id: str,
        endpoint: str,
        local: Callable[[], Awaitable[dict[str, Any] | None]],
        headers: dict[str, str],
    ) -> dict[str, Any] | None:
        """A task's httpOut answer for the whole cluster, gathered from the owners (reads.py)."""
        assert self.h is not None and self.worker is not None
        slot = self.runner.slots.get(task_id)
        if slot is None:
            return await local()
        partitioned = slot.kind == PARTITIONED
        # direct reads of the keys needed (no KV listing: it makes a consumer, slow while NATS
        # fails over)
        keys = [f"p.{p}" for p in range(self.cc.partitions)] if partitioned else [_lease_key("t", task_id)]
        holders = dict(
            zip(keys, await asyncio.gather(*(self._get(self.h.leases, k) for k in keys)), strict=True)
        )
        if partitioned and not all(holders.values()):
            vacant = ", ".join(k[2:] for k, v in holders.items() if not v)
            raise KapfastError(f"partitions {vacant} have no owner right now (a takeover): try again")
        ids = sorted({v for v in holders.values() if v} - {self.node_id})
        found = await asyncio.gather(*(self._get(self.h.members, i) for i in ids))
        members = {i: json.loads(v) for i, v in zip(ids, found, strict=True) if v}
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        session = self._http
        path = f"/kapacitor/v1/tasks/{quote(task_id, safe='')}/{quote(endpoint)}"

        def remote(member_id: str, member: Mapping[str, Any]) -> Awaitable[dict[str, Any] | None]:
            return fetch(session, member_id, member, path, headers)

        owners = {p: holders.get(f"p.{p}", "") for p in range(self.cc.partitions)} if partitioned else {}
        return await gather_http_out(
            node_id=self.node_id,
            partitioned=partitioned,
            key=list(self.cc.partition_key),
            partitions=self.cc.partitions,
            owners=owners,
            task_owner="" if partitioned else holders[keys[0]],
            members=members,
            local=local,
            remote=remote,
        )

    @staticmethod
    async def _get(kv: Any, key: str) -> str:
        """A key's value ("" when absent)."""
        try:
            entry = await asyncio.wait_for(kv.get(key), 5)
        except NotFoundError:
            return ""
        return (entry.value or b"").decode()

    async def _leases(self) -> dict[str, str]:
        """Every lease and its holder."""
        assert self.h is not None
        leases: dict[str, str] = {}
        with contextlib.suppress(NoKeysError, NotFoundError):
            for k in await self.h.leases.keys():
                with contextlib.suppress(NotFoundError):
                    leases[k] = ((await self.h.leases.get(k)).value or b"").decode()
        return leases

    async def status(self) -> dict[str, Any]:
        """Members, who owns each partition and placed task, and each consumer's lag."""
        assert self.h is not None and self.worker is not None
        members = await self.worker.members()
        leases = await self._leases()
        info = await self.h.js.stream_info(self.cc.stream)
        partitions = []
        for p in range(self.cc.partitions):
            partitions.append(await self._consumer(f"p.{p}", partition_durable(p), {"partition": p}, leases))
        tasks = []
        for task_id in self.runner.placed():
            tasks.append(
                await self._consumer(
                    _lease_key("t", task_id), task_durable(task_id), {"task": task_id}, leases
                )
            )
        return {
            "node": self.node_id,
            "role": self.cc.role,
            "stream": {
                "name": self.cc.stream,
                "messages": info.state.messages,
                "bytes": info.state.bytes,
                "first_seq": info.state.first_seq,
                "last_seq": info.state.last_seq,
            },
            "partitions_total": self.cc.partitions,
            "partition_key": list(self.cc.partition_key),
            "members": [{"id": k, **v} for k, v in sorted(members.items())],
            "partitions": partitions,
            "placed_tasks": tasks,
            "checkpoints_bucket": CHECKPOINTS,
        }

    async def _consumer(
        self, key: str, durable: str, head: dict[str, Any], leases: dict[str, str]
    ) -> dict[str, Any]:
        assert self.h is not None
        out = {**head, "owner": leases.get(key, ""), "consumer": durable}
        out.update(lag=None, ack_pending=None, delivered_seq=None)
        with contextlib.suppress(Exception):
            ci = await self.h.js.consumer_info(self.cc.stream, durable)
            out["lag"] = ci.num_pending
            out["ack_pending"] = ci.num_ack_pending  # fetched, not yet applied (acked once applied)
            out["delivered_seq"] = ci.delivered.stream_seq if ci.delivered else None
        return out
