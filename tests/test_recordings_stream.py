"""Stream recordings (.srpl): reading, replay time shift and chunking, writing."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import cast

import pytest
from isal import igzip

from kapfast.errors import InputError
from kapfast.recordings import (
    RawStreamChunk,
    RecordingError,
    StreamRecordingWriter,
    detect_stream_precision,
    raw_stream_chunks,
    read_stream_recording,
    replay_offset_ns,
    split_timestamp,
    stream_chunks,
)
from kapfast.recordings.compression import LIVE_MARKER, Recovered, is_live_recording, recover_blocks

S = 1_000_000_000
T0 = 31_536_000 * S  # 1971-01-01T00:00:00Z, the conformance clock zero


def write(tmp_path: Path, data: bytes, name: str = "r.srpl", *, gz: bool = False) -> Path:
    p = tmp_path / name
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


# -- every conformance file -------------------------------------------------------------------


def test_conformance_file_reads(srpl_file: Path) -> None:
    raw_lines = srpl_file.read_bytes().rstrip(b"\n").split(b"\n")
    recs = list(read_stream_recording(srpl_file))
    assert len(recs) == len(raw_lines) // 3 > 0
    assert [r.line for r in recs] == raw_lines[2::3]
    assert all(r.db == "dbname" and r.rp == "rpname" for r in recs)
    chunks = list(stream_chunks(srpl_file, clock_zero_ns=T0))
    assert sum(c.count for c in chunks) == len(recs)
    assert chunks[0].first_time_ns == T0
    body = b"".join(c.body for c in chunks)
    assert body.count(b"\n") == len(recs) and body.endswith(b"\n")
    # Every line keeps its text before the timestamp; times are shifted by one common amount.
    first_ts = int(split_timestamp(recs[0].line)[1] or b"0")
    for rec, out in zip(recs, body.split(b"\n"), strict=False):
        head, tok = split_timestamp(rec.line)
        assert tok is not None
        assert out == head + b" " + str((int(tok) - first_ts) * S + T0).encode()


def test_out_of_order_file_keeps_file_order(conformance_data: Path) -> None:
    path = conformance_data / "TestStream_JoinN.srpl"
    times = [t for c in stream_chunks(path, clock_zero_ns=0, max_lines=1) for t in [c.first_time_ns]]
    assert times != sorted(times), "this file has a late point"
    (chunk,) = stream_chunks(path, clock_zero_ns=0)
    assert chunk.min_time_ns == min(times) and chunk.max_time_ns == max(times)
    assert chunk.last_time_ns == times[-1]


def test_last_record_without_newline(conformance_data: Path) -> None:
    path = conformance_data / "TestStream_LambdaNow.srpl"
    assert not path.read_bytes().endswith(b"\n")
    assert len(list(read_stream_recording(path))) == 3


# -- synthetic edge cases ------------------------------------------------------------------------


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    data = b"db\nrp\ncpu v=1 5\ndb\nrp\ncpu v=2 6"
    for name in ("a.srpl", "a.txt", "a.srpl.gz"):
        p = write(tmp_path, data, name, gz=True)
        assert [r.line for r in read_stream_recording(p)] == [b"cpu v=1 5", b"cpu v=2 6"]


def test_crlf_and_trailing_blank_lines_are_tolerated(tmp_path: Path) -> None:
    p = write(tmp_path, b"db\r\nrp\r\ncpu v=1 5\r\n\n  \n")
    (rec,) = read_stream_recording(p)
    assert (rec.db, rec.rp, rec.line, rec.number, rec.lineno) == ("db", "rp", b"cpu v=1 5", 1, 3)


@pytest.mark.parametrize(
    ("data", "line", "record", "message"),
    [
        (b"db\nrp\ncpu v=1 1\ndb\n", 4, 2, "retention policy line was expected"),
        (b"db\nrp\ncpu v=1 1\ndb\nrp", 5, 2, "line-protocol line was expected"),
        (b"db\nrp\ncpu v=1 1\n\ndb\nrp\ncpu v=1 2\n", 4, 2, "blank line"),
        (b"db\nrp\n\n", 3, 1, "empty line-protocol line"),
        (b"\xff\nrp\ncpu v=1 1\n", 1, 1, "not valid UTF-8"),
    ],
)
@pytest.mark.parametrize("block", [5, 1 << 20])
def test_malformed_files_name_line_and_record(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    line: int,
    record: int,
    message: str,
    block: int,
) -> None:
    from kapfast.recordings import stream as stream_mod

    monkeypatch.setattr(stream_mod, "_READ_BLOCK", block)
    p = write(tmp_path, data)
    with pytest.raises(RecordingError) as err:
        list(read_stream_recording(p))
    assert isinstance(err.value, InputError)
    assert (err.value.line, err.value.record) == (line, record)
    assert message in str(err.value) and str(p) in str(err.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"cpu v=1 12a3", "bad timestamp '12a3'"),
        (b"cpu v=1 1_000", "bad timestamp"),
        (b"cpu v=1 +5", "bad timestamp"),
        (b"cpu v=1", "no timestamp"),
        (b"cpu v=1 99999999999999999999", "out of range"),
    ],
)
@pytest.mark.parametrize("block", [5, 1 << 20])
def test_bad_timestamps_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: bytes, message: str, block: int
) -> None:
    from kapfast.recordings import stream as stream_mod

    monkeypatch.setattr(stream_mod, "_READ_BLOCK", block)
    p = write(tmp_path, b"db\nrp\ncpu v=0 1\ndb\nrp\n" + line + b"\n")
    with pytest.raises(RecordingError, match=message) as err:
        list(stream_chunks(p))
    assert (err.value.line, err.value.record) == (6, 2)


@pytest.mark.parametrize(
    ("line", "head", "tok"),
    [
        (b"cpu v=1 5", b"cpu v=1", b"5"),
        (b"cpu v=39   0000000001", b"cpu v=39", b"0000000001"),
        (b"cpu v=1 -5  ", b"cpu v=1", b"-5"),
        (b"cpu v=1", b"cpu v=1", None),
        (b'cpu s="a b 12"', b'cpu s="a b 12"', None),
        (b'cpu s="a 1",g=2', b'cpu s="a 1",g=2', None),
        (b'cpu s="a 1" 7', b'cpu s="a 1"', b"7"),
        (b"cpu,h=a\\ 1 v=1", b"cpu,h=a\\ 1 v=1", None),
        (b"cpu,h=a\\ b v=1\t9", b"cpu,h=a\\ b v=1", b"9"),
        (b"cpu", b"cpu", None),
    ],
)
def test_split_timestamp(line: bytes, head: bytes, tok: bytes | None) -> None:
    assert split_timestamp(line) == (head, tok)


def test_shift_precision_and_no_clock_zero(tmp_path: Path) -> None:
    p = write(tmp_path, b"db\nrp\ncpu v=1 10\ndb\nrp\ncpu v=2 12\ndb\nrp\ncpu v=3 11\n")
    (c,) = stream_chunks(p, clock_zero_ns=100)
    assert c.body == b"cpu v=1 100\ncpu v=2 2000000100\ncpu v=3 1000000100\n"
    assert (c.first_time_ns, c.last_time_ns, c.min_time_ns, c.max_time_ns) == (
        100,
        1_000_000_100,
        100,
        2_000_000_100,
    )
    (c,) = stream_chunks(p)  # times as recorded, seconds -> ns
    assert c.body == b"cpu v=1 10000000000\ncpu v=2 12000000000\ncpu v=3 11000000000\n"
    (c,) = stream_chunks(p, precision="ms", clock_zero_ns=0)
    assert c.body == b"cpu v=1 0\ncpu v=2 2000000\ncpu v=3 1000000\n"
    with pytest.raises(ValueError, match="unknown precision"):
        list(stream_chunks(p, precision="weeks"))


def test_chunks_group_consecutive_dbrp_and_bound_size(tmp_path: Path) -> None:
    recs = [("a", "x", 1), ("a", "x", 2), ("b", "x", 3), ("a", "y", 4), ("a", "x", 5), ("a", "x", 6)]
    p = write(tmp_path, b"".join(f"{d}\n{r}\nm v=1 {t}\n".encode() for d, r, t in recs))
    got = [(c.db, c.rp, c.count) for c in stream_chunks(p, precision="ns")]
    assert got == [("a", "x", 2), ("b", "x", 1), ("a", "y", 1), ("a", "x", 2)]
    assert [c.count for c in stream_chunks(p, precision="ns", max_lines=1)] == [1] * 6
    small = [c.count for c in stream_chunks(p, precision="ns", max_bytes=8)]
    assert small == [1] * 6  # each line is longer than the bound: one line per chunk, nothing lost


def test_detect_precision(tmp_path: Path) -> None:
    assert detect_stream_precision(write(tmp_path, b"d\nr\nm v=1 1\n", "s.srpl")) == "s"
    assert detect_stream_precision(write(tmp_path, b"d\nr\nm v=1 1700000000000000000\n", "n.srpl")) == "ns"
    assert detect_stream_precision(write(tmp_path, b"d\nr\nm v=1 1\n", "g.srpl", gz=True)) == "ns"
    p = write(tmp_path, b"d\nr\nm v=1 1700000000000000000\n", "auto.srpl")
    (c,) = stream_chunks(p, precision="auto")
    assert c.first_time_ns == 1_700_000_000_000_000_000


def test_writer_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "rec.srpl"
    with StreamRecordingWriter(p) as w:
        assert (
            w.write("telegraf", "autogen", b"cpu,host=a v=1 1700000000000000000\n\n# c\ncpu v=2 5\r\n") == 2
        )
        assert w.write("other db", "", b'mem s="x y" 7') == 1
        assert w.write("telegraf", "autogen", b"cpu v=3", default_time_ns=9) == 1
        with pytest.raises(RecordingError, match="no timestamp"):
            w.write("telegraf", "autogen", b"cpu v=4 1\ncpu v=5")
        with pytest.raises(ValueError, match="newline"):
            w.write("a\nb", "rp", b"cpu v=1 1")
        assert w.records == 4
    assert p.read_bytes()[:2] == b"\x1f\x8b"
    recs = [(r.db, r.rp, r.line) for r in read_stream_recording(p)]
    assert recs == [
        ("telegraf", "autogen", b"cpu,host=a v=1 1700000000000000000"),
        ("telegraf", "autogen", b"cpu v=2 5"),
        ("other db", "", b'mem s="x y" 7'),
        ("telegraf", "autogen", b"cpu v=3 9"),
    ]
    bodies = [(c.db, c.body) for c in stream_chunks(p, precision="ns")]
    assert bodies[0] == ("telegraf", b"cpu,host=a v=1 1700000000000000000\ncpu v=2 5\n")
    # Deterministic bytes: the same input gives the same file.
    q = tmp_path / "rec2.srpl"
    with StreamRecordingWriter(q) as w:
        w.write("x", "y", b"m v=1 1")
    with StreamRecordingWriter(tmp_path / "rec3.srpl") as w:
        w.write("x", "y", b"m v=1 1")
    assert q.read_bytes() == (tmp_path / "rec3.srpl").read_bytes()


def test_missing_file_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot open"):
        list(read_stream_recording(tmp_path / "nope.srpl"))


def test_corrupt_gzip_is_a_recording_error(tmp_path: Path) -> None:
    data = gzip.compress(b"db\nrp\ncpu v=1 1\n" * 1000)
    p = write(tmp_path, data[: len(data) // 2])
    with pytest.raises(RecordingError, match="cannot read"):
        list(read_stream_recording(p))


def test_raw_chunks_and_replay_offset(conformance_data: Path) -> None:
    path = conformance_data / "TestStream_Window.srpl"
    recs = list(read_stream_recording(path))
    raw = list(raw_stream_chunks(path, max_lines=7))
    assert b"".join(c.body for c in raw) == b"".join(r.line + b"\n" for r in recs)
    assert [c.count for c in raw][:-1] == [7] * (len(raw) - 1)
    first = int(split_timestamp(recs[0].line)[1] or b"")
    assert replay_offset_ns(path, clock_zero_ns=T0) == T0 - first * S
    assert replay_offset_ns(path, clock_zero_ns=None) == 0


def _reference(data: bytes) -> list[tuple[str, str, bytes]]:
    """The format by its definition: records of three lines, trailing blank lines ignored."""
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return [(lines[i].decode(), lines[i + 1].decode(), lines[i + 2]) for i in range(0, len(lines), 3)]


@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_block_reader_agrees_with_the_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    from kapfast.recordings import stream as stream_mod

    monkeypatch.setattr(stream_mod, "_READ_BLOCK", block)
    recs = []
    for i in range(400):
        db, rp = ("a", "x") if i % 50 < 40 else ("b", "y")
        line = f"m,t=v{i % 3} f={i}i {1000 + i * 7}" if i % 97 else f'm s="a b",g=1\t{1000 + i * 7}'
        recs.append(f"{db}\r\n{rp}\n{line}".encode() if i == 5 else f"{db}\n{rp}\n{line}".encode())
    data = b"\n".join(recs) + b"\n\n \n"
    p = write(tmp_path, data)
    got = [(r.db, r.rp, r.line) for r in read_stream_recording(p)]
    assert got == _reference(data)
    assert [r.number for r in read_stream_recording(p)] == list(range(1, 401))
    assert [r.lineno for r in read_stream_recording(p)] == list(range(3, 1201, 3))
    chunks = list(stream_chunks(p, precision="ms", clock_zero_ns=0, max_lines=33))
    body = b"".join(c.body for c in chunks)
    expected = [
        split_timestamp(line)[0] + b" %d\n" % ((int(split_timestamp(line)[1] or b"") - 1000) * 1_000_000)
        for _, _, line in _reference(data)
    ]
    assert body == b"".join(expected)
    assert [(c.db, c.rp) for c in chunks][:3] == [("a", "x"), ("a", "x"), ("b", "y")]
    assert all(c.count <= 33 for c in chunks)


# -- the live recording's path and the replay's fast path -------------------------------------


@pytest.mark.parametrize("background", [False, True])
def test_write_serialized_matches_write(tmp_path: Path, background: bool) -> None:
    from kapfast import lineproto

    body = b'cpu,host=a v=1 1700000000000000000\nmem,h=x\\ y s="q\\"z",i=3i 5\ncpu v=2.5 -7\n'
    batch = lineproto.parse(body, now_ns=0).batch
    lp = batch.to_line_protocol()
    a, b = tmp_path / "a.srpl", tmp_path / "b.srpl"
    with StreamRecordingWriter(a) as w:
        w.write("telegraf", "autogen", lp)
        w.write("other", "rp", lp)
    with StreamRecordingWriter(b, background=background) as w:
        assert w.write_serialized("telegraf", "autogen", lp, len(batch)) == 3
        assert w.write_serialized("other", "rp", lp, len(batch)) == 3
        assert w.write_serialized("other", "rp", b"", 0) == 0
        with pytest.raises(ValueError, match="newline"):
            w.write_serialized("a\nb", "rp", lp, len(batch))
        assert w.records == 6
    if background:  # written in blocks (gzip members): the same records
        assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())
        assert b.read_bytes().startswith(LIVE_MARKER)
    else:
        assert a.read_bytes() == b.read_bytes()  # the same records, byte for byte


def test_background_writer_reports_a_failure(tmp_path: Path) -> None:
    w = StreamRecordingWriter(tmp_path / "x.srpl", background=True)
    os.close(w._fd)  # the disk under the writer thread is full: its next write fails
    w._fd = os.open("/dev/full", os.O_WRONLY)
    w.write_serialized("d", "r", b"m v=1 1\n", 1)
    done = w.pending()
    assert done is not None
    with pytest.raises(OSError, match="writing the recording failed"):
        done.result(timeout=10)
    with pytest.raises(OSError, match="writing the recording failed"):
        w.close()
    assert w.closed


def _live(tmp_path: Path, writes: int = 5) -> tuple[Path, list[bytes]]:
    """A live recording's file (blocks) of ``writes`` batches of 3 points, each waited for."""
    path = tmp_path / "live.srpl"
    lines: list[bytes] = []
    w = StreamRecordingWriter(path, background=True)
    for i in range(writes):
        body = b"".join(b"cpu,host=h%d v=%d %d\n" % (j, i, i * 10 + j) for j in range(3))
        w.write_serialized("db", "rp", body, 3)
        lines += body.splitlines()
        done = w.pending()
        assert done is not None
        done.result(timeout=10)  # in the file now: what the write path waits for before its 204
        assert w.pending() is None
    # the process dies here: no close(), no gzip trailer of a single stream to miss
    os.close(w._fd)
    w._fd = os.open(os.devnull, os.O_WRONLY)
    return path, lines


