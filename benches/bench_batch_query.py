"""A batch task's query answer → batch messages: kapfast's Rust decoder against the Python reading.

Data: one InfluxDB 1.x ``/query`` answer (``epoch=ns``) as InfluxDB writes it, ``--points``
points (default 1,000,000) in 100 series (``GROUP BY host``), each row a time and four values
(two floats, an integer, a boolean; every 10th float null), fixed seed.

Measured in the same run, CPU time (``time.process_time``), median of ``--runs`` runs,
``gc.collect()`` before each:

* kapfast: :func:`kapfast.influxdb.answer.answer_series` (the body decoded in Rust into one
  PointBatch per series) and the batch messages :func:`kapfast.tasks.batch_query.live_batches`
  makes of them: everything between the HTTP body and the query node;
* the Python reading kapfast used before (``msgspec.json.decode``, then per series
  ``series_to_batch``, kept in ``tests/answer_reference.py``, and
  :func:`~kapfast.engine.replay.batch_message`): several Python objects per point;
* ``json.loads`` alone (dicts and lists only, no batch), the floor of any Python reading.

    python benches/bench_batch_query.py [--points N] [--runs R]
    pytest benches -s          # same, with KAPFAST_BENCH_QUERY_POINTS (default 1,000,000)

Target (issue #13): batch query results decoded straight into a batch, no Python object per
point; ≥ 10x the old Python reading.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

import msgspec

from kapfast.engine.replay import batch_message
from kapfast.influxdb.answer import answer_series
from kapfast.tasks.batch_query import BatchQuery, live_batches
from kapfast.tick import compile_script

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.answer_reference import series_to_batch  # the Python reading kapfast used before

from bench_nodes import median_cpu

T0 = 1_700_000_000_000_000_000
SERIES = 100


def answer(points: int, seed: int = 13) -> bytes:
    rng = random.Random(seed)
    rows = points // SERIES
    series = []
    for h in range(SERIES):
        values = [
            [
                T0 + i * 10_000_000,
                None if i % 10 == 0 else round(rng.uniform(0, 100), 3),
                round(rng.uniform(0, 100), 3),
                rng.randrange(1 << 40),
                rng.random() < 0.5,
            ]
            for i in range(rows)
        ]
        series.append(
            {
                "name": "cpu",
                "tags": {"host": f"server{h:03d}"},
                "columns": ["time", "usage_idle", "usage_user", "count", "ok"],
                "values": values,
            }
        )
    return json.dumps({"results": [{"statement_id": 0, "series": series}]}, separators=(",", ":")).encode()


def run(points: int, runs: int) -> dict[str, float]:
    body = answer(points)
    script = "batch\n    |query('''SELECT * FROM db.rp.cpu''').period(10s).every(10s).groupBy('host')\n"
    q = BatchQuery.from_node(next(n for n in compile_script(script).nodes if n.kind == "query"))
    stop = T0 + 10**12

    def kapfast() -> int:
        return sum(len(m) for m in live_batches(answer_series(body), q, stop))

    def python_reading() -> int:
        results = msgspec.json.decode(body)["results"]
        return sum(len(batch_message(series_to_batch(s, False))) for r in results for s in r["series"])

    assert kapfast() == python_reading()  # the same points, before timing them
    res = {
        "kapfast": median_cpu(kapfast, runs),
        "python": median_cpu(python_reading, runs),
        "json.loads": median_cpu(lambda: json.loads(body), runs),
    }
    mb = len(body) / 1e6
    print(f"\nanswer: {points:,} points in {SERIES} series, {mb:.1f} MB of JSON; CPU s, median of {runs}")
    for name, t in res.items():
        print(f"  {name:12s} {t:8.3f} s  {points / t / 1e6:7.2f} M pts/s  {mb / t:7.1f} MB/s")
    print(f"  kapfast vs the Python reading: {res['python'] / res['kapfast']:.1f}x")
    print(f"  kapfast vs json.loads alone:   {res['json.loads'] / res['kapfast']:.1f}x")
    for peer, peer_name, target in (
        ("python", "msgspec + per-point Python", ">= 10x"),
        ("json.loads", "json.loads alone (no batch)", "> 1x"),
    ):
        report.row(
            f"batch query answer -> batch messages ({points / 1e6:g} M pts, {SERIES} series)",
            points / res["kapfast"] / 1e6,
            points / res[peer] / 1e6,
            peer_name,
            "M pts/CPU-s",
            target,
        )
    return res


def test_bench_batch_query() -> None:
    """`pytest benches -s`: prints the figures; asserts only that every reading ran."""
    res = run(int(os.environ.get("KAPFAST_BENCH_QUERY_POINTS", "1000000")), runs=3)
    assert all(t > 0 for t in res.values())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    run(args.points, args.runs)


if __name__ == "__main__":
    main()
