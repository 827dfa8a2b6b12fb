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
    with its share of ``max_bytes``; a parse takes a free slot (and, should all be busy, parses
    without one)."""

    __slots__ = ("_native",)

    def __init__(self, max_bytes: int = INDEX_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self._native = _native.SeriesIndex(max_bytes)

    def parse(
        self, data: bytes, *, precision: str = "ns", now_ns: int, threads: int | None = None
    ) -> ParseResult:
        """:func:`parse` of ``data``, series looked up in (and added to) this index."""
        return _result(_native.parse_line_protocol(data, precision, now_ns, _threads(threads), self._native))

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


__all__ = [
    "INDEX_MAX_BYTES",
    "PARALLEL_MIN_BYTES",
    "PRECISIONS",
    "ParseResult",
    "PointBatch",
    "SeriesIndex",
    "SeriesIndexes",
    "parse",
    "serialize",
]
