"""Server statistics: ingress counters per db/rp/measurement, as ``kapacitor stats ingress`` shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from kapfast.batch import PointBatch


class IngressStats:
    """Points received, by (database, retention policy, measurement)."""

    def __init__(self) -> None:
        self._points: Counter[tuple[str, str, str]] = Counter()
        #: points the server wrote itself (the [stats] service), part of the counts above; the
        #: task master's edges tell them apart (``stats`` -> ``stream``, not ``write_points``)
        self.own = 0
        #: writes answered 503 by the write backpressure (kapfast.server.write.WriteGate)
        self.writes_rejected = 0
        #: write request bodies (after decompression) and their lines that did not parse
        self.bytes_received = 0
        self.bad_lines = 0
        #: called with each write request's duration in seconds (kapfast.server.metrics)
        self.on_write: Callable[[float], None] | None = None

    def count(self, db: str, rp: str, batch: PointBatch, *, own: bool = False) -> None:
        for measurement, n in batch.measurement_counts():
            self._points[(db, rp, measurement)] += n
        if own:
            self.own += len(batch)

    def rows(self) -> list[tuple[str, str, str, int]]:
        return [(db, rp, m, n) for (db, rp, m), n in sorted(self._points.items())]

    def expvars(self, task_master: str = "main") -> dict[str, Any]:
        """The ``ingress`` entries of /debug/vars, keyed as kapacitord keys its expvar stats."""
        return {
            f"ingress:{db}:{rp}:{m}": {
                "name": "ingress",
                "tags": {
                    "database": db,
                    "retention_policy": rp,
                    "measurement": m,
                    "task_master": task_master,
                },
                "values": {"points_received": n},
            }
            for db, rp, m, n in self.rows()
        }
