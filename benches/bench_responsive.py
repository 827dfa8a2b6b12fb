"""``/ping`` and API latency while writes saturate kapfastd (issue #19): the engine thread against
the task pipelines run on the event loop, measured in the same run.

kapfastd runs as a subprocess on loopback with its default write limits and the task
``from|where|window|mean|alert`` grouped by host; WRITERS client processes POST 5,000-line
Telegraf ``cpu`` bodies back to back over keep-alive connections (the load is relative: as fast
as the server takes them, refusals included). Meanwhile this process sends ``GET /ping`` every
10 ms and an API call (``GET /kapacitor/v1/tasks/<id>``: the task with its DOT and node stats,
which reads the running pipeline) every 100 ms, each on a fresh connection, and records every
latency. Each mode runs once:

- engine thread: kapfastd as shipped (pipelines on the engine thread, kapfast.server.ingest);
- on the loop: ``KAPFAST_ENGINE_INLINE=1``, the pipelines run on the event loop as before #19.

The task checkpoints every ``--snapshot-interval`` (10 s), so that checkpoints of the window's
millions of points fall inside the measurement (the sporadic stall of #19 was one of them). Each
mode also prints the event-loop watchdog's count of stalls over 200 ms (kapfast.server.watchdog);
with ``KAPFAST_BENCH_STALL_LOG=FILE`` the watchdog's warnings (the blocking stacks) are appended
to FILE.

    python benches/bench_responsive.py [--seconds S] [--writers N] [--snapshot-interval 10s]
    pytest benches -s          # same, with KAPFAST_BENCH_RESPONSIVE_SECONDS (default 15)
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from bench_lineproto import gen_data
from bench_server import SCRIPT, Server, split_bodies

BODY_LINES = 5_000


def _writer(port: int, bodies: list[bytes], stop_at: float, out: Any) -> None:
    """A client process: POST bodies back to back on one keep-alive connection until stop_at;
    puts (points taken, writes refused) on ``out``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    taken = refused = 0
    i = 0
    while time.monotonic() < stop_at:
        body = bodies[i % len(bodies)]
        i += 1
        conn.request("POST", "/write?db=telegraf&rp=autogen", body=body)
        resp = conn.getresponse()
        resp.read()
        if resp.status == 204:
            taken += BODY_LINES
        elif resp.status == 503:
            refused += 1
            time.sleep(float(resp.headers.get("Retry-After", "1")) / 10)  # a polite client, faster
        else:
            raise RuntimeError(f"write answered {resp.status}")
    conn.close()
    out.put((taken, refused))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _timed(port: int, path: str) -> float:
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status not in (200, 204):
            raise RuntimeError(f"{path} answered {resp.status}")
    finally:
        conn.close()
    return time.perf_counter() - t


def _checkpointing_server(tmp: str, interval: str, flag: str) -> Server:
    """kapfastd checkpointing its tasks every ``interval``, with the environment flag ``flag``
    set to 1 (none: "")."""
    return Server(
        Path(tmp),
        extra=f'[task]\n  snapshot-interval = "{interval}"\n',
        env={flag: "1"} if flag else None,
    )


