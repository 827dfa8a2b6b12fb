"""Stream recordings (``.srpl``): repeated three-line records ``db``, ``rp``, one line-protocol point.

Kapacitor's test fixtures are plain text with second-precision timestamps; the recordings Kapacitor
and kapfast make are gzipped with nanosecond timestamps. The last record may lack its newline.

Replay does not parse points here: :func:`stream_chunks` only rewrites the timestamp token of each
line (shifted, in ns) and groups consecutive records of the same db/rp into bodies that the line
protocol parser (``kapfast.lineproto.parse``) turns into columnar batches. File order is kept, so a
late point stays where it was recorded.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from kapfast.recordings.compression import detect_wrapping, open_decompressed
from kapfast.recordings.errors import RecordingError
from kapfast.recordings.timefmt import INT64_MAX, INT64_MIN

#: Nanoseconds per unit of each precision name InfluxDB and Kapacitor accept.
PRECISION_NS: dict[str, int] = {
    "n": 1,
    "ns": 1,
    "u": 1_000,
    "us": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

Precision = Literal["n", "ns", "u", "us", "ms", "s", "m", "h", "auto"]

_READ_BLOCK = 1 << 20
_WS = b" \t"


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record: where the point goes and the raw line-protocol line (no trailing newline)."""

    db: str
    rp: str
    line: bytes
    #: 1-based number of the record in the file.
    number: int
    #: 1-based line of the point in the (decompressed) file.
    lineno: int


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """Consecutive records for one db/rp: ``body`` is line protocol with ns timestamps, one per line.

    ``first_time_ns``/``last_time_ns`` are the (shifted) times of the first and last line in file
    order; ``min_time_ns``/``max_time_ns`` bound them all (files may be out of time order).
    """

    db: str
    rp: str
    body: bytes
    count: int
    first_time_ns: int
    last_time_ns: int
    min_time_ns: int
    max_time_ns: int


def _source_name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def _iter_lines(f: io.BufferedIOBase) -> Iterator[bytes]:
    """Lines without their ``\\n`` (and without a trailing ``\\r``), read in large blocks."""
    rest = b""
    while True:
        block = f.read(_READ_BLOCK)
        if not block:
            break
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part[:-1] if part.endswith(b"\r") else part
    if rest:
        yield rest[:-1] if rest.endswith(b"\r") else rest


def _decode_name(raw: bytes, what: str, src: str, lineno: int, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordingError(f"{what} is not valid UTF-8", lineno, 0, src, number) from None


def _iter_raw(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, bytes, bytes, int, int]]:
    """(db, rp, line, record number, lineno of the line) for every record, strictly validated."""
    src = _source_name(path)
    try:
        f = open_decompressed(path)
    except OSError as exc:
        raise RecordingError(f"cannot open stream recording: {exc}", source=src) from None
    with f:
        lineno = 0
        number = 0
        blank_at = 0  # first blank line seen where a database name was expected
        db = rp = b""
        state = 0  # 0: expect db, 1: expect rp, 2: expect point
        try:
            for raw in _iter_lines(f):
                lineno += 1
                if state == 0:
                    if not raw.strip():
                        # Blank lines are tolerated only at the very end of the file.
                        blank_at = blank_at or lineno
                        continue
                    if blank_at:
                        raise RecordingError(
                            "blank line where a database name was expected", blank_at, 1, src, number + 1
                        )
                    db = raw
                    state = 1
                elif state == 1:
                    rp = raw
                    state = 2
                else:
                    number += 1
                    if not raw.strip():
                        raise RecordingError("empty line-protocol line", lineno, 1, src, number)
                    yield db, rp, raw, number, lineno
                    state = 0
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise RecordingError(f"cannot read stream recording: {exc}", lineno, 0, src, number + 1) from None
        if state != 0:
            missing = "retention policy" if state == 1 else "line-protocol"
            raise RecordingError(
                f"truncated record: the file ends where a {missing} line was expected",
                lineno,
                0,
                src,
                number + 1,
            )


