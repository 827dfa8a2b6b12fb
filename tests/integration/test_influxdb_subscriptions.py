"""SubscriptionManager against a real InfluxDB 1.x, with a real aiohttp subscriber on loopback."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiohttp import web

from kapfast.influxdb import InfluxDBClient, Subscription, SubscriptionManager

pytestmark = pytest.mark.integration

T = TypeVar("T")
_ids = itertools.count()


def run(make: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    async def main() -> T:
        return await asyncio.wait_for(make(), timeout)

    return asyncio.run(main())


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


@dataclass
class Delivery:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@asynccontextmanager
async def subscriber() -> AsyncIterator[tuple[str, asyncio.Queue[Delivery]]]:
    """A real HTTP server on 127.0.0.1 that records every POST and answers 204."""
    got: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        got.put_nowait(
            Delivery(request.path, dict(request.query), dict(request.headers), await request.read())
        )
        return web.Response(status=204)

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", got
    finally:
        await runner.cleanup()


async def ours(c: InfluxDBClient, name: str) -> list[Subscription]:
    return sorted((s for s in await c.show_subscriptions() if s.name == name), key=lambda s: (s.db, s.rp))


def test_manager_subscribes_and_writes_are_delivered(influxdb: Any) -> None:
    db = unique("deliver")
    name = unique("kapfast-deliver")

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c, subscriber() as (url, got):
            await c.create_database(db)
            await c.create_retention_policy(db, "short", "1h")
            dest = url + "/sub/path?token=s3cret"
            mgr = SubscriptionManager(c, name=name, destination=dest, watched={(db, "*")})
            res = await mgr.sync_once()
            assert sorted(res.created) == [(db, "autogen"), (db, "short")] and not res.dropped
            assert [(s.db, s.rp, s.mode, s.destinations) for s in await ours(c, name)] == [
                (db, "autogen", "ANY", (dest,)),
                (db, "short", "ANY", (dest,)),
            ]
            assert mgr.synced.is_set() and mgr.last_error is None

            await c.write(db, None, b'cpu,zz=1,aa=2 value=1.5,n=2i,s="x y",ok=true 1700000000', precision="s")
            d = await asyncio.wait_for(got.get(), 10)
            assert d.path == "/sub/path/write"
            assert d.query == {
                "consistency": "",
                "db": db,
                "precision": "ns",
                "rp": "autogen",
                "token": "s3cret",
            }
            assert d.headers["User-Agent"] == "InfluxDBClient"
            assert d.body == b'cpu,aa=2,zz=1 value=1.5,n=2i,s="x y",ok=true 1700000000000000000\n'

            # Each subscription sees only its own rp; one write is one delivery.
            now = time.time_ns()
            await c.write(db, "short", b"mem v=1 %d\nmem v=2 %d" % (now, now + 1))
            d = await asyncio.wait_for(got.get(), 10)
            assert d.query["rp"] == "short" and d.body == b"mem v=1 %d\nmem v=2 %d\n" % (now, now + 1)

            # A second sync changes nothing.
            res = await mgr.sync_once()
            assert (
                not res.created and not res.dropped and sorted(res.kept) == [(db, "autogen"), (db, "short")]
            )
            assert got.empty()
            await c.drop_database(db)

    run(go)


def test_watch_all_excludes_kapacitor_internal_db(influxdb: Any) -> None:
    db = unique("all")
    name = unique("kapfast-all")

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            await c.create_database("_kapacitor")
            await c.create_retention_policy("_kapacitor", "other", "INF")
            mgr = SubscriptionManager(c, name=name, destination="http://127.0.0.1:9/")  # watched="all"
            await mgr.sync_once()
            subs = {(s.db, s.rp) for s in await ours(c, name)}
            dbs = await c.show_databases()
            expected = {(d, rp.name) for d in dbs for rp in await c.show_retention_policies(d)}
            assert subs == expected - {("_kapacitor", "autogen")}
            assert (db, "autogen") in subs and ("_kapacitor", "other") in subs
            assert sorted(await mgr.unlink_all()) == sorted(subs)
            assert await ours(c, name) == []
            await c.drop_database(db)
            await c.drop_database("_kapacitor")

    run(go)


def test_stale_subscriptions_are_dropped_and_others_left_alone(influxdb: Any) -> None:
    db1, db2 = unique("stale"), unique("stale")
    name = unique("kapfast-stale")
    dest = "http://127.0.0.1:19999"

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            for db in (db1, db2):
                await c.create_database(db)
            # Ours with an old destination; ours on a db/rp no longer watched; an earlier identity
            # of this server (same prefix and destination); someone else's subscriptions.
            await c.create_subscription(name, db1, "autogen", "ANY", ["http://127.0.0.1:1"])
            await c.create_subscription(name, db2, "autogen", "ANY", [dest])
            await c.create_subscription("kapfast-old-uuid", db1, "autogen", "ANY", [dest])
            await c.create_subscription(
                "kapfast-other-server", db1, "autogen", "ANY", ["http://10.0.0.1:9092"]
            )
            # Kapacitor's own, sending to our address (kapfastd took over its port): replaced;
            # Kapacitor's sending elsewhere: left alone.
            await c.create_subscription("kapacitor-x", db1, "autogen", "ANY", [dest])
            await c.create_subscription("kapacitor-y", db1, "autogen", "ANY", ["http://10.0.0.2:9092"])

            watched = {(db1, "autogen")}
            mgr = SubscriptionManager(c, name=name, destination=dest, watched=lambda: watched)
            res = await mgr.sync_once()
            assert sorted(res.dropped) == sorted(
                [
                    (name, db1, "autogen"),
                    (name, db2, "autogen"),
                    ("kapfast-old-uuid", db1, "autogen"),
                    ("kapacitor-x", db1, "autogen"),
                ]
            )
            assert res.created == [(db1, "autogen")]
            left = {
                (s.name, s.db, s.destinations) for s in await c.show_subscriptions() if s.db in (db1, db2)
            }
            assert left == {
                (name, db1, (dest,)),
                ("kapfast-other-server", db1, ("http://10.0.0.1:9092",)),
                ("kapacitor-y", db1, ("http://10.0.0.2:9092",)),
            }
            # The watched set is read at every sync: watching db2 again subscribes it.
            watched.add((db2, "autogen"))
            res = await mgr.sync_once()
            assert res.created == [(db2, "autogen")] and res.kept == [(db1, "autogen")]
            # Dropping a database removes its subscriptions with it; the next sync is quiet.
            await c.drop_database(db2)
            res = await mgr.sync_once()
            assert not res.created and not res.dropped
            await c.drop_database(db1)

    run(go)


def test_already_existing_subscription_is_fine(influxdb: Any) -> None:
    db = unique("exists")
    name = unique("kapfast-exists")
    dest = "http://127.0.0.1:19998"

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            await c.create_subscription(name, db, "autogen", "ANY", [dest])
            mgr = SubscriptionManager(c, name=name, destination=dest, watched={(db, "autogen")})
            res = await mgr.sync_once()
            assert res.kept == [(db, "autogen")] and not res.created and not res.dropped
            # Two managers racing (two kapfastd with the same ID): both succeed, one subscription.
            await c.drop_subscription(name, db, "autogen")
            other = SubscriptionManager(c, name=name, destination=dest, watched={(db, "autogen")})
            await asyncio.gather(mgr.sync_once(), other.sync_once())
            assert len(await ours(c, name)) == 1
            await c.drop_database(db)

    run(go)


def test_influxdb_down_at_boot_then_up(influxdb_factory: Callable[..., Any]) -> None:
    server = influxdb_factory()
    db = "late"
    name = "kapfast-late"

    async def go() -> None:
        async with (
            InfluxDBClient(server.url, max_attempts=1, timeout=2) as c,
            subscriber() as (url, got),
        ):
            mgr = SubscriptionManager(c, name=name, destination=url, watched={(db, "autogen")})
            stop = asyncio.Event()
            task = asyncio.create_task(mgr.run(interval_s=0.2, stop_event=stop, retry_initial_s=0.05))
            try:
                for _ in range(200):
                    if mgr.last_error:
                        break
                    await asyncio.sleep(0.01)
                assert mgr.last_error and "cannot reach InfluxDB" in mgr.last_error
                assert not mgr.synced.is_set() and not task.done()

                await asyncio.to_thread(server.start)
                await c.create_database(db)
                await asyncio.wait_for(mgr.synced.wait(), 10)
                for _ in range(100):  # the db may have appeared just after a sync
                    if await ours(c, name):
                        break
                    await asyncio.sleep(0.05)
                assert [(s.db, s.rp) for s in await ours(c, name)] == [(db, "autogen")]
                assert mgr.last_error is None

                await c.write(db, None, b"cpu v=1 1")
                d = await asyncio.wait_for(got.get(), 10)
                assert d.body == b"cpu v=1 1\n"

                # Down again: the loop logs and keeps going; trigger() asks for a sync now.
                await asyncio.to_thread(server.stop, graceful=False)
                mgr.trigger()
                for _ in range(200):
                    if mgr.last_error:
                        break
                    await asyncio.sleep(0.01)
                assert mgr.last_error and not task.done()
            finally:
                stop.set()
                await asyncio.wait_for(task, 5)

    run(go)


def test_kapacitors_subscription_to_our_address_by_policy(influxdb: Any) -> None:
    """`kapacitor-subscriptions`: replace drops Kapacitor's, reuse makes none of ours where it is,
    keep leaves both (credentials in a destination do not hide that it is our address)."""

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            for policy in ("replace", "reuse", "keep"):
                db = unique(f"takeover_{policy}")
                name = unique("kapfast-takeover")
                await c.create_database(db)
                await c.create_subscription(
                    "kapacitor-old", db, "autogen", "ANY", ["http://~subscriber:tok@127.0.0.1:19997"]
                )
                mgr = SubscriptionManager(
                    c,
                    name=name,
                    destination="http://127.0.0.1:19997",
                    watched={(db, "autogen")},
                    takeover=policy,
                )
                await mgr.sync_once()
                left = sorted(s.name for s in await c.show_subscriptions() if s.db == db)
                expected = {
                    "replace": [name],
                    "reuse": ["kapacitor-old"],
                    "keep": sorted(["kapacitor-old", name]),
                }
                assert left == expected[policy], policy
                await c.drop_database(db)

    run(go)
