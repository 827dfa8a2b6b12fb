"""The router: a failing consumer costs nobody else their points."""

from __future__ import annotations

import pytest

from kapfast._native import PointBatch
from kapfast.lineproto import parse
from kapfast.server.router import Router


class Boom:
    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        raise RuntimeError("engine bug")


class Keep:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, int]] = []

    def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
        self.got.append((db, rp, len(batch)))


def test_failing_consumer_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    keep = Keep()
    router = Router(Boom(), keep)
    batch = parse(b"cpu v=1 1\ncpu v=2 2\n", now_ns=0).batch
    for _ in range(3):
        router.write_points("db", "rp", batch)
    assert keep.got == [("db", "rp", 2)] * 3
    assert router.errors == [3, 0]
    assert [r.message for r in caplog.records] == ["Boom failed on points for db.rp (1 failures so far)"]
