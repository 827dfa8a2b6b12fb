"""Points/s through tasks on one core, from a parsed batch, each printed beside the parse-only
rate of the same data in the same run.

The main line is ``from|where|window|mean|<sink>``; the sink is ``alert`` when the alert node is
installed, else ``httpOut``. Data: the Telegraf ``cpu`` lines of bench_lineproto (200 hosts x 8
cpus, a point every 10 ms), grouped by host (200 groups, about 30 points per group and minute),
fed in chunks of ``--chunk`` points. Further lines time ``window mean`` (from|groupBy('host')
|window(1m)|mean|httpOut: window + groupBy + mean alone, no where; httpOut only keeps the last
point of each of the 200 groups per chunk), the stateful nodes (derivative, difference and
movingAverage per host and cpu, 1,600 series; stateDuration, changeDetect, join of two parents)
and many small windows (10 s windows of 200 groups, a handful of points each: the per-window
overhead).

    python benches/bench_engine.py [--lines N] [--runs R] [--chunk C]
    pytest benches -s          # same, with KAPFAST_BENCH_ENGINE_LINES (default 200,000)
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from bench_lineproto import gen_data
from kapfast import lineproto
from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.tick import compile_script


def _sink() -> str:
    try:
        import kapfast.engine.alert  # noqa: F401
    except ImportError:
        return "httpOut('out')"
    return "alert().crit(lambda: \"mean\" > 90.0).id('{{ .Group }}')"


SCRIPT = """
stream
    |from().measurement('cpu').where(lambda: "usage_idle" < 95.0).groupBy('host')
    |window().period(1m).every(1m)
    |mean('usage_user')
    |{sink}
"""


#: (label, script) of the stateful pipelines timed beside the main one
STATEFUL = [
    (
        "window mean",
        """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(1m).every(1m)
    |mean('usage_user')
    |httpOut('out')
""",
    ),
    (
        "derivative",
        """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |derivative('usage_user').unit(1s).nonNegative().as('d')
    |httpOut('out')
""",
    ),
    (
        "difference",
        """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |difference('usage_user')
    |httpOut('out')
""",
    ),
    (
        "movingAverage(10)",
        """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |movingAverage('usage_user', 10)
    |httpOut('out')
""",
    ),
    (
        "stateDuration",
        """stream
    |from().measurement('cpu').groupBy('host')
    |stateDuration(lambda: "usage_idle" < 50.0).unit(1ms)
    |httpOut('out')
""",
    ),
    (
        "changeDetect",
        """stream
    |from().measurement('cpu').groupBy('host')
    |changeDetect('ok')
    |httpOut('out')
""",
    ),
    (
        "join",
        """var a = stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |eval(lambda: "usage_user" * 2.0).as('x')
var b = stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |eval(lambda: "usage_idle" * 2.0).as('y')
a
    |join(b).as('a', 'b')
    |httpOut('out')
""",
    ),
    (
        "small windows",
        """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('usage_user')
    |{sink}
