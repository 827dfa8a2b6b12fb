"""The cluster as kapfastd runs it: connection, publisher (ingest), worker, status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NATS

from kapfast._native import PointBatch
from kapfast.clock import Clock
from kapfast.cluster.connection import CHECKPOINTS, ClusterHandles, connect, open_cluster
from kapfast.cluster.control import ControlPlane
from kapfast.cluster.ingest import Publisher, PublishError, subscribe_telegraf
from kapfast.cluster.worker import Apply, ClusterRunner, Worker, partition_durable, task_durable
from kapfast.config import ClusterConfig
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
        snapshot_of: Callable[[str], bytes | None],
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

    @property
    def ingests(self) -> bool:
        return self.cc.role in ("ingest", "both")

    async def start(self, info: dict[str, Any]) -> None:
        self.nc = await connect(self.cc, f"kapfastd {self.node_id}")
        self.h = await open_cluster(self.cc, self.nc)
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

    async def start_control(self, tasks: TaskService, templates: TemplateService) -> None:
        """Tasks and templates from then on shared through NATS KV (kapfast.cluster.control)."""
        assert self.h is not None
        self.control = ControlPlane(self.h, tasks, templates, self.cc.replicas, self.cc.stream)
        await self.control.start()

    async def publish(self, db: str, rp: str, batch: PointBatch) -> None:
        if self.publisher is None:
            raise PublishError("not connected to the cluster yet")
        await self.publisher.publish(db, rp, batch)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await self.worker.close()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 5)

    async def status(self) -> dict[str, Any]:
        """Members, who owns each partition and placed task, and each consumer's lag."""
        assert self.h is not None and self.worker is not None
        members = await self.worker.members()
        leases: dict[str, str] = {}
        with contextlib.suppress(Exception):
            for k in await self.h.leases.keys():
                with contextlib.suppress(Exception):
                    leases[k] = (await self.h.leases.get(k)).value.decode()  # type: ignore[union-attr]
        info = await self.h.js.stream_info(self.cc.stream)
        partitions = []
        for p in range(self.cc.partitions):
            partitions.append(await self._consumer(f"p.{p}", partition_durable(p), {"partition": p}, leases))
        tasks = []
        for task_id in self.runner.placed():
            from kapfast.cluster.worker import _lease_key

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