def test_a_live_recording_is_readable_without_a_close(tmp_path: Path) -> None:
    path, lines = _live(tmp_path)
    assert [r.line for r in read_stream_recording(path)] == lines
    size = path.stat().st_size
    assert recover_blocks(path) == Recovered(size, 3 * len(lines), 0)  # nothing to cut
    assert path.stat().st_size == size


@pytest.mark.parametrize("tail", ["torn", "garbage", "bad_crc"])
def test_recovery_cuts_a_torn_last_block(tmp_path: Path, tail: str) -> None:
    path, lines = _live(tmp_path)
    whole = path.read_bytes()
    block = igzip.compress(b"db\nrp\ncpu v=99 99\n" * 50, compresslevel=1, mtime=0)
    extra = {
        "torn": block[: len(block) // 2],  # killed in the middle of a block's write
        "garbage": b"\x00\x17 not gzip",
        "bad_crc": block[:-8] + b"\xde\xad\xbe\xef" + block[-4:],
    }[tail]
    path.write_bytes(whole + extra)
    with pytest.raises(RecordingError):
        list(read_stream_recording(path))  # as it was left: unreadable at its end
    got = recover_blocks(path)
    assert got == Recovered(len(whole), 3 * len(lines), len(extra))
    assert path.read_bytes() == whole
    assert [r.line for r in read_stream_recording(path)] == lines
    assert is_live_recording(path)


def _replayed(path: Path, zero: int | None, precision: str = "auto") -> list[tuple[str, int, int]]:
    from kapfast.clock import VirtualClock
    from kapfast.engine.context import TaskContext
    from kapfast.engine.replay import replay_stream
    from kapfast.engine.task import Task
    from kapfast.tick import compile_script

    clock = VirtualClock(0)
    task = Task(
        "t",
        compile_script("stream\n    |from().measurement('cpu')\n    |httpOut('out')\n"),
        TaskContext(task_id="t", clock=clock),
    )
    seen: list[tuple[str, int, int]] = []
    real = task.write_points

    def spy(batch, db, rp):  # type: ignore[no-untyped-def]
        times = list(memoryview(batch.time()))
        seen.extend((db, t, clock.now_ns()) for t in times)
        return real(batch, db, rp)

    task.write_points = spy  # type: ignore[method-assign]
    st = replay_stream(task, path, clock, clock_zero_ns=zero, precision=precision)
    assert st.points == len(seen)
    return seen


@pytest.mark.parametrize("zero", [None, T0])
def test_replay_shifts_times_like_the_line_by_line_path(tmp_path: Path, zero: int | None) -> None:
    recs = [("a", 10), ("a", 12), ("b", 11), ("a", 13)]
    p = write(tmp_path, b"".join(f"{d}\nrp\ncpu v=1 {t}\n".encode() for d, t in recs))
    want = [
        (c.db, t)
        for c in stream_chunks(p, precision="s", clock_zero_ns=zero)
        for t in lineproto_times(c.body)
    ]
    got = _replayed(p, zero)
    assert [(db, t) for db, t, _ in got] == want
    # the clock is at the newest point so far when a chunk is fed (it never goes back)
    assert [now for _, _, now in got] == [want[1][1]] * 3 + [want[3][1]]


def lineproto_times(body: bytes) -> list[int]:
    from kapfast import lineproto

    return list(memoryview(lineproto.parse(body, now_ns=0).batch.time()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        (b"cpu v=1", RecordingError, "no timestamp"),
        (b"cpu v=1 1_000", RecordingError, "bad timestamp"),
        (b"cpu v=1 99999999999999999999", RecordingError, "out of range"),
        (b"cpu v= 5", InputError, "bad point in recording"),
    ],
)
def test_replay_errors_are_the_exact_ones(tmp_path: Path, line: bytes, error: type, message: str) -> None:
    p = write(tmp_path, b"db\nrp\ncpu v=0 1\ndb\nrp\n" + line + b"\n")
    with pytest.raises(error, match=message):
        _replayed(p, T0, "s")


def test_replay_shift_out_of_range_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, b"db\nrp\ncpu v=0 0\ndb\nrp\ncpu v=0 9223372036854775000\n")
    with pytest.raises(RecordingError, match="out of range"):
        _replayed(p, 10**9, "ns")


