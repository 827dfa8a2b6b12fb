"""What a batch task's ``queryFlux()`` node runs, and when (Kapacitor's ``FluxQueryNode``).

The Flux text is sent as written: it carries its own ``range()``. A run happens on every tick of
``.every()`` (aligned with ``.align()``) or ``.cron()``; the query's ``now`` is the tick minus
``.offset()`` (so ``range(start: -1m)`` covers the minute before it). ``.period()`` is accepted
and, as in Kapacitor, not used. A batch without a time gets the tick's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kapfast.influxdb.flux import FluxSeries
from kapfast.recordings import RecordedBatch, RecordedPoint
from kapfast.tasks.batch_query import _ns, next_tick, schedule
from kapfast.tasks.cron import CronSchedule
from kapfast.tick.pipeline import Node


@dataclass(frozen=True)
class FluxQuery:
    text: str
    org: str
    org_id: str
    every: int
    align: bool
    offset: int
    cron: CronSchedule | None
    cluster: str

    @classmethod
    def from_node(cls, node: Node) -> FluxQuery:
        every, cron = schedule(node)
        return cls(
            text=str(node.args[0]) if node.args else "",
            org=str(node.prop("org") or ""),
            org_id=str(node.prop("orgID") or ""),
            every=every,
            align=bool(node.prop("align")),
            offset=_ns(node.prop("offset")),
            cron=cron,
            cluster=str(node.prop("cluster") or ""),
        )

    def next_tick(self, after_ns: int) -> int | None:
        return next_tick(self.every, self.align, self.cron, after_ns)

    def now(self, tick_ns: int) -> int:
        """The ``now`` of the run at ``tick_ns``."""
        return tick_ns - self.offset


def flux_batches(series: Sequence[FluxSeries], tick_ns: int) -> Iterator[RecordedBatch]:
    """The batches of one answer: one per table, grouped by all its tags (Kapacitor's
    ``ResultToBufferedBatches``); rows without any value are dropped; the batch's time is its
    latest point's, or the tick's when it has none."""
    for s in series:
        points: list[RecordedPoint] = []
        tmax = 0
        for row in s.values:
            t = 0
            fields = {}
            for c, v in zip(s.columns, row, strict=False):
                if c == "time":
                    t = int(v) if v is not None else 0
                elif v is not None:
                    fields[c] = v
            if fields:
                tmax = max(tmax, t)
                points.append(RecordedPoint(t, fields, dict(s.tags)))
        time = tmax or tick_ns
        yield RecordedBatch(s.name, dict(s.tags), points, tmax_ns=time, time_ns=time)


__all__ = ["FluxQuery", "flux_batches"]
