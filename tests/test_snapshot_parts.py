"""Task checkpoints larger than a part are stored part by part (kapfast.storage.snapshots): the
database's lock is never held for a whole large checkpoint, and a checkpoint is still replaced as
a whole."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from kapfast.storage import Storage
from kapfast.storage import snapshots as snapshots_mod


def _rows(path: Path, task: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT node FROM task_snapshots WHERE task = ?", (task,))]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Storage:
    monkeypatch.setattr(snapshots_mod, "PART_BYTES", 1000)
    return Storage(tmp_path / "k.db")


def test_a_large_checkpoint_is_stored_in_parts_and_read_back_whole(store: Storage, tmp_path: Path) -> None:
    big = os.urandom(4500)
    store.snapshots.put("t", big)
    assert store.snapshots.get("t") == big
    assert len(_rows(tmp_path / "k.db", "t")) == 1 + 5  # the manifest and 5 parts
    # the lock was taken once per part (each part its own transaction)
    bigger = os.urandom(2500)
    store.snapshots.put("t", bigger)
    assert store.snapshots.get("t") == bigger
    assert len(_rows(tmp_path / "k.db", "t")) == 1 + 3  # the previous parts are gone
    small = b"small"
    store.snapshots.put("t", small)
    assert store.snapshots.get("t") == small
    assert _rows(tmp_path / "k.db", "t") == [""]
    store.snapshots.put("t", big)
    store.snapshots.delete("t")
    assert store.snapshots.get("t") is None
    assert _rows(tmp_path / "k.db", "t") == []


def test_parts_left_by_a_crash_are_dropped_by_the_next_checkpoint(store: Storage, tmp_path: Path) -> None:
    first = os.urandom(3000)
    store.snapshots.put("t", first)
    # a crash in the middle of the next put: its parts are stored, its manifest is not
    with store.db.transaction() as c:
        c.execute(
            "INSERT INTO task_snapshots (task, node, data) VALUES ('t', ?, x'00')",
            (snapshots_mod._part_node("f" * 32, 0),),
        )
    assert store.snapshots.get("t") == first  # the previous checkpoint is intact
    second = os.urandom(2000)
    store.snapshots.put("t", second)
    assert store.snapshots.get("t") == second
    assert len(_rows(tmp_path / "k.db", "t")) == 1 + 2


def test_a_failed_put_keeps_the_previous_checkpoint(
    store: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = os.urandom(3000)
    store.snapshots.put("t", first)
    real = store.db.transaction
    calls = {"n": 0}

    def failing_third(**kw: bool):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk gone")
        return real(**kw)

    monkeypatch.setattr(store.db, "transaction", failing_third)
    with pytest.raises(OSError):
        store.snapshots.put("t", os.urandom(5000))
    monkeypatch.setattr(store.db, "transaction", real)
    assert store.snapshots.get("t") == first
    assert len(_rows(tmp_path / "k.db", "t")) == 1 + 3  # the failed put's parts are dropped
