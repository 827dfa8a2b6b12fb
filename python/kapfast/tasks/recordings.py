"""Recordings: capture a task's live stream, or an InfluxDB query, into a file for replays.

A stream recording captures, from the write path, the points of the task's dbrps and of its
``from()`` measurements until ``stop``, in data time: Kapacitor ends one only when a point newer
than ``stop`` arrives (an idle stream never finishes); kapfast also ends it when the clock passes a
``stop`` that was ahead of it when the recording started.
Files are gzip ``<replay dir>/<id>.srpl`` (stream) and ``<id>.brpl`` (batch), as Kapacitor's.
A live stream recording is written in whole gzip blocks (kapfast.recordings.compression), each in
the file before the write that brought its points is acknowledged: one still running when the
server is killed keeps them all (a torn last block cut at the next start) and is ``finished``;
other recordings still running then are marked failed at the next start. The blocks are stored
(uncompressed) gzip members, cheap for the write path; a finished file is compressed on a thread
of its own and renamed over the stored one (:meth:`RecordingService._compact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.gofmt import go_quote
from kapfast.influxdb import InfluxDBClient
from kapfast.jobs import all_done, cancel_and_wait
from kapfast.recordings import (
    BatchArchiveWriter,
    BatchRecordingWriter,
    StreamRecordingWriter,
)
from kapfast.recordings.compression import (
    COMPACTING_SUFFIX,
    READ_ERRORS,
    is_live_recording,
    recover_blocks,
    write_compacted,
)
from kapfast.storage import DBRP, RecordingRecord, Storage
from kapfast.tasks.batch_query import BatchQuery, answer_time, recorded_batch, recorded_batches
from kapfast.tasks.ids import new_or_valid_id
from kapfast.tasks.service import API_BASE, compile_task, effective_dbrps
from kapfast.timefmt import api_time, parse_rfc3339_ns

log = logging.getLogger("kapfast.recordings")

EXTENSIONS = {"stream": ".srpl", "batch": ".brpl"}


class InfluxDBClients(Protocol):
    """The configured InfluxDB clusters, by name (``""``: the default one)."""

    def client(self, cluster: str) -> InfluxDBClient: ...


#: Writes a recording's file (InfluxDB queries); raises on failure.
FillJob = Callable[[RecordingRecord], Awaitable[None]]


def _cluster(opts: Mapping[str, Any]) -> str:
    cluster = opts.get("cluster") or ""
    if not isinstance(cluster, str):
        raise RequestError("cluster must be a string")
    return cluster


def _time_arg(raw: Any, name: str) -> int:
    if not isinstance(raw, str) or not raw:
        raise RequestError(f"must provide {name} time")
    try:
        return parse_rfc3339_ns(raw)
    except (KapfastError, ValueError) as exc:
        raise RequestError(f"invalid {name} time {go_quote(raw)}: {exc}") from None


@dataclass
class _StreamCapture:
    rec: RecordingRecord
    dbrps: frozenset[DBRP]
    measurements: list[str]  # empty: every measurement
    stop_ns: int
    writer: StreamRecordingWriter
    timer: asyncio.TimerHandle | None = None
    #: fed by the caller of :meth:`RecordingService.feed` (a cluster node: the points read from
    #: the cluster's stream), not by the write path
    external: bool = False


class RecordingService:
    def __init__(
        self, storage: Storage, replay_dir: Path, clock: Clock, influx: InfluxDBClients | None = None
    ) -> None:
        self.storage = storage
        self.dir = replay_dir
        self.clock = clock
        self.influx = influx
        self._streams: dict[str, _StreamCapture] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        #: runs a stream capture's end: in kapfastd on the engine thread (Engine.run), where
        #: write_points runs, as a capture may also end on the loop (its stop time, a delete)
        self.serialized: Callable[..., Any] = lambda fn, *args: fn(*args)
        #: held while a recording's file is replaced (compaction) or deleted
        self._files = threading.Lock()
        self._compactions: set[threading.Thread] = set()
        #: told of every change to a recording stored (None: deleted), from any thread: a
        #: cluster node shares its recordings (kapfast.cluster.recordings)
        self.changed: Callable[[str, RecordingRecord | None], None] = lambda ident, rec: None
        #: what happens when a stream recording's stop time is reached on the clock: it ends
        #: (a cluster node first reads what its stream holds up to then)
        self.stop_reached: Callable[[str], None] = lambda ident: self._finish_stream(ident, "")

    def open(self) -> None:
        """Settle the recordings the last run left running (it crashed or was killed): a live
        stream recording keeps every whole block it wrote (every point acknowledged while it ran),
        a torn last block cut, and is ``finished`` with an error that says so; any other is
        ``failed``, as kapacitord marks them. Finished stream recordings still in stored blocks
        (the last run stopped before it compressed them) are compressed again."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for left in self.dir.glob(f"*{COMPACTING_SUFFIX}"):  # a compaction cut short
            with contextlib.suppress(OSError):
                left.unlink()
        for rec in self.storage.recordings.find():
            if rec.status == "running" and rec.type == "stream":
                self._recover_stream(rec)
        n = self.storage.recordings.fail_running("the server stopped while the recording was running")
        if n:
            log.warning("marked %d recordings left running by the last run as failed", n)
        for rec in self.storage.recordings.find():
            if rec.status == "finished" and rec.type == "stream":
                with contextlib.suppress(OSError):
                    if is_live_recording(rec.path):
                        self._compact_later(rec)

    def _compact_later(self, rec: RecordingRecord) -> None:
        """Compress a finished live recording's file (stored blocks) on a thread of its own."""
        thread = threading.Thread(target=self._compact, args=(rec.id, rec.path), name="recording-compact")
        self._compactions.add(thread)
        thread.start()

    def _compact(self, ident: str, path: str) -> None:
        # below the write path and the tasks: the recording is complete and replayable meanwhile
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            try:
                tmp = write_compacted(path)
            except READ_ERRORS as exc:  # deleted meanwhile, or the disk is full: stays stored
                with contextlib.suppress(OSError):
                    os.remove(path + COMPACTING_SUFFIX)
                if self.storage.recordings.exists(ident):
                    log.warning("recording %s: cannot compress %s: %s", ident, path, exc)
                return
            with self._files:
                if not self.storage.recordings.exists(ident):  # deleted meanwhile
                    os.remove(tmp)
                    return
                os.replace(tmp, path)
                rec = self.storage.recordings.get(ident)
                rec.size = os.path.getsize(path)
                self.storage.recordings.put(rec)
            self.changed(ident, rec)
        except (OSError, KapfastError) as exc:
            log.warning("recording %s: compressing %s failed: %s", ident, path, exc)
        finally:
            self._compactions.discard(threading.current_thread())

    def wait_compacted(self) -> None:
        """Wait until the recordings being compressed are (server stop, tests)."""
        for thread in list(self._compactions):
            thread.join()

    def _recover_stream(self, rec: RecordingRecord) -> None:
        try:
            if not is_live_recording(rec.path):
                return  # a query's recording: failed below
            got = recover_blocks(rec.path)
        except OSError as exc:
            log.warning("recording %s: cannot recover %s: %s", rec.id, rec.path, exc)
            return
        torn = f"; a torn last block of {got.cut_bytes} bytes was cut" if got.cut_bytes else ""
        rec.error = (
            "the server stopped while the recording was running: it ends with the last points "
            f"written before ({got.lines // 3} points){torn}"
        )
        rec.status, rec.progress, rec.size = "finished", 1.0, got.kept_bytes
        self.storage.recordings.put(rec)
        self.changed(rec.id, rec)
        log.warning("recording %s recovered after a crash: %s", rec.id, rec.error)

    def pending(self) -> Future[None] | None:
        """Done once every point handed to a live recording so far is in its file (the write
        path acknowledges a write after it: kapfast.server.write); None when nothing waits."""
        waits = [f for cap in self._streams.values() if (f := cap.writer.pending()) is not None]
        return all_done(waits)

    # --- stream recordings ---------------------------------------------------------------------

    def record_stream(self, opts: Mapping[str, Any], *, external: bool = False) -> RecordingRecord:
        """``external``: the points come through :meth:`feed`, not the write path."""
        ident = self._new_id(opts.get("id"))
        task_id = opts.get("task")
        if not isinstance(task_id, str) or not task_id:
            raise RequestError("must provide task ID")
        task = self.storage.tasks.get(task_id)
        stop_ns = _time_arg(opts.get("stop"), "stop")
        pipeline = compile_task(task)
        if pipeline.task_type != "stream":
            raise RequestError(f"task {task_id} is a batch task: record it with a batch recording")
        measurements: list[str] = []
        for node in pipeline.nodes:
            if node.kind == "from":
                m = node.prop("measurement")
                if not m:  # one unfiltered from() sees every measurement
                    measurements = []
                    break
                measurements.append(str(m))
        rec = self._begin(ident, "stream")
        cap = _StreamCapture(
            rec,
            frozenset(effective_dbrps(task, pipeline)),
            measurements,
            stop_ns,
            StreamRecordingWriter(rec.path, background=True),
            external=external,
        )
        self._streams[ident] = cap
        now = self.clock.now_ns()
        if stop_ns > now:
            # `stop` is data time: points up to it are kept, the first newer one ends the
            # recording (write_points). A stop still ahead of the clock also ends it when the
            # clock gets there, so an idle stream finishes; a stop already past (a recording of
            # old data, replayed or backfilled) waits for the data.
            with contextlib.suppress(RuntimeError):  # no loop (tests of the service alone)
                loop = asyncio.get_running_loop()
                cap.timer = loop.call_later((stop_ns - now) / 1e9, self.stop_reached, ident)
        return rec

    def wants_raw(self) -> bool:
        return bool(self._streams)

    def write_raw(self, db: str, rp: str, batch: PointBatch, raw: bytes) -> None:
        """The router's call when it has the body ``batch`` came from (ns, every point with its
        timestamp): a capture that keeps the whole batch stores its lines as they are when they
        are one point each (checked by the writer in Rust)."""
        self.write_points(db, rp, batch, raw)

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        """Called by the router for every accepted batch."""
        if not self._streams:
            return
        for ident, cap in list(self._streams.items()):
            if not cap.external:
                self._capture(ident, cap, db, rp, batch, raw)

    def feed(self, ident: str, db: str, rp: str, batch: PointBatch) -> None:
        """Points for the stream recording ``ident`` made with ``external``, kept as the write
        path's are (its task's dbrps and measurements, up to its stop)."""
        cap = self._streams.get(ident)
        if cap is not None:
            self._capture(ident, cap, db, rp, batch, None)

    def _capture(
        self, ident: str, cap: _StreamCapture, db: str, rp: str, batch: PointBatch, raw: bytes | None
    ) -> None:
        if DBRP(db, rp) not in cap.dbrps:
            return
        part = batch.with_measurements(cap.measurements) if cap.measurements else batch
        if not len(part):
            return
        times = np.frombuffer(cast(Any, part.time()), dtype=np.int64)  # ns, zero-copy
        done = bool(times.max() > cap.stop_ns)
        if done:  # keep the points up to stop, then end (Kapacitor's rule)
            part = part.filter(times <= cap.stop_ns)
        try:
            if len(part):
                # the body as it came when it is all kept and one point a line, else the
                # batch serialized in Rust; made into records in one pass in Rust, compressed
                # and written on the writer's thread
                whole = raw is not None and len(part) == len(batch)
                if not (whole and raw is not None and cap.writer.write_exact(db, rp, raw, len(part))):
                    cap.writer.write_serialized(db, rp, part.to_line_protocol(), len(part))
        except (OSError, KapfastError, ValueError) as exc:
            self._finish_stream(ident, f"writing the recording failed: {exc}")
            return
        if done:
            self._finish_stream(ident, "")

    def finish_stream(self, ident: str, error: str = "") -> None:
        """End a running stream recording now (a no-op once it ended)."""
        self._finish_stream(ident, error)

    def is_recording(self, ident: str) -> bool:
        return ident in self._streams

    def _finish_stream(self, ident: str, error: str) -> None:
        self.serialized(self._finish_stream_now, ident, error)

    def _finish_stream_now(self, ident: str, error: str) -> None:
        cap = self._streams.pop(ident, None)
        if cap is None:
            return
        if cap.timer is not None:
            cap.timer.cancel()
        try:
            cap.writer.close()
        except OSError as exc:
            error = error or f"closing the recording failed: {exc}"
        self._end(cap.rec, error)
        if cap.rec.status == "finished" and self.storage.recordings.exists(cap.rec.id):
            self._compact_later(cap.rec)  # written in stored blocks: compressed now

    # --- batch recordings ----------------------------------------------------------------------

    def record_batch(self, opts: Mapping[str, Any]) -> RecordingRecord:
        """Run each ``query()`` of a batch task over ``[start, stop)``, one period at a time,
        into a ``.brpl`` archive (one entry per query node, as Kapacitor's)."""
        ident = self._new_id(opts.get("id"))
        fill = self.batch_job(opts)
        rec = self._begin(ident, "batch")
        self._spawn(self._run(rec, fill))
        return rec

    def batch_job(self, opts: Mapping[str, Any]) -> FillJob:
        """Validate a batch recording request (``task``, ``start``, ``stop``, ``cluster``) and
        return the job that writes its file (also used by ``POST /replays/batch``)."""
        task_id = opts.get("task")
        if not isinstance(task_id, str) or not task_id:
            raise RequestError("must provide task ID")
        task = self.storage.tasks.get(task_id)
        start = _time_arg(opts.get("start"), "start")
        stop = _time_arg(opts["stop"], "stop") if opts.get("stop") else self.clock.now_ns()
        if stop <= start:
            raise RequestError("stop time must be after start time")
        pipeline = compile_task(task)
        if pipeline.task_type != "batch":
            raise RequestError(f"task {task_id} is a stream task: record it with a stream recording")
        cluster = _cluster(opts)
        try:
            plans = [BatchQuery.from_node(node) for node in pipeline.nodes if node.kind == "query"]
        except KapfastError as exc:
            raise RequestError(str(exc)) from None
        if not plans:
            raise RequestError(f"task {task_id} has no query() to record")
        clients = [self._client(cluster or p.cluster) for p in plans]
        # Kapacitor's runs: every tick of the node's schedule after start, up to stop, each over
        # [tick - offset - period, tick - offset), skipping any that would end in the future.
        now = self.clock.now_ns()
        runs: list[list[tuple[int, int]]] = []
        for p in plans:
            bounds = []
            tick = p.next_tick(start)
            while tick is not None and tick <= stop and tick - p.offset <= now:
                bounds.append(p.bounds(tick))
                tick = p.next_tick(tick)
            runs.append(bounds)

        async def fill(rec: RecordingRecord) -> None:
            archive = BatchArchiveWriter(rec.path, len(plans))
            try:
                total = max(1, sum(len(r) for r in runs))
                done = 0
                for source, (plan, client, bounds) in enumerate(zip(plans, clients, runs, strict=True)):
                    for lo, hi in bounds:
                        series = await client.query_series(plan.text(lo, hi))
                        for batch in recorded_batches(series, plan, hi):
                            archive.write(source, batch)
                        done += 1
                        rec.progress = done / total
            finally:
                archive.close()

        return fill

    # --- query recordings ----------------------------------------------------------------------

    def record_query(self, opts: Mapping[str, Any]) -> RecordingRecord:
        ident = self._new_id(opts.get("id"))
        kind = opts.get("type")
        if kind not in EXTENSIONS:
            raise RequestError(f"invalid type {go_quote(kind)}: expected stream or batch")
        fill = self.query_job(opts, str(kind))
        rec = self._begin(ident, str(kind))
        self._spawn(self._run(rec, fill))
        return rec

    def query_job(self, opts: Mapping[str, Any], kind: str) -> FillJob:
        """Validate a query recording request (``query``, ``cluster``) of type ``kind`` and return
        the job that writes its file (also used by ``POST /replays/query``)."""
        query = opts.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RequestError("must provide query")
        client = self._client(_cluster(opts))
        dbrp = _from_dbrp(query) if kind == "stream" else None

        async def fill(rec: RecordingRecord) -> None:
            if dbrp is not None:
                results = await client.query(query, epoch="ns")
                with StreamRecordingWriter(rec.path) as sw:
                    for s in (s for r in results for s in r.get("series") or ()):
                        body = _series_to_lines(s)
                        if body:
                            sw.write(dbrp[0], dbrp[1], body)
            else:
                answer = await client.query_series(query)
                with BatchRecordingWriter(rec.path) as bw:
                    for a in answer:
                        bw.write(recorded_batch(a, False))

        return fill

    async def _run(self, rec: RecordingRecord, fill: FillJob) -> None:
        error = ""
        try:
            await fill(rec)
        except (KapfastError, OSError, ValueError) as exc:
            error = str(exc)
        self._end(rec, error)

    def _client(self, cluster: str) -> InfluxDBClient:
        if self.influx is None:
            raise RequestError("no InfluxDB is configured ([[influxdb]] in the config)")
        return self.influx.client(cluster)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _new_id(self, raw: Any) -> str:
        ident = new_or_valid_id(raw, "recording")
        if self.storage.recordings.exists(ident):
            raise RequestError(f"recording {ident} already exists")
        return ident

    def _begin(self, ident: str, kind: str) -> RecordingRecord:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{ident}{EXTENSIONS[kind]}"
        rec = RecordingRecord(ident, kind, str(path), status="running", date=self.clock.now_ns())
        self.storage.recordings.put(rec)
        self.changed(ident, rec)
        return rec

    def _end(self, rec: RecordingRecord, error: str) -> None:
        rec.status = "failed" if error else "finished"
        rec.error = error
        rec.progress = 1.0 if not error else rec.progress
        with contextlib.suppress(OSError):
            rec.size = os.path.getsize(rec.path)
        if self.storage.recordings.exists(rec.id):  # deleted while running: stay deleted
            self.storage.recordings.put(rec)
            self.changed(rec.id, rec)
        log.info("recording %s %s%s", rec.id, rec.status, f": {error}" if error else "")

    def _spawn(self, coro: Any) -> None:
        job = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    def get(self, ident: str) -> RecordingRecord:
        return self.storage.recordings.get(ident)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[RecordingRecord]:
        return self.storage.recordings.find(pattern, offset, limit)

    def delete(self, ident: str) -> None:
        """Forget a recording and its file; unknown ids are not an error (as Kapacitor)."""
        if ident in self._streams:
            self._finish_stream(ident, "deleted")
        try:
            rec = self.storage.recordings.get(ident)
        except NotFoundError:
            return
        with self._files:  # not while a compaction puts the file back
            self.storage.recordings.delete(ident)
            with contextlib.suppress(FileNotFoundError):
                os.remove(rec.path)
        self.changed(ident, None)

    async def close(self) -> None:
        for ident in list(self._streams):
            self._finish_stream(ident, "the server stopped before the recording's stop time")
        await cancel_and_wait(*self._jobs)
        await asyncio.to_thread(self.wait_compacted)

    @staticmethod
    def to_json(rec: RecordingRecord) -> dict[str, Any]:
        return {
            "link": {"rel": "self", "href": f"{API_BASE}/recordings/{rec.id}"},
            "id": rec.id,
            "type": rec.type,
            "size": rec.size,
            "date": api_time(rec.date),
            "error": rec.error,
            "status": rec.status,
            "progress": rec.progress,
        }


