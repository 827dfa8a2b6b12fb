"""InfluxDB 1.x line protocol ⇄ :class:`~kapfast.batch.PointBatch` (a thin facade over Rust).

``parse`` turns a whole ``/write`` body into one columnar batch of the good points plus one
:class:`~kapfast.errors.LineProtocolError` per bad line (line, column, InfluxDB's reason), like
InfluxDB's partial writes: the caller decides whether to answer 400 or keep the good points.
``serialize`` writes a batch back; ``parse(serialize(b)) == b``. A large body is cut at newlines
and parsed on 2 threads (``threads=`` sets the count); the result is the same on any count.

Precisions are InfluxDB's ``/write?precision=`` values: ``ns`` (also ``n`` and ``""``), ``u``
(also ``us``, ``µ``), ``ms``, ``s``, ``m``, ``h``. InfluxDB 1.x silently reads an unknown value
as nanoseconds; kapfast raises :class:`~kapfast.errors.LineProtocolError` instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from kapfast import _native
from kapfast.batch import PointBatch
from kapfast.errors import LineProtocolError

PRECISIONS: tuple[str, ...] = ("ns", "u", "ms", "s", "m", "h")

#: Bodies of at least this many bytes are parsed on 2 threads by default (see :func:`parse`).
PARALLEL_MIN_BYTES: int = _native.LINEPROTO_PARALLEL_MIN_BYTES

#: The default cap of a :class:`SeriesIndex`, in (estimated) bytes of heap it holds.
INDEX_MAX_BYTES: int = _native.LINEPROTO_INDEX_MAX_BYTES


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The good points of a body as one batch, and the bad lines in body order."""

    batch: PointBatch
    errors: list[LineProtocolError]

    @property
    def ok(self) -> bool:
        """True when every line parsed."""
        return not self.errors