""",
    ),
]


#: the per-point kernels of #13, each reported beside the same pipeline without the node
PER_POINT = ("derivative", "difference", "movingAverage(10)")
STEADY = """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |httpOut('out')
"""


def run_task(batches: list[PointBatch], script: str | None = None) -> int:
    clock = VirtualClock(0)
    text = script if script is not None else SCRIPT
    task = Task("bench", compile_script(text.format(sink=_sink())), TaskContext(task_id="bench", clock=clock))
    for b in batches:
        task.write_points(b, "telegraf", "autogen")
    task.finish()
    return task.nodes[max(task.nodes)].stats.collected


def median_cpu(fn: object, runs: int) -> float:
    out = []
    for _ in range(runs):
        gc.collect()
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        out.append(time.process_time() - t0)
    return statistics.median(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--only", default="", help="time only the stateful lines whose label has this")
    args = ap.parse_args(argv)
    data, _ = gen_data(args.lines)
    parse_s = median_cpu(lambda: lineproto.parse(data, precision="ns", now_ns=0), args.runs)
    batch = lineproto.parse(data, precision="ns", now_ns=0).batch
    import numpy as np

    batches = [
        batch.take(np.arange(i, min(i + args.chunk, len(batch)), dtype=np.int64))
        for i in range(0, len(batch), args.chunk)
    ]
    engine_s = median_cpu(lambda: run_task(batches), args.runs)
    n = len(batch)
    print(f"\nengine bench: {n:,} points, chunks of {args.chunk:,}, sink {_sink().split('(')[0]}")
    print(f"  parse only:                  {n / parse_s:14,.0f} points/s")
    rate = n / engine_s
    print(f"  from|where|window|mean|sink: {rate:14,.0f} points/s  ({engine_s / parse_s:.1f}x parse time)")
    report.row(
        "engine from|where|window|mean|sink, in process, 1 core",
        rate,
        n / parse_s,
        "kapfast parse only",
        "points/CPU-s",
        "(info: the nodes' cost beside parsing)",
    )
    steady: float | None = None
    for label, script in STATEFUL:
        if args.only and args.only not in label:
            continue
        s = median_cpu(lambda script=script: run_task(batches, script), args.runs)  # type: ignore[misc]
        print(f"  {label + ':':28} {n / s:14,.0f} points/s  ({s / parse_s:.1f}x parse time)")
        if label in PER_POINT:
            if steady is None:
                steady = n / median_cpu(lambda: run_task(batches, STEADY), args.runs)
                print(f"  {'steady (no node):':28} {steady:14,.0f} points/s")
            report.row(
                f"engine from|groupBy|{label}|httpOut, 1,600 groups, 1 core",
                n / s,
                steady,
                "steady path (from|groupBy|httpOut)",
                "points/CPU-s",
                "≥ 5 M/s (#13)",
            )
    if not args.only or args.only in "union":
        bench_union(batches, n, args.runs)


#: union of two streams (the cpu points split in two by a where), every point its own timestamp;
#: the steady path is the same work without the union
UNION = """var a = stream
    |from().measurement('cpu').where(lambda: "usage_idle" < 50.0)
var b = stream
    |from().measurement('cpu').where(lambda: "usage_idle" >= 50.0)
a
    |union(b)
    |httpOut('out')
"""
UNION_STEADY = """stream
    |from().measurement('cpu').where(lambda: "usage_idle" < 50.0 OR "usage_idle" >= 50.0)
    |httpOut('out')
"""


def run_union(batches: list[PointBatch], *, merged: bool) -> int:
    """The union task; ``merged=False``: fed one timestamp at a time, as before the merge kernel."""
    task = Task("bench", compile_script(UNION), TaskContext(task_id="bench", clock=VirtualClock(0)))
    assert task.merging_unions, "the union bench must take the merged path"
    if not merged:
        task.merging_unions = []
    for b in batches:
        task.write_points(b, "telegraf", "autogen")
    task.finish()
    return task.nodes[max(task.nodes)].stats.collected


def bench_union(batches: list[PointBatch], n: int, runs: int) -> None:
    import numpy as np

    distinct = len(np.unique(np.concatenate([np.asarray(b.time()) for b in batches])))
    steady_s = median_cpu(lambda: run_task(batches, UNION_STEADY), runs)
    merged_s = median_cpu(lambda: run_union(batches, merged=True), runs)
    # the old path costs a pipeline pass per timestamp: time it on a tenth of the data
    few = batches[: max(1, len(batches) // 10)]
    n_few = sum(len(b) for b in few)
    old_s = median_cpu(lambda: run_union(few, merged=False), 1)
    steady, merged, old = n / steady_s, n / merged_s, n_few / old_s
    print(
        f"  union, {distinct:,} distinct times: {merged:14,.0f} points/s"
        f" (steady {steady:,.0f}, old {old:,.0f})"
    )
    work = "union of two streams, distinct timestamps, 1 core"
    report.row(work, merged, steady, "steady path (from|where|httpOut)", "points/CPU-s", "≥ 5 M/s (#13)")
    report.row(work, merged, old, "same union fed a timestamp at a time (before)", "points/CPU-s", "≥ 10")


def test_bench_engine() -> None:
    main(["--lines", os.environ.get("KAPFAST_BENCH_ENGINE_LINES", "200000"), "--runs", "1"])


if __name__ == "__main__":
    main()
