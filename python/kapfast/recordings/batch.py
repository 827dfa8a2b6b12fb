"""Batch recordings (``.brpl``): a stream of JSON batch objects, one per query result series.

Each object is ``{"name", "tags", "points": [{"time", "fields", "tags"}], "tmax", "group",
"byname"}``; Kapacitor's test fixtures are plain text and some objects span several lines, so the
file is decoded as a concatenated JSON stream, not line by line. Kapacitor stores its own batch
recordings as a zip archive with one entry per ``query()`` node (``0``, ``1``, ...); kapfast writes
one gzipped stream per source. All three wrappings are read, detected by their first bytes.

Kapacitor decodes JSON numbers in fields as float64 (batch data from InfluxDB queries is float
too), so integer-looking numbers come back as ``float`` here as well. ``null`` fields are dropped
(as Kapacitor's query path drops them).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kapfast.recordings.compression import (
    READ_ERRORS,
    GzipWriter,
    detect_wrapping,
    open_decompressed,
    open_zip_member,
    zip_members,
)
from kapfast.recordings.errors import RecordingError
from kapfast.timefmt import GO_ZERO_TIME, INT64_MAX, INT64_MIN, format_rfc3339_ns, parse_rfc3339_ns

FieldValue = float | int | str | bool

_READ_CHUNK = 1 << 16
_WS = re.compile(r"[ \t\n\r]*")


class RecordedPoint(NamedTuple):
    time_ns: int
    fields: dict[str, FieldValue]
    tags: dict[str, str]


@dataclass(slots=True)
class RecordedBatch:
    """One recorded batch. ``time_ns`` is the batch's time: the larger of ``tmax_ns`` and its last
    point's (shifted) time. ``tmax_ns`` is None when the recording has none (Go's zero time)."""

    name: str
    tags: dict[str, str]
    points: list[RecordedPoint]
    tmax_ns: int | None = None
    time_ns: int = 0
    group: str = ""
    by_name: bool = False
    #: 1-based line of the (decompressed) source where the batch object starts (0: not from a file).
    lineno: int = field(default=0, compare=False)


def batch_recording_sources(path: str | os.PathLike[str]) -> int:
    """How many batch sources (one per ``query()`` node) the file holds: zip entries, else 1."""
    if detect_wrapping(path) == "zip":
        return len(zip_members(path))
    return 1


def _open_source(path: str | os.PathLike[str], source: int) -> tuple[io.BufferedIOBase, str]:
    src = os.fspath(path)
    try:
        if detect_wrapping(path) == "zip":
            members = zip_members(path)
            if not 0 <= source < len(members):
                raise RecordingError(
                    f"batch archive has {len(members)} source(s); source {source} does not exist", source=src
                )
            return open_zip_member(path, members[source]), f"{src}[{members[source]}]"
        if source != 0:
            raise RecordingError(f"batch recording has 1 source; source {source} does not exist", source=src)
        return open_decompressed(path), src
    except OSError as exc:
        raise RecordingError(f"cannot open batch recording: {exc}", source=src) from None
    except zipfile.BadZipFile as exc:
        raise RecordingError(f"cannot open batch recording: {exc}", source=src) from None


def iter_json_values(f: io.BufferedIOBase, src: str) -> Iterator[tuple[Any, int]]:
    """Each top-level JSON value of a concatenated stream, with the 1-based line it starts on.

    Values may span lines and several may share one; the file is read incrementally.
    """
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buf = ""
    buf_line = 1  # line number of buf[0]; buf always starts at the beginning of a line
    pos = 0
    eof = False

    def read_more(size: int) -> bool:
        nonlocal buf, pos, buf_line, eof
        try:
            raw = f.read(size)
        except READ_ERRORS as exc:
            raise RecordingError(f"cannot read batch recording: {exc}", buf_line, 0, src) from None
        try:
            chunk = text.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise RecordingError(
                f"batch recording is not valid UTF-8: {exc.reason}", buf_line, 0, src
            ) from None
        if not raw:
            eof = True
        # Drop what was consumed, keeping the current line so columns stay exact.
        cut = buf.rfind("\n", 0, pos) + 1
        if cut:
            buf_line += buf.count("\n", 0, cut)
            buf = buf[cut:]
            pos -= cut
        buf += chunk
        return bool(raw)

    while True:
        pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
        if pos >= len(buf):
            if eof:
                return
            read_more(_READ_CHUNK)
            continue
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            # An error right at the end of what was read may just be a value cut by the read; one
            # well inside it is real and reported now (not after reading the rest of the file).
            cut_short = exc.pos >= len(buf) - 8 or exc.msg.startswith("Unterminated string")
            if not eof and cut_short:
                read_more(max(_READ_CHUNK, len(buf)))
                continue
            line = buf_line + buf.count("\n", 0, exc.pos)
            col = exc.pos - (buf.rfind("\n", 0, exc.pos) + 1) + 1
            what = "truncated JSON at end of file" if exc.pos >= len(buf.rstrip()) else "bad JSON"
            raise RecordingError(f"{what}: {exc.msg}", line, col, src) from None
        if end >= len(buf) and not eof and isinstance(value, int | float):
            # A bare number may continue in the next block; values we accept never end here.
            read_more(_READ_CHUNK)
            continue
        yield value, buf_line + buf.count("\n", 0, pos)
        pos = end


def _time_ns(value: Any, what: str, src: str, line: int, number: int) -> int:
    if isinstance(value, str):
        try:
            return parse_rfc3339_ns(value)
        except ValueError as exc:
            raise RecordingError(f"{what}: {exc}", line, 0, src, number) from None
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value  # integer ns: an extension for hand-written fixtures
    raise RecordingError(f"{what}: expected an RFC 3339 time string, got {value!r}", line, 0, src, number)


def _tags(value: Any, what: str, src: str, line: int, number: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise RecordingError(f"{what}: tags must be an object of strings", line, 0, src, number)
    return value


def _fields(value: Any, what: str, src: str, line: int, number: int) -> dict[str, FieldValue]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordingError(f"{what}: fields must be an object", line, 0, src, number)
    out: dict[str, FieldValue] = {}
    for k, v in value.items():
        t = type(v)
        if t is float or t is str or t is bool:
            out[k] = v
        elif t is int:
            out[k] = float(v)  # Kapacitor: JSON numbers are float64
        elif v is None:
            continue
        else:
            raise RecordingError(f"{what}: field {k!r} has a {t.__name__} value", line, 0, src, number)
    return out


def _decode_batch(obj: Any, src: str, line: int, number: int) -> RecordedBatch:
    if not isinstance(obj, dict):
        raise RecordingError(f"expected a batch object, got {type(obj).__name__}", line, 0, src, number)
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise RecordingError("batch name must be a string", line, 0, src, number)
    tags = _tags(obj.get("tags"), "batch", src, line, number)
    tmax_raw = obj.get("tmax")
    tmax = None if tmax_raw in (None, "", GO_ZERO_TIME) else _time_ns(tmax_raw, "tmax", src, line, number)
    group = obj.get("group") or ""
    by_name = obj.get("byname", obj.get("byName", False))
    if not isinstance(group, str) or not isinstance(by_name, bool):
        raise RecordingError("batch group must be a string and byname a boolean", line, 0, src, number)
    raw_points = obj.get("points") or []
    if not isinstance(raw_points, list):
        raise RecordingError("batch points must be a list", line, 0, src, number)
    points: list[RecordedPoint] = []
    for i, p in enumerate(raw_points):
        what = f"point {i + 1}"
        if not isinstance(p, dict):
            raise RecordingError(f"{what} is not an object", line, 0, src, number)
        if "time" not in p:
            raise RecordingError(f"{what} has no time", line, 0, src, number)
        t = _time_ns(p["time"], what, src, line, number)
        ptags = _tags(p.get("tags"), what, src, line, number)
        # Points without tags inherit the batch's tags (Kapacitor's decoder does this).
        points.append(RecordedPoint(t, _fields(p.get("fields"), what, src, line, number), ptags or tags))
    return RecordedBatch(name, tags, points, tmax, 0, group, by_name, line)


def read_batch_recording(
    path: str | os.PathLike[str], *, clock_zero_ns: int | None = None, source: int = 0
) -> Iterator[RecordedBatch]:
    """The non-empty batches of one source of a ``.brpl`` file, in file order.

    With ``clock_zero_ns`` every point is shifted so that the first point of the first batch lands
    on it; ``tmax`` is not shifted; a batch's ``time_ns`` is the larger of ``tmax_ns`` and its last
    (shifted) point. Empty batches are dropped.
    """
    f, src = _open_source(path, source)
    offset: int | None = None if clock_zero_ns is not None else 0
    number = 0
    with f:
        for value, line in iter_json_values(f, src):
            for obj in value if isinstance(value, list) else (value,):
                number += 1
                batch = _decode_batch(obj, src, line, number)
                if not batch.points:
                    continue
                if offset is None:
                    assert clock_zero_ns is not None
                    offset = clock_zero_ns - batch.points[0].time_ns
                if offset:
                    shifted = []
                    for p in batch.points:
                        t = p.time_ns + offset
                        if not INT64_MIN <= t <= INT64_MAX:
                            raise RecordingError("shifted time is out of range", line, 0, src, number)
                        shifted.append(RecordedPoint(t, p.fields, p.tags))
                    batch.points = shifted
                last = batch.points[-1].time_ns
                batch.time_ns = last if batch.tmax_ns is None else max(batch.tmax_ns, last)
                yield batch


def batch_to_json(batch: RecordedBatch) -> dict[str, Any]:
    """The JSON object Kapacitor writes for a batch (its ``omitempty`` keys left out)."""
    obj: dict[str, Any] = {"name": batch.name}
    if batch.tmax_ns is not None:
        obj["tmax"] = format_rfc3339_ns(batch.tmax_ns)
    if batch.group:
        obj["group"] = batch.group
    if batch.by_name:
        obj["byname"] = True
    if batch.tags:
        obj["tags"] = batch.tags
    obj["points"] = [
        {"fields": p.fields, "tags": p.tags, "time": format_rfc3339_ns(p.time_ns)} for p in batch.points
    ]
    return obj


class BatchRecordingWriter(GzipWriter):
    """Writes one batch source as gzipped JSON objects, one per line (what kapfast records)."""

    def __init__(self, path: str | os.PathLike[str], *, compresslevel: int = 6) -> None:
        super().__init__(path, compresslevel=compresslevel)
        self.batches = 0

    def write(self, batch: RecordedBatch) -> None:
        self._check_open()
        try:
            text = json.dumps(batch_to_json(batch), separators=(",", ":"), allow_nan=False)
        except ValueError as exc:
            raise RecordingError(f"batch cannot be recorded: {exc}", source=self.path) from None
        self._write(text.encode() + b"\n")
        self.batches += 1


class BatchArchiveWriter:
    """Writes Kapacitor's own batch recording format: a zip archive with one entry per batch source
    (``0``, ``1``, ... in ``query()`` node order), each newline-delimited JSON batches.

    Sources may be written in any interleaving (queries run concurrently); each is spooled to a
    temporary file and the archive is assembled on :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], sources: int) -> None:
        if sources < 1:
            raise ValueError("a batch archive needs at least one source")
        self.path = os.fspath(path)
        self._spools = [tempfile.SpooledTemporaryFile(max_size=8 << 20) for _ in range(sources)]  # noqa: SIM115
        self.batches = 0
        self.closed = False

    def write(self, source: int, batch: RecordedBatch) -> None:
        if self.closed:
            raise ValueError("write to a closed recording")
        if not 0 <= source < len(self._spools):
            raise ValueError(f"source {source} out of range (archive has {len(self._spools)})")
        try:
            text = json.dumps(batch_to_json(batch), separators=(",", ":"), allow_nan=False)
        except ValueError as exc:
            raise RecordingError(f"batch cannot be recorded: {exc}", source=self.path) from None
        self._spools[source].write(text.encode() + b"\n")
        self.batches += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            with zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for i, spool in enumerate(self._spools):
                    spool.seek(0)
                    with zf.open(zipfile.ZipInfo(str(i), date_time=(1980, 1, 1, 0, 0, 0)), "w") as entry:
                        shutil.copyfileobj(spool, entry)
        finally:
            for spool in self._spools:
                spool.close()

    def __enter__(self) -> BatchArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "BatchArchiveWriter",
    "BatchRecordingWriter",
    "FieldValue",
    "RecordedBatch",
    "RecordedPoint",
    "batch_recording_sources",
    "batch_to_json",
    "iter_json_values",
    "read_batch_recording",
]
