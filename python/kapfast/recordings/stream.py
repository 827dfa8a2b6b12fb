"""Stream recordings (``.srpl``): repeated three-line records ``db``, ``rp``, one line-protocol point.

Kapacitor's test fixtures are plain text with second-precision timestamps; the recordings Kapacitor
and kapfast make are gzipped with nanosecond timestamps. The last record may lack its newline.

The reader works on large blocks: a block of well-formed records is cut into its db, rp and point
lines with list slicing (or, for a replay, into one body per db/rp run in one pass in Rust), and
only blocks with something unusual in them (blank lines, CR line ends) go through the line-by-line
state machine that also produces the precise errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from kapfast.lineproto import RecordRun, one_point_a_line, records, split_records
from kapfast.recordings.compression import READ_ERRORS, GzipWriter, open_decompressed
from kapfast.recordings.errors import RecordingError
from kapfast.recordings.timestamps import split_timestamp

#: 4 MiB: a replay parses and runs a block's points as one chunk, and tasks cost less per point
#: in larger chunks (1 MiB chunks cost a replay ~1.5x the CPU per point)
_READ_BLOCK = 1 << 22
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
class RecordBlock:
    """Consecutive records: ``dbs[i]``, ``rps[i]``, ``lines[i]`` are record ``first_number + i``,
    whose point is on file line ``lineno_of(i)``."""

    dbs: list[bytes]
    rps: list[bytes]
    lines: list[bytes]
    first_number: int
    #: File line of the first record's point line; None when the block went line by line.
    first_lineno: int | None
    linenos: list[int] | None = None

    def lineno_of(self, i: int) -> int:
        if self.linenos is not None:
            return self.linenos[i]
        assert self.first_lineno is not None
        return self.first_lineno + 3 * i


class _Parser:
    """The careful, line-by-line record state machine (blank lines, CR, truncation)."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.lineno = 0  # lines consumed so far
        self.number = 0  # records completed so far
        self.state = 0  # 0: expect db, 1: expect rp, 2: expect point
        self.blank_at = 0  # first blank line where a database name was expected
        self.db = self.rp = b""

    def feed(self, lines: list[bytes]) -> RecordBlock:
        dbs: list[bytes] = []
        rps: list[bytes] = []
        pts: list[bytes] = []
        linenos: list[int] = []
        first = self.number + 1
        for raw in lines:
            self.lineno += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if self.state == 0:
                if not raw.strip():
                    # Blank lines are tolerated only at the very end of the file.
                    self.blank_at = self.blank_at or self.lineno
                    continue
                if self.blank_at:
                    raise RecordingError(
                        "blank line where a database name was expected",
                        self.blank_at,
                        1,
                        self.src,
                        self.number + 1,
                    )
                self.db = raw
                self.state = 1
            elif self.state == 1:
                self.rp = raw
                self.state = 2
            else:
                self.number += 1
                if not raw.strip():
                    raise RecordingError("empty line-protocol line", self.lineno, 1, self.src, self.number)
                dbs.append(self.db)
                rps.append(self.rp)
                pts.append(raw)
                linenos.append(self.lineno)
                self.state = 0
        return RecordBlock(dbs, rps, pts, first, None, linenos)

    def fast_ok(self, text: bytes, lines: list[bytes]) -> bool:
        """Whether a block of complete lines can be sliced into records directly: no CR, and no
        line that is empty or starts with whitespace (the smallest line would start below ``!``)."""
        return self.state == 0 and not self.blank_at and b"\r" not in text and min(lines)[:1] > b" "

    def slice(self, lines: list[bytes]) -> RecordBlock:
        """Records of well-formed lines; fewer than three left-over lines go to :meth:`feed`."""
        n = len(lines) // 3 * 3
        pts = lines[2:n:3]
        block = RecordBlock(lines[0:n:3], lines[1:n:3], pts, self.number + 1, self.lineno + 3)
        self.number += n // 3
        self.lineno += n
        return block

    def finish(self) -> None:
        if self.state != 0:
            missing = "retention policy" if self.state == 1 else "line-protocol"
            raise RecordingError(
                f"truncated record: the file ends where a {missing} line was expected",
                self.lineno,
                0,
                self.src,
                self.number + 1,
            )


