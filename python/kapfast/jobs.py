"""Stopping background asyncio jobs: cancel them, then wait for each to end; waiting for several
thread-side futures as one (:func:`all_done`).

A job that ends with an error other than its cancellation still raises here: only the
cancellation we asked for is expected."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any


async def cancel_and_wait(*jobs: asyncio.Future[Any] | None) -> None:
    """Cancel every job given (None: nothing running), then wait for each to finish."""
    live = [j for j in jobs if j is not None]
    for j in live:
        j.cancel()
    for j in live:
        with contextlib.suppress(asyncio.CancelledError):
            await j


def all_done(futures: Sequence[Future[None]]) -> Future[None] | None:
    """One future done when every one of ``futures`` (thread-side work, e.g. a commit) is done,
    failed with the first failure; None for none (nothing to wait for)."""
    if not futures:
        return None
    if len(futures) == 1:
        return futures[0]
    out: Future[None] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(f: Future[None]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            errors = [e for e in (g.exception() for g in futures) if e is not None]
            if errors:
                out.set_exception(errors[0])
            else:
                out.set_result(None)

    for f in futures:
        f.add_done_callback(one_done)
    return out
