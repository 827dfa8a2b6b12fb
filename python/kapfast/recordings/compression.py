"""Open a recording whatever its wrapping: plain, gzip, or (batch recordings) a zip archive.

The wrapping is detected from the first bytes, never from the file name: Kapacitor stores
``.srpl`` gzipped and ``.brpl`` as a zip archive under the same names its test fixtures use for
plain text.

gzip goes through ISA-L (``isal``: standard gzip streams, any reader reads them): its level 1
deflates ~4.5x faster than zlib's level 1 with a smaller file, and it inflates ~3x faster, which
is what a live recording and a replay of a recording spend most of their own time on.
"""

from __future__ import annotations

import gzip
import io
import os
import threading
import zipfile
from collections import deque
from typing import Literal, Self, cast

from isal import igzip, isal_zlib

GZIP_MAGIC = b"\x1f\x8b"

#: what a corrupt or truncated gzip recording raises while it is read
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    gzip.BadGzipFile,
    cast(type[BaseException], isal_zlib.error),  # typed as an instance in isal's stub
)
ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"

Wrapping = Literal["plain", "gzip", "zip"]


def detect_wrapping(path: str | os.PathLike[str]) -> Wrapping:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head in (ZIP_MAGIC, ZIP_EMPTY_MAGIC):
        return "zip"
    return "plain"


def open_decompressed(path: str | os.PathLike[str]) -> io.BufferedIOBase:
    """A binary reader of the file's content; a gzip file is decompressed on the fly.

    Zip archives hold several sources; open those with :func:`open_zip_member`.
    """
    kind = detect_wrapping(path)
    if kind == "gzip":
        return cast(io.BufferedIOBase, igzip.open(path, "rb"))  # type: ignore[no-untyped-call]
    if kind == "zip":
        raise ValueError("a zip archive holds several sources; use open_zip_member")
    return open(path, "rb")


def zip_members(path: str | os.PathLike[str]) -> list[str]:
    """The entries of a Kapacitor batch archive in source order (``0``, ``1``, ... numerically)."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    return sorted(names, key=lambda n: (0, int(n)) if n.isdigit() else (1, 0))


def open_zip_member(path: str | os.PathLike[str], member: str) -> io.BufferedIOBase:
    """A binary reader of one zip entry (read into memory: a batch source is a query result)."""
    with zipfile.ZipFile(path) as zf:
        return io.BytesIO(zf.read(member))


__all__ = [
    "GZIP_MAGIC",
    "READ_ERRORS",
    "ZIP_MAGIC",
    "Wrapping",
    "detect_wrapping",
    "open_decompressed",
    "open_zip_member",
    "zip_members",
]


class GzipWriter:
    """A recording file being written gzipped, deterministically (mtime 0, no file name, so the
    same content always gives the same bytes). Subclasses add the record format.

    With ``background=True`` compression and file writes happen on a thread of the writer's own
    (zlib releases the GIL while it deflates), so a live recording costs the write path one
    queue put per batch; at most :attr:`QUEUE_BYTES` wait to be compressed (a writer that falls
    behind holds the caller back rather than using unbounded memory). A failure on the thread is
    raised by the next ``_write`` or by ``close``, which waits until everything is on disk.
    """

    QUEUE_BYTES = 64 << 20

    def __init__(self, path: str | os.PathLike[str], *, compresslevel: int, background: bool = False) -> None:
        self.path = os.fspath(path)
        self._raw: io.BufferedWriter = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._gz: gzip.GzipFile = igzip.IGzipFile(  # type: ignore[no-untyped-call]
            filename="",
            fileobj=self._raw,
            mode="wb",
            # zlib's scale; ISA-L's levels stop at 3 (its best, still faster than zlib's 1)
            compresslevel=min(compresslevel, isal_zlib.ISAL_BEST_COMPRESSION),
            mtime=0,
        )
        self.closed = False
        self._queue: deque[bytes | None] = deque()
        self._cond = threading.Condition()
        self._queued = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._drain, name="recording-gzip", daemon=True)
            self._thread.start()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("write to a closed recording")
        if self._error is not None:
            raise OSError(f"writing the recording failed: {self._error}")

    def _write(self, data: bytes) -> None:
        if self._thread is None:
            self._gz.write(data)
            return
        with self._cond:
            while self._queued > self.QUEUE_BYTES and self._error is None:
                self._cond.wait()
            self._queue.append(data)
            self._queued += len(data)
            self._cond.notify_all()

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                data = self._queue.popleft()
            if data is None:
                return
            try:
                if self._error is None:
                    self._gz.write(data)
            except BaseException as exc:  # reported to the writer; the thread keeps draining
                self._error = exc
            with self._cond:
                self._queued -= len(data)
                self._cond.notify_all()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                if self._thread is not None:
                    with self._cond:
                        self._queue.append(None)
                        self._cond.notify_all()
                    self._thread.join()
                self._gz.close()
            finally:
                self._raw.close()
            if self._error is not None:
                raise OSError(f"writing the recording failed: {self._error}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