def _runs_of(chunks: list[RawStreamChunk]) -> list[tuple[str, str, bytes]]:
    """Chunks merged into runs of one db/rp (how a file is cut into chunks aside)."""
    out: list[tuple[str, str, bytes]] = []
    for c in chunks:
        if out and out[-1][:2] == (c.db, c.rp):
            out[-1] = (c.db, c.rp, out[-1][2] + c.body)
        else:
            out.append((c.db, c.rp, c.body))
    return out


@pytest.mark.parametrize("block", [7, 29, 100, 4096, 1 << 20])
@pytest.mark.parametrize(
    "records",
    [
        [("telegraf", "autogen", f"cpu,host=h{i % 7} v={i} {i}") for i in range(500)],
        [("db", "rp" if i % 50 < 40 else "other", f"cpu v={i} {i}") for i in range(300)],
        [("my db", "rp", f"m v={i} {i}") for i in range(100)],  # a db with a space: line by line
        [("d", "r", f"m,t=d v={i} {i}" if i % 9 else "d") for i in range(90)],  # a point line "d"
    ],
)
def test_raw_chunks_by_body_agree_with_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, records: list[tuple[str, str, str]]
) -> None:
    from kapfast.recordings import stream as stream_mod

    monkeypatch.setattr(stream_mod, "_READ_BLOCK", block)
    p = write(tmp_path, b"".join(f"{d}\n{r}\n{ln}\n".encode() for d, r, ln in records), gz=True)
    fast = list(raw_stream_chunks(p))
    careful = list(raw_stream_chunks(p, max_lines=1 << 30))
    assert _runs_of(fast) == _runs_of(careful)
    assert sum(c.count for c in fast) == len(records)
    assert all(c.count == c.body.count(b"\n") for c in fast)


