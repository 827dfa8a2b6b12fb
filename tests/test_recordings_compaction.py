"""A live stream recording is written in stored gzip blocks and compressed once it ends
(kapfast.tasks.recordings.RecordingService): at the end, after a restart that found it left in
stored blocks, never back after a delete. Real files and a real store, no server."""

from __future__ import annotations

import os
from pathlib import Path

from kapfast.clock import VirtualClock
from kapfast.recordings import StreamRecordingWriter, read_stream_recording
from kapfast.recordings.compression import COMPACTING_SUFFIX, is_live_recording
from kapfast.storage import RecordingRecord, Storage
from kapfast.tasks.recordings import RecordingService

BODY = b"".join(b"cpu,host=h%d v=%d %d\n" % (i % 3, i, i) for i in range(1000))


def _stored(tmp_path: Path, ident: str) -> Path:
    """A finished live recording's file, still in stored blocks."""
    path = tmp_path / "replay" / f"{ident}.srpl"
    path.parent.mkdir(exist_ok=True)
    with StreamRecordingWriter(path, background=True) as w:
        for _ in range(3):
            w.write_serialized("db", "rp", BODY, 1000)
    assert is_live_recording(path)
    return path


def _service(tmp_path: Path) -> tuple[RecordingService, Storage]:
    storage = Storage(tmp_path / "k.db")
    return RecordingService(storage, tmp_path / "replay", VirtualClock(0)), storage


def test_a_restart_compresses_what_the_last_run_left_stored(tmp_path: Path) -> None:
    path = _stored(tmp_path, "r")
    left = tmp_path / "replay" / f"gone.srpl{COMPACTING_SUFFIX}"  # a compaction a crash cut short
    left.write_bytes(b"half")
    service, storage = _service(tmp_path)
    storage.recordings.put(RecordingRecord("r", "stream", str(path), "finished", os.path.getsize(path)))
    service.open()
    service.wait_compacted()
    assert not left.exists()
    assert not is_live_recording(path)
    assert storage.recordings.get("r").size == os.path.getsize(path) < len(BODY)
    records = list(read_stream_recording(path))
    assert len(records) == 3000 and records[0].line == BODY.split(b"\n")[0]


def test_a_deleted_recording_stays_deleted(tmp_path: Path) -> None:
    path = _stored(tmp_path, "d")
    service, storage = _service(tmp_path)
    rec = RecordingRecord("d", "stream", str(path), "finished")
    storage.recordings.put(rec)
    service.delete("d")  # before the compaction is done with it
    service._compact("d", str(path))
    assert not path.exists()
    assert not Path(str(path) + COMPACTING_SUFFIX).exists()
    storage.recordings.put(rec)
    path.write_bytes(b"\x1f\x8bnot gzip")  # a corrupt file: stays as it is, logged
    service._compact("d", str(path))
    assert path.read_bytes() == b"\x1f\x8bnot gzip"
    assert not Path(str(path) + COMPACTING_SUFFIX).exists()