def _after_lines(text: bytes, count: int) -> bytes:
    """``text`` without its first ``count`` lines."""
    pos = 0
    for _ in range(count):
        nl = text.find(b"\n", pos)
        if nl < 0:
            return b""
        pos = nl + 1
    return text[pos:]


@dataclass(frozen=True, slots=True)
class BodyBlock:
    """Consecutive records that all share one db and rp: their point lines as one body
    (``\\n``-terminated), cut out of the file's text in one pass in Rust
    (:func:`kapfast.lineproto.split_records`)."""

    db: bytes
    rp: bytes
    body: bytes
    count: int


def iter_record_blocks(path: str | os.PathLike[str]) -> Iterator[RecordBlock]:
    """Every record of a ``.srpl`` file in file order, in blocks (no Python object per record)."""
    for block in iter_blocks(path):
        assert isinstance(block, RecordBlock)
        yield block


def iter_blocks(path: str | os.PathLike[str], *, bodies: bool = False) -> Iterator[RecordBlock | BodyBlock]:
    """Every record of a ``.srpl`` file in file order, in blocks; with ``bodies``, a read block's
    whole records come as :class:`BodyBlock` runs of one db/rp each (no object per line at all)
    unless one of them needs the careful reader (a CR, a blank line)."""
    src = os.fspath(path)
    try:
        f = open_decompressed(path)
    except OSError as exc:
        raise RecordingError(f"cannot open stream recording: {exc}", source=src) from None
    parser = _Parser(src)
    with f:
        rest = b""
        try:
            while True:
                block = f.read(_READ_BLOCK)
                if not block:
                    break
                if bodies and parser.state == 0 and not parser.blank_at:
                    fast = _split_after(rest, block)
                    if fast is not None:
                        runs, rest = fast  # rest: a record's start, read again with the next block
                        for run in runs:
                            parser.number += run.count
                            parser.lineno += 3 * run.count
                            yield BodyBlock(run.db, run.rp, run.body, run.count)
                        continue
                data = rest + block if rest else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                text, rest = data[:cut], data[cut + 1 :]
                lines = text.split(b"\n")
                if parser.state != 0 and not parser.blank_at:
                    # Finish the record the previous block left open, then slice the rest.
                    head = (3 - parser.state) % 3
                    done = parser.feed(lines[:head])
                    if done.lines:
                        yield done
                    lines = lines[head:]
                    text = _after_lines(text, head)
                if lines and parser.fast_ok(text, lines):
                    n = len(lines) // 3 * 3
                    out = parser.slice(lines[:n]) if n else None
                    if out is not None and out.lines:
                        yield out
                    if n < len(lines):
                        tail = parser.feed(lines[n:])
                        if tail.lines:
                            yield tail
                elif lines:
                    out = parser.feed(lines)
                    if out.lines:
                        yield out
        except READ_ERRORS as exc:
            raise RecordingError(
                f"cannot read stream recording: {exc}", parser.lineno, 0, src, parser.number + 1
            ) from None
        if rest:
            # one unfinished line, or (after a BodyBlock) the lines of an unfinished record
            tail_lines = rest.split(b"\n")
            if not tail_lines[-1]:
                tail_lines.pop()
            out = parser.feed(tail_lines)
            if out.lines:
                yield out
        parser.finish()


def _split_after(rest: bytes, block: bytes) -> tuple[list[RecordRun], bytes] | None:
    """:func:`split_records` of ``rest + block`` and what follows the whole records, without
    copying ``block`` into one with ``rest`` (a read block is megabytes, ``rest`` the start of the
    one record the last block cut): that record is finished with ``block``'s first lines on its
    own. None when :func:`split_records` is None for any of it (the careful reader's cases)."""
    start = -1
    for _ in range(3 - rest.count(b"\n")):
        start = block.find(b"\n", start + 1)
        if start < 0:
            break
    start += 1
    if not rest or start <= 0:  # nothing to finish, or not within this block: one piece
        data = rest + block if rest else block
        got = split_records(data)
        return None if got is None else (got[0], data[got[1] :])
    head = rest + block[:start]
    first = split_records(head)
    if first is None or first[1] != len(head):
        return None
    got = split_records(block, start)
    return None if got is None else (first[0] + got[0], block[start + got[1] :])