def read_stream_recording(path: str | os.PathLike[str]) -> Iterator[StreamRecord]:
    """Every record of a ``.srpl`` file (plain or gzipped), in file order, lines untouched."""
    src = _source_name(path)
    names: dict[bytes, str] = {}
    for db, rp, line, number, lineno in _iter_raw(path):
        dbs = names.get(db)
        if dbs is None:
            dbs = names[db] = _decode_name(db, "database name", src, lineno - 2, number)
        rps = names.get(rp)
        if rps is None:
            rps = names[rp] = _decode_name(rp, "retention policy", src, lineno - 1, number)
        yield StreamRecord(dbs, rps, line, number, lineno)


def split_timestamp(line: bytes) -> tuple[bytes, bytes | None]:
    """Split a line-protocol line into (everything before the timestamp, timestamp token or None).

    The timestamp is the last space-separated token when it cannot belong to the field set: a field
    set token always holds ``=`` or ends a quoted string with ``"``. No full parse is needed.
    """
    stripped = line.rstrip(_WS)
    i = max(stripped.rfind(b" "), stripped.rfind(b"\t"))
    if i <= 0:
        return stripped, None
    tok = stripped[i + 1 :]
    if b"=" in tok or tok.endswith(b'"') or stripped[i - 1 : i] == b"\\":
        return stripped, None
    return stripped[:i].rstrip(_WS), tok


def parse_timestamp_token(tok: bytes, multiplier: int) -> int:
    """An integer timestamp token in some precision -> ns. Raises ``ValueError`` with the reason."""
    digits = tok[1:] if tok.startswith(b"-") else tok
    if not digits.isdigit():
        raise ValueError(f"bad timestamp {tok.decode('utf-8', 'replace')!r}")
    ns = int(tok) * multiplier
    if not INT64_MIN <= ns <= INT64_MAX:
        raise ValueError(f"timestamp {tok.decode()} is out of range")
    return ns


def precision_multiplier(precision: str) -> int:
    try:
        return PRECISION_NS[precision]
    except KeyError:
        raise ValueError(
            f"unknown precision {precision!r} (one of {', '.join(sorted(PRECISION_NS))})"
        ) from None


def detect_stream_precision(path: str | os.PathLike[str]) -> str:
    """Best guess of a stream recording's precision (what ``precision="auto"`` uses).

    Gzipped files are recordings Kapacitor or kapfast made: ns. Plain files are usually Kapacitor
    test fixtures (seconds), unless the first timestamp is too large to be seconds (>= 1e13, beyond
    year 300000) — then it is an unpacked ns recording.
    """
    if detect_wrapping(path) == "gzip":
        return "ns"
    for rec in read_stream_recording(path):
        _, tok = split_timestamp(rec.line)
        if tok is not None:
            digits = tok.lstrip(b"-")
            return "ns" if digits.isdigit() and int(digits) >= 10**13 else "s"
        break
    return "s"


