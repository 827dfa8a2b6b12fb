"""Where accepted points go: the running tasks (the task master) and live stream recordings.

A consumer that fails (an engine bug on some point) must not cost the others their points nor
the client its acknowledged write: the failure is counted and logged (at most every 10 s per
consumer, so a bad stream does not flood the log).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from kapfast.batch import PointBatch

log = logging.getLogger("kapfast.router")
LOG_EVERY_S = 10.0


class PointsConsumer(Protocol):
    def write_points(self, db: str, rp: str, batch: PointBatch) -> None: ...


class Router:
    def __init__(self, *consumers: PointsConsumer) -> None:
        self.consumers = list(consumers)
        self.errors = [0] * len(self.consumers)
        self._logged = [float("-inf")] * len(self.consumers)

    def wants_raw(self) -> bool:
        """Whether a consumer would use the body the batch was parsed from (a live recording)."""
        return any(getattr(c, "wants_raw", bool)() for c in self.consumers)

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        """``raw``: the body ``batch`` was parsed from when its lines may be the batch as ns
        lines (kapfast.server.write decides; a consumer checks they are one point each); a
        consumer with ``write_raw`` then gets it, which spares it serializing the batch again."""
        for i, c in enumerate(self.consumers):
            try:
                write_raw = getattr(c, "write_raw", None) if raw is not None else None
                if write_raw is not None:
                    write_raw(db, rp, batch, raw)
                else:
                    c.write_points(db, rp, batch)
            except Exception:
                self.errors[i] += 1
                now = time.monotonic()
                if now - self._logged[i] >= LOG_EVERY_S:
                    self._logged[i] = now
                    log.exception(
                        "%s failed on points for %s.%s (%d failures so far)",
                        type(c).__name__,
                        db,
                        rp,
                        self.errors[i],
                        extra={"tags": {"consumer": type(c).__name__, "db": db, "rp": rp}},
                    )
