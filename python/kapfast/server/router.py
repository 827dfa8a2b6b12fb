"""Where accepted points go: the running tasks (the task master) and live stream recordings."""

from __future__ import annotations

from typing import Protocol

from kapfast._native import PointBatch


class PointsConsumer(Protocol):
    def write_points(self, db: str, rp: str, batch: PointBatch) -> None: ...


class Router:
    def __init__(self, *consumers: PointsConsumer) -> None:
        self.consumers = list(consumers)

    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        for c in self.consumers:
            c.write_points(db, rp, batch)
