"""The API handlers' calls into the SQLite store, on threads of their own (issue #19).

A store that is slow (a busy disk) or locked by another process (a backup tool, an operator's
``sqlite3`` shell) must not hold up the event loop: ``/ping``, writes and every other request go
on while a handler waits for the store here.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: the threads that run the API handlers' SQLite reads and writes (:func:`storage_io`): a few, so
#: that a write waiting out another process's lock (up to kapfast.storage.db.BUSY_TIMEOUT_S) does
#: not hold up the reads, which never wait for a writer (kapfast.storage.db.Database)
_STORAGE_THREADS = 4
_storage: ThreadPoolExecutor | None = None
_storage_lock = threading.Lock()


async def storage_io(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a call into the SQLite store, on the storage threads (issue #19): a store
    that is slow, or locked by another process, never holds up the event loop (``/ping``, writes,
    other requests); the request waits for it (or gets the store's 503 once the lock outlasts
    SQLite's busy timeout)."""
    global _storage
    with _storage_lock:
        if _storage is None:
            _storage = ThreadPoolExecutor(max_workers=_STORAGE_THREADS, thread_name_prefix="kapfast-storage")
    return await asyncio.get_running_loop().run_in_executor(_storage, functools.partial(fn, *args))