def test_replay_of_a_blank_point_line_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, b"db\nrp\ncpu v=0 1\ndb\nrp\n   \ndb\nrp\ncpu v=0 2\n")
    with pytest.raises(RecordingError, match="empty line-protocol line"):
        _replayed(p, T0, "s")


@pytest.mark.parametrize("block", [7, 1 << 20])
@pytest.mark.parametrize(
    ("tail", "error"),
    [(b"db\nrp\ncpu v=9 9", None), (b"db\nrp\n", "truncated record"), (b"db\n", "truncated record")],
)
def test_raw_chunks_by_body_at_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, tail: bytes, error: str | None
) -> None:
    from kapfast.recordings import stream as stream_mod

    monkeypatch.setattr(stream_mod, "_READ_BLOCK", block)
    p = write(tmp_path, b"".join(b"db\nrp\ncpu v=%d %d\n" % (i, i) for i in range(20)) + tail)
    if error:
        with pytest.raises(RecordingError, match=error):
            list(raw_stream_chunks(p))
        return
    body = b"".join(c.body for c in raw_stream_chunks(p))
    assert body == b"".join(b"cpu v=%d %d\n" % (i, i) for i in range(20)) + b"cpu v=9 9\n"


def test_records_are_made_only_of_one_point_a_line() -> None:
    from kapfast import lineproto

    body = b"cpu v=1 1\nmem v=2 2"
    assert lineproto.records("db", "rp", body, 2) == b"db\nrp\ncpu v=1 1\ndb\nrp\nmem v=2 2\n"
    assert lineproto.records("db", "rp", body + b"\n", 2) == lineproto.records("db", "rp", body, 2)
    # a blank line, a CR, a newline inside a string: not one point a line
    assert lineproto.records("db", "rp", b"cpu v=1 1\n\nmem v=2 2\n", 2) is None
    assert lineproto.records("db", "rp", b"cpu v=1 1\r\nmem v=2 2\n", 2) is None
    assert lineproto.records("db", "rp", b'cpu s="a\nb" 1\n', 1) is None


