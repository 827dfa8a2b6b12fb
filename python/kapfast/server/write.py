"""``POST /write`` and ``POST /kapacitor/v1/write``: InfluxDB-compatible ingestion.

The body is parsed in Rust into one columnar batch. Bad lines do not lose the good ones: the good
lines go on to the router and the answer is a 400 naming every bad line the way InfluxDB does
(``partial write: unable to parse '<line>': <reason>``, with the line number and column added).
Errors are plain text, as Kapacitor answers on this endpoint.

A large body is parsed and its points run through the tasks on the engine thread, in one item
(kapfast.server.engine_thread), so the event loop goes on answering other requests meanwhile.
Under overload writes get backpressure rather than unbounded latency (:class:`WriteGate`): at most
``[http] max-concurrent-write-limit`` writes are parsed and routed at once (so at most that many
batches wait for the engine), at most ``max-enqueued-write-limit`` more wait for a turn, none waits
longer than ``enqueued-write-timeout``; a write beyond that is answered ``503`` with
``Retry-After`` before its body is read (Telegraf and the InfluxDB clients retry on 5xx) and counted in
``writes_rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from time import perf_counter_ns
from typing import Any, Protocol, cast

import numpy as np
from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.errors import LineProtocolError
from kapfast.lineproto import PRECISIONS, ParseResult, SeriesIndexes, parse
from kapfast.server.bodies import BodyStalled, body_chunks
from kapfast.server.http import Handler
from kapfast.server.stats import IngressStats

#: bodies this large are parsed off the loop (GIL released): on the engine thread just before
#: their points run (one hop), or on an executor thread where no engine routes them (a cluster
#: ingest node publishes them) or where more cores can parse beside the engine; the handler then
#: yields, so the loop answers pings meanwhile and waiting writes queue at the gate, where they can
#: be counted and refused; smaller bodies parse on the loop, faster than the hop to a thread costs
OFF_LOOP_BYTES = 16 << 10

#: on a machine this small a large body is parsed on the engine thread (see make_write_handler)
PARSE_ON_ENGINE_MAX_CPUS = 2

MAX_ERRORS_SHOWN = 10  # an answer for a million bad lines stays readable


class PointSink(Protocol):
    """Where accepted points go: the router, or the engine thread that runs it (see
    :class:`EngineSink`)."""

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None: ...

    def wants_raw(self) -> bool: ...


class EngineSink(PointSink, Protocol):
    """The engine thread (kapfast.server.engine_thread.Engine): ``post(fn)`` runs ``fn`` there,
    ``route`` runs a batch through the router there and returns the commit the write's answer
    waits for. A large body is parsed and routed in one item: one hop from the loop and one back,
    which the loop awaits while it answers others."""

    def post(self, fn: Callable[[], object]) -> None: ...

    def route(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> Future[None] | None: ...


def _as_records(body: bytes, precision: str, now_ns: int, result: ParseResult) -> bytes | None:
    """``body`` itself when its lines may be the batch exactly, as ns lines (what a live
    recording can store as it came, instead of serializing the batch again), else None.

    Checked here: ns precision, no bad line, and no point that took the server's time for want of
    a timestamp. That there are as many lines as points, without CR (so no blank or comment line
    and no newline inside a string), the recording checks in Rust in the same pass that makes its
    records (kapfast.recordings.StreamRecordingWriter.write_exact). (A line may start with
    blanks: the line-protocol readers skip them.)"""
    if precision != "ns" or result.errors:
        return None
    times = np.frombuffer(cast(Any, result.batch.time()), dtype=np.int64)
    return None if (times == now_ns).any() else body


#: a cluster ingest node's sink instead of the router: returns once the points are stored
#: (JetStream acknowledged them), raises otherwise (kapfast.cluster.ingest.PublishError)
Publish = Callable[[str, str, PointBatch], Awaitable[None]]


def _text_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


class _TooLarge(Exception):
    pass


RETRY_AFTER_S = 1


class WriteGate:
    """The bounded queue of write work: ``concurrent`` writes parse and route at once, ``enqueued``
    more may be in flight (reading their bodies, waiting for a turn) for at most ``timeout_s``.
    0 means no limit, as in InfluxDB's ``[http]`` section."""

    def __init__(self, concurrent: int = 0, enqueued: int = 0, timeout_s: float = 0.0) -> None:
        self._turns = asyncio.Semaphore(concurrent) if concurrent else None
        self.capacity = concurrent + enqueued if concurrent and enqueued else 0
        self.timeout_s = timeout_s or None
        self.in_flight = 0

    def full(self) -> bool:
        return bool(self.capacity) and self.in_flight >= self.capacity

    async def turn(self) -> bool:
        """Wait for a turn; False when none came within the timeout."""
        if self._turns is None:
            return True
        if not self._turns.locked():
            # a free turn is taken without suspending: ``wait_for`` wraps the acquire in a task,
            # so even a free turn cost the write a trip round the event loop, behind whatever
            # else was ready (other requests' body chunks): write → alert latency
            return await self._turns.acquire()
        try:
            await asyncio.wait_for(self._turns.acquire(), self.timeout_s)
        except TimeoutError:
            return False
        return True

    def done(self) -> None:
        if self._turns is not None:
            self._turns.release()


