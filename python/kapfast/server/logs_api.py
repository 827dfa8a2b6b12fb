"""``GET /kapacitor/v1preview/logs``: the server's log, live, filtered by tags.

Query parameters are tag filters (``task=cpu_alert&service=kapacitor``) and ``lvl``: a level
alone matches exactly that level, with ``+`` that level and above (``lvl=info+``). The answer is
a chunked stream that lasts until the client goes away or the server stops: one JSON object per
line when the request says ``Content-Type: application/json`` (or asks for it with ``Accept``),
logfmt lines otherwise. Only lines at or above the server's log level exist to be streamed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from kapfast.errors import RequestError
from kapfast.logs import LogBroker, LogEntry, LogFilter, timestamp
from kapfast.server.http import PREVIEW, kapacitor_headers

BROKER_KEY = web.AppKey("log_broker", LogBroker)
#: How often an idle stream checks that its reader is still connected.
CHECK_CLIENT_S = 1.0
log = logging.getLogger("kapfast.logs")


def _wants_json(request: web.Request) -> bool:
    return any(
        request.headers.get(h, "").split(";")[0].strip().lower() == "application/json"
        for h in ("Content-Type", "Accept")
    )


async def stream_logs(request: web.Request) -> web.StreamResponse:
    broker = request.app[BROKER_KEY]
    try:
        flt = LogFilter.from_pairs(request.query.items())
    except ValueError as exc:
        raise RequestError(str(exc)) from None
    as_json = _wants_json(request)
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json" if as_json else "text/plain"
    resp.charset = "utf-8"
    resp.enable_chunked_encoding()
    kapacitor_headers(resp)
    stream = broker.open(flt)
    log.debug("log stream opened", extra={"tags": {"filter": request.query_string}})
    try:
        await resp.prepare(request)
        ended = False
        while not ended:
            try:
                entry = await asyncio.wait_for(stream.queue.get(), CHECK_CLIENT_S)
            except TimeoutError:
                # No line for a while: stop if the reader went away (aiohttp does not cancel a
                # handler whose client disconnected), so a quiet filter cannot hold a stream open.
                if request.transport is None or request.transport.is_closing():
                    break
                continue
            lines = []
            if stream.dropped:
                lines.append(_dropped(stream.dropped, entry))
                stream.dropped = 0
            if entry is None:
                ended = True
            else:
                lines.append(entry)
            # Write what is already queued in the same chunk: fewer syscalls when the log is busy.
            while not ended and not stream.queue.empty() and len(lines) < 256:
                nxt = stream.queue.get_nowait()
                if nxt is None:
                    ended = True
                else:
                    lines.append(nxt)
            if lines:
                text = "".join((e.json() if as_json else e.logfmt()) + "\n" for e in lines)
                await resp.write(text.encode())
    except (ConnectionResetError, ConnectionError):
        pass  # the reader went away: that is how a log stream normally ends
    finally:
        broker.close_stream(stream)
        log.debug("log stream closed", extra={"tags": {"filter": request.query_string}})
    return resp


def _dropped(count: int, near: LogEntry | None) -> LogEntry:
    ts = near.ts if near is not None else timestamp(time.time())
    return LogEntry(
        ts,
        "warn",
        f"{count} log lines dropped: this reader is slower than the log",
        {"service": "logs"},
    )


async def _end_streams(app: web.Application) -> None:
    app[BROKER_KEY].end_all()


def add_routes(app: web.Application, broker: LogBroker) -> None:
    """The log stream exists only under the preview prefix, as in Kapacitor."""
    app[BROKER_KEY] = broker
    app.router.add_get(f"{PREVIEW}/logs", stream_logs, allow_head=False)
    # Streams must end before the server waits for its handlers to finish.
    app.on_shutdown.append(_end_streams)


def attach(broker: LogBroker) -> None:
    root = logging.getLogger()
    if broker not in root.handlers:
        root.addHandler(broker)


def detach(broker: LogBroker) -> None:
    logging.getLogger().removeHandler(broker)
