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
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal, Self, cast

from isal import igzip, isal_zlib

from kapfast.lineproto import RecordPart, write_records

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
    "COMPACTING_SUFFIX",
    "GZIP_MAGIC",
    "LIVE_MARKER",
    "READ_ERRORS",
    "ZIP_MAGIC",
    "GzipWriter",
    "Recovered",
    "Wrapping",
    "detect_wrapping",
    "is_live_recording",
    "open_decompressed",
    "open_zip_member",
    "recover_blocks",
    "stored_member",
    "write_compacted",
    "zip_members",
]


#: the gzip member a live (block-written) recording starts with: empty, its FNAME field naming
#: the format, so that recovery after a crash knows a file of whole blocks (any gzip reader reads
#: it as nothing: it is a valid empty member)
LIVE_MARKER = (
    b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff" + b"kapfast-live-recording\x00" + b"\x03\x00" + bytes(8)
)
#: how often a block-written recording's data is synced to the disk at most (and at close)
FSYNC_INTERVAL_S = 1.0
#: at most this much queued data goes into one block when the writer's thread falls behind
BLOCK_BYTES = 8 << 20


#: a gzip member's header as the writers make it: deflate, no flags, mtime 0, no extra flags, OS
#: unknown (deterministic: the same content gives the same bytes)
_MEMBER_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
#: the most a stored deflate block holds
_STORED_MAX = 0xFFFF


