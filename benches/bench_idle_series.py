"""Memory per idle series and per churned series (issue #19), each side in a fresh child process.

* **idle series**: ``--series`` hosts send one Telegraf-like point each through a
  ``groupBy('host') | alert()`` task and go quiet; the cost is the growth of the process's
  resident memory divided by the series. The peer, measured in the same run, is what an engine
  keeping a Python dict per series (its last point and alert level) holds for the same series.
* **churned series**: the same series arrive in ``--waves`` waves a minute apart (new hosts
  each wave, the old ones quiet), with ``[groups] expire-idle = 1m`` against the same task without
  expiry: with expiry the memory stays at about one wave's worth.

    python benches/bench_idle_series.py [--series 100000] [--waves 5]
    pytest benches/bench_idle_series.py -s     # KAPFAST_BENCH_IDLE_SERIES, default 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import os

import report
from bench_memory import _rss, child_json

SCRIPT = """stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "usage_user" > 90)
"""
TARGET_BYTES = 400  # issue #19: at most 400 B per idle series kept
CHUNK = 10_000
MINUTE = 60 * 10**9


def _lines(first: int, count: int, t_ns: int) -> list[bytes]:
    lines = [
        f"cpu,host=host{i:08d},region=r{i % 4},dc=dc{i % 3} usage_user={i % 100}.5,usage_idle=1.5 {t_ns + i}"
        for i in range(first, first + count)
    ]
    return ["\n".join(lines[i : i + CHUNK]).encode() for i in range(0, len(lines), CHUNK)]


def _child(side: str, series: int, waves: int) -> None:
    from kapfast import lineproto

    if side == "python":
        state: dict[tuple[str, ...], dict[str, object]] = {}
        chunks = _lines(0, series, 0)
        gc.collect()
        before = _rss()
        for c in chunks:
            for m, tags, fields, t in lineproto.parse(c, now_ns=0).batch.rows():
                state[(tags["host"],)] = {"name": m, "tags": tags, "fields": fields, "time": t, "level": "OK"}
        chunks.clear()
        gc.collect()
        print(json.dumps({"bytes": _rss() - before, "series": series}))
        return

    from kapfast.clock import VirtualClock
    from kapfast.engine.context import TaskContext
    from kapfast.engine.task import Task
    from kapfast.tick import compile_script

    expiry = MINUTE if side == "expiry" else 0
    clock = VirtualClock(0)
    task = Task("m", compile_script(SCRIPT), TaskContext("m", clock, group_expiry_ns=expiry))
    task.write_points(lineproto.parse(b"cpu,host=warm usage_user=1 0", now_ns=0).batch)
    per_wave = series // waves
    gc.collect()
    before = _rss()
    for w in range(waves):
        t_ns = (w * 2 + 1) * MINUTE  # two minutes apart: the last wave is idle past the expiry
        clock.set(t_ns)
        task.tick(t_ns)
        for c in _lines(w * per_wave, per_wave, t_ns):
            task.write_points(lineproto.parse(c, now_ns=t_ns).batch)
    gc.collect()
    held = task.node_stats()["alert2"]["working_cardinality"]
    print(json.dumps({"bytes": _rss() - before, "series": per_wave * waves, "held": held}))


def measure(side: str, series: int, waves: int) -> dict[str, int]:
    return child_json(__file__, "--child", side, "--series", str(series), "--waves", str(waves))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=int(os.environ.get("KAPFAST_BENCH_IDLE_SERIES", "100000")))
    ap.add_argument("--waves", type=int, default=5)
    ap.add_argument("--child", choices=("kapfast", "expiry", "python"))
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child, a.series, 1 if a.child == "python" else a.waves)
        return
    idle = measure("kapfast", a.series, 1)
    peer = measure("python", a.series, 1)
    k, p = idle["bytes"] / idle["series"], peer["bytes"] / peer["series"]
    r = report.row(
        f"memory per idle series ({a.series:,} series, groupBy|alert)",
        k,
        p,
        "a Python dict per series",
        "B/series",
        f"<= {TARGET_BYTES} B",
        higher_is_better=False,
    )
    verdict = "met" if k <= TARGET_BYTES else "NOT met"
    print(
        f"idle series: kapfast {k:.0f} B/series, dict per series {p:.0f} B/series (ratio {r.ratio:.2f}); "
        f"target <= {TARGET_BYTES} B {verdict} (before the Rust group tables: 1604 B at 100k)"
    )
    kept = measure("kapfast", a.series, a.waves)
    churn = measure("expiry", a.series, a.waves)
    ck, cp = churn["bytes"] / churn["series"], kept["bytes"] / kept["series"]
    r = report.row(
        f"memory per churned series ({a.waves} waves of {a.series // a.waves:,}, expire-idle 1m)",
        ck,
        cp,
        "kapfast without expiry",
        "B/series",
        "flat under churn",
        higher_is_better=False,
    )
    print(
        f"churn: with expiry {ck:.0f} B/series ({churn['held']:,} groups held), "
        f"without {cp:.0f} B/series ({kept['held']:,} held) (ratio {r.ratio:.2f})"
    )


def test_bench_idle_series() -> None:
    main([])


if __name__ == "__main__":
    main()