def run_mode(
    inline: bool, seconds: float, writers: int, bodies: list[bytes], snapshot_interval: str = "10s"
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # the task's checkpoints (every [task] snapshot-interval, Kapacitor's 60s by default,
        # after a random splay) happen within the measurement: a checkpoint of the window's
        # millions of points was the sporadic whole-server stall of issue #19
        server = _checkpointing_server(tmp, snapshot_interval, "KAPFAST_ENGINE_INLINE" if inline else "")
        try:
            server.define("load", SCRIPT)
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            start = time.monotonic() + 2.0  # the writers' start-up is not measured
            stop_at = start + seconds
            procs = [
                ctx.Process(target=_writer, args=(server.port, bodies[w::writers], stop_at, out))
                for w in range(writers)
            ]
            for p in procs:
                p.start()
            while time.monotonic() < start:
                time.sleep(0.05)
            pings: list[float] = []
            api: list[float] = []

            def api_calls() -> None:
                while time.monotonic() < stop_at:
                    api.append(_timed(server.port, "/kapacitor/v1/tasks/load"))
                    time.sleep(0.1)

            api_thread = threading.Thread(target=api_calls)
            api_thread.start()
            while time.monotonic() < stop_at:
                pings.append(_timed(server.port, "/ping"))
                time.sleep(0.01)
            api_thread.join()
            results = [out.get(timeout=300) for _ in procs]
            for p in procs:
                p.join()
            loop = _loop_vars(server)
        finally:
            server.stop()
            stalls = _stall_log(server.dir / "kapfastd.log")
    if stalls and os.environ.get("KAPFAST_BENCH_STALL_LOG"):
        # the watchdog's warnings (what blocked the loop), for a look at the causes
        with open(os.environ["KAPFAST_BENCH_STALL_LOG"], "a") as f:
            f.write(f"==== {'inline' if inline else 'engine thread'}\n{stalls}\n")
    return {
        "ping_p50": _pct(pings, 0.5),
        "ping_p99": _pct(pings, 0.99),
        "ping_max": max(pings) * 1000,
        "pings": len(pings),
        "api_p99": _pct(api, 0.99),
        "api_max": max(api) * 1000,
        "points_per_s": sum(t for t, _ in results) / seconds,
        "refused": sum(r for _, r in results),
        "stalls": loop.get("stalls", 0),
        "max_stall_ms": loop.get("max_stall_ms", 0.0),
        "max_gc_ms": loop.get("max_gc_ms", 0.0),
    }


def _loop_vars(server: Server) -> dict[str, float]:
    """The watchdog's counters (kapfast.server.watchdog): event-loop stalls over 200 ms."""
    status, body = server.request("GET", "/kapacitor/v1/debug/vars")
    if status != 200:
        return {}
    values: dict[str, float] = json.loads(body)["kapacitor"].get("kapfast_loop", {}).get("values", {})
    return values


def _stall_log(path: Path) -> str:
    """The watchdog's lines and the stacks under them from kapfastd's log."""
    out: list[str] = []
    keep = False
    for line in path.read_text(errors="replace").splitlines():
        if "kapfast.watchdog" in line or "event loop" in line:
            keep = True
        elif not line.startswith((" ", "thread ", "the other threads", "(no Python")):
            keep = False
        if keep:
            out.append(line)
    return "\n".join(out)


def measure(
    seconds: float, writers: int, snapshot_interval: str = "10s"
) -> tuple[dict[str, float], dict[str, float]]:
    data, _ = gen_data(BODY_LINES * writers * 4)
    bodies = split_bodies(data, BODY_LINES)
    before = run_mode(True, seconds, writers, bodies, snapshot_interval)
    after = run_mode(False, seconds, writers, bodies, snapshot_interval)
    for name, m in (("on the loop (before)", before), ("engine thread", after)):
        print(
            f"{name:>22}: /ping n={m['pings']:.0f} p50 {m['ping_p50']:.1f} ms p99 {m['ping_p99']:.1f} ms "
            f"max {m['ping_max']:.1f} ms; API p99 {m['api_p99']:.1f} ms max {m['api_max']:.1f} ms; "
            f"{m['points_per_s']:,.0f} points/s taken, {m['refused']:.0f} writes refused (503); "
            f"loop stalls > 200 ms: {m['stalls']:.0f} (longest {m['max_stall_ms']:.0f} ms), "
            f"longest GC {m['max_gc_ms']:.0f} ms"
        )
    print(
        f"/ping p99 ratio (before / after): {before['ping_p99'] / after['ping_p99']:.1f}x; "
        f"write throughput ratio (after / before): {after['points_per_s'] / before['points_per_s']:.2f}x"
    )
    return before, after


#: a window that holds every point written (no window closes): its checkpoint is of them all
BIG_WINDOW_SCRIPT = """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10000h).every(10000h)
    |mean('usage_user')
    |httpOut('out')
"""


def _cpu_lines(start: int, n: int) -> bytes:
    return "".join(
        f"cpu,host=h{i % 8} usage_user={i % 1000 / 10} {1_600_000_000_000_000_000 + i * 1000}\n"
        for i in range(start, start + n)
    ).encode()


def checkpoint_read_mode(on_engine: bool, points: int, seconds: float, interval: str) -> dict[str, float]:
    """API reads of a task whose window holds ``points`` points, while the task is checkpointed
    every ``interval``; ``on_engine``: the checkpoint encoded on the engine thread as before
    (``KAPFAST_CHECKPOINT_ON_ENGINE=1``)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = _checkpointing_server(tmp, interval, "KAPFAST_CHECKPOINT_ON_ENGINE" if on_engine else "")
        try:
            server.define("big", BIG_WINDOW_SCRIPT)
            chunk = 100_000
            for start in range(0, points, chunk):
                status, text = server.request_raw("/write?db=telegraf&rp=autogen", _cpu_lines(start, chunk))
                if status != 204:
                    raise RuntimeError(f"write answered {status}: {text!r}")
            show: list[float] = []
            out: list[float] = []
            stop_at = time.monotonic() + seconds
            n = points

            def trickle() -> None:  # points keep arriving while it is checkpointed
                nonlocal n
                while time.monotonic() < stop_at:
                    server.request_raw("/write?db=telegraf&rp=autogen", _cpu_lines(n, 100))
                    n += 100
                    time.sleep(0.1)

            writer = threading.Thread(target=trickle)
            writer.start()
            while time.monotonic() < stop_at:
                show.append(_timed(server.port, "/kapacitor/v1/tasks/big"))
                out.append(_timed(server.port, "/kapacitor/v1/tasks/big/out"))
                time.sleep(0.05)
            writer.join()
            status, body = server.request("GET", "/kapacitor/v1/tasks/big")
            held = sum(
                int(v.get("buffered_points", 0))
                for v in json.loads(body).get("stats", {}).get("kapfast-node-stats", {}).values()
                if isinstance(v, dict)
            )
        finally:
            server.stop()
    reads = show + out
    return {
        "reads": len(reads),
        "p50": _pct(reads, 0.5),
        "p99": _pct(reads, 0.99),
        "max": max(reads) * 1000,
        "show_max": max(show) * 1000,
        "out_max": max(out) * 1000,
        "held": held,
    }


def measure_checkpoint_reads(
    points: int = 3_000_000, seconds: float = 20, interval: str = "4s"
) -> tuple[dict[str, float], dict[str, float]]:
    before = checkpoint_read_mode(True, points, seconds, interval)
    after = checkpoint_read_mode(False, points, seconds, interval)
    for name, m in (("encoded on the engine (before)", before), ("taken, encoded off it (after)", after)):
        print(
            f"{name:>31}: {m['held']:,.0f} window points; API reads of the task n={m['reads']:.0f} "
            f"p50 {m['p50']:.1f} ms p99 {m['p99']:.1f} ms max {m['max']:.1f} ms "
            f"(show max {m['show_max']:.0f} ms, httpOut max {m['out_max']:.0f} ms)"
        )
    print(f"max API read ratio (before / after): {before['max'] / after['max']:.1f}x")
    return before, after


def test_reads_of_a_task_while_its_large_window_is_checkpointed() -> None:
    points = int(os.environ.get("KAPFAST_BENCH_CHECKPOINT_POINTS", "3000000"))
    before, after = measure_checkpoint_reads(points)
    report.row(
        f"max API read (show, httpOut), task of a {points / 1e6:g} M-point window checkpointed every 4 s",
        after["max"],
        before["max"],
        "checkpoint encoded on the engine thread",
        "ms",
        "< 1 s",
        higher_is_better=False,
    )


def test_ping_under_saturation() -> None:
    seconds = float(os.environ.get("KAPFAST_BENCH_RESPONSIVE_SECONDS", "15"))
    before, after = measure(seconds, writers=4)
    report.row(
        "/ping p99 while writes saturate kapfastd",
        after["ping_p99"],
        before["ping_p99"],
        "pipelines on the event loop",
        "ms",
        "< 50 ms",
        higher_is_better=False,
    )
    report.row(
        "points/s taken while /ping is measured",
        after["points_per_s"],
        before["points_per_s"],
        "pipelines on the event loop",
        "points/s",
        "no regression",
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--snapshot-interval", default="10s", help="[task] snapshot-interval of kapfastd")
    ap.add_argument(
        "--checkpoint-points",
        type=int,
        default=0,
        help="instead: API reads of a task with a window of this many points while it is checkpointed",
    )
    args = ap.parse_args()
    if args.checkpoint_points:
        measure_checkpoint_reads(args.checkpoint_points, args.seconds)
    else:
        measure(args.seconds, args.writers, args.snapshot_interval)
