"""InfluxDB 1.x line protocol ⇄ :class:`~kapfast._native.PointBatch` (a thin facade over Rust).

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

from collections.abc import Sequence
from dataclasses import dataclass

from kapfast import _native
from kapfast._native import PointBatch
from kapfast.errors import LineProtocolError

PRECISIONS: tuple[str, ...] = ("ns", "u", "ms", "s", "m", "h")

#: Bodies of at least this many bytes are parsed on 2 threads by default (see :func:`parse`).
PARALLEL_MIN_BYTES: int = _native.LINEPROTO_PARALLEL_MIN_BYTES


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The good points of a body as one batch, and the bad lines in body order."""

    batch: PointBatch
    errors: list[LineProtocolError]

    @property
    def ok(self) -> bool:
        """True when every line parsed."""
        return not self.errors


def parse(data: bytes, *, precision: str = "ns", now_ns: int, threads: int | None = None) -> ParseResult:
    """Parses a line-protocol body. Points without a timestamp get ``now_ns`` (truncated to
    ``precision``, as InfluxDB does). The GIL is released while Rust parses.

    ``threads``: how many threads may parse the body, each a piece cut at a newline. ``None``
    uses up to 2 for a body of at least :data:`PARALLEL_MIN_BYTES` (one below: a thread costs
    more than it saves). The result is the same for every thread count."""
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    batch, errors = _native.parse_line_protocol(data, precision, now_ns, threads or 0)
    return ParseResult(batch, [LineProtocolError(reason, line, column) for line, column, reason in errors])


def serialize(batch: PointBatch, precision: str = "ns") -> bytes:
    """The batch as line protocol, one line per point, times divided by ``precision``."""
    return batch.to_line_protocol(precision)


def influxdb_error_text(data: bytes, errors: Sequence[LineProtocolError]) -> str:
    """InfluxDB's wording for a body's bad lines: ``unable to parse '<line>': <reason>``, one per
    line, joined by newlines (what InfluxDB puts in a 400 answer's ``error``)."""
    lines = data.split(b"\n")
    out = []
    for err in errors:
        text = lines[err.line - 1] if 0 < err.line <= len(lines) else b""
        line = text.rstrip(b"\r").strip(b" \t").decode("utf-8", errors="replace")
        out.append(f"unable to parse '{line}': {err.message}")
    return "\n".join(out)


__all__ = [
    "PARALLEL_MIN_BYTES",
    "PRECISIONS",
    "ParseResult",
    "PointBatch",
    "influxdb_error_text",
    "parse",
    "serialize",
]
