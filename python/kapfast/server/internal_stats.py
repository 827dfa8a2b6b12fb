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
* ``edges`` (``task parent child type``): ``collected``, ``emitted``.

Every statistic but ``kapacitor`` also carries ``cluster_id``, ``server_id`` and ``host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kapfast._native import PointBatch
from kapfast.clock import Clock
from kapfast.config import parse_go_duration
from kapfast.tick.registry import NODES

log = logging.getLogger("kapfast.stats")


@dataclass
class Stat:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    values: dict[str, int | float] = field(default_factory=dict)


class _Ingress(Protocol):
    def rows(self) -> Any: ...


def _ns(text_or_int: Any) -> int:
    if isinstance(text_or_int, int):
        return text_or_int
    try:
        return parse_go_duration(str(text_or_int))
    except Exception:
        return 0


def collect(
    *,
    master: Any,
    ingress: _Ingress,
    ids: dict[str, str],
    counts: dict[str, int],
    task_master: str = "main",
) -> list[Stat]:
    """Every statistic of the running server. ``ids`` = ``{cluster_id, server_id, host}``;
    ``counts`` = ``{num_tasks, num_enabled_tasks, num_subscriptions}``."""
    out = [Stat("kapacitor", {}, dict(counts))]
    for db, rp, m, n in ingress.rows():
        tags = {"database": db, "retention_policy": rp, "measurement": m, "task_master": task_master}
        out.append(Stat("ingress", {**tags, **ids}, {"points_received": n}))
    for task_id, task in sorted(getattr(master, "tasks", {}).items()):
        kind = task.pipeline.task_type
        for node in task.nodes.values():
            values: dict[str, int | float] = {}
            for k, v in node.stat_values().items():
                values[k] = _ns(v) if k == "avg_exec_time_ns" else v if isinstance(v, int | float) else 0
            spec = NODES.get(node.spec.kind)
            desc = spec.desc if spec is not None else node.spec.kind
            tags = {"task": task_id, "node": node.name, "type": kind, "kind": desc}
            out.append(Stat("nodes", {**tags, **ids}, values))
            for child, _ in node.children:
                n = node.edge_emitted.get(child.name, 0)
                tags = {"task": task_id, "parent": node.name, "child": child.name, "type": kind}
                out.append(Stat("edges", {**tags, **ids}, {"collected": n, "emitted": n}))
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
        sink: Callable[[str, str, PointBatch], None],
    ) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.database = database
        self.retention_policy = retention_policy
        self.source = source
        self.sink = sink
        self._job: asyncio.Task[None] | None = None

    def report(self) -> int:
        """Write the statistics once; returns how many points were written."""
        batch = to_batch(self.source(), self.clock.now_ns())
        if len(batch):
            self.sink(self.database, self.retention_policy, batch)
        return len(batch)

    def start(self) -> None:
        if self.interval_s > 0 and self._job is None:
            self._job = asyncio.get_running_loop().create_task(self._loop(), name="stats")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.report()
            except Exception:  # a statistic that cannot be written must not stop the next ones
                log.exception("writing the internal statistics failed")

    async def close(self) -> None:
        if self._job is not None:
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._job
            self._job = None


__all__ = ["Stat", "StatsService", "collect", "to_batch"]
