"""Stopping background asyncio jobs: cancel them, then wait for each to end.

A job that ends with an error other than its cancellation still raises here: only the
cancellation we asked for is expected."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*jobs: asyncio.Future[Any] | None) -> None:
    """Cancel every job given (None: nothing running), then wait for each to finish."""
    live = [j for j in jobs if j is not None]
    for j in live:
        j.cancel()
    for j in live:
        with contextlib.suppress(asyncio.CancelledError):
            await j