def stream_chunks(
    path: str | os.PathLike[str],
    *,
    precision: Precision | str = "s",
    clock_zero_ns: int | None = None,
    max_bytes: int = 1 << 20,
    max_lines: int | None = None,
) -> Iterator[StreamChunk]:
    """Replay-ready bodies of a stream recording, in file order.

    Timestamps are read in ``precision`` (``"auto"``: :func:`detect_stream_precision`) and written
    in ns. With ``clock_zero_ns`` every point is shifted by the same amount so that the first point
    of the file lands on it (Kapacitor's test-harness replay); without it times are as recorded.
    A chunk holds consecutive records of one db/rp, at most ``max_lines`` lines and about
    ``max_bytes`` bytes (a single longer line still makes its own chunk).
    """
    if precision == "auto":
        precision = detect_stream_precision(path)
    mult = precision_multiplier(precision)
    if max_bytes <= 0 or (max_lines is not None and max_lines <= 0):
        raise ValueError("max_bytes and max_lines must be positive")
    line_cap = max_lines if max_lines is not None else 1 << 62
    src = _source_name(path)

    offset: int | None = None if clock_zero_ns is not None else 0
    cur_db = cur_rp = b""
    parts: list[bytes] = []
    size = 0
    first = last = lo = hi = 0

    def flush() -> StreamChunk:
        nonlocal parts, size
        chunk = StreamChunk(
            _decode_name(cur_db, "database name", src, 0, 0),
            _decode_name(cur_rp, "retention policy", src, 0, 0),
            b"".join(parts),
            len(parts),
            first,
            last,
            lo,
            hi,
        )
        parts = []
        size = 0
        return chunk

    for db, rp, line, number, lineno in _iter_raw(path):
        head, tok = split_timestamp(line)
        if tok is None:
            raise RecordingError(
                "point has no timestamp (a recording needs one per point)", lineno, 0, src, number
            )
        try:
            t = parse_timestamp_token(tok, mult)
        except ValueError as exc:
            raise RecordingError(str(exc), lineno, len(head) + 2, src, number) from None
        if offset is None:
            assert clock_zero_ns is not None
            offset = clock_zero_ns - t
        t += offset
        if not INT64_MIN <= t <= INT64_MAX:
            raise RecordingError("shifted timestamp is out of range", lineno, len(head) + 2, src, number)
        if parts and (db != cur_db or rp != cur_rp or size >= max_bytes or len(parts) >= line_cap):
            yield flush()
        if not parts:
            cur_db, cur_rp = db, rp
            first = lo = hi = t
        elif t < lo:
            lo = t
        elif t > hi:
            hi = t
        last = t
        text = b"%s %d\n" % (head, t)
        parts.append(text)
        size += len(text)
    if parts:
        yield flush()


class StreamRecordingWriter:
    """Writes a gzipped ``.srpl`` recording (ns precision), the format Kapacitor stores.

    ``write(db, rp, body)`` takes a line-protocol body in ns precision (as InfluxDB subscriptions
    and kapfast's router deliver it); blank and ``#`` comment lines are skipped.
    """

    def __init__(self, path: str | os.PathLike[str], *, compresslevel: int = 1) -> None:
        self.path = os.fspath(path)
        self._raw = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        # mtime=0 and no file name: the same points always give the same bytes.
        self._gz = gzip.GzipFile(
            filename="", fileobj=self._raw, mode="wb", compresslevel=compresslevel, mtime=0
        )
        self.records = 0
        self.closed = False

    def write(self, db: str, rp: str, body: bytes, *, default_time_ns: int | None = None) -> int:
        """Append every point of ``body`` for ``db``/``rp``; returns the number of records written.

        A line without a timestamp gets ``default_time_ns``; without one it is an error (a
        recording needs a time per point). Nothing of ``body`` is written when it has an error.
        """
        if self.closed:
            raise ValueError("write to a closed recording")
        for name, what in ((db, "database"), (rp, "retention policy")):
            if "\n" in name or "\r" in name:
                raise ValueError(f"{what} name must not contain a newline: {name!r}")
        prefix = f"{db}\n{rp}\n".encode()
        out: list[bytes] = []
        for lineno, raw in enumerate(body.split(b"\n"), 1):
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line.strip() or line.lstrip(_WS).startswith(b"#"):
                continue
            head, tok = split_timestamp(line)
            if tok is None:
                if default_time_ns is None:
                    raise RecordingError("point has no timestamp", lineno, 0, self.path)
                line = b"%s %d" % (head, default_time_ns)
            out.append(prefix)
            out.append(line.lstrip(_WS))
            out.append(b"\n")
        if out:
            self._gz.write(b"".join(out))
        n = len(out) // 3
        self.records += n
        return n

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._gz.close()
            finally:
                self._raw.close()

    def __enter__(self) -> StreamRecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "PRECISION_NS",
    "StreamChunk",
    "StreamRecord",
    "StreamRecordingWriter",
    "detect_stream_precision",
    "parse_timestamp_token",
    "precision_multiplier",
    "read_stream_recording",
    "split_timestamp",
    "stream_chunks",
]
