"""The SQLite stores: round trips, durability across reopen, migrations, alert state semantics."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from kapfast.errors import NotFoundError, StorageError
from kapfast.storage import (
    DBRP,
    AlertState,
    RecordingRecord,
    ReplayRecord,
    Storage,
    TaskRecord,
    TemplateRecord,
)
from kapfast.storage.db import MIGRATIONS


def task(ident: str = "cpu_alert", **kw: object) -> TaskRecord:
    base: dict[str, object] = {
        "id": ident,
        "type": "stream",
        "dbrps": [DBRP("telegraf", "autogen")],
        "script": "stream|from()",
        "created": 1,
        "modified": 2,
    }
    base.update(kw)
    return TaskRecord(**base)  # type: ignore[arg-type]


def test_task_round_trip_and_listing(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    t = task(vars={"x": {"type": "float", "value": 1.5}}, status="enabled", last_enabled=3)
    st.tasks.put(t)
    st.tasks.put(task("mem_alert"))
    st.tasks.put(task("cpu_other"))
    assert st.tasks.get("cpu_alert") == t
    assert [x.id for x in st.tasks.find()] == ["cpu_alert", "cpu_other", "mem_alert"]
    assert [x.id for x in st.tasks.find("cpu*")] == ["cpu_alert", "cpu_other"]
    assert [x.id for x in st.tasks.find(offset=1, limit=1)] == ["cpu_other"]
    assert str(t.dbrps[0]) == '"telegraf"."autogen"'


def test_unknown_ids_are_not_found_and_deletes_are_idempotent(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    with pytest.raises(NotFoundError, match='no task exists with id "nope"'):
        st.tasks.get("nope")
    with pytest.raises(NotFoundError, match="recording"):
        st.recordings.get("nope")
    st.tasks.put(task())
    assert st.tasks.delete("cpu_alert") is True
    assert st.tasks.delete("cpu_alert") is False


def _define_and_die(path: str) -> None:
    st = Storage(path)
    st.tasks.put(task("survivor"))
    os._exit(0)  # no close, no cleanup: as if the process were killed right after answering


def test_an_acknowledged_write_survives_an_abrupt_exit(tmp_path: Path) -> None:
    path = str(tmp_path / "k.db")
    p = multiprocessing.get_context("fork").Process(target=_define_and_die, args=(path,))
    p.start()
    p.join(10)
    assert p.exitcode == 0
    assert Storage(path).tasks.get("survivor").id == "survivor"


def test_templates_recordings_replays(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    tpl = TemplateRecord("t1", "stream", "var x float\nstream|from()", created=5, modified=6)
    st.templates.put(tpl)
    st.tasks.put(task("a", template_id="t1"))
    st.tasks.put(task("b"))
    assert st.templates.get("t1") == tpl
    assert [t.id for t in st.tasks.using_template("t1")] == ["a"]
    rec = RecordingRecord("r1", "stream", "/tmp/r1.srpl", date=7)
    st.recordings.put(rec)
    rp = ReplayRecord("p1", task="a", recording="r1", stats={"task-stats": {"throughput": 0}})
    st.replays.put(rp)
    assert st.recordings.get("r1") == rec and st.replays.get("p1") == rp
    assert st.recordings.fail_running("kapfastd restarted") == 1
    assert st.recordings.get("r1").status == "failed"
    assert st.replays.fail_running("kapfastd restarted") == 1


def test_rename_moves_alert_states_and_replays(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    st.tasks.put(task("old"))
    st.alert_states.save(AlertState("main:old:alert2", "cpu:nil", "CRITICAL", 10, task="old", node="alert2"))
    st.tasks.rename("old", "new")
    assert st.tasks.get("new").id == "new"
    assert [s.task for s in st.alert_states.for_task("new")] == ["new"]


def test_alert_state_is_kept_and_a_recovery_stored_as_ok(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    crit = AlertState("main:t:alert2", "cpu:host=a", "CRITICAL", 100, 5, "m", "d", task="t", node="alert2")
    st.alert_states.save(crit)
    st.alert_states.save(AlertState("main:t:alert2", "cpu:host=b", "WARNING", 101, task="t", node="alert2"))
    st2 = Storage(tmp_path / "k.db")  # a restart reads it back
    assert st2.alert_states.for_topic("main:t:alert2")["cpu:host=a"] == crit
    st2.alert_states.save(AlertState("main:t:alert2", "cpu:host=a", "OK", 200, task="t", node="alert2"))
    states = st2.alert_states.for_topic("main:t:alert2")
    assert {k: s.level for k, s in states.items()} == {"cpu:host=a": "OK", "cpu:host=b": "WARNING"}
    assert st2.alert_states.topics() == ["main:t:alert2"]
    assert st2.alert_states.delete_topic("main:t:alert2") == 2


def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    st = Storage(tmp_path / "k.db")
    st.tasks.put(task())
    with pytest.raises(StorageError), st.db.transaction() as c:
        c.execute("DELETE FROM tasks")
        c.execute("INSERT INTO nope VALUES (1)")
    assert st.tasks.exists("cpu_alert")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    Storage(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer kapfast"):
        Storage(path)


def test_unwritable_location_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot open"):
        Storage(blocker / "sub" / "k.db")


def test_group_commit_writes_every_state_once_committed(tmp_path: Path) -> None:
    import threading

    st = Storage(tmp_path / "k.db")
    store = st.alert_states
    assert store.pending() is None
    futures = []

    def save(i: int) -> None:
        for j in range(20):
            s = AlertState("main:t:alert2", f"e{i}-{j % 5}", "CRITICAL", j, task="t", node="alert2")
            futures.append(store.save_later([s]))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last = store.pending()
    if last is not None:
        last.result(timeout=10)
    assert all(f.done() and f.exception() is None for f in futures)
    # what another connection reads (what a restart would find): the last state of each event
    states = Storage(tmp_path / "k.db").alert_states.for_topic("main:t:alert2")
    assert len(states) == 20 and {s.time for s in states.values()} == {15, 16, 17, 18, 19}
    # reads wait for what is queued; close commits the rest, later saves are written at once
    store.save_later([AlertState("main:t:alert2", "late", "WARNING", 1, task="t", node="alert2")])
    assert "late" in store.for_topic("main:t:alert2")
    store.save_later([AlertState("main:t:alert2", "last", "OK", 2, task="t", node="alert2")])
    st.close()
    assert "last" in Storage(tmp_path / "k.db").alert_states.for_topic("main:t:alert2")
