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
from kapfast.cluster.reads import fetch, gather_http_out, merge_task_json
from kapfast.cluster.recordings import Call, SharedRecords
from kapfast.cluster.shards import PartitionStates
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
from kapfast.tasks.recordings import RecordingService
from kapfast.tasks.replays import ReplayService
from kapfast.tasks.service import TaskService
from kapfast.tasks.templates import TemplateService
from kapfast.tick import Pipeline

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
        shards: PartitionStates | None = None,
    ) -> None:
        #: how partitioned tasks run by partition and a partition's state moves (shards.py)
        self.shards = shards
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
        #: the node's recordings and replays, shared with the cluster (share_records)
        self._local_records: tuple[RecordingService, ReplayService, Call | None] | None = None
        self.records: SharedRecords | None = None

    def share_records(self, recordings: RecordingService, replays: ReplayService, call: Call | None) -> None:
        """The /recordings and /replays API of this node acts on the cluster's from start on
        (kapfast.cluster.recordings); ``call`` runs a function on the engine thread."""
        self._local_records = (recordings, replays, call)

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
        self.worker.shards = self.shards
        # no partition before the control plane applied the cluster's tasks (start_control)
        self.worker.ready = False
        if self.worker.is_worker:
            self.runner.worker = self.worker
            self.worker.runner = self.runner
        await self.worker.start()
        if self._local_records is not None:
            recordings, replays, call = self._local_records
            h = self.h
            shared = SharedRecords(
                h, self.node_id, self.cc.stream, self.cc.replicas, recordings, replays, call
            )
            await retrying("opening the recordings' bucket", shared.open)
            await shared.start()
            self.records = shared
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
        if self.worker is not None:  # the tasks are known: partitions (and their state) now
            self.worker.ready = True
            self.worker.wake()

    async def publish(self, db: str, rp: str, batch: PointBatch) -> None:
        if self.publisher is None:
            raise PublishError("not connected to the cluster yet")
        await self.publisher.publish(db, rp, batch)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self.records is not None:
            await self.records.close()
        if self.control is not None:
            await self.control.close()
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await self.worker.close()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 5)

    async def _owners(self, task_id: str) -> tuple[bool, dict[str, str], dict[str, dict[str, Any]]] | None:
        """Who runs a task: (partitioned, lease key -> holder ("" none), the holders' member
        entries but this node's); None for a task the cluster does not run."""
        assert self.h is not None
        slot = self.runner.slots.get(task_id)
        if slot is None:
            return None
        partitioned = slot.kind == PARTITIONED
        # direct reads of the keys needed (no KV listing: it makes a consumer, slow while NATS
        # fails over)
        keys = [f"p.{p}" for p in range(self.cc.partitions)] if partitioned else [_lease_key("t", task_id)]
        holders = dict(
            zip(keys, await asyncio.gather(*(self._get(self.h.leases, k) for k in keys)), strict=True)
        )
        ids = sorted({v for v in holders.values() if v} - {self.node_id})
        found = await asyncio.gather(*(self._get(self.h.members, i) for i in ids))
        members = {i: json.loads(v) for i, v in zip(ids, found, strict=True) if v}
        return partitioned, holders, members

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def http_out(
        self,
        task_id: str,
        endpoint: str,
        local: Callable[[], Awaitable[dict[str, Any] | None]],
        headers: dict[str, str],
    ) -> dict[str, Any] | None:
        """A task's httpOut answer for the whole cluster, gathered from the owners (reads.py)."""
        owned = await self._owners(task_id)
        if owned is None:
            return await local()
        partitioned, holders, members = owned
        if partitioned and not all(holders.values()):
            vacant = ", ".join(k[2:] for k, v in holders.items() if not v)
            raise KapfastError(f"partitions {vacant} have no owner right now (a takeover): try again")
        session = self._session()
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
            task_owner="" if partitioned else next(iter(holders.values())),
            members=members,
            local=local,
            remote=remote,
        )

    async def task_json(
        self,
        task_id: str,
        local: dict[str, Any],
        query: str,
        headers: dict[str, str],
        pipeline: Callable[[], Pipeline | None],
    ) -> dict[str, Any]:
        """``GET /tasks/<id>`` for the whole cluster: ``local`` (this node's answer) with the
        owners' executing state, statistics and DOT (reads.merge_task_json)."""
        owned = await self._owners(task_id)
        if owned is None:
            return local
        _partitioned, holders, members = owned
        owners = sorted({v for v in holders.values() if v})
        path = f"/kapacitor/v1/tasks/{quote(task_id, safe='')}" + (f"?{query}" if query else "")
        session = self._session()
        answers = await asyncio.gather(
            *(
                fetch(session, o, members[o], path, headers)
                for o in owners
                if o != self.node_id and o in members
            )
        )
        found = [a for a in answers if a is not None]
        if self.node_id in owners:
            found.append(local)
        return merge_task_json(local, found, pipeline())

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
            part = await self._consumer(f"p.{p}", partition_durable(p), {"partition": p}, leases)
            part["checkpoint_seq"], part["checkpoint_time"] = await self._checkpoint(f"p.{p}")
            partitions.append(part)
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

    async def _checkpoint(self, key: str) -> tuple[int | None, float | None]:
        """The stream sequence a partition's last checkpoint covers and when (unix seconds) it
        was written ((None, None): none yet)."""
        assert self.h is not None
        with contextlib.suppress(Exception):
            doc = json.loads(await self._get(self.h.checkpoints, key) or "null")
            return int(doc["seq"]), float(doc["time"])
        return None, None

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
