"""kapfastd's own statistics as Kapacitor publishes them, and the ``[stats]`` service that feeds
them back into the stream.

Kapacitor keeps every statistic as ``{name, tags, values}`` (its expvars) and, every
``[stats] stats-interval`` (10s), writes each one as a point into its own stream under
``[stats] database``/``retention-policy`` (``_kapacitor``/``autogen``), so that tasks can watch
kapfastd itself (``stream|from().database('_kapacitor').measurement('ingress')`` ...) or copy the
stats into InfluxDB with ``influxDBOut``. The measurements:

* ``kapacitor`` (no tags): ``num_tasks``, ``num_enabled_tasks``, ``num_subscriptions``;
* ``ingress`` (``database retention_policy measurement task_master``): ``points_received``;
* ``nodes`` (``task node type kind``): ``avg_exec_time_ns`` (ns), ``errors``,
  ``working_cardinality`` and the node's own counters (``alerts_triggered``, ...);
* ``edges`` (``task parent child type``): ``collected``, ``emitted``: every edge of every task,
  the task master's own (``task_master:main``: ``write_points`` -> ``stream``, the points written
  to kapfastd; ``stats`` -> ``stream``, its own statistics points) and each stream task's
  (``stream`` -> ``stream0``, the points the task took);
* ``topics`` (``id``): ``collected``, the events each alert topic collected;
* ``kapfast_http`` (kapfast only): ``writes_rejected``, the writes answered 503 by the write
  backpressure (docs/operations.md);
* ``kapfast_nodes`` (the tags of ``nodes``): kapfast's own node counters that Kapacitor has not
  (``events_dropped``, ``groups_expired``), apart so that ``nodes`` has exactly Kapacitor's fields.

Every statistic but ``kapacitor`` also carries ``cluster_id``, ``server_id`` and ``host``.
In /debug/vars (:func:`expvars`) a node's ``avg_exec_time_ns`` is a Go duration string ("1.5µs"),
as Kapacitor's expvar JSON has it and Telegraf's ``inputs.kapacitor`` parses it; in the points it
is an int of ns, as Kapacitor writes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.engine.contract import TaskMasterAPI
from kapfast.gofmt import duration_string
from kapfast.jobs import cancel_and_wait
from kapfast.tick.registry import NODES

log = logging.getLogger("kapfast.stats")


@dataclass
class Stat:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    values: dict[str, int | float] = field(default_factory=dict)


class _Ingress(Protocol):
    def rows(self) -> Any: ...


def collect(
    *,
    master: TaskMasterAPI,
    ingress: _Ingress,
    ids: dict[str, str],
    counts: dict[str, int],
    task_master: str = "main",
) -> list[Stat]:
    """Every statistic of the running server. ``ids`` = ``{cluster_id, server_id, host}``;
    ``counts`` = ``{num_tasks, num_enabled_tasks, num_subscriptions}``."""
    out = [Stat("kapacitor", {}, dict(counts))]
    written = 0
    for db, rp, m, n in ingress.rows():
        tags = {"database": db, "retention_policy": rp, "measurement": m, "task_master": task_master}
        out.append(Stat("ingress", {**tags, **ids}, {"points_received": n}))
        written += n
    # the task master's edges into its stream: points written to it, and the [stats] service's own
    own = int(getattr(ingress, "own", 0))
    for parent, n in (("write_points", written - own), ("stats", own)):
        tags = {"task": f"task_master:{task_master}", "parent": parent, "child": "stream", "type": "stream"}
        out.append(Stat("edges", {**tags, **ids}, {"collected": n, "emitted": n}))
    rejected = getattr(ingress, "writes_rejected", None)
    if rejected is not None:  # write backpressure: writes answered 503 (kapfast only)
        out.append(Stat("kapfast_http", dict(ids), {"writes_rejected": int(rejected)}))
    registry = master.services.get("alert_topics")
    if registry is not None:
        for name in registry.topics():
            topic = registry.get(name)
            if topic is not None:  # alert topics: the events each collected
                out.append(Stat("topics", {"id": name, **ids}, {"collected": topic.collected}))
    for task_id, task in sorted(master.tasks.items()):
        kind = task.pipeline.task_type
        if kind == "stream":
            for src in task.sources:
                n = src.stats.collected
                tags = {"task": task_id, "parent": "stream", "child": src.name, "type": kind}
                out.append(Stat("edges", {**tags, **ids}, {"collected": n, "emitted": n}))
        for node in task.nodes.values():
            spec = NODES.get(node.spec.kind)
            desc = spec.desc if spec is not None else node.spec.kind
            tags = {"task": task_id, "node": node.name, "type": kind, "kind": desc}
            out.append(Stat("nodes", {**tags, **ids}, dict(node.stat_values())))
            extra = node.extra_values()
            if extra:
                out.append(Stat("kapfast_nodes", {**tags, **ids}, dict(extra)))
            for child, _ in node.children:
                n = node.edge_emitted.get(child.name, 0)
                # Kapacitor tags an edge with what it carries (``batch`` out of a window)
                tags = {"task": task_id, "parent": node.name, "child": child.name, "type": node.spec.provides}
                out.append(Stat("edges", {**tags, **ids}, {"collected": n, "emitted": n}))
    return out


def expvars(stats: list[Stat]) -> dict[str, Any]:
    """The node and edge statistics as /debug/vars lists them (ingress has its own keys), each
    ``{name, tags, values}``; a node's ``avg_exec_time_ns`` a Go duration string, as Kapacitor's
    expvar JSON has it (Telegraf's ``inputs.kapacitor`` parses it with ``time.ParseDuration``)."""
    out: dict[str, Any] = {}
    for s in stats:
        t = s.tags
        if s.name in ("nodes", "kapfast_nodes"):
            values: dict[str, Any] = dict(s.values)
            if "avg_exec_time_ns" in values:
                values["avg_exec_time_ns"] = duration_string(int(values["avg_exec_time_ns"]))
            out[f"{s.name}:{t['task']}:{t['node']}"] = {"name": s.name, "tags": dict(t), "values": values}
        elif s.name == "edges":
            out[f"edges:{t['task']}:{t['parent']}:{t['child']}"] = vars(s)
        elif s.name == "topics":
            out[f"topics:{t['id']}"] = vars(s)
        elif s.name == "kapfast_http":
            out["kapfast_http"] = vars(s)
    return out


def to_batch(stats: list[Stat], now_ns: int) -> PointBatch:
    """The statistics as points at ``now_ns`` (statistics without values are left out)."""
    rows = [(s.name, dict(s.tags), dict(s.values), now_ns) for s in stats if s.values]
    return PointBatch.from_rows(rows)


class StatsService:
    """Writes :func:`collect`'s statistics into the stream every ``interval_s``."""

    def __init__(
        self,
        *,
        clock: Clock,
        interval_s: float,
        database: str,
        retention_policy: str,
        source: Callable[[], list[Stat]],
        sink: Callable[[str, str, PointBatch], Future[None] | None],
    ) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.database = database
        self.retention_policy = retention_policy
        self.source = source
        self.sink = sink
        self._job: asyncio.Task[None] | None = None

    def report(self) -> int:
        """Write the statistics once, waited for (not on the event loop: the source waits for
        the engine thread); returns how many points were written."""
        batch = to_batch(self.source(), self.clock.now_ns())
        if len(batch):
            handed = self.sink(self.database, self.retention_policy, batch)
            if handed is not None:
                handed.result()
        return len(batch)

    async def report_async(self) -> int:
        """:meth:`report` without blocking the event loop: the statistics are read on an
        executor thread (reading the running tasks waits for the engine thread's queue), the
        points handed to the engine and awaited."""
        stats = await asyncio.get_running_loop().run_in_executor(None, self.source)
        batch = to_batch(stats, self.clock.now_ns())
        if len(batch):
            handed = self.sink(self.database, self.retention_policy, batch)
            if handed is not None:
                await asyncio.wrap_future(handed)
        return len(batch)

    def start(self) -> None:
        if self.interval_s > 0 and self._job is None:
            self._job = asyncio.get_running_loop().create_task(self._loop(), name="stats")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.report_async()
            except Exception:  # a statistic that cannot be written must not stop the next ones
                log.exception("writing the internal statistics failed")

    async def close(self) -> None:
        await cancel_and_wait(self._job)
        self._job = None


__all__ = ["Stat", "StatsService", "collect", "expvars", "to_batch"]