def _busy(stats: IngressStats, why: str) -> web.Response:
    stats.writes_rejected += 1
    resp = _text_error(503, f"{why}: the server is overloaded, retry later")
    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


async def _read_body(request: web.Request, max_size: int) -> bytes:
    """The request body, at most ``max_size`` bytes (0: no limit) after decompression.

    A ``Content-Encoding: gzip`` body is inflated here as it streams in (the server does not
    inflate bodies: ``auto_decompress=False``), so the inflated size is bounded (a huge body or a
    small gzip bomb is refused once it passes the limit, without being held whole) and the stream
    is checked to its end, as InfluxDB's gzip reader does: a truncated body, a corrupt one or a
    bad CRC is an error and no line of it is applied. Concatenated gzip members are one body.
    """
    gz = request.headers.get("Content-Encoding", "").lower() == "gzip"
    if request.content_length is not None and max_size and not gz and request.content_length > max_size:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    inflate = _Gunzip() if gz else None
    try:
        async for data in body_chunks(request):
            for out in inflate.feed(data) if inflate is not None else (data,):
                size += len(out)
                if max_size and size > max_size:
                    raise _TooLarge
                chunks.append(out)
        if inflate is not None:
            inflate.finish()
    except zlib.error as exc:
        raise ValueError(f"unable to decode gzip body: {exc}") from None
    except (ContentEncodingError, web.RequestPayloadError, web.HTTPBadRequest) as exc:
        raise ValueError(f"unable to decode gzip body: {exc}") from None
    return b"".join(chunks)


class _Gunzip:
    """Inflates a gzip stream fed in pieces, member after member (Go's multistream reader), in
    bounded outputs; ``finish`` raises unless the last member ended."""

    PIECE = 1 << 16

    def __init__(self) -> None:
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self.d.eof:  # what follows a member is the next member (or junk: an error)
                data = self.d.unused_data + data
                self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = self.d.decompress(data, self.PIECE)
            data = self.d.unconsumed_tail
            if self.d.eof and self.d.unused_data and not data:
                data, self.d = self.d.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
            if out:
                yield out

    def finish(self) -> None:
        if not self.d.eof:
            raise zlib.error("unexpected EOF")


def _precision(raw: str) -> str | None:
    if raw in ("", "n", "ns"):
        return "ns"
    return raw if raw in PRECISIONS else None


