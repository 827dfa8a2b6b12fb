"""CPU-heavy request work on executor threads, so that one request never holds up the others.

Compiling a TICKscript costs ~40 µs a token: a 200 KB script is seconds of pure Python. Defining,
updating and describing tasks and templates therefore run on the loop's executor; the event loop
meanwhile answers ``/ping``, writes and every other request (the compile thread and the loop share
the GIL, which Python hands over every few milliseconds). Definitions are serialized among
themselves (one define at a time, in arrival order) so that two of them never interleave, and the
task master is only ever called on the loop's thread (kapfast.tasks.service._OnLoop).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from kapfast.server.state import STATE_KEY

T = TypeVar("T")


async def off_loop(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on an executor thread (reads: describing tasks, listing them)."""
    loop = asyncio.get_running_loop()
    request.app[STATE_KEY].tasks.bind_loop(loop)
    return await loop.run_in_executor(None, functools.partial(fn, *args))


async def define(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on an executor thread, one definition at a time."""
    async with request.app[STATE_KEY].tasks.define_lock:
        return await off_loop(request, fn, *args)
