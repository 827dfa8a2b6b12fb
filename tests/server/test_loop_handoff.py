"""The event loop's own inputs hand their points to the engine thread and go on (issue #19): UDP
listeners, the ``[stats]`` service and cluster consumers never wait for a busy engine on the loop.

Each test holds the engine thread until the event loop itself releases it: an input that waited
for the engine on the loop would never let the loop get there (the waits are bounded, so such a
failure is an assertion, not a hang)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from kapfast.batch import PointBatch
from kapfast.clock import VirtualClock
from kapfast.cluster.worker import Feed
from kapfast.config import UDPConfig
from kapfast.server import udp
from kapfast.server.engine_thread import Engine
from kapfast.server.internal_stats import Stat, StatsService
from kapfast.server.stats import IngressStats

WAIT_S = 30


class _Router:
    def __init__(self) -> None:
        self.points = 0

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        self.points += len(batch)

    def wants_raw(self) -> bool:
        return False


def _busy_engine() -> tuple[Engine, _Router, threading.Event]:
    """A running engine whose thread is held until the returned event is set."""
    engine = Engine()
    router = _Router()
    engine.router = router  # type: ignore[assignment]
    engine.start()
    release = threading.Event()
    engine.post(lambda: release.wait(WAIT_S))
    return engine, router, release


def test_udp_datagrams_are_handed_to_the_engine_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "MAX_IN_FLIGHT", 2)
    engine, router, release = _busy_engine()
    cfg = UDPConfig(enabled=True, bind_address="127.0.0.1:0", database="db", retention_policy="rp")
    listener = udp.UDPInput(cfg, engine.hand_off, IngressStats(), VirtualClock(0))

    async def main() -> int:
        for v in range(3):  # the third finds 2 datagrams waiting for the engine: dropped, counted
            listener.datagram_received(f"cpu v={v} 1\n".encode(), ("127.0.0.1", 1))
        routed_meanwhile = router.points  # none: the engine is still held
        release.set()  # only reached if no datagram blocked the loop on the busy engine
        return routed_meanwhile

    try:
        assert asyncio.run(main()) == 0
        engine.call(lambda: None).result(WAIT_S)  # what was queued before it has run
        assert router.points == 2
        assert (listener.packets, listener.dropped, listener.handed, listener.ran) == (3, 1, 2, 2)
    finally:
        release.set()
        engine.stop()


def test_stats_are_read_and_written_off_the_loop() -> None:
    engine, router, release = _busy_engine()

    def source() -> list[Stat]:
        # reading the tasks' stats waits for the engine (here: for the loop to release it)
        engine.call(lambda: None).result(WAIT_S)
        return [Stat("kapacitor", {}, {"num_tasks": 1})]

    service = StatsService(
        clock=VirtualClock(0),
        interval_s=0,
        database="_kapacitor",
        retention_policy="autogen",
        source=source,
        sink=engine.hand_off,
    )

    async def main() -> int:
        report = asyncio.create_task(service.report_async())
        await asyncio.sleep(0)  # the report starts; the loop goes on
        release.set()
        return await asyncio.wait_for(report, WAIT_S)

    try:
        assert asyncio.run(main()) == 1
        assert router.points == 1
    finally:
        release.set()
        engine.stop()


def test_a_cluster_feed_hands_points_over_and_awaits_them_before_acking() -> None:
    engine, router, release = _busy_engine()

    def apply(db: str, rp: str, batch: PointBatch, replay: bool) -> Future[None]:
        return engine.hand_off(db, rp, batch)

    feed = Feed(None, "stream", "durable", "subject", apply)  # type: ignore[arg-type]
    batch = PointBatch.from_rows([("cpu", {}, {"v": 1.0}, 1), ("cpu", {}, {"v": 2.0}, 2)])

    async def main() -> tuple[int, int]:
        feed._apply("db", "rp", batch)  # returns at once: the engine is busy
        before = feed.applied_points
        settle = asyncio.create_task(feed._settle())
        await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(settle, WAIT_S)
        return before, feed.applied_points

    try:
        assert asyncio.run(main()) == (0, 2)
        assert router.points == 2
    finally:
        release.set()
        engine.stop()


@pytest.mark.parametrize("parse_on_engine", [True, False], ids=["parse-on-engine", "parse-on-executor"])
def test_a_write_is_parsed_and_routed_on_the_engine_thread_while_the_loop_answers(
    parse_on_engine: bool,
) -> None:
    """``/write`` hands its body to the engine thread, which parses and routes it in one item (or,
    with cores to spare, parses it on an executor thread first): the handler awaits it without
    holding the loop (here the loop itself releases the engine), and the answer comes once the
    points ran, on the engine thread."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from kapfast.server.write import make_write_handler

    engine, router, release = _busy_engine()
    threads: list[str] = []
    write_points = router.write_points

    def record(db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        threads.append(threading.current_thread().name)
        write_points(db, rp, batch, raw)

    router.write_points = record  # type: ignore[method-assign]
    app = web.Application()
    handler = make_write_handler(
        engine,
        IngressStats(),
        VirtualClock(0),
        default_rp="autogen",
        max_body_size=0,
        parse_on_engine=parse_on_engine,
    )
    app.router.add_post("/write", handler)
    body = b"".join(b"cpu,host=h%d v=%d %d\n" % (i % 7, i, i) for i in range(5000))  # > 16 KB

    async def main() -> tuple[int, int, int, str]:
        async with TestServer(app) as server, ClientSession() as session:

            async def post(data: bytes) -> tuple[int, str]:
                async with session.post(server.make_url("/write?db=db"), data=data) as resp:
                    return resp.status, await resp.text()

            write = asyncio.create_task(post(body))
            bad = asyncio.create_task(post(b"cpu v=1 1\nnot line protocol\n"))
            await asyncio.sleep(0.05)
            routed_meanwhile = router.points  # none: the engine is held
            release.set()  # only reached while the writes wait: the loop was free
            (status, _), (bad_status, text) = await asyncio.wait_for(asyncio.gather(write, bad), WAIT_S)
            assert "partial write" in text and "1 points accepted" in text, text
            return routed_meanwhile, status, bad_status, text

    try:
        routed_meanwhile, status, bad_status, _ = asyncio.run(main())
        assert (routed_meanwhile, status, bad_status) == (0, 204, 400)
        assert router.points == 5001
        assert threads == ["kapfast-engine", "kapfast-engine"]
    finally:
        release.set()
        engine.stop()


def test_a_write_is_answered_once_the_commit_its_points_made_is_done() -> None:
    """The engine hands back the commit of the alert states a write's points made (``durable``);
    the answer waits for it (docs/operations.md: an acknowledged write's alert states survive a
    crash), and the loop answers others meanwhile."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from kapfast.server.write import make_write_handler

    engine, router, release = _busy_engine()
    release.set()
    commit: Future[None] = Future()
    engine.durable = lambda: commit
    app = web.Application()
    app.router.add_post(
        "/write",
        make_write_handler(
            engine,
            IngressStats(),
            VirtualClock(0),
            default_rp="autogen",
            max_body_size=0,
            parse_on_engine=True,
        ),
    )

    body = b"".join(b"cpu v=%d %d\n" % (i, i) for i in range(2000))  # > 16 KB: parsed and routed in one item

    async def main() -> tuple[bool, int]:
        async with TestServer(app) as server, ClientSession() as session:

            async def post() -> int:
                async with session.post(server.make_url("/write?db=db"), data=body) as resp:
                    return resp.status

            write = asyncio.create_task(post())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT_S
            while router.points < 2000 and loop.time() < deadline:  # the engine ran the points
                await asyncio.sleep(0.01)
            for _ in range(20):  # the write is still waiting for its commit, the loop is free
                await asyncio.sleep(0)
            waiting = not write.done()
            commit.set_result(None)
            return waiting, await asyncio.wait_for(write, WAIT_S)

    try:
        assert asyncio.run(main()) == (True, 204)
    finally:
        engine.stop()