def make_write_handler(
    sink: PointSink,
    stats: IngressStats,
    clock: Clock,
    *,
    default_rp: str,
    max_body_size: int,
    gate: WriteGate | None = None,
    durable: Callable[[], Future[None] | None] | None = None,
    publish: Publish | None = None,
    parse_on_engine: bool | None = None,
) -> Handler:
    """The aiohttp handler for both write paths.

    ``parse_on_engine``: parse a large body on the engine thread, in the item that routes its
    points (one hop: the least CPU per point), rather than on an executor thread before the hop
    (two hops, but bodies parse on other cores while the engine routes earlier ones). None: the
    engine thread when the process may use at most :data:`PARSE_ON_ENGINE_MAX_CPUS` CPUs, where
    the parse has no spare core to move to anyway.

    ``durable``: the commit the answer must wait for (the alert states the write's points made,
    group-committed on the store's thread, kapfast.storage.AlertStateStore; the blocks of live
    recordings that hold them, kapfast.tasks.recordings), None when nothing is being written:
    the event loop serves other requests meanwhile, and an acknowledged write's alert states and
    recorded points survive a crash as when they were written on the loop."""
    gate = gate or WriteGate()
    # the engine thread parses and routes each large body (a cluster ingest node publishes instead)
    if parse_on_engine is None:
        parse_on_engine = len(os.sched_getaffinity(0)) <= PARSE_ON_ENGINE_MAX_CPUS
    routes = publish is None and parse_on_engine and callable(getattr(sink, "route", None))
    engine = cast(EngineSink, sink) if routes else None
    # Series seen by earlier writes, per db/rp: a known series then costs one hash probe.
    indexes = SeriesIndexes()

    async def handle(request: web.Request) -> web.StreamResponse:
        if gate.full():
            return _busy(stats, "too many writes in flight")
        gate.in_flight += 1
        started = perf_counter_ns()  # a duration, as the access log measures it (not a time)
        try:
            return await _write(request)
        finally:
            gate.in_flight -= 1
            if stats.on_write is not None:
                stats.on_write((perf_counter_ns() - started) / 1e9)

    async def _write(request: web.Request) -> web.StreamResponse:
        db = request.query.get("db", "")
        if not db:
            return _text_error(400, "database is required")
        rp = request.query.get("rp", "") or default_rp
        precision = _precision(request.query.get("precision", ""))
        if precision is None:
            return _text_error(
                400,
                f"invalid precision {request.query.get('precision')!r}: use one of n, ns, u, ms, s, m, h",
            )
        try:
            body = await _read_body(request, max_body_size)
        except _TooLarge:
            return _text_error(413, f"request body too large: the limit is {max_body_size} bytes")
        except ValueError as exc:
            return _text_error(400, str(exc))
        except BodyStalled as exc:
            resp = _text_error(408, str(exc))
            resp.force_close()  # no keep-alive: the connection ends with this answer
            return resp
        stats.bytes_received += len(body)
        if not body or body.isspace():  # (``strip()`` would copy the body to find out)
            return web.Response(status=200)
        if not await gate.turn():
            return _busy(stats, "write waited too long for its turn")
        try:
            return await _parse_and_route(body, db, rp, precision)
        finally:
            gate.done()

    def _engine_work(
        engine: EngineSink, body: bytes, db: str, rp: str, precision: str, now: int
    ) -> tuple[Callable[[], None], Future[ParseResult]]:
        """The body's parse and route as one item for the engine thread, and the future of its
        parse result, done once the points ran and the commit they made (if any) is done: the
        loop is woken once per write."""
        index = indexes.get(db, rp)
        done: Future[ParseResult] = Future()
        unlocked = getattr(engine, "unlocked", contextlib.nullcontext)

        def work() -> None:
            try:
                # GIL released while Rust parses: the event loop reads the next bodies meanwhile,
                # and, the engine's lock let go, may run a small write (Engine.unlocked)
                with unlocked():
                    result = index.parse(body, precision=precision, now_ns=now, wait=True)
                commit = None
                if len(result.batch):
                    raw = _as_records(body, precision, now, result) if engine.wants_raw() else None
                    commit = engine.route(db, rp, result.batch, raw)
            except Exception as exc:  # answered 500 by the handler, as any failure of a request
                done.set_exception(exc)
                return
            if commit is None:
                done.set_result(result)
            else:  # a failed commit is logged by its committer; the points were taken
                commit.add_done_callback(lambda _: done.set_result(result))

        return work, done

    async def _parse_and_route(body: bytes, db: str, rp: str, precision: str) -> web.StreamResponse:
        now = clock.now_ns()
        if engine is not None and len(body) >= OFF_LOOP_BYTES:
            work, done = _engine_work(engine, body, db, rp, precision, now)
            engine.post(work)
            result = await asyncio.wrap_future(done)
            if len(result.batch):
                stats.count(db, rp, result.batch)
            return _answer(body, result)
        # A body of PARALLEL_MIN_BYTES or more is parsed on 2 threads, GIL released. A large body
        # is parsed off the event loop, so other requests (pings, small writes) go on meanwhile.
        index = indexes.get(db, rp)
        if len(body) >= OFF_LOOP_BYTES:
            # on a worker thread, a parse waits for its db/rp's index rather than parse without
            # it (2 clients' bodies parsed at once would otherwise pay ~2.5x the CPU per line)
            result = await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(index.parse, body, precision=precision, now_ns=now, wait=True)
            )
        else:
            result = parse(body, precision=precision, now_ns=now, index=index)
        if len(result.batch):
            stats.count(db, rp, result.batch)
            if publish is not None:
                try:
                    await publish(db, rp, result.batch)
                except Exception as exc:  # not stored: the writer must retry
                    resp = _text_error(503, f"points not stored by the cluster: {exc}")
                    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
                    return resp
            else:
                raw = _as_records(body, precision, now, result) if sink.wants_raw() else None
                submit = getattr(sink, "submit", None)
                if submit is not None:  # the engine thread (kapfast.server.engine_thread)
                    routed = submit(db, rp, result.batch, raw)
                    # run already (a few points on an idle engine): no trip round the loop
                    commit = routed.result() if routed.done() else await asyncio.wrap_future(routed)
                else:
                    sink.write_points(db, rp, result.batch, raw)
                    commit = durable() if durable is not None else None
                if commit is not None:
                    with contextlib.suppress(Exception):  # a failed commit is logged; the points were taken
                        await asyncio.wrap_future(commit)
        return _answer(body, result)

    def _answer(body: bytes, result: ParseResult) -> web.Response:
        if result.errors:
            stats.bad_lines += len(result.errors)
            return _text_error(400, partial_write_text(body, result.errors, len(result.batch)))
        return web.Response(status=204)

    return handle


def partial_write_text(body: bytes, errors: Sequence[LineProtocolError], accepted: int) -> str:
    """``partial write: unable to parse '<line>': <reason> (line L, column C)`` for each bad line
    (the first :data:`MAX_ERRORS_SHOWN`), then how many points were kept."""
    lines = body.split(b"\n")
    shown = []
    for err in errors[:MAX_ERRORS_SHOWN]:
        text = lines[err.line - 1] if 0 < err.line <= len(lines) else b""
        line = text.rstrip(b"\r").strip(b" \t").decode("utf-8", errors="replace")
        if len(line) > 200:
            line = line[:200] + "..."
        where = f"line {err.line}" + (f", column {err.column}" if err.column else "")
        shown.append(f"unable to parse '{line}': {err.message} ({where})")
    more = len(errors) - MAX_ERRORS_SHOWN
    if more > 0:
        shown.append(f"and {more} more bad lines")
    return (
        "partial write: "
        + "\n".join(shown)
        + f"\n{len(errors)} bad lines dropped, {accepted} points accepted"
    )
