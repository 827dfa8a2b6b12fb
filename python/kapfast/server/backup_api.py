"""``GET /kapacitor/v1/storage/backup``: a consistent snapshot of the server's SQLite store.

The snapshot is taken with SQLite's online backup API into a temporary file beside the database
(in a worker thread: the server keeps serving and writing meanwhile), then sent as
``application/octet-stream`` with its ``Content-Length`` so that a client can check it got every
byte (``kapfast backup`` does, as ``kapacitor backup`` does). The temporary file is unlinked as soon
as it is open, so nothing is left behind even if the client goes away.

Restore is offline, as with Kapacitor: stop kapfastd, put the file in place of ``[storage] boltdb``
(default ``<data_dir>/kapfast.db``), delete any ``kapfast.db-wal``/``-shm`` beside it, start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from kapfast.server.http import kapacitor_headers
from kapfast.server.state import STATE_KEY

CHUNK = 1 << 20
log = logging.getLogger("kapfast.storage")


def _snapshot(db_path: Path, backup: Callable[[str], int]) -> tuple[int, int]:
    """(open file descriptor of the unlinked snapshot, its size)."""
    fd, name = tempfile.mkstemp(prefix=".backup-", suffix=".db", dir=db_path.parent)
    os.close(fd)
    try:
        size = backup(name)
        fd = os.open(name, os.O_RDONLY)
    finally:
        os.unlink(name)
    return fd, size


async def storage_backup(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    db = st.storage.db
    fd, size = await asyncio.to_thread(_snapshot, db.path, db.backup_to)
    with os.fdopen(fd, "rb") as fh:
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/octet-stream"
        resp.content_length = size
        resp.headers["Content-Disposition"] = 'attachment; filename="kapfast.db"'
        kapacitor_headers(resp)
        await resp.prepare(request)
        try:
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                await resp.write(chunk)
            await resp.write_eof()
        except ConnectionError:
            # The client went away mid-backup; its copy is short, which `kapfast backup` reports.
            log.info("backup not sent whole: the client went away")
    return resp


def add_routes(app: web.Application, prefix: str) -> None:
    # GET only: HEAD would take a snapshot to send nothing of it.
    app.router.add_get(f"{prefix}/storage/backup", storage_backup, allow_head=False)
