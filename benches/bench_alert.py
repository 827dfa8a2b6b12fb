"""Points/s through an alert node whose level changes often, beside the steady path of the same run.

Data: ``--groups`` series (``host`` tag, grouped by host), a point per series every 10 ms, field
``x`` is 1.0 for three points then 0.0 for three points: each series' level changes every 3
points (OK -> CRITICAL -> OK ...). The steady path is the same alert on the same points with a
``crit`` lambda that is never true (every point OK: nothing to decide per point).

Rows: ``.stateChangesOnly()`` (an event every 3rd point) and the default (an event for every
CRITICAL point and every recovery: half the points make events), each beside the steady path.
The alert node has no handler (the events are counted, not delivered): what is timed is the
level decision and the event bookkeeping, not a handler. A last row publishes the default's
events on a ``.topic()`` (no handler either): each event is then built whole (id, message and
details rendered with Kapacitor's default templates, its data, recorded on the topic), which is
what a node with handlers pays before its handlers run (``--topic-points`` points: slower).

    python benches/bench_alert.py [--points N] [--groups G] [--runs R] [--chunk C]
    pytest benches -s          # same, with KAPFAST_BENCH_ALERT_POINTS (default 200,000)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import report
from bench_engine import median_cpu
from kapfast import lineproto
from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.tick import compile_script

SCRIPT = """stream
    |from().measurement('m').groupBy('host')
    |alert().crit(lambda: "x" > {threshold}){extra}
"""


def gen(points: int, groups: int) -> bytes:
    """Line protocol: ``groups`` series, round robin; every series' level changes every 3 points."""
    lines = []
    for i in range(points):
        k, g = divmod(i, groups)
        x = "1.0" if (k // 3) % 2 else "0.0"
        lines.append(f"m,host=h{g} x={x} {1_000_000_000 + i * 10_000_000}")
    return ("\n".join(lines) + "\n").encode()


def run(batches: list[PointBatch], threshold: float, extra: str) -> tuple[int, int]:
    script = SCRIPT.format(threshold=threshold, extra=extra)
    task = Task("bench", compile_script(script), TaskContext(task_id="bench", clock=VirtualClock(0)))
    for b in batches:
        task.write_points(b, "db", "rp")
    task.finish()
    node = task.nodes[max(task.nodes)]
    return node.stats.collected, int(node.stats.extra["alerts_triggered"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--topic-points", type=int, default=20_000)
    args = ap.parse_args(argv)
    batch = lineproto.parse(gen(args.points, args.groups), precision="ns", now_ns=0).batch
    batches = [
        batch.take(np.arange(i, min(i + args.chunk, len(batch)), dtype=np.int64))
        for i in range(0, len(batch), args.chunk)
    ]
    n = len(batch)
    print(f"\nalert bench: {n:,} points, {args.groups:,} groups, chunks of {args.chunk:,}")
    for label, extra in ((".stateChangesOnly()", "\n        .stateChangesOnly()"), ("default", "")):
        seen, events = run(batches, 0.5, extra)
        assert seen == n and events > n // 4, (seen, events)
        steady_seen, steady_events = run(batches, 5.0, extra)
        assert steady_seen == n and steady_events == 0
        changing_s = median_cpu(lambda e=extra: run(batches, 0.5, e), args.runs)  # type: ignore[misc]
        steady_s = median_cpu(lambda e=extra: run(batches, 5.0, e), args.runs)  # type: ignore[misc]
        print(
            f"  alert {label:<20} level change every 3 points: {n / changing_s:12,.0f} points/s"
            f"  ({events:,} events)   steady: {n / steady_s:12,.0f} points/s"
        )
        report.row(
            f"alert{'' if label == 'default' else label}, level change every 3 points, 1 core",
            n / changing_s,
            n / steady_s,
            "same alert, level steady (OK)",
            "points/CPU-s",
            "≥ 5 M/s (#13)",
        )
    topic = "\n        .topic('bench')"
    few = batches[: max(1, args.topic_points // args.chunk)]
    m = sum(len(b) for b in few)
    seen, events = run(few, 0.5, topic)
    assert seen == m and events > m // 4, (seen, events)
    changing_s = median_cpu(lambda: run(few, 0.5, topic), args.runs)
    steady_s = median_cpu(lambda: run(few, 5.0, topic), args.runs)
    print(
        f"  alert {'.topic()':<20} level change every 3 points: {m / changing_s:12,.0f} points/s"
        f"  ({events:,} events, {events / changing_s:,.0f}/s)   steady: {m / steady_s:12,.0f} points/s"
    )
    report.row(
        "alert.topic(), events built whole, level change every 3 points, 1 core",
        m / changing_s,
        m / steady_s,
        "same alert, level steady (OK)",
        "points/CPU-s",
        "(events/s: see bench)",
    )


def test_bench_alert() -> None:
    main(["--points", os.environ.get("KAPFAST_BENCH_ALERT_POINTS", "200000"), "--runs", "1"])


if __name__ == "__main__":
    main()
