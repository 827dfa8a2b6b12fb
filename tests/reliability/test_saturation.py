"""Writes saturate a real kapfastd running a real task pipeline, from several client threads, while
``/ping`` and API calls (the task with its node stats, the task list, an httpOut read) are timed.
The load is relative: each writer posts its next body as soon as the last one was answered, so
the server, not the clients, sets the rate.

``make test`` (no timing asserted, the team's rule for a shared 2-core CI machine): every write
is answered 204 or 503 with ``Retry-After`` (with a small write queue, some must be refused),
``writes_rejected`` counts exactly the 503s, the engine's queue never holds more batches than
``max-concurrent-write-limit`` (+ the clock tick), every ping and API call is answered, and nothing
acknowledged is lost: the task's source counted exactly the points of the writes answered 204.

``make soak`` (KAPFAST_SOAK_SECONDS, default 20, with the default write limits): the same, and
the figures issue #19 asks for: ``/ping`` p99 under 50 ms and no API call over 1 s (skipped, with
the reason, when the machine's load average is above twice its cores: the OS's scheduling delays
would be timed rather than kapfastd).
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from kapfastd_proc import Kapfastd, wait_for

LINES = 2000
SCRIPT = """dbrp "telegraf"."autogen"
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('value')
    |alert().crit(lambda: "mean" > 1000.0).id('{{ .Group }}')
    |httpOut('out')
"""


def _writer(port: int, body: bytes, stop: Any, out: Any) -> None:
    """A client process: POST ``body`` back to back on a keep-alive connection until ``stop`` is
    set; puts (points taken, writes refused, refusals without Retry-After: 1, other answers) on
    ``out``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    taken = refused = no_retry_after = 0
    other: list[tuple[int, str]] = []
    while not stop.is_set():
        conn.request("POST", "/write?db=telegraf&rp=autogen&precision=s", body=body)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        if resp.status == 204:
            taken += LINES
        elif resp.status == 503:
            refused += 1
            no_retry_after += resp.headers.get("Retry-After") != "1"
        else:
            other.append((resp.status, text))
        if resp.status == 503 or resp.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()
    out.put((taken, refused, no_retry_after, other))


class Load:
    """WRITERS client processes (so that the clients' own GIL does not slow this process's
    probes), each posting its body back to back on its own keep-alive connection."""

    def __init__(self, server: Kapfastd, writers: int) -> None:
        self.ctx = mp.get_context("spawn")
        self.out = self.ctx.Queue()
        self.stop = self.ctx.Event()
        bodies = [
            "".join(f"cpu,host=h{w}_{i % 200} value={i} {i}\n" for i in range(LINES)).encode()
            for w in range(writers)
        ]
        self.procs = [
            self.ctx.Process(target=_writer, args=(server.port, body, self.stop, self.out)) for body in bodies
        ]
        self.taken = self.refused = self.no_retry_after = 0
        self.other: list[tuple[int, str]] = []

    def running(self) -> bool:
        return not self.stop.is_set()

    def __enter__(self) -> Load:
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for _ in self.procs:
            taken, refused, no_retry_after, other = self.out.get(timeout=300)
            self.taken += taken
            self.refused += refused
            self.no_retry_after += no_retry_after
            self.other += other
        for p in self.procs:
            p.join()


def _timed(server: Kapfastd, method: str, path: str) -> tuple[int, float]:
    t = time.perf_counter()
    answer = server.request(method, path)
    return answer.status, time.perf_counter() - t


def _vars(server: Kapfastd) -> dict[str, Any]:
    out: dict[str, Any] = server.request("GET", "/kapacitor/v1/debug/vars").json()["kapacitor"]
    return out


