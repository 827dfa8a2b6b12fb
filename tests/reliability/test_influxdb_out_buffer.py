"""influxDBOut's disk buffer against a real InfluxDB that is stopped and started: nothing lost
across an outage and a kapfastd restart, order kept, bounded with counted drops, honest stats.

Order is checked through InfluxDB itself: every point has the same series and timestamp, so the
value InfluxDB keeps is the last one written; it is the last one sent only if replay kept order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kapfastd_proc import Kapfastd, influxdb_config, wait_for

from kapfast.influxdb import InfluxDBClient
from kapfast.outputs.influxdb_writer import InfluxDBWriter, WriteStats


def query(server: Any, q: str, db: str = "") -> list[Any]:
    data = urllib.parse.urlencode({"q": q, "db": db}).encode()
    with urllib.request.urlopen(server.url + "/query", data=data, timeout=10) as resp:
        series = json.loads(resp.read())["results"][0].get("series")
    return list(series[0]["values"]) if series else []


def count(server: Any, db: str) -> int:
    rows = query(server, 'SELECT count("v") FROM "out"', db)
    return int(rows[0][1]) if rows else 0


def last_value(server: Any, db: str) -> float | None:
    rows = query(server, 'SELECT last("v") FROM "out"', db)
    return rows[0][1] if rows else None


def down_server(factory: Callable[..., Any], db: str) -> Any:
    """An InfluxDB that has ``db`` and is stopped."""
    server = factory()
    server.start()
    query(server, f'CREATE DATABASE "{db}"')
    server.stop()
    return server


def writer_for(client: InfluxDBClient, spool: Path, **kw: Any) -> InfluxDBWriter:
    opts: dict[str, Any] = dict(
        buffer_points=10, flush_interval_s=0.05, retry_initial_s=0.05, retry_max_s=0.2
    )
    opts.update(kw)
    return InfluxDBWriter(lambda cluster: client, spool_dir=spool, **opts)


async def drain(writer: InfluxDBWriter, client: InfluxDBClient) -> None:
    """Wait (10 s at most) until the writer has nothing buffered, then close both."""
    for _ in range(200):
        if not writer.buffered_points():
            break
        await asyncio.sleep(0.05)
    await writer.close()
    await client.close()


def segments(spool: Path) -> list[Path]:
    return sorted(spool.glob("dest-*/*.seg"))


def test_outage_then_stop_keeps_points_on_disk_and_the_next_start_sends_them_in_order(
    influxdb_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = down_server(influxdb_factory, "walorder")
    spool = tmp_path / "influxdb_out"

    async def first_run() -> tuple[InfluxDBWriter, WriteStats]:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=1)
        writer = writer_for(client, spool)
        stats = WriteStats()
        for i in range(50):  # one series, one timestamp: InfluxDB keeps the last value it gets
            writer.write("", "walorder", "", f"out v={i} 1".encode(), "s", stats=stats)
        await asyncio.sleep(0.4)
        assert stats.write_errors >= 1 and stats.points_written == 0  # the outage shows
        assert stats.points_buffered == 50 and writer.buffered_points() == 50
        await writer.close(timeout_s=0.5)
        await client.close()
        return writer, stats

    writer, stats = asyncio.run(first_run())
    assert writer.points_dropped == 0 and stats.points_dropped == 0
    assert segments(spool), "the points were not kept on disk"

    server.start()

    async def second_run() -> InfluxDBWriter:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=5)
        writer = writer_for(client, spool)
        assert writer.open() == 50
        writer.write("", "walorder", "", b"out v=1000 1", "s")  # after the replay, not before
        await drain(writer, client)
        return writer

    writer = asyncio.run(second_run())
    assert writer.points_written == 51 and writer.points_dropped == 0
    assert last_value(server, "walorder") == 1000
    assert segments(spool) == []  # delivered records leave nothing behind


def test_order_within_the_replay(influxdb_factory: Callable[..., Any], tmp_path: Path) -> None:
    """Distinct timestamps, replayed across several requests: every point arrives once."""
    server = down_server(influxdb_factory, "walmany")
    spool = tmp_path / "influxdb_out"

    async def run() -> InfluxDBWriter:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=1)
        writer = writer_for(client, spool)
        for i in range(300):
            writer.write("", "walmany", "", f"out v={i} {i + 1}".encode(), "s")
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)
        await drain(writer, client)
        return writer

    writer = asyncio.run(run())
    assert writer.points_written == 300 and count(server, "walmany") == 300
    assert last_value(server, "walmany") == 299


def test_full_buffer_drops_the_oldest_and_counts_them(
    influxdb_factory: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = down_server(influxdb_factory, "walfull")
    spool = tmp_path / "influxdb_out"
    line = "out,host=" + "h" * 80 + " v={i} {t}"  # ~100 bytes a point

    async def run() -> tuple[InfluxDBWriter, WriteStats, int]:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=1)
        writer = writer_for(client, spool, max_spool_bytes=16384, max_buffered_points=10)
        stats = WriteStats()
        for i in range(1000):
            writer.write("", "walfull", "", line.format(i=i, t=i + 1).encode(), "s", stats=stats)
        await asyncio.sleep(0.3)
        on_disk = sum(p.stat().st_size for p in segments(spool))
        await asyncio.to_thread(server.start)
        await drain(writer, client)
        return writer, stats, on_disk

    with caplog.at_level(logging.WARNING, logger="kapfast.influxdb_out"):
        writer, stats, on_disk = asyncio.run(run())
    assert on_disk <= 16384
    written = count(server, "walfull")
    assert stats.points_dropped > 0 and stats.points_written == written
    assert stats.points_dropped + stats.points_written == 1000 and stats.points_buffered == 0
    assert writer.points_dropped == stats.points_dropped
    # the oldest went: what arrived is the newest run of points, ending with the last one
    rows = query(server, 'SELECT "v" FROM "out"', "walfull")
    assert [r[1] for r in rows] == list(range(1000 - written, 1000))
    assert "points dropped: the disk buffer is full" in caplog.text


def test_a_torn_record_is_cut_off_and_the_rest_delivered(
    influxdb_factory: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = down_server(influxdb_factory, "waltorn")
    spool = tmp_path / "influxdb_out"

    async def first() -> None:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=1)
        writer = writer_for(client, spool)
        for i in range(20):
            writer.write("", "waltorn", "", f"out v={i} {i + 1}".encode(), "s")
        await writer.close(timeout_s=0.3)
        await client.close()

    asyncio.run(first())
    (seg,) = segments(spool)
    with open(seg, "ab") as f:  # what a crash in the middle of an append leaves
        f.write(b"KW\x00\x00\xff\xff\x00\x00out v=99 99")
    server.start()

    async def second() -> InfluxDBWriter:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=5)
        writer = writer_for(client, spool)
        assert writer.open() == 20
        await drain(writer, client)
        return writer

    with caplog.at_level(logging.WARNING, logger="kapfast.influxdb_out"):
        asyncio.run(second())
    assert "not a whole record" in caplog.text
    assert count(server, "waltorn") == 20


def test_disk_buffer_that_cannot_be_written_drops_counted_and_logged(
    influxdb_factory: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = down_server(influxdb_factory, "walro")
    spool = tmp_path / "not-a-dir"
    spool.write_text("a file where the buffer's folder should be")

    async def run() -> tuple[InfluxDBWriter, WriteStats]:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=1)
        writer = writer_for(client, spool)
        stats = WriteStats()
        for i in range(30):
            writer.write("", "walro", "", f"out v={i} {i + 1}".encode(), "s", stats=stats)
        await asyncio.sleep(0.3)
        await writer.close(timeout_s=0.3)
        await client.close()
        return writer, stats

    with caplog.at_level(logging.ERROR, logger="kapfast.influxdb_out"):
        writer, stats = asyncio.run(run())
    assert stats.points_dropped == 30 and writer.points_dropped == 30 and stats.points_buffered == 0
    assert "cannot write to the disk buffer" in caplog.text


def test_kapfastd_sigterm_with_influxdb_down_loses_nothing(
    influxdb_factory: Callable[..., Any], kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    """The issue's case: 50 points through a task while InfluxDB is down, SIGTERM, InfluxDB back,
    kapfastd back: 50 points in InfluxDB, and the stats said what happened all along."""
    server = down_server(influxdb_factory, "walout")
    k = kapfastd_factory(influxdb_config(server, disable_subscriptions="true"))
    script = (
        "stream\n    |from()\n        .measurement('cpu')\n"
        "    |influxDBOut()\n        .database('walout')\n        .measurement('out')\n"
        "        .buffer(10)\n        .flushInterval(100ms)\n"
    )
    body = {"id": "out", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}
    assert k.api("POST", "/tasks", {**body, "status": "enabled"}).status == 200
    lines = "\n".join(f"cpu,host=a v={i} {1_000_000_000 * (i + 1)}" for i in range(50))
    assert k.write(lines).status == 204

    def node_stats() -> tuple[dict[str, int], dict[str, int]]:
        stats = k.api("GET", "/tasks/out").json()["stats"]
        return stats["node-stats"]["influxdb_out2"], stats["kapfast-node-stats"]["influxdb_out2"]

    def outage_shown() -> bool:
        kap, own = node_stats()
        return kap["write_errors"] >= 1 and own.get("points_buffered") == 50

    wait_for(outage_shown, what="write errors and 50 buffered points while InfluxDB is down")
    kap, own = node_stats()
    assert kap["points_written"] == 0 and own["points_dropped"] == 0
    vars_ = k.request("GET", "/kapacitor/v1/debug/vars").json()["kapacitor"]["influxdb_out"]["values"]
    assert vars_["points_buffered"] == 50 and vars_["bytes_buffered"] > 0

    k.stop()
    assert "kept on disk" in k.log_tail(200)
    server.start()
    k.start()
    wait_for(lambda: count(server, "walout") == 50, what="the 50 points after the restart")
    assert last_value(server, "walout") == 49
    assert "buffered on disk for walout" in k.log_tail(200)