def test_a_records_member_is_the_records_gzipped_as_stored_blocks() -> None:
    from kapfast import lineproto

    # several stored blocks (65,535 bytes at most each), with and without the final newline
    big = b"".join(b"cpu,host=h%d usage_idle=%d.5 %d\n" % (i, i, i) for i in range(9_000))
    for body, count in [(b"cpu v=1 1\nmem v=2 2", 2), (b"cpu v=1 1\n", 1), (big, 9_000), (big[:-1], 9_000)]:
        member = lineproto.records_member("telegraf", "autogen", body, count)
        assert member is not None
        assert gzip.decompress(member) == lineproto.records("telegraf", "autogen", body, count)
    # refused exactly where records are
    for body, count in [
        (b"cpu v=1 1\n\nmem v=2 2\n", 2),
        (b"cpu v=1 1\r\nmem v=2 2\n", 2),
        (b"a v=1 1\n", 2),
    ]:
        assert lineproto.records_member("db", "rp", body, count) is None


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("count", [0, 1, 3])
def test_write_exact_falls_back_without_writing(tmp_path: Path, count: int, background: bool) -> None:
    with StreamRecordingWriter(tmp_path / "x.srpl", background=background) as w:
        assert not w.write_exact("db", "rp", b"cpu v=1 1\n\ncpu v=2 2\n", 2)
        assert w.write_exact("db", "rp", b"".join(b"cpu v=%d %d\n" % (i, i) for i in range(count)), count)
        assert w.records == count
    assert [r.line for r in read_stream_recording(tmp_path / "x.srpl")] == [
        b"cpu v=%d %d" % (i, i) for i in range(count)
    ]


