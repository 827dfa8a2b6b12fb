"""Memory per buffered window point, kapfast beside a dict-per-point Python buffer of the same
points measured in the same run (and Kapacitor's published figure for reference).

The case of influxdata/kapacitor#1586: a 30-minute window over thousands of series, where
Kapacitor 1.3 held about 9.6 KB of RSS per buffered point. Here: ``--series`` series (host x cpu)
of Telegraf-like cpu points (4 tags, 5 fields), ``--points`` per series 10 s apart (Telegraf's
default interval; its times are whole seconds, the same for every series), all inside one open
window, so every point is buffered. The window fills up to 180 points a series (30 minutes of
10 s points): the default 50 is a window a quarter full; a full one is measured too. Each side
runs in a fresh child process; a point's cost is the growth of the process's resident memory
while the points were fed, divided by the points.

That figure carries each group's own cost (its window, its tags, its group id) spread over its
points. Each side also runs with half the points per series: the difference between the two
runs gives what one more buffered point costs (the slope), and what is left the cost per group.

    python benches/bench_memory.py [--series 4024] [--points 50]
    pytest benches -s          # same (KAPFAST_BENCH_MEMORY_POINTS, default 50)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

import report

KAPACITOR_BYTES_PER_POINT = 9_600  # influxdata/kapacitor#1586, the reporter's estimate (1.3.1)
CHUNK = 10_000
INTERVAL = 10 * 10**9  # Telegraf's default
FULL = 30 * 60 * 10**9 // INTERVAL  # points a series has in a full window of SCRIPT

SCRIPT = """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |window().period(30m).every(30m)
    |mean('usage_user')
    |httpOut('out')
"""


def _rss() -> int:
    """Resident bytes, after handing freed heap back to the system (glibc keeps it otherwise, and
    the parsed chunks that were freed would count as held)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _chunks(series: int, points: int) -> list[bytes]:
    lines = []
    t0 = 1_700_000_000_000_000_000
    for p in range(points):
        for s in range(series):
            host, cpu = f"host{s // 8:04d}", f"cpu{s % 8}"
            ui, uu = (s * 7 + p) % 100, (s * 13 + p * 3) % 100
            lines.append(
                f"cpu,host={host},region=r{s % 4},cpu={cpu},dc=dc{s % 3} usage_idle={ui}.5,"
                f"usage_user={uu}.25,usage_system=1.5,count={p}i,ok=true {t0 + p * INTERVAL}"
            )
    return ["\n".join(lines[i : i + CHUNK]).encode() for i in range(0, len(lines), CHUNK)]


def _child(side: str, series: int, points: int) -> None:
    from kapfast import lineproto

    chunks = _chunks(series, points)
    gc.collect()
    if side == "kapfast":
        from kapfast.clock import VirtualClock
        from kapfast.engine.context import TaskContext
        from kapfast.engine.task import Task
        from kapfast.tick import compile_script

        task = Task("m", compile_script(SCRIPT), TaskContext("m", VirtualClock(0)))
        # one parse first: the extension's own first allocations are not the points' cost
        task.write_points(lineproto.parse(b"warm,host=x,cpu=y v=1 1", now_ns=0).batch)
        gc.collect()
        before = _rss()
        for c in chunks:
            task.write_points(lineproto.parse(c, now_ns=0).batch)
        held = task.node_stats()["window2"]["working_cardinality"]
    else:
        # what an engine holding a Python object per point keeps: per group, a list of dicts
        buf: dict[tuple[str, str], list[dict[str, object]]] = {}
        gc.collect()
        before = _rss()
        for c in chunks:
            for m, tags, fields, t in lineproto.parse(c, now_ns=0).batch.rows():
                key = (tags["host"], tags["cpu"])
                buf.setdefault(key, []).append({"name": m, "tags": tags, "fields": fields, "time": t})
        held = len(buf)
    gc.collect()
    after = _rss()
    print(json.dumps({"bytes": after - before, "points": series * points, "groups": held}))


def child_json(script: str, *args: str) -> dict[str, int]:
    """Run ``script`` with ``args`` in a fresh interpreter (a clean heap to measure): the one
    JSON object it prints."""
    out = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def measure(side: str, series: int, points: int) -> dict[str, int]:
    return child_json(__file__, "--child", side, "--series", str(series), "--points", str(points))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=4024)
    ap.add_argument("--points", type=int, default=int(os.environ.get("KAPFAST_BENCH_MEMORY_POINTS", "50")))
    ap.add_argument("--child", choices=("kapfast", "python"))
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child, a.series, a.points)
        return
    n = a.series * a.points
    print(f"memory per buffered window point: {a.series} series x {a.points} points = {n:,} points")
    res = {side: measure(side, a.series, a.points) for side in ("kapfast", "python")}
    half = max(1, a.points // 2)
    small = {side: measure(side, a.series, half) for side in ("kapfast", "python")}
    k = res["kapfast"]["bytes"] / n
    p = res["python"]["bytes"] / n
    added = a.series * (a.points - half)
    slope = {s: (res[s]["bytes"] - small[s]["bytes"]) / added for s in res} if added else {}
    print(f"  kapfast (window of columns)       {k:8.0f} B/point   ({res['kapfast']['groups']} groups)")
    print(f"  Python dict per point (same run)  {p:8.0f} B/point   -> kapfast uses {p / k:.1f}x less")
    print(
        f"  Kapacitor 1.3 (#1586, published)  {KAPACITOR_BYTES_PER_POINT:8.0f} B/point   "
        f"-> {KAPACITOR_BYTES_PER_POINT / k:.0f}x"
    )
    if slope:
        per_group = {s: (res[s]["bytes"] - slope[s] * n) / a.series for s in res}
        print(
            f"  per added point (runs of {half} and {a.points} points): kapfast {slope['kapfast']:.0f} B, "
            f"Python {slope['python']:.0f} B; per group: kapfast {per_group['kapfast']:.0f} B, "
            f"Python {per_group['python']:.0f} B"
        )
        report.row(
            "memory per added buffered point (slope), window -> mean",
            slope["kapfast"],
            slope["python"],
            "Python dict per point",
            "B/point",
            "<= 20 B/point",
            higher_is_better=False,
        )
    report.row(
        "memory per buffered point, window -> mean",
        k,
        p,
        "Python dict per point",
        "B/point",
        "<= 20 B/point",
        higher_is_better=False,
    )
    if a.points != FULL:
        full = {side: measure(side, a.series, FULL) for side in ("kapfast", "python")}
        kf, pf = (full[s]["bytes"] / (a.series * FULL) for s in ("kapfast", "python"))
        print(
            f"  a full window ({FULL} points per series): kapfast {kf:.0f} B/point, Python {pf:.0f} B/point"
        )
        report.row(
            f"memory per buffered point, window -> mean, full window ({FULL} points per group)",
            kf,
            pf,
            "Python dict per point",
            "B/point",
            "<= 20 B/point",
            higher_is_better=False,
        )


def test_bench_memory() -> None:
    main(["--series", "4024", "--points", os.environ.get("KAPFAST_BENCH_MEMORY_POINTS", "50")])


if __name__ == "__main__":
    main()
