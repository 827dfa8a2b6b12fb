"""``GET /kapfast/v1/tap/{task}/{node}``: what a node of a running task emits, live, as line
protocol (kapfast.engine.tap). kapfast's own path: Kapacitor has nothing like it.

The answer is a chunked text stream that lasts until the reader goes away, the task stops or
the server stops. ``?limit=N`` ends it after N points. 404: no such task, or the task is not
executing, or it has no node of that name (the message lists the nodes).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from kapfast.engine.tap import Tap
from kapfast.errors import NotFoundError, TaskError
from kapfast.server.http import int_param, kapacitor_headers
from kapfast.server.state import STATE_KEY

TAP_PATH = "/kapfast/v1/tap"
#: How often an idle stream checks that its reader is still connected.
CHECK_CLIENT_S = 1.0


class OpenTaps:
    """The taps the server has open (ended when it stops)."""

    def __init__(self) -> None:
        self.taps: set[Tap] = set()


TAPS_KEY = web.AppKey("taps", OpenTaps)
log = logging.getLogger("kapfast.tap")


async def stream_tap(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    task_id, node = request.match_info["task"], request.match_info["node"]
    limit = int_param(request, "limit", 0)
    st.tasks.get(task_id)  # 404 for an unknown task
    tap = Tap(asyncio.get_running_loop())
    try:
        st.master.add_tap(task_id, node, tap)
    except TaskError as exc:
        raise NotFoundError(str(exc)) from None
    taps = request.app[TAPS_KEY].taps
    taps.add(tap)
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    resp.charset = "utf-8"
    resp.enable_chunked_encoding()
    kapacitor_headers(resp)
    log.debug("tap opened", extra={"tags": {"task": task_id, "node": node}})
    seen = 0
    try:
        await resp.prepare(request)
        while True:
            try:
                text = await asyncio.wait_for(tap.queue.get(), CHECK_CLIENT_S)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # aiohttp does not cancel a handler whose reader went away
                continue
            if text is None:
                break
            if limit:
                lines = text.splitlines(keepends=True)
                keep: list[str] = []
                for line in lines:
                    if seen >= limit:
                        break
                    keep.append(line)
                    if line.strip() and not line.startswith("#"):
                        seen += 1
                text = "".join(keep)
            if text:
                await resp.write(text.encode())
            if limit and seen >= limit:
                break
    except (ConnectionResetError, ConnectionError):
        pass  # the reader went away: how a tap normally ends
    finally:
        taps.discard(tap)
        st.master.remove_tap(task_id, tap)
        log.debug("tap closed", extra={"tags": {"task": task_id, "node": node}})
    return resp


async def _end_taps(app: web.Application) -> None:
    for tap in list(app[TAPS_KEY].taps):
        tap.end()


def add_routes(app: web.Application) -> None:
    app[TAPS_KEY] = OpenTaps()
    app.router.add_get(TAP_PATH + "/{task}/{node}", stream_tap, allow_head=False)
    # streams must end before the server waits for its handlers to finish
    app.on_shutdown.append(_end_taps)
