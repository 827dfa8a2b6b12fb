"""influxDBOut's writer: line protocol batched per destination and POSTed to InfluxDB 1.x.

``write()`` never blocks a task: it appends to a buffer and returns. A flusher sends a
destination's buffer when it reaches ``buffer`` points or every ``flush_interval``; failures
(InfluxDB down, 5xx) are retried with exponential backoff while the points stay buffered.

With a ``spool_dir`` (kapfastd: ``<data_dir>/influxdb_out``), points that cannot be sent go to disk
(:mod:`kapfast.outputs.spool`): on the first failed attempt the destination's memory buffer is
written there, and later points follow it there until the disk buffer is delivered, so the order
is kept. The disk buffer is bounded by ``max_spool_bytes`` over every destination: when full, the
oldest segment is deleted and its points counted as dropped (and logged). On ``close()`` what
could not be sent within the timeout is written to disk and sent after the next start. Without a
spool dir, a memory buffer over ``max_buffered_points`` drops its oldest points, counted.

Per-node statistics: a node passes its counters (a mapping, :class:`WriteStats`) and sees them
move as its points reach InfluxDB: ``points_written`` when InfluxDB took them, ``write_errors``
for every failed request (an outage shows as errors, while the points wait), ``points_dropped``
and ``points_buffered`` (waiting now). A 4xx answer such as a field type conflict is not retried:
InfluxDB would answer the same again.

InfluxDB 2.x: for a cluster that ``v2(cluster)`` gives an :class:`~kapfast.influxdb.InfluxDB2Writer`
(an ``[[influxdb]]`` with a token), the same buffers are sent through the v2 write API to the
bucket of their db/rp; ``.create()`` does nothing there (2.x buckets are made in InfluxDB).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapfast.batch import PointBatch
from kapfast.errors import KapfastError, TaskError
from kapfast.influxdb import InfluxDB2Writer, InfluxDBClient, InfluxDBError, quote_ident
from kapfast.outputs.spool import Record, Spool

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


Counters = MutableMapping[str, int]


class WriteStats(dict[str, int]):
    """The counters of one influxDBOut node (its ``stats.extra`` in a task), by name."""

    @property
    def points_written(self) -> int:
        return self.get("points_written", 0)

    @property
    def write_errors(self) -> int:
        return self.get("write_errors", 0)

    @property
    def points_dropped(self) -> int:
        return self.get("points_dropped", 0)

    @property
    def points_buffered(self) -> int:
        return self.get("points_buffered", 0)


def _bump(stats: Counters | None, key: str, n: int) -> None:
    if stats is not None:
        stats[key] = stats.get(key, 0) + n


@dataclass
class _Pending:
    body: bytes
    points: int
    stats: Counters | None


@dataclass
class _Buffer:
    items: deque[_Pending] = field(default_factory=deque)
    points: int = 0
    bytes: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    spool: Spool | None = None

    def spooled(self) -> bool:
        return self.spool is not None and self.spool.points > 0


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
        spool_dir: Path | None = None,
        max_spool_bytes: int = 512 << 20,
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
        self.spool_dir = spool_dir
        self.max_spool_bytes = max_spool_bytes
        # a segment is what the bound drops at once: small against the bound, large against a record
        self.segment_bytes = max(4096, min(16 << 20, max_spool_bytes // 16))
        self._next_seq = 1
        self._last_drop_log = 0.0

    #: influxDBOut nodes may hand their counters over: they move as points reach InfluxDB
    reports_delivery = True

    def open(self) -> int:
        """Load the disk buffers a previous run left and start sending them (on the loop).
        Returns the points found."""
        if self.spool_dir is None:
            return 0
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        found = 0
        for folder in sorted(p for p in self.spool_dir.iterdir() if p.is_dir()):
            spool = Spool.load(folder, self.segment_bytes)
            if spool is None:
                continue
            if spool.segments:
                self._next_seq = max(self._next_seq, spool.segments[-1].seq + 1)
            buf = self._buffers.setdefault(spool.dest, _Buffer())
            buf.spool = spool
            found += spool.points
            if spool.points:
                log.info(
                    "influxDBOut: %d points (%d bytes) buffered on disk for %s.%s by a previous run: sending",
                    spool.points,
                    spool.bytes,
                    spool.dest[1],
                    spool.dest[2],
                )
                buf.task = asyncio.get_running_loop().create_task(self._flusher(spool.dest, buf))
        return found

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
        stats: Counters | None = None,
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
        stats: Counters | None = None,
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
        stats: Counters | None,
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
        item = _Pending(body if body.endswith(b"\n") else body + b"\n", points, stats)
        _bump(stats, "points_buffered", points)
        if buf.spooled() or (self.spool_dir is not None and buf.points + points > self.max_buffered_points):
            # behind what waits on disk (order), or more than memory should hold: then what is in
            # memory goes to disk first
            items = [*buf.items, item]
            buf.items.clear()
            buf.points = buf.bytes = 0
            self._spill(dest, buf, items)
        else:
            buf.items.append(item)
            buf.points += points
            buf.bytes += len(item.body)
        while buf.points > self.max_buffered_points and len(buf.items) > 1:
            old = buf.items.popleft()
            buf.points -= old.points
            buf.bytes -= len(old.body)
            self._dropped([(old.points, old.stats)], "the buffer is full")
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
        while buf.items or buf.spooled():
            if not self._closing and not retrying and not buf.spooled() and buf.points < self.buffer_points:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(buf.wake.wait(), self.flush_interval_s)
            buf.wake.clear()
            records: list[Record] = []
            batch: list[_Pending] = []
            if buf.spool is not None and buf.spooled():
                records = buf.spool.peek(self.buffer_points)
                try:
                    body = buf.spool.read(records)
                except OSError as exc:
                    log.error("influxDBOut: cannot read the disk buffer of %s.%s: %s", dest[1], dest[2], exc)
                    gone = buf.spool.done(records)
                    self._dropped([(r.points, r.stats) for r in gone], "its disk buffer cannot be read")
                    continue
            elif buf.items:
                batch = self._next_request(buf)
                body = b"".join(p.body for p in batch)
            else:
                break
            ok, retry = await self._send(dest, body)
            sent: list[tuple[int, Counters | None]] = []
            if ok or not retry:
                if records:
                    assert buf.spool is not None
                    sent = [(r.points, r.stats) for r in buf.spool.done(records)]
                for item in batch:
                    if buf.items and buf.items[0] is item:
                        buf.items.popleft()
                        buf.points -= item.points
                        buf.bytes -= len(item.body)
                        sent.append((item.points, item.stats))
                if ok:
                    self._written(sent)
                else:
                    self._error(sent, rejected=True)
                backoff = self.retry_initial_s
                retrying = False
            else:
                self._error([(r.points, r.stats) for r in records] + [(p.points, p.stats) for p in batch])
                retrying = True
                if self.spool_dir is not None and buf.items:
                    # InfluxDB is not taking writes: what waits in memory goes to disk, in order
                    items = list(buf.items)
                    buf.items.clear()
                    buf.points = buf.bytes = 0
                    self._spill(dest, buf, items)
                if self._closing:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.retry_max_s)

    def _spill(self, dest: Destination, buf: _Buffer, items: list[_Pending]) -> None:
        """Append ``items`` to the destination's disk buffer; what the disk cannot take (full,
        read-only) is dropped, counted and logged."""
        assert self.spool_dir is not None
        stored = 0
        try:
            if buf.spool is None:
                buf.spool = Spool.create(self.spool_dir, dest, self.segment_bytes)
            for item in items:
                if buf.spool.append(item.body, item.points, item.stats, self._next_seq):
                    self._next_seq += 1
                stored += 1
                self._bound()
        except OSError as exc:
            lost = items[stored:]
            log.error(
                "influxDBOut: cannot write to the disk buffer %s: %s: %d points for %s.%s dropped",
                self.spool_dir,
                exc,
                sum(i.points for i in lost),
                dest[1],
                dest[2],
            )
            self._dropped([(i.points, i.stats) for i in lost], "", logged=True)

    def _bound(self) -> None:
        """Keep the disk buffers within ``max_spool_bytes``: delete the oldest segments."""
        spools = [b.spool for b in self._buffers.values() if b.spool is not None]
        total = sum(s.bytes for s in spools)
        while total > self.max_spool_bytes:
            oldest = min((s for s in spools if s.segments), key=lambda s: s.first_seq or 0, default=None)
            if oldest is None:
                return
            size, records = oldest.drop_oldest_segment()
            total -= size
            self._dropped(
                [(r.points, r.stats) for r in records],
                f"the disk buffer is full (max-buffer-bytes = {self.max_spool_bytes})",
            )

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

    async def _send(self, dest: Destination, body: bytes) -> tuple[bool, bool]:
        """(sent, worth retrying)."""
        cluster, db, rp, precision = dest
        try:
            v2 = self._v2(cluster) if self._v2 is not None else None
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

    def _written(self, items: Iterable[tuple[int, Counters | None]]) -> None:
        for points, stats in items:
            self.points_written += points
            _bump(stats, "points_written", points)
            _bump(stats, "points_buffered", -points)

    def _error(self, items: list[tuple[int, Counters | None]], *, rejected: bool = False) -> None:
        """One failed request: one write error for it and for each node that had points in it
        (as Kapacitor counts them); rejected points leave the buffer."""
        self.write_errors += 1
        seen: set[int] = set()
        for points, stats in items:
            if stats is not None and id(stats) not in seen:
                seen.add(id(stats))
                _bump(stats, "write_errors", 1)
            if rejected:
                _bump(stats, "points_buffered", -points)

    def _dropped(self, items: list[tuple[int, Counters | None]], why: str, *, logged: bool = False) -> None:
        total = 0
        for points, stats in items:
            total += points
            _bump(stats, "points_dropped", points)
            _bump(stats, "points_buffered", -points)
        self.points_dropped += total
        now = time.monotonic()
        if total and not logged and now - self._last_drop_log >= 10.0:  # a warning, not a flood
            self._last_drop_log = now
            log.warning(
                "influxDBOut: %d points dropped: %s (%d dropped in all)", total, why, self.points_dropped
            )

    def buffered_points(self) -> int:
        return sum(b.points + (b.spool.points if b.spool else 0) for b in self._buffers.values())

    def buffered_bytes(self) -> int:
        """Bytes waiting: line protocol in memory plus the disk buffers' records."""
        return sum(b.bytes + (b.spool.bytes if b.spool else 0) for b in self._buffers.values())

    async def flush(self) -> None:
        """Send everything buffered now (one attempt per destination)."""
        for buf in self._buffers.values():
            buf.wake.set()
        for _ in range(100):
            if not self.buffered_points():
                return
            await asyncio.sleep(0.01)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Send what can be sent within ``timeout_s``; then keep the rest on disk for the next
        start (with a spool dir), or drop it, counted and logged."""
        self._closing = True
        for buf in self._buffers.values():
            buf.wake.set()
        tasks = [b.task for b in self._buffers.values() if b.task is not None and not b.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        kept = lost = 0
        for dest, buf in self._buffers.items():
            items = list(buf.items)
            buf.items.clear()
            buf.points = buf.bytes = 0
            if items and self.spool_dir is not None:
                self._spill(dest, buf, items)
            elif items:
                lost += sum(i.points for i in items)
                self._dropped([(i.points, i.stats) for i in items], "", logged=True)
            if buf.spool is not None:
                kept += buf.spool.points
                try:
                    buf.spool.close()
                except OSError as exc:
                    log.error("influxDBOut: cannot sync the disk buffer %s: %s", buf.spool.dir, exc)
        if kept:
            log.warning(
                "influxDBOut: InfluxDB did not take %d points before the stop: kept on disk in %s, "
                "sent after the next start",
                kept,
                self.spool_dir,
            )
        if lost:
            log.error(
                "influxDBOut: %d points not sent to InfluxDB before the stop were dropped (no disk buffer)",
                lost,
            )