def _source_points(server: Kapfastd) -> int:
    stats = server.api("GET", "/tasks/load").json()["stats"]["node-stats"]
    return int(stats["stream0"]["collected"])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _saturate(
    server: Kapfastd, writers: int, seconds: float, concurrent: int, *, pings_min: int, refused_min: int = 0
) -> dict[str, Any]:
    """Saturate ``server`` for at least ``seconds`` and until ``pings_min`` pings, 30 API calls and
    ``refused_min`` refused writes were seen (conditions, not durations: a slow machine runs
    longer), at most 300 s."""
    assert server.api("POST", "/tasks", {"id": "load", "script": SCRIPT, "status": "enabled"}).status == 200
    pings: list[float] = []
    api: list[tuple[str, int, float]] = []
    depths: list[int] = []

    def api_calls(load: Load) -> None:
        paths = ("/kapacitor/v1/tasks/load", "/kapacitor/v1/tasks", "/kapacitor/v1/tasks/load/out")
        i = 0
        while load.running():
            path = paths[i % len(paths)]
            status, took = _timed(server, "GET", path)
            api.append((path, status, took))
            depths.append(int(_vars(server)["kapfast_engine"]["values"]["queue_depth"]))
            i += 1
            time.sleep(0.05)

    def enough(started: float) -> bool:
        if time.monotonic() - started > 300:
            return True  # the asserts below say what was missing
        if time.monotonic() - started < seconds or len(pings) < pings_min or len(api) < 30:
            return False
        return int(_vars(server)["kapfast_http"]["values"]["writes_rejected"]) >= refused_min

    with Load(server, writers) as load:
        # probes from when the writes flow (the writer processes take a moment to start)
        wait_for(lambda: _vars(server)["kapfast_engine"]["values"]["batches"] > 0, 60, "writes")
        prober = threading.Thread(target=api_calls, args=(load,))
        prober.start()
        started = time.monotonic()
        while not enough(started):
            status, took = _timed(server, "GET", "/ping")
            assert status == 204
            pings.append(took)
            time.sleep(0.01)
        seconds = time.monotonic() - started
        load.stop.set()
        prober.join()
    assert not load.other, load.other[:3]
    assert load.no_retry_after == 0
    assert load.taken, "no write was taken"
    # every API call answered (httpOut: 200 once a window closed, 404 before)
    assert all(status == 200 or (path.endswith("/out") and status == 404) for path, status, _ in api), api
    assert len(api) >= 30 and len(pings) >= pings_min, (len(api), len(pings))
    assert load.refused >= refused_min
    assert int(_vars(server)["kapfast_http"]["values"]["writes_rejected"]) == load.refused
    # the engine's queue: the gate's write turns, plus a tick or a UDF answer at most
    assert max(depths) <= concurrent + 1, depths
    # nothing acknowledged is lost: a 204 means the task has handled the write's points
    assert _source_points(server) == load.taken
    return {"pings": pings, "api": api, "taken": load.taken, "refused": load.refused, "seconds": seconds}


def test_saturated_writes_are_answered_bounded_and_nothing_acknowledged_is_lost(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    # a small write queue, so that 6 writers fill it: refusals must appear, counted, with Retry-After
    limits = (
        "  max-concurrent-write-limit = 1\n  max-enqueued-write-limit = 2\n"
        '  enqueued-write-timeout = "200ms"\n'
    )
    server = kapfastd_factory(http_options=limits)
    _saturate(server, writers=6, seconds=4.0, concurrent=1, pings_min=50, refused_min=1)


@pytest.mark.soak
def test_ping_p99_under_50ms_and_no_api_call_over_1s_while_writes_saturate(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    seconds = float(os.environ.get("KAPFAST_SOAK_SECONDS", "20"))
    # Latencies include the time the OS takes to give a runnable thread a core: on a machine
    # already running twice as many busy threads as it has cores, a 50 ms bound measures the
    # neighbours, not kapfastd (the make test version above asserts everything but timing).
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load > 2 * cores:
        pytest.skip(f"the machine is too loaded to time requests: load average {load:.1f} on {cores} cores")
    server = kapfastd_factory()  # the default write limits (2 + 256, 10s)
    got = _saturate(server, writers=8, seconds=seconds, concurrent=2, pings_min=500)
    pings, api = got["pings"], got["api"]
    worst = max(api, key=lambda a: a[2])
    print(
        f"\n{got['taken'] / got['seconds']:,.0f} points/s taken, {got['refused']} writes refused; "
        f"/ping n={len(pings)} p50 {_pct(pings, 0.5):.1f} ms p99 {_pct(pings, 0.99):.1f} ms "
        f"max {max(pings) * 1000:.1f} ms; API n={len(api)} p99 {_pct([a[2] for a in api], 0.99):.1f} ms "
        f"max {worst[2] * 1000:.1f} ms ({worst[0]})"
    )
    assert _pct(pings, 0.99) < 50.0
    assert worst[2] < 1.0, worst
