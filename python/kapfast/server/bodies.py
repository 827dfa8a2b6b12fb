"""Reading request bodies under ``[http] read-timeout``: a body that stops arriving is cut.

Without it a client that sends headers and half a body holds its request (and, on ``/write``, a
place in the write queue) for ever. On ``/write`` the timeout is on silence, not on the whole
body: a large upload that keeps moving is never cut, one that sends nothing for ``read-timeout``
is. An API request's body (a small JSON document) must arrive whole within ``read-timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

#: seconds of silence after which a request body is given up (0: wait for ever)
READ_TIMEOUT_KEY = web.AppKey("read_timeout_s", float)


class BodyStalled(Exception):
    """The client stopped sending its body for longer than the read timeout."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"request body stalled: nothing received for {timeout_s:g}s ([http] read-timeout)")


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; :class:`BodyStalled` when it stops arriving.

    What has arrived already is taken at once, all of it in one piece (``read_nowait``); only
    an empty buffer waits, under the timeout. (``asyncio.wait_for`` makes a task per call: on a
    5,000-line body arriving in dozens of socket reads that was a measurable part of a write.)
    """
    content = request.content
    timeout = request.app.get(READ_TIMEOUT_KEY) or None
    while True:
        data = content.read_nowait()
        if not data:
            if content.at_eof():
                return
            try:
                async with asyncio.timeout(timeout):
                    data = await content.readany()
            except TimeoutError:
                raise BodyStalled(timeout or 0.0) from None
            if not data:
                return
        yield data


async def read_body(request: web.Request) -> bytes:
    """The whole body of an API request (a small JSON document) within the read timeout.

    ``request.read()`` keeps its limit (``client_max_size``) and its cache: a handler that looked
    at the body already gets the same bytes again."""
    timeout = request.app.get(READ_TIMEOUT_KEY) or None
    try:
        return await asyncio.wait_for(request.read(), timeout)
    except TimeoutError:
        raise BodyStalled(timeout or 0.0) from None