class SeriesIndex:
    """The series of earlier bodies, kept so that a known series costs one hash probe: a server
    keeps one per database and retention policy (:class:`SeriesIndexes`) and parses each body
    with :meth:`parse`. The result is exactly :func:`parse`'s; only the cost changes.

    Bounded: when a parse leaves the index holding more than ``max_bytes`` (estimated heap
    bytes), the whole index is dropped and starts again (``resets`` counts it): heavy series churn
    then costs what a parse without an index costs, never more memory. Safe to use from several
    threads, which do not wait for one another: the index has one slot per core (up to 4), each
    with its share of ``max_bytes``, and a parse takes a free slot. When every slot is busy, a
    parse waits for one (``wait=True``) or parses without the index."""

    __slots__ = ("_lock", "_native")

    def __init__(self, max_bytes: int = INDEX_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self._native = _native.SeriesIndex(max_bytes)
        # One permit per slot: a parse that holds one finds a slot free in Rust.
        self._lock = threading.BoundedSemaphore(self._native.slots)

    def parse(
        self,
        data: bytes,
        *,
        precision: str = "ns",
        now_ns: int,
        threads: int | None = None,
        wait: bool = False,
    ) -> ParseResult:
        """:func:`parse` of ``data``, series looked up in (and added to) this index.

        When every slot is busy with other threads' bodies, ``wait`` waits for one (a worker thread:
        a parse without the index costs ~2.5x the CPU per line of a known series); else the
        body is parsed without the index (the event loop, which must not block)."""
        if not self._lock.acquire(blocking=wait):
            return _result(_native.parse_line_protocol(data, precision, now_ns, _threads(threads)))
        try:
            return _result(
                _native.parse_line_protocol(data, precision, now_ns, _threads(threads), self._native)
            )
        finally:
            self._lock.release()

    def __len__(self) -> int:
        return len(self._native)

    @property
    def bytes(self) -> int:
        """Estimated heap bytes held."""
        return self._native.bytes

    @property
    def max_bytes(self) -> int:
        return self._native.max_bytes

    @property
    def resets(self) -> int:
        """How many times the index went over ``max_bytes`` and was dropped."""
        return self._native.resets


class SeriesIndexes:
    """One :class:`SeriesIndex` per ``(db, rp)``, at most ``max_indexes`` of them (the least
    recently used is dropped), each capped at ``max_bytes``: at most
    ``max_indexes * max_bytes`` in all."""

    def __init__(self, max_indexes: int = 64, max_bytes: int = INDEX_MAX_BYTES) -> None:
        if max_indexes < 1:
            raise ValueError(f"max_indexes must be at least 1, got {max_indexes}")
        self.max_indexes = max_indexes
        self.max_bytes = max_bytes
        self._indexes: OrderedDict[tuple[str, str], SeriesIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, db: str, rp: str) -> SeriesIndex:
        """The index of ``db``/``rp``, made when new."""
        key = (db, rp)
        with self._lock:
            idx = self._indexes.get(key)
            if idx is None:
                idx = self._indexes[key] = SeriesIndex(self.max_bytes)
                while len(self._indexes) > self.max_indexes:
                    self._indexes.popitem(last=False)
            else:
                self._indexes.move_to_end(key)
            return idx

    def __len__(self) -> int:
        return len(self._indexes)


def _threads(threads: int | None) -> int:
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return threads or 0


def _result(native: tuple[PointBatch, list[tuple[int, int, str]]]) -> ParseResult:
    batch, errors = native
    return ParseResult(batch, [LineProtocolError(reason, line, column) for line, column, reason in errors])


def parse(
    data: bytes,
    *,
    precision: str = "ns",
    now_ns: int,
    threads: int | None = None,
    index: SeriesIndex | None = None,
) -> ParseResult:
    """Parses a line-protocol body. Points without a timestamp get ``now_ns`` (truncated to
    ``precision``, as InfluxDB does). The GIL is released while Rust parses.

    ``threads``: how many threads may parse the body, each a piece cut at a newline. ``None``
    uses up to 2 for a body of at least :data:`PARALLEL_MIN_BYTES` (one below: a thread costs
    more than it saves). The result is the same for every thread count.

    ``index``: a :class:`SeriesIndex` to look series up in (same result, cheaper for series it
    has seen)."""
    if index is not None:
        return index.parse(data, precision=precision, now_ns=now_ns, threads=threads)
    return _result(_native.parse_line_protocol(data, precision, now_ns, _threads(threads)))


def serialize(batch: PointBatch, precision: str = "ns") -> bytes:
    """The batch as line protocol, one line per point, times divided by ``precision``."""
    return batch.to_line_protocol(precision)


def records(db: str, rp: str, body: bytes, count: int) -> bytes | None:
    """``body``'s lines framed as stream-recording records (``db``, ``rp``, the line, each
    ``\\n``-terminated), in one pass in Rust; None unless ``body`` is exactly ``count`` lines (the
    last may lack its newline) and has no CR. With ``count`` the points ``body`` parsed into, that
    means every line is one point, as it came (no blank, comment or bad line)."""
    return _native.srpl_records(db, rp, body, count)


def records_member(db: str, rp: str, body: bytes, count: int) -> bytes | None:
    """:func:`records` as one gzip member of stored (uncompressed) deflate blocks, made in the
    same pass in Rust straight into the bytes returned (what a live recording appends: no record
    buffer, no second copy to lay out the blocks, the CRC-32 taken as they are laid out)."""
    return _native.srpl_records(db, rp, body, count, gzip_member=True)


def one_point_a_line(body: bytes, count: int) -> bool:
    """Whether :func:`records` takes ``body`` for ``count`` points (exactly ``count`` lines,
    the last may lack its newline, no CR), without making anything: two SIMD passes in Rust."""
    return _native.srpl_exact(body, count)


#: what :func:`write_records` appends: bytes as they are, or ``(db, rp, body, count)`` made into
#: the gzip member :func:`records_member` returns for them
RecordPart = bytes | tuple[str, str, bytes, int]


def write_records(fd: int, parts: list[RecordPart]) -> None:
    """Append ``parts`` to the file open as ``fd``, in order, in one pass in Rust with the GIL
    released: a ``(db, rp, body, count)`` part becomes its :func:`records_member` in a buffer the
    calling thread keeps (no bytes object made, nothing zeroed, no fresh pages), and all of it is
    written with as few system calls as the kernel allows. ValueError (nothing written) when such
    a body is not :func:`one_point_a_line`; OSError when the write fails."""
    _native.srpl_write(fd, parts)


@dataclass(frozen=True, slots=True)
class RecordRun:
    """Consecutive records of one database and retention policy: their point lines as one body
    (each ``\\n``-terminated), ``count`` of them."""

    db: bytes
    rp: bytes
    body: bytes
    count: int


def split_records(block: bytes, start: int = 0) -> tuple[list[RecordRun], int] | None:
    """The whole records of ``block`` from ``start`` (where a record starts) as runs of one
    db/rp, and how many bytes they take (from ``start``), in one pass in Rust; None when any of
    them has a CR or a blank database or point line (for the careful reader, which gives the exact
    errors)."""
    got = _native.srpl_split(block, start)
    if got is None:
        return None
    runs, consumed = got
    return [RecordRun(*run) for run in runs], consumed


__all__ = [
    "INDEX_MAX_BYTES",
    "PARALLEL_MIN_BYTES",
    "PRECISIONS",
    "ParseResult",
    "PointBatch",
    "RecordPart",
    "RecordRun",
    "SeriesIndex",
    "SeriesIndexes",
    "one_point_a_line",
    "parse",
    "records",
    "records_member",
    "serialize",
    "split_records",
    "write_records",
]