def decode_name(raw: bytes, what: str, src: str, lineno: int = 0, number: int = 0) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordingError(f"{what} is not valid UTF-8", lineno, 0, src, number) from None


def read_stream_recording(path: str | os.PathLike[str]) -> Iterator[StreamRecord]:
    """Every record of a ``.srpl`` file (plain or gzipped), in file order, lines untouched."""
    src = os.fspath(path)
    names: dict[bytes, str] = {}
    for block in iter_record_blocks(path):
        for i, line in enumerate(block.lines):
            number = block.first_number + i
            db, rp = block.dbs[i], block.rps[i]
            dbs = names.get(db)
            if dbs is None:
                dbs = names[db] = decode_name(db, "database name", src, block.lineno_of(i) - 2, number)
            rps = names.get(rp)
            if rps is None:
                rps = names[rp] = decode_name(rp, "retention policy", src, block.lineno_of(i) - 1, number)
            yield StreamRecord(dbs, rps, line, number, block.lineno_of(i))


class StreamRecordingWriter(GzipWriter):
    """Writes a gzipped ``.srpl`` recording (ns precision), the format Kapacitor stores.

    ``write(db, rp, body)`` takes a line-protocol body in ns precision (as InfluxDB subscriptions
    and kapfast's router deliver it); blank and ``#`` comment lines are skipped.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, compresslevel: int = 1, background: bool = False
    ) -> None:
        super().__init__(path, compresslevel=compresslevel, background=background)
        self.records = 0

    def write(self, db: str, rp: str, body: bytes, *, default_time_ns: int | None = None) -> int:
        """Append every point of ``body`` for ``db``/``rp``; returns the number of records written.

        A line without a timestamp gets ``default_time_ns``; without one it is an error (a
        recording needs a time per point). Nothing of ``body`` is written when it has an error.
        """
        self._check_open()
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
            self._write(b"".join(out))
        n = len(out) // 3
        self.records += n
        return n

    def write_serialized(self, db: str, rp: str, body: bytes, count: int) -> int:
        """Append ``count`` points serialized by ``PointBatch.to_line_protocol()`` (ns, one
        timestamped line each, ``\\n``-terminated, nothing to skip): the records are made in one
        pass in Rust instead of a look at every line (the live recording's path)."""
        if not self.write_exact(db, rp, body, count):
            raise ValueError(f"the body is not {count} lines, one point each")
        return count

    def write_exact(self, db: str, rp: str, body: bytes, count: int) -> bool:
        """Append ``body`` as it is when it is exactly ``count`` lines (the last may lack its
        newline) without a CR, ``count`` the points it parsed into, ns ones with a timestamp
        each: every line is then one point as it came. False (nothing written) when it is not:
        the caller serializes its batch instead. One pass in Rust, GIL released; a live
        recording only checks here, and its writer's thread makes the records (a gzip member),
        off the write path."""
        self._check_open()
        for name, what in ((db, "database"), (rp, "retention policy")):
            if "\n" in name or "\r" in name:
                raise ValueError(f"{what} name must not contain a newline: {name!r}")
        if not count:
            return not body.strip(b"\n")
        if self._thread is not None:
            if type(body) is not bytes:  # kept until the thread writes it: an immutable copy
                body = bytes(body)
            if not one_point_a_line(body, count):
                return False
            self._write_records(db, rp, body, count)
        else:
            framed = records(db, rp, body, count)
            if framed is None:
                return False
            self._write(framed)
        self.records += count
        return True


__all__ = [
    "BodyBlock",
    "RecordBlock",
    "StreamRecord",
    "StreamRecordingWriter",
    "decode_name",
    "iter_blocks",
    "iter_record_blocks",
    "read_stream_recording",
]
