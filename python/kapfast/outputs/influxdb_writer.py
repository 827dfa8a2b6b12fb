"""influxDBOut's writer: line protocol batched per destination and POSTed to InfluxDB 1.x.

``write()`` never blocks a task: it appends to a bounded buffer and returns. A flusher sends a
destination's buffer when it reaches ``buffer`` points or every ``flush_interval``; failures
(InfluxDB down, 5xx) are retried with exponential backoff while the points stay buffered. When a
buffer is full the oldest points are dropped and counted, so a long outage costs memory that is
bounded, and the loss is visible (Kapacitor buffers without bound).

Per-node statistics: a node passes its own :class:`WriteStats` and sees ``points_written`` and
``write_errors`` move as its points reach InfluxDB or fail for good (a 4xx answer such as a field
type conflict is not retried: InfluxDB would answer the same again).

InfluxDB 2.x: for a cluster that ``v2(cluster)`` gives an :class:`~kapfast.influxdb.InfluxDB2Writer`
(an ``[[influxdb]]`` with a token), the same buffers are sent through the v2 write API to the
bucket of their db/rp; ``.create()`` does nothing there (2.x buckets are made in InfluxDB).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kapfast._native import PointBatch
from kapfast.errors import KapfastError, TaskError
from kapfast.influxdb import InfluxDB2Writer, InfluxDBClient, InfluxDBError, quote_ident

log = logging.getLogger("kapfast.influxdb_out")

_PRECISIONS = {
    "n": "ns",
    "ns": "ns",
    "u": "u",
    "us": "u",
    "µs": "u",
    "ms": "ms",
    "s": "s",
    "m": "m",
    "h": "h",
}
#: a precision as ``PointBatch.to_line_protocol`` names it (times are divided by it)
_LP_PRECISIONS = {
    "n": "ns",
    "ns": "ns",
    "u": "us",
    "us": "us",
    "µs": "us",
    "ms": "ms",
    "s": "s",
    "m": "m",
    "h": "h",
}
Destination = tuple[str, str, str, str]  # (cluster, db, rp, precision)


@dataclass
class WriteStats:
    """Counters one influxDBOut node shows (``points_written``, ``write_errors``)."""

    points_written: int = 0
    write_errors: int = 0


@dataclass
class _Pending:
    body: bytes
    points: int
    stats: WriteStats | None


@dataclass
class _Buffer:
    items: deque[_Pending] = field(default_factory=deque)
    points: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class InfluxDBWriter:
    """Satisfies ``kapfast.engine.context.PointsWriter``: ``write(cluster, db, rp, body, precision)``.

    ``clients(cluster)`` gives the InfluxDB client of a cluster name (``""`` = the default);
    ``v2(cluster)``, when given, the InfluxDB 2.x writer of a cluster (None for a 1.x one).
    """

    def __init__(
        self,
        clients: Callable[[str], InfluxDBClient],
        *,
        buffer_points: int = 1000,
        flush_interval_s: float = 10.0,
        max_buffered_points: int = 1_000_000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        v2: Callable[[str], InfluxDB2Writer | None] | None = None,
    ) -> None:
        self._clients = clients
        self._v2 = v2
        self.buffer_points = buffer_points
        self.flush_interval_s = flush_interval_s
        self.max_buffered_points = max_buffered_points
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._buffers: dict[Destination, _Buffer] = {}
        self._created: set[tuple[str, str]] = set()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: totals over every destination
        self.points_written = 0
        self.write_errors = 0
        self.points_dropped = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the flushers run on; writes from other threads are handed to it."""
        self._loop = loop

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run ``fn`` on the writer's loop. True when it ran now (the caller is on that loop)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and (self._loop is None or running is self._loop):
            self._loop = running
            return True
        if self._loop is None:
            raise TaskError("the InfluxDB writer has no event loop (call bind() first)")
        self._loop.call_soon_threadsafe(fn, *args)
        return False

    # --- what nodes call -------------------------------------------------------------------------

    def write(
        self,
        cluster: str,
        db: str,
        rp: str,
        body: bytes,
        precision: str,
        *,
        stats: WriteStats | None = None,
    ) -> None:
        """Queue line protocol for ``db``/``rp`` (one point per non-empty line). Safe to call from
        any thread; it never blocks on InfluxDB."""
        if not self._on_loop(self._enqueue, cluster, db, rp, body, precision, stats):
            return
        self._enqueue(cluster, db, rp, body, precision, stats)

    def write_batch(
        self,
        cluster: str,
        db: str,
        rp: str,
        batch: PointBatch,
        precision: str,
        *,
        stats: WriteStats | None = None,
    ) -> None:
        """Queue a batch of points: serialized to line protocol in Rust (GIL released), one point
        per row, so nothing reads the text back to count lines. Raises LineProtocolError when a
        point cannot be written as line protocol (nothing is queued then)."""
        if not len(batch):
            return
        body = batch.to_line_protocol(_LP_PRECISIONS.get(precision or "ns", "ns"))
        args = (cluster, db, rp, body, precision, stats, len(batch))
        if not self._on_loop(self._enqueue, *args):
            return
        self._enqueue(*args)

    def _enqueue(
        self,
        cluster: str,
        db: str,
        rp: str,
        body: bytes,
        precision: str,
        stats: WriteStats | None,
        points: int | None = None,
    ) -> None:
        if points is None:
            points = sum(1 for line in body.split(b"\n") if line.strip())
        if not points:
            return
        # InfluxDB 1.x knows n/ns, u, ms, s, m, h; anything else it would silently read as ns.
        prec = _PRECISIONS.get(precision or "ns")
        if prec is None:
            raise TaskError(f"invalid precision {precision!r} for InfluxDB: use ns, u, ms, s, m or h")
        dest = (cluster, db, rp, prec)
        buf = self._buffers.get(dest)
        if buf is None:
            buf = self._buffers[dest] = _Buffer()
        buf.items.append(_Pending(body if body.endswith(b"\n") else body + b"\n", points, stats))
        buf.points += points
        while buf.points > self.max_buffered_points and len(buf.items) > 1:
            old = buf.items.popleft()
            buf.points -= old.points
            self.points_dropped += old.points
            self._failed(old, "buffer full: oldest points dropped")
        if buf.task is None or buf.task.done():
            buf.task = asyncio.get_running_loop().create_task(self._flusher(dest, buf))
        if buf.points >= self.buffer_points:
            buf.wake.set()

    def create_database(self, cluster: str, db: str, rp: str = "") -> None:
        """influxDBOut's ``.create()``: make the database (and the rp, when named) once, in the
        background, before this writer's first write to it."""
        if not self._on_loop(self.create_database, cluster, db, rp):
            return
        if (cluster, db) in self._created:
            return
        self._created.add((cluster, db))
        job = asyncio.get_running_loop().create_task(self._create(cluster, db, rp))
        job.add_done_callback(lambda j: j.exception() if not j.cancelled() else None)

    async def _create(self, cluster: str, db: str, rp: str) -> None:
        try:
            if self._v2 is not None and self._v2(cluster) is not None:
                log.info("influxDBOut: .create() skipped for InfluxDB 2.x: create bucket %s/%s there", db, rp)
                return
            client = self._clients(cluster)
            await client.create_database(db)
            if rp and rp != "autogen":
                rp_q, db_q = quote_ident(rp), quote_ident(db)
                await client.query(f"CREATE RETENTION POLICY {rp_q} ON {db_q} DURATION INF REPLICATION 1")
        except (InfluxDBError, KapfastError) as exc:
            self._created.discard((cluster, db))  # try again with the next write
            log.warning("influxDBOut: cannot create database %s: %s", db, exc)

    # --- flushing --------------------------------------------------------------------------------

    async def _flusher(self, dest: Destination, buf: _Buffer) -> None:
        backoff = self.retry_initial_s
        retrying = False
        while buf.items:
            if not self._closing and not retrying and buf.points < self.buffer_points:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(buf.wake.wait(), self.flush_interval_s)
            buf.wake.clear()
            if not buf.items:
                break
            batch = self._next_request(buf)
            ok, retry = await self._send(dest, batch)
            if ok or not retry:
                for item in batch:
                    if buf.items and buf.items[0] is item:
                        buf.items.popleft()
                        buf.points -= item.points
                        if ok:
                            self._written(item)
                        else:
                            self._failed(item, "rejected")
                backoff = self.retry_initial_s
                retrying = False
            else:
                retrying = True
                if self._closing:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.retry_max_s)

    def _next_request(self, buf: _Buffer) -> list[_Pending]:
        """The oldest items, up to ``buffer_points`` points (at least one item) per request."""
        batch: list[_Pending] = []
        points = 0
        for item in buf.items:
            if batch and points + item.points > self.buffer_points:
                break
            batch.append(item)
            points += item.points
        return batch

    async def _send(self, dest: Destination, batch: list[_Pending]) -> tuple[bool, bool]:
        """(sent, worth retrying)."""
        cluster, db, rp, precision = dest
        try:
            v2 = self._v2(cluster) if self._v2 is not None else None
            body = b"".join(p.body for p in batch)
            if v2 is not None:
                await v2.write(db, rp, body, precision)
            else:
                await self._clients(cluster).write(db, rp or None, body, precision=precision)
        except InfluxDBError as exc:
            retry = exc.status is None or exc.status >= 500
            log.warning(
                "influxDBOut: write to %s.%s failed%s: %s",
                db,
                rp,
                " (retrying)" if retry else "",
                exc,
                extra={"tags": {"cluster": cluster, "db": db, "rp": rp}},
            )
            return False, retry
        except KapfastError as exc:
            log.warning(
                "influxDBOut: write to %s.%s failed: %s",
                db,
                rp,
                exc,
                extra={"tags": {"cluster": cluster, "db": db, "rp": rp}},
            )
            return False, False
        return True, False

    def _written(self, item: _Pending) -> None:
        self.points_written += item.points
        if item.stats is not None:
            item.stats.points_written += item.points

    def _failed(self, item: _Pending, why: str) -> None:
        del why
        self.write_errors += 1
        if item.stats is not None:
            item.stats.write_errors += 1

    def buffered_points(self) -> int:
        return sum(b.points for b in self._buffers.values())

    async def flush(self) -> None:
        """Send everything buffered now (one attempt per destination)."""
        for buf in self._buffers.values():
            buf.wake.set()
        for _ in range(100):
            if not self.buffered_points():
                return
            await asyncio.sleep(0.01)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flush what can be flushed within ``timeout_s``; count the rest as dropped."""
        self._closing = True
        for buf in self._buffers.values():
            buf.wake.set()
        tasks = [b.task for b in self._buffers.values() if b.task is not None and not b.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                t.cancel()
        for buf in self._buffers.values():
            while buf.items:
                item = buf.items.popleft()
                self.points_dropped += item.points
                self._failed(item, "server stopped")
            buf.points = 0
