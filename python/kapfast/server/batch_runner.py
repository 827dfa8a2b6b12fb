"""Live batch tasks: run each ``query()`` against InfluxDB on its schedule and feed the answers in.

:class:`BatchRunner` is the task runner the task service starts and stops tasks through. Stream
tasks go straight to the task master; a batch task additionally gets one asyncio job per query
node that sleeps until the node's next tick (``.every()``, ``.align()``, ``.cron()``), queries
``[tick - offset - period, tick - offset)`` on the node's ``.cluster()`` and hands every series of
the answer to the node as one batch, as Kapacitor's query node does. A failed query is logged and
counted on the node (``errors``) and the schedule goes on; a slow query skips the ticks it
overran instead of piling them up (Go's ticker drops them too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, Protocol

from kapfast.clock import Clock
from kapfast.engine.contract import TaskMasterAPI
from kapfast.engine.messages import BatchMessage
from kapfast.engine.replay import batch_message
from kapfast.errors import KapfastError, TaskError
from kapfast.influxdb.client import InfluxDBClient
from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError
from kapfast.influxdb.flux import FluxClient, parse_flux_csv
from kapfast.jobs import cancel_and_wait
from kapfast.server.engine_thread import Serialized
from kapfast.storage import TaskRecord
from kapfast.tasks.batch_query import BatchQuery, live_batches
from kapfast.tasks.flux_query import FluxQuery, flux_batches
from kapfast.tick import Pipeline

log = logging.getLogger("kapfast.batch")


class _Master(Protocol):
    def start(self, task: TaskRecord, pipeline: Pipeline) -> None: ...
    def stop(self, task_id: str) -> None: ...
    def is_executing(self, task_id: str) -> bool: ...
    def dot(self, task_id: str, labels: bool) -> str: ...
    def stats(self, task_id: str) -> dict[str, Any]: ...


class _Clients(Protocol):
    def client(self, cluster: str) -> InfluxDBClient: ...
    def flux_client(self, cluster: str) -> FluxClient: ...


#: the nodes that query InfluxDB in a batch task (InfluxQL, Flux)
QUERY_KINDS = ("query", "queryFlux")


class BatchRunner:
    """Starts and stops tasks on the task master, and runs batch tasks' queries."""

    def __init__(self, master: TaskMasterAPI, influx: _Clients | None, clock: Clock) -> None:
        self.master = master
        #: a master serialized with the engine thread (kapfast.server.engine_thread.Serialized)
        #: may be read (is_executing, dot, stats) from any thread: the task service then reads it
        #: off the loop
        self.reads_anywhere = isinstance(master, Serialized)
        self.influx = influx
        self.clock = clock
        self._jobs: dict[str, list[asyncio.Task[None]]] = {}

    # --- the task runner interface of kapfast.tasks.service ----------------------------------

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        queries: list[BatchQuery | FluxQuery] = []
        if pipeline.task_type == "batch":
            try:
                # in the pipeline's order: the i-th of them feeds the task's i-th query node
                queries = [
                    BatchQuery.from_node(n) if n.kind == "query" else FluxQuery.from_node(n)
                    for n in pipeline.nodes
                    if n.kind in QUERY_KINDS
                ]
            except KapfastError as exc:
                raise TaskError(str(exc)) from None
            if queries and (self.influx is None or not getattr(self.influx, "configs", True)):
                raise TaskError("InfluxDB not configured, cannot query InfluxDB for batch query")
        self._cancel(task.id)
        self.master.start(task, pipeline)
        for q in queries:
            if isinstance(q, BatchQuery) and q.dropped_group_by:
                log.warning(
                    "task %s: the query's own GROUP BY %s is replaced by the node's .groupBy() "
                    "(as Kapacitor does); move it into .groupBy()",
                    task.id,
                    q.dropped_group_by,
                )
        if queries:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.master.stop(task.id)
                raise TaskError("batch tasks run their queries on the server's event loop") from None
            self._jobs[task.id] = [
                loop.create_task(self._run(task.id, i, q), name=f"batch {task.id} query {i}")
                for i, q in enumerate(queries)
            ]

    def stop(self, task_id: str) -> None:
        self._cancel(task_id)
        self.master.stop(task_id)

    def is_executing(self, task_id: str) -> bool:
        return bool(self.master.is_executing(task_id))

    def dot(self, task_id: str, labels: bool) -> str:
        return str(self.master.dot(task_id, labels))

    def stats(self, task_id: str) -> dict[str, Any]:
        return dict(self.master.stats(task_id))

    async def close(self) -> None:
        jobs = [j for js in self._jobs.values() for j in js]
        self._jobs.clear()
        await cancel_and_wait(*jobs)

    # --- the schedule --------------------------------------------------------------------------

    def _cancel(self, task_id: str) -> None:
        for job in self._jobs.pop(task_id, []):
            job.cancel()

    async def _sleep_until(self, t_ns: int) -> None:
        # Re-read the clock after each nap: a long sleep may oversleep or the clock be virtual.
        while (left := t_ns - self.clock.now_ns()) > 0:
            await asyncio.sleep(min(left / 1e9, 60.0))

    async def _run(self, task_id: str, index: int, q: BatchQuery | FluxQuery) -> None:
        assert self.influx is not None
        tick = q.next_tick(self.clock.now_ns())
        while tick is not None:
            await self._sleep_until(tick)
            if isinstance(q, FluxQuery):
                await self._flux_once(task_id, index, q, tick)
            else:
                await self._query_once(task_id, index, q, tick)
            nxt = q.next_tick(tick)
            now = self.clock.now_ns()
            if nxt is not None and nxt <= now:
                nxt = q.next_tick(now)  # overran: skip the missed ticks
            tick = nxt

    async def _query_once(self, task_id: str, index: int, q: BatchQuery, tick: int) -> None:
        assert self.influx is not None
        start, stop = q.bounds(tick)
        text = q.text(start, stop)
        log.debug("task %s: starting batch query %s", task_id, text)
        try:
            client = self.influx.client(q.cluster)
            series = await client.query_series(text)
        except (InfluxDBError, InfluxDBConnectionError, KapfastError, OSError) as exc:
            log.error("task %s: error executing query %s: %s", task_id, text, exc)
            self.master.count_query_error(task_id, index)
            return
        if not self.master.is_executing(task_id):
            return  # stopped while the query ran
        self._deliver(task_id, index, live_batches(series, q, stop))

    async def _flux_once(self, task_id: str, index: int, q: FluxQuery, tick: int) -> None:
        assert self.influx is not None
        now = q.now(tick)
        log.debug("task %s: starting batch query %s", task_id, q.text)
        try:
            client = self.influx.flux_client(q.cluster)
            text = await asyncio.get_running_loop().run_in_executor(
                None, client.query_csv, q.text, q.org, q.org_id, now
            )
            series = parse_flux_csv(text)
        except (InfluxDBError, KapfastError, OSError) as exc:
            log.error("task %s: error executing query %s: %s", task_id, q.text, exc)
            self.master.count_query_error(task_id, index)
            return
        if self.master.is_executing(task_id):
            self._deliver(task_id, index, (batch_message(rb) for rb in flux_batches(series, tick)))

    def _deliver(self, task_id: str, index: int, batches: Iterator[BatchMessage]) -> None:
        for msg in batches:
            self.master.count_queried(task_id, index, len(msg.points))
            try:
                self.master.write_batch(task_id, index, msg)
            except TaskError as exc:
                log.error("task %s: %s", task_id, exc)
                return


__all__ = ["BatchRunner"]