_FROM = re.compile(r'\bFROM\s+("(?:[^"\\]|\\.)+"|\w+)\.("(?:[^"\\]|\\.)*"|\w*)\.', re.IGNORECASE)


def _unquote(part: str) -> str:
    if part.startswith('"'):
        return re.sub(r"\\(.)", r"\1", part[1:-1])
    return part


def _from_dbrp(query: str) -> tuple[str, str]:
    """The database and retention policy a stream query recording files its points under."""
    m = _FROM.search(query)
    if not m:
        raise RequestError(
            'a stream query recording needs a fully qualified measurement: FROM "db"."rp"."measurement"'
        )
    return _unquote(m.group(1)), _unquote(m.group(2)) or "autogen"


def _lp_escape(text: str, specials: str) -> str:
    for ch in "\\" + specials:
        text = text.replace(ch, "\\" + ch)
    return text


def _lp_field(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _series_to_lines(s: Mapping[str, Any]) -> bytes:
    """One InfluxQL result series as line protocol (ns), skipping rows without a field value."""
    name = _lp_escape(str(s.get("name", "")), ", ")
    tags = "".join(
        f",{_lp_escape(k, ',= ')}={_lp_escape(str(v), ',= ')}"
        for k, v in sorted((s.get("tags") or {}).items())
        if v != ""
    )
    cols = list(s.get("columns") or [])
    out = []
    for row in s.get("values") or ():
        values = dict(zip(cols, row, strict=False))
        t = values.pop("time", None)
        fields = ",".join(
            f"{_lp_escape(k, ',= ')}={_lp_field(v)}" for k, v in values.items() if v is not None
        )
        if fields and t is not None:
            out.append(f"{name}{tags} {fields} {answer_time(t)}")
    return ("\n".join(out) + "\n").encode() if out else b""


__all__ = ["RecordingService"]