def test_split_records_into_runs() -> None:
    from kapfast import lineproto

    block = b"a\nr\nm v=1 1\na\nr\nm v=2 2\nb\nr\nm v=3 3\nb\nr"
    got = lineproto.split_records(block)
    assert got is not None
    runs, consumed = got
    assert block[consumed:] == b"b\nr"
    assert [(r.db, r.rp, r.body, r.count) for r in runs] == [
        (b"a", b"r", b"m v=1 1\nm v=2 2\n", 2),
        (b"b", b"r", b"m v=3 3\n", 1),
    ]
    assert lineproto.split_records(b"a\nr\nm v=1 1\r\n") is None  # for the careful reader
    assert lineproto.split_records(b"a\nr\n  \n") is None
    # from a record's start within the block: consumed counts from there
    got = lineproto.split_records(block, 12)
    assert got is not None
    assert [(r.db, r.body, r.count) for r in got[0]] == [(b"a", b"m v=2 2\n", 1), (b"b", b"m v=3 3\n", 1)]
    assert block[12 + got[1] :] == b"b\nr"


def test_live_blocks_are_stored_and_compact_to_the_plain_writers_bytes(tmp_path: Path) -> None:
    """A live recording writes stored (uncompressed) gzip members; compacted, the file is the
    one a plain writer makes of the same records, byte for byte."""
    from kapfast.recordings.compression import COMPACTING_SUFFIX, stored_member, write_compacted

    for data in (b"", b"x", bytes(range(256)) * 1000):  # 0, 1 and several stored blocks
        assert gzip.decompress(stored_member(data)) == data
    path, lines = _live(tmp_path)
    assert path.stat().st_size > sum(len(ln) for ln in lines)  # stored, not compressed
    tmp = write_compacted(path)
    assert tmp == str(path) + COMPACTING_SUFFIX
    plain = tmp_path / "plain.srpl"
    with StreamRecordingWriter(plain) as w:
        w.write_serialized("db", "rp", b"".join(ln + b"\n" for ln in lines), len(lines))
    assert Path(tmp).read_bytes() == plain.read_bytes()
    assert not is_live_recording(tmp)


