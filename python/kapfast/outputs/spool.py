"""influxDBOut's on-disk buffer: what could not reach InfluxDB yet, kept in order across restarts.

One folder per destination (cluster, db, rp, precision) under ``<data_dir>/influxdb_out``, holding
``dest.json`` and segment files ``<seq>.seg``. A segment is a run of records, each a 16-byte
header and a line-protocol body::

    b"KW" | state (1 byte: 0 pending, 1 done) | 0 | body length u32 | points u32 | crc32(body) u32

A delivered record is marked done in place (one byte written), and a segment whose records are all
done is deleted, so a restart resumes with the first record not yet delivered. A torn record at the
end of the newest segment (a crash in mid-append) fails its length or CRC check: it and the rest
of that segment are cut off, with a warning. Segment numbers are shared by every destination, so
"the oldest segment" is well defined when the total size must shrink.

Writes go to the page cache (``os.write`` on an unbuffered descriptor) and survive the process
being killed; ``sync()`` (done on segment rotation and on close) makes them survive a power cut.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("kapfast.influxdb_out")

_HEADER = struct.Struct("<2sBBIII")
_MAGIC = b"KW"
_PENDING, _DONE = 0, 1
Destination = tuple[str, str, str, str]  # (cluster, db, rp, precision)


@dataclass
class Record:
    segment: Segment
    offset: int
    length: int  # of the body
    points: int
    #: the node counters to move when the record is delivered (None after a restart)
    stats: MutableMapping[str, int] | None = None

    @property
    def size(self) -> int:
        return _HEADER.size + self.length


@dataclass
class Segment:
    seq: int
    path: Path
    records: deque[Record] = field(default_factory=deque)
    size: int = 0  # bytes in the file
    fd: int = -1  # open while the segment is the one appended to

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Spool:
    """The pending records of one destination, oldest first."""

    def __init__(self, directory: Path, dest: Destination, segment_bytes: int) -> None:
        self.dir = directory
        self.dest = dest
        self.segment_bytes = segment_bytes
        self.segments: deque[Segment] = deque()
        #: pending bytes (headers included) and points, over every segment
        self.bytes = 0
        self.points = 0

    # --- opening -----------------------------------------------------------------------------

    @staticmethod
    def folder_for(root: Path, dest: Destination) -> Path:
        digest = hashlib.sha1(json.dumps(list(dest)).encode()).hexdigest()[:16]
        return root / f"dest-{digest}"

    @classmethod
    def create(cls, root: Path, dest: Destination, segment_bytes: int) -> Spool:
        folder = cls.folder_for(root, dest)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "dest.json"
        if not meta.exists():
            tmp = meta.with_suffix(".tmp")
            tmp.write_text(json.dumps(list(dest)))
            os.replace(tmp, meta)
        return cls(folder, dest, segment_bytes)

    @classmethod
    def load(cls, folder: Path, segment_bytes: int) -> Spool | None:
        """The spool a previous run left in ``folder`` (None when it is not one)."""
        try:
            raw = json.loads((folder / "dest.json").read_text())
        except (OSError, ValueError):
            return None
        if not (isinstance(raw, list) and len(raw) == 4 and all(isinstance(x, str) for x in raw)):
            return None
        spool = cls(folder, (raw[0], raw[1], raw[2], raw[3]), segment_bytes)
        for path in sorted(folder.glob("*.seg")):
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            seg = spool._scan(Segment(seq, path))
            if seg.records:
                spool.segments.append(seg)
            else:
                path.unlink(missing_ok=True)
        return spool

    def _scan(self, seg: Segment) -> Segment:
        data = seg.path.read_bytes()
        pos = 0
        while pos + _HEADER.size <= len(data):
            magic, state, _, length, points, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if magic != _MAGIC or end > len(data) or zlib.crc32(data[pos + _HEADER.size : end]) != crc:
                break
            if state == _PENDING:
                seg.records.append(Record(seg, pos, length, points))
                self.bytes += _HEADER.size + length
                self.points += points
            pos = end
        if pos < len(data):
            log.warning(
                "influxDBOut buffer %s: %d bytes at offset %d are not a whole record (cut off by a crash?): "
                "dropped",
                seg.path,
                len(data) - pos,
                pos,
            )
            with open(seg.path, "r+b") as f:
                f.truncate(pos)
        seg.size = pos
        return seg

    # --- appending and delivering ------------------------------------------------------------

    @property
    def first_seq(self) -> int | None:
        return self.segments[0].seq if self.segments else None

    def append(self, body: bytes, points: int, stats: MutableMapping[str, int] | None, next_seq: int) -> bool:
        """Append one record; ``next_seq`` numbers a new segment when one is started (True then,
        so the caller advances its counter). Raises OSError (ENOSPC...) with nothing appended."""
        started = False
        seg = self.segments[-1] if self.segments else None
        if seg is None or seg.fd < 0 or seg.size >= self.segment_bytes:
            if seg is not None and seg.fd >= 0:
                os.fsync(seg.fd)  # a finished segment is made durable once
                seg.close()
            path = self.dir / f"{next_seq:016d}.seg"
            seg = Segment(next_seq, path, fd=os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
            self.segments.append(seg)
            started = True
        header = _HEADER.pack(_MAGIC, _PENDING, 0, len(body), points, zlib.crc32(body))
        data = header + body
        try:
            written = os.write(seg.fd, data)
            if written != len(data):
                raise OSError(28, "short write to the influxDBOut buffer (disk full?)")
        except OSError:
            # leave no torn record behind: the next append would land after it
            os.ftruncate(seg.fd, seg.size)
            if not seg.records:
                self._remove(seg)
            raise
        seg.records.append(Record(seg, seg.size, len(body), points, stats))
        seg.size += len(data)
        self.bytes += len(data)
        self.points += points
        return started

    def peek(self, max_points: int) -> list[Record]:
        """The oldest pending records, up to ``max_points`` points (at least one record)."""
        out: list[Record] = []
        points = 0
        for seg in self.segments:
            for rec in seg.records:
                if out and points + rec.points > max_points:
                    return out
                out.append(rec)
                points += rec.points
        return out

    def read(self, records: list[Record]) -> bytes:
        parts: list[bytes] = []
        for rec in records:
            with open(rec.segment.path, "rb") as f:
                f.seek(rec.offset + _HEADER.size)
                parts.append(f.read(rec.length))
        return b"".join(parts)

    def done(self, records: list[Record]) -> list[Record]:
        """Mark the oldest ``records`` (as ``peek`` gave them) delivered or given up; returns
        those still pending until now (the others were dropped meanwhile, the buffer full)."""
        out: list[Record] = []
        for rec in records:
            seg = rec.segment
            if not seg.records or seg.records[0] is not rec:
                continue  # dropped meanwhile (buffer full)
            seg.records.popleft()
            out.append(rec)
            self.bytes -= rec.size
            self.points -= rec.points
            if not seg.records:
                self._remove(seg)  # the next append starts a new segment
            else:
                try:
                    fd = os.open(seg.path, os.O_WRONLY)
                    try:
                        os.pwrite(fd, bytes([_DONE]), rec.offset + 2)
                    finally:
                        os.close(fd)
                except OSError as exc:  # it will be sent again after a restart: say so
                    log.warning("influxDBOut buffer %s: cannot mark a record delivered: %s", seg.path, exc)
        return out

    def drop_oldest_segment(self) -> tuple[int, list[Record]]:
        """Delete the oldest segment: (its pending bytes, its pending records)."""
        seg = self.segments[0]
        records = list(seg.records)
        size = sum(r.size for r in records)
        self.bytes -= size
        self.points -= sum(r.points for r in records)
        seg.records.clear()
        self._remove(seg)
        return size, records

    def _remove(self, seg: Segment) -> None:
        seg.close()
        if seg in self.segments:
            self.segments.remove(seg)
        seg.path.unlink(missing_ok=True)

    def sync(self) -> None:
        for seg in self.segments:
            if seg.fd >= 0:
                os.fsync(seg.fd)

    def close(self) -> None:
        self.sync()
        for seg in self.segments:
            seg.close()
