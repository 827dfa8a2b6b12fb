"""InfluxDBWriter (influxDBOut's writer) against a real InfluxDB: batching, create, retries while
InfluxDB is down, bounded buffer with counted drops, rejected writes counted per node."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from kapfast.influxdb import InfluxDBClient
from kapfast.outputs.influxdb_writer import InfluxDBWriter, WriteStats


def count(server: Any, db: str, measurement: str = "out") -> int:
    data = urllib.parse.urlencode({"q": f'SELECT count(*) FROM "{measurement}"', "db": db}).encode()
    with urllib.request.urlopen(server.url + "/query", data=data, timeout=10) as resp:
        series = json.loads(resp.read())["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def test_writes_are_batched_and_created(influxdb: Any) -> None:
    async def main() -> WriteStats:
        client = InfluxDBClient(influxdb.url)
        writer = InfluxDBWriter(lambda cluster: client, buffer_points=50, flush_interval_s=0.2)
        stats = WriteStats()
        writer.create_database("", "wout", "autogen")
        await asyncio.sleep(0.3)
        for i in range(120):
            writer.write("", "wout", "autogen", f"out,host=a v={i} {i + 1}".encode(), "s", stats=stats)
        await writer.close()
        await client.close()
        return stats

    stats = asyncio.run(main())
    assert stats.points_written == 120 and stats.write_errors == 0
    assert count(influxdb, "wout") == 120


def test_retries_while_down_and_drops_when_full(influxdb_factory: Callable[..., Any]) -> None:
    server = influxdb_factory()
    # The database exists before InfluxDB goes down, so the first retry after it comes back
    # cannot meet a "database not found" (a 4xx, which is rightly never retried).
    server.start()
    urllib.request.urlopen(server.url + "/query", data=b"q=CREATE+DATABASE+down", timeout=10).read()
    server.stop()

    async def main() -> tuple[InfluxDBWriter, WriteStats]:
        client = InfluxDBClient(server.url, max_attempts=1, timeout=2)
        writer = InfluxDBWriter(
            lambda cluster: client,
            buffer_points=10,
            flush_interval_s=0.1,
            max_buffered_points=30,
            retry_initial_s=0.1,
            retry_max_s=0.2,
        )
        stats = WriteStats()
        for i in range(50):  # InfluxDB is down: 20 of these must be dropped, oldest first
            writer.write("", "down", "", f"out v={i} {i + 1}".encode(), "s", stats=stats)
        await asyncio.sleep(0.5)
        assert writer.buffered_points() == 30
        assert writer.points_dropped == 20
        await asyncio.to_thread(server.start)
        for _ in range(100):
            if not writer.buffered_points():
                break
            await asyncio.sleep(0.1)
        await writer.close()
        await client.close()
        return writer, stats

    writer, stats = asyncio.run(main())
    assert stats.points_written == 30
    assert writer.points_dropped == 20
    assert count(server, "down") == 30


def test_rejected_writes_are_not_retried(influxdb: Any) -> None:
    async def main() -> WriteStats:
        client = InfluxDBClient(influxdb.url)
        await client.create_database("conflict")
        await client.write("conflict", None, b"out v=1i 1", precision="s")
        writer = InfluxDBWriter(lambda cluster: client, buffer_points=1, flush_interval_s=0.1)
        stats = WriteStats()
        writer.write("", "conflict", "", b'out v="a string now" 2', "s", stats=stats)
        for _ in range(50):
            if stats.write_errors:
                break
            await asyncio.sleep(0.05)
        await writer.close()
        await client.close()
        return stats

    stats = asyncio.run(main())
    assert stats.write_errors == 1 and stats.points_written == 0


def test_writes_from_another_thread_reach_the_loop(influxdb: Any) -> None:
    async def main() -> WriteStats:
        client = InfluxDBClient(influxdb.url)
        await client.create_database("threads")
        writer = InfluxDBWriter(lambda cluster: client, buffer_points=5, flush_interval_s=0.1)
        writer.bind(asyncio.get_running_loop())
        stats = WriteStats()

        def produce() -> None:  # e.g. an engine worker thread
            for i in range(10):
                writer.write("", "threads", "", f"out v={i} {i + 1}".encode(), "s", stats=stats)

        await asyncio.to_thread(produce)
        for _ in range(100):
            if stats.points_written == 10:
                break
            await asyncio.sleep(0.05)
        await writer.close()
        await client.close()
        return stats

    assert asyncio.run(main()).points_written == 10
    assert count(influxdb, "threads") == 10


def test_microsecond_precision_is_sent_as_influxdbs_u(influxdb: Any) -> None:
    async def main() -> None:
        client = InfluxDBClient(influxdb.url)
        await client.create_database("prec")
        writer = InfluxDBWriter(lambda cluster: client, buffer_points=1, flush_interval_s=0.1)
        writer.write("", "prec", "", b"out v=1 1700000000000000", "us")  # µs since the epoch
        await writer.close()
        rows = await client.query('SELECT v FROM "out"', db="prec", epoch="s")
        await client.close()
        assert rows[0]["series"][0]["values"] == [[1700000000, 1.0]]

    asyncio.run(main())