def test_a_live_recording_keeps_the_order_of_members_and_plain_writes(tmp_path: Path) -> None:
    """A live writer's queue mixes records made into gzip members by the caller (write_exact)
    and plain records it lays out itself (write): the file holds them in the order written,
    whole members a crash recovery keeps."""
    path = tmp_path / "live.srpl"
    with StreamRecordingWriter(path, background=True) as w:
        for i in range(0, 12, 3):
            assert w.write_exact("db", "rp", b"cpu v=%d %d\ncpu v=%d %d\n" % (i, i, i + 1, i + 1), 2)
            w.write("db", "rp", b"cpu v=%d %d\n" % (i + 2, i + 2))
    assert is_live_recording(path)
    assert [r.line for r in read_stream_recording(path)] == [b"cpu v=%d %d" % (i, i) for i in range(12)]
    got = recover_blocks(path)
    assert (got.lines, got.cut_bytes) == (36, 0)


def test_one_point_a_line_is_what_records_take() -> None:
    from kapfast import lineproto

    cases = [
        (b"cpu v=1 1\nmem v=2 2", 2),
        (b"cpu v=1 1\nmem v=2 2\n", 2),
        (b"cpu v=1 1\n\nmem v=2 2\n", 2),
        (b"cpu v=1 1\r\nmem v=2 2\n", 2),
        (b"cpu v=1 1\n", 1),
        (b"cpu v=1 1\n", 2),
        (b"cpu v=1 1\nmem v=2 2\n", 1),
        (b"cpu v=1 1\n\n", 1),
        (b"\n", 1),
        (b"", 1),
        (b'cpu s="a\nb" 1\n', 1),
    ]
    for body, count in cases:
        framed = lineproto.records("d", "r", body, count)
        assert lineproto.one_point_a_line(body, count) == (framed is not None)


