"""GET /kapacitor/v1/storage/backup: a consistent SQLite snapshot while the server writes, and a
restored file that boots with its tasks."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from kapfastd_proc import Kapfastd

SCRIPT = "stream\n    |from()\n        .measurement('cpu')\n    |httpOut('out')\n"


def define(server: Kapfastd, task_id: str, status: str = "disabled") -> None:
    body = {
        "id": task_id,
        "type": "stream",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": SCRIPT,
        "status": status,
    }
    ans = server.api("POST", "/tasks", body)
    assert ans.status == 200, ans


def test_backup_is_a_complete_consistent_database_while_writes_go_on(
    kapfastd: Kapfastd, tmp_path: Path
) -> None:
    for i in range(5):
        define(kapfastd, f"before{i}")
    stop = threading.Event()
    defined: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            define(kapfastd, f"during{i}")
            defined.append(f"during{i}")
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        answers = [kapfastd.request("GET", "/kapacitor/v1/storage/backup") for _ in range(3)]
    finally:
        stop.set()
        t.join()
    assert defined, "no task was defined while the backups ran"
    for ans in answers:
        assert ans.status == 200, ans
        assert ans.headers["Content-Type"] == "application/octet-stream"
        assert int(ans.headers["Content-Length"]) == len(ans.body)
        assert ans.headers["X-Kapacitor-Version"]
        path = tmp_path / "copy.db"
        path.write_bytes(ans.body)
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ids = {r[0] for r in db.execute("SELECT id FROM tasks")}
        assert {f"before{i}" for i in range(5)} <= ids
        # every task in the copy is whole (a snapshot, not a torn read)
        assert ids <= {f"before{i}" for i in range(5)} | set(defined)
        path.unlink()
    # no temporary snapshot is left beside the store
    assert sorted(p.name for p in kapfastd.data_dir.glob(".backup-*")) == []


def test_restored_backup_boots_with_its_tasks(
    kapfastd_factory: Callable[..., Kapfastd], tmp_path: Path
) -> None:
    old = kapfastd_factory()
    define(old, "cpu_alert", status="enabled")
    define(old, "idle")
    backup = old.request("GET", "/kapacitor/v1/storage/backup")
    assert backup.status == 200
    define(old, "after_backup")  # not in the backup
    old.stop()

    # Restore as documented: stopped server, file replaced, no -wal/-shm beside it.
    new = kapfastd_factory(start=False)
    new.data_dir.mkdir(parents=True)
    store = new.data_dir / "kapfast.db"
    store.write_bytes(backup.body)
    for side in ("kapfast.db-wal", "kapfast.db-shm"):
        assert not (new.data_dir / side).exists()
    new.start()
    tasks = {t["id"]: t for t in new.api("GET", "/tasks").json()["tasks"]}
    assert set(tasks) == {"cpu_alert", "idle"}
    assert tasks["cpu_alert"]["status"] == "enabled" and tasks["cpu_alert"]["executing"] is True
    assert tasks["idle"]["executing"] is False
    shutil.rmtree(old.data_dir)  # the restored server owes nothing to the old one
    assert new.api("GET", "/tasks/cpu_alert").status == 200
