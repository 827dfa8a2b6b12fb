"""``kapfast backup FILE``: the store copied from a real kapfastd, and a short answer refused."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Kapfastd, Result

TICK = "stream\n    |from()\n        .measurement('cpu')\n    |httpOut('x')\n"


def test_backup_writes_the_store(kapfastd: Kapfastd, cli: Callable[..., Result], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    tick = work / "cpu.tick"
    tick.write_text(TICK)
    assert cli("define", "cpu", "-tick", str(tick), "-dbrp", "telegraf.autogen", url=kapfastd.url).code == 0
    out = work / "kapfast.backup"
    res = cli("backup", str(out), url=kapfastd.url)
    assert res.code == 0, res.err
    assert res.out == ""
    with sqlite3.connect(out) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in db.execute("SELECT id FROM tasks")] == ["cpu"]
    assert sorted(p.name for p in work.iterdir()) == ["cpu.tick", "kapfast.backup"]


def test_backup_needs_a_file(cli: Callable[..., Result]) -> None:
    res = cli("backup", url="http://127.0.0.1:9")
    assert res.code == 2
    assert "Must provide a backup file path" in res.err


@pytest.fixture
def short_server() -> Iterator[str]:
    """An HTTP server that announces 1000 bytes of backup and sends 10."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: 1000\r\nConnection: close\r\n\r\n0123456789"
            )

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_an_incomplete_backup_fails_and_leaves_no_file(
    short_server: str, cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "partial.db"
    res = cli("backup", str(out), url=short_server)
    assert res.code == 3
    assert "failed to read entire backup: read 10 bytes, expected 1000" in res.err
    assert list(tmp_path.iterdir()) == []