def test_write_records_makes_the_members_records_member_makes(tmp_path: Path) -> None:
    """The writer thread's parts: bytes as they are, bodies as their records_member, in order;
    a body that is not one point a line writes nothing and raises."""
    from kapfast import lineproto

    big = b"".join(b"cpu,host=h%d usage_idle=%d.5 %d\n" % (i, i, i) for i in range(9_000))
    bodies = [(b"cpu v=1 1\nmem v=2 2", 2), (big, 9_000), (big[:-1], 9_000), (b"m v=3 3\n", 1)]
    path = tmp_path / "parts"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        parts: list[lineproto.RecordPart] = [b"head"]
        for body, count in bodies:
            parts += [("telegraf", "autogen", body, count), b"|"]
        lineproto.write_records(fd, parts)
        with pytest.raises(ValueError, match="not one point a line"):
            lineproto.write_records(fd, [b"never", ("d", "r", b"cpu v=1 1\n\ncpu v=2 2\n", 2)])
    finally:
        os.close(fd)
    want = b"head" + b"".join(
        (lineproto.records_member("telegraf", "autogen", body, count) or b"") + b"|" for body, count in bodies
    )
    assert path.read_bytes() == want
    ro = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(OSError):
            lineproto.write_records(ro, [("d", "r", b"cpu v=1 1\n", 1)])
    finally:
        os.close(ro)


def test_a_live_recording_is_the_members_the_write_path_used_to_make(tmp_path: Path) -> None:
    """Bodies taken as they came (write_exact) are made into their gzip members on the writer's
    thread: the file is byte for byte the one made when the write path built each member
    (records_member), it replays the same records as a plain writer's file, and compacts to its
    bytes."""
    from kapfast import lineproto
    from kapfast.recordings.compression import write_compacted

    bodies = [
        (b"".join(b"cpu,host=h%d v=%d %d\n" % (i % 7, t, t) for t in range(j, j + 2_000)), 2_000)
        for i, j in enumerate(range(0, 12_000, 2_000))
    ] + [(b"cpu v=1 9000000\ncpu v=2 9000001", 2)]
    live = tmp_path / "live.srpl"
    with StreamRecordingWriter(live, background=True) as w:
        for body, count in bodies:
            # a bytearray is copied (the thread keeps the body until it is written)
            given = cast(bytes, bytearray(body)) if count == 2 else body
            assert w.write_exact("telegraf", "autogen", given, count)
        assert w.records == sum(c for _, c in bodies)
    members = [lineproto.records_member("telegraf", "autogen", b, c) for b, c in bodies]
    want = LIVE_MARKER + b"".join(m or b"" for m in members)
    assert live.read_bytes() == want
    plain = tmp_path / "plain.srpl"
    with StreamRecordingWriter(plain) as w:
        for body, _ in bodies:
            w.write("telegraf", "autogen", body)
    assert list(read_stream_recording(live)) == list(read_stream_recording(plain))
    assert Path(write_compacted(live)).read_bytes() == plain.read_bytes()