def stored_member(data: bytes) -> bytes:
    """``data`` as one gzip member of stored (uncompressed) deflate blocks, which any gzip reader
    reads: what a live recording writes on the write path, a copy and a CRC32 (ISA-L's) where
    even ISA-L's fastest deflate costs ~7x the CPU; the file is compressed when the recording
    ends (:func:`write_compacted`)."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = [_MEMBER_HEADER]
    n = len(data)
    for i in range(0, max(n, 1), _STORED_MAX):
        size = min(_STORED_MAX, n - i)
        final = 1 if i + _STORED_MAX >= n else 0
        parts.append(bytes((final, size & 0xFF, size >> 8, ~size & 0xFF, (~size >> 8) & 0xFF)))
        parts.append(view[i : i + size])
    crc = isal_zlib.crc32(data) & 0xFFFFFFFF
    parts.append(crc.to_bytes(4, "little") + (n & 0xFFFFFFFF).to_bytes(4, "little"))
    return b"".join(parts)


#: the suffix of the compressed copy :func:`write_compacted` writes beside a recording
COMPACTING_SUFFIX = ".compacting"


def write_compacted(path: str | os.PathLike[str], *, compresslevel: int = 1) -> str:
    """Write the content of the gzip recording at ``path`` (a live recording's stored blocks)
    compressed, as one gzip stream, to ``path`` + :data:`COMPACTING_SUFFIX`, synced to the disk;
    returns that path (the caller renames it over ``path``: ``os.replace`` is atomic, so a crash
    leaves one whole file or the other, both the same records). The bytes are those a
    ``GzipWriter`` without ``background`` writes for the same content."""
    tmp = os.fspath(path) + COMPACTING_SUFFIX
    level = min(compresslevel, isal_zlib.ISAL_BEST_COMPRESSION)
    with igzip.open(path, "rb") as src, open(tmp, "wb") as raw:  # type: ignore[no-untyped-call]
        gz = igzip.IGzipFile(  # type: ignore[no-untyped-call]
            filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0
        )
        with gz:
            while chunk := src.read(4 << 20):
                gz.write(chunk)  # type: ignore[no-untyped-call]
        raw.flush()
        os.fsync(raw.fileno())
    return tmp


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class GzipWriter:
    """A recording file being written gzipped, deterministically (mtime 0, no file name, so the
    same content always gives the same bytes). Subclasses add the record format.

    With ``background=True`` (a live recording) the file is written in **blocks**: each batch of
    records becomes a whole gzip member (any gzip reader reads concatenated members as one stream)
    of *stored* deflate blocks (:func:`stored_member`: a CRC and a copy, ~1/7 of the CPU of ISA-L's
    fastest deflate, so a recording costs the write path little), made and written on a thread of
    the writer's own (:func:`kapfast.lineproto.write_records`: a body taken as it came, one point a
    line, becomes its member there, with the GIL released), so the write path costs one queue put
    per batch. The file is compressed once the recording ends (:func:`write_compacted`, on a thread
    of the recording service's). A batch's :class:`~concurrent.futures.Future` (:meth:`pending`) is
    done once its block is in the file: what a caller acknowledges after it survives ``kill -9``,
    and a crash leaves at worst a torn last block, which :func:`recover_blocks` cuts. Data is synced
    to the disk at most :data:`FSYNC_INTERVAL_S` after it was written, and at close. When the thread
    falls behind, what queued meanwhile goes into one block (at most :data:`BLOCK_BYTES`); at most
    :attr:`QUEUE_BYTES` wait (a writer that falls behind holds the caller back rather than using
    unbounded memory). A failure on the thread is raised by the next ``_write`` or by ``close``,
    which waits until everything is on disk.
    """

    QUEUE_BYTES = 64 << 20

    def __init__(self, path: str | os.PathLike[str], *, compresslevel: int, background: bool = False) -> None:
        self.path = os.fspath(path)
        # zlib's scale; ISA-L's levels stop at 3 (its best, still faster than zlib's 1)
        self._level = min(compresslevel, isal_zlib.ISAL_BEST_COMPRESSION)
        self._raw: io.BufferedWriter | None = None
        self._gz: gzip.GzipFile | None = None
        self._fd = -1
        if background:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            _write_all(self._fd, LIVE_MARKER)
        else:
            self._raw = open(self.path, "wb")  # noqa: SIM115 (closed by close())
            self._gz = igzip.IGzipFile(  # type: ignore[no-untyped-call]
                filename="", fileobj=self._raw, mode="wb", compresslevel=self._level, mtime=0
            )
        self.closed = False
        #: (what to write, its size, done when it is in the file): plain records (bytes), or a
        #: body to make into its gzip member (:class:`_Part`)
        self._queue: deque[tuple[bytes | _Part, int, Future[None]] | None] = deque()
        self._cond = threading.Condition()
        self._queued = 0
        self._last: Future[None] | None = None
        #: set when a block was written since the last fsync; ``_stopping`` ends the sync thread
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._syncer: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._drain, name="recording-gzip", daemon=True)
            self._thread.start()
            # fsync on a thread of its own: a slow sync never holds up the blocks being written
            self._syncer = threading.Thread(target=self._sync_loop, name="recording-fsync", daemon=True)
            self._syncer.start()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("write to a closed recording")
        if self._error is not None:
            raise OSError(f"writing the recording failed: {self._error}")

    def _write(self, data: bytes) -> None:
        if self._thread is None:
            assert self._gz is not None
            self._gz.write(data)
            return
        self._enqueue(data, len(data))

    def _write_records(self, db: str, rp: str, body: bytes, count: int) -> None:
        """Append ``body`` (one point a line, checked by the caller:
        :func:`kapfast.lineproto.one_point_a_line`) as its records of ``db``/``rp``, one gzip
        member of stored blocks made by the writer's thread (background writers only)."""
        assert self._thread is not None
        self._enqueue(_Part((db, rp, body, count)), len(body) + count * (len(db) + len(rp) + 2))

    def _enqueue(self, data: bytes | _Part, size: int) -> None:
        done: Future[None] = Future()
        with self._cond:
            while self._queued > self.QUEUE_BYTES and self._error is None:
                self._cond.wait()
            self._queue.append((data, size, done))
            self._queued += size
            self._last = done
            self._cond.notify_all()

    def pending(self) -> Future[None] | None:
        """Done when everything written so far is in the file (blocks); None when it is already."""
        last = self._last
        return None if last is None or last.done() else last

    def _take(self) -> tuple[list[tuple[bytes | _Part, int, Future[None]]], bool]:
        """What waits in the queue (up to BLOCK_BYTES), and whether the writer was closed."""
        with self._cond:
            while not self._queue:
                self._cond.wait()
            items: list[tuple[bytes | _Part, int, Future[None]]] = []
            size = 0
            while self._queue and (not items or size < BLOCK_BYTES):
                item = self._queue[0]
                if item is None:
                    return items, True
                self._queue.popleft()
                items.append(item)
                size += item[1]
            return items, False

    def _sync_loop(self) -> None:
        """fsync the blocks written, at most FSYNC_INTERVAL_S after the first unsynced one
        (close syncs what is left)."""
        while True:
            self._dirty.wait()
            if self._stopping.wait(FSYNC_INTERVAL_S):
                return
            self._dirty.clear()  # blocks written from now on: the next round
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._error = self._error or exc

    def _drain(self) -> None:
        while True:
            items, closing = self._take()
            if items:
                size = sum(n for _, n, _ in items)
                error = self._error
                try:
                    if error is None:
                        write_records(self._fd, _members(items))
                        self._dirty.set()
                except BaseException as exc:  # reported to the writer; the thread keeps draining
                    self._error = error = exc
                for _, _, fut in items:
                    if error is None:
                        fut.set_result(None)
                    else:
                        fut.set_exception(OSError(f"writing the recording failed: {error}"))
                with self._cond:
                    self._queued -= size
                    self._cond.notify_all()
            if closing:
                return

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                if self._thread is not None:
                    with self._cond:
                        self._queue.append(None)
                        self._cond.notify_all()
                    self._thread.join()
                if self._syncer is not None:
                    self._stopping.set()
                    self._dirty.set()
                    self._syncer.join()
                    if self._error is None:
                        os.fsync(self._fd)
                if self._gz is not None:
                    self._gz.close()
            finally:
                if self._raw is not None:
                    self._raw.close()
                if self._fd >= 0:
                    os.close(self._fd)
                    self._fd = -1
            if self._error is not None:
                raise OSError(f"writing the recording failed: {self._error}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Part(tuple[str, str, bytes, int]):
    """A queued body to be made into its gzip member by the writer's thread: ``(db, rp, body,
    count)``, a part for :func:`write_records`."""

    __slots__ = ()


def _members(items: list[tuple[bytes | _Part, int, Future[None]]]) -> list[RecordPart]:
    """The queued items as :func:`write_records` parts, in order: bodies to make into members
    as they are, each run of plain data joined into one stored member."""
    out: list[RecordPart] = []
    plain: list[bytes] = []
    for data, _, _ in items:
        if not isinstance(data, _Part):
            plain.append(data)
            continue
        if plain:
            out.append(stored_member(b"".join(plain) if len(plain) > 1 else plain[0]))
            plain.clear()
        out.append(data)
    if plain:
        out.append(stored_member(b"".join(plain) if len(plain) > 1 else plain[0]))
    return out


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover_blocks` found: the whole blocks kept (bytes, decompressed lines) and
    the torn tail it cut (bytes)."""

    kept_bytes: int
    lines: int
    cut_bytes: int


def is_live_recording(path: str | os.PathLike[str]) -> bool:
    """Whether the file was written in blocks by a live recording (it starts with LIVE_MARKER)."""
    with open(path, "rb") as f:
        return f.read(len(LIVE_MARKER)) == LIVE_MARKER


def recover_blocks(path: str | os.PathLike[str], read_size: int = 1 << 20) -> Recovered:
    """Cut a block-written recording after its last whole gzip member (a crash may have torn the
    last one: cut short, or with a bad CRC), synced to the disk; the file is left as it is when
    every member is whole. Reads the file once, decompressing as it goes (no more memory than a
    read and a member's output at a time)."""
    kept = lines = 0
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        d = isal_zlib.decompressobj(31)
        member_lines = 0
        data = b""
        offset = 0  # file offset of data[0]
        while True:
            if not data:
                data = os.pread(fd, read_size, offset)
                if not data:
                    break
            try:
                out = d.decompress(data)
            except isal_zlib.error:  # type: ignore[misc]
                break  # a torn or corrupt member: everything from ``pos`` goes
            member_lines += out.count(b"\n")
            if d.eof:
                used = len(data) - len(d.unused_data)
                kept = offset + used
                lines += member_lines
                member_lines = 0
                offset, data = kept, d.unused_data
                d = isal_zlib.decompressobj(31)
            else:
                offset += len(data)
                data = b""
        cut = size - kept
        if cut:
            os.ftruncate(fd, kept)
            os.fsync(fd)
        return Recovered(kept, lines, cut)
    finally:
        os.close(fd)
