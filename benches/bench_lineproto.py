"""Line protocol → columns: kapfast against its peers, all measured in this run.

Data: realistic Telegraf ``cpu`` lines (fixed seed), 4 tags (host, region, cpu, dc) and 5 fields
(three floats, an integer ``i`` and a boolean), 200 hosts x 8 cpus → 1,600 series. Every figure
is the median of ``--runs`` runs on one core (polars runs in a child process with
``POLARS_MAX_THREADS=1``); ``gc.collect()`` runs before each run, GC stays on.

Two clocks are reported: CPU time of the process (``time.process_time``: what one core spends,
robust when other jobs share the machine) and wall time. Ratios use CPU time.

    python benches/bench_lineproto.py [--lines N] [--runs R]
    pytest benches -s          # same, with KAPFAST_BENCH_LINES (default 1,000,000)

Targets (see ../shared/spec/perf_anchors.md): ≥ 5 M lines/s, ≥ 20× line-protocol-parser,
≥ 0.8× polars' CSV reader on the same rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from kapfast import lineproto

T0 = 1_700_000_000_000_000_000
STEP_NS = 10_000_000
REGIONS = ["us-west", "us-east", "eu-central", "ap-south"]
CSV_HEADER = "measurement,host,region,cpu,dc,usage_idle,usage_user,usage_system,count,ok,time"


def hosts_pool() -> list[str]:
    return (
        [f"web{i:02d}" for i in range(50)]
        + [f"db{i:02d}" for i in range(50)]
        + [f"server{i:03d}" for i in range(100)]
    )


def gen_data(n: int, seed: int = 42) -> tuple[bytes, bytes]:
    """(line protocol, CSV) describing the same n points."""
    rng = random.Random(seed)
    hosts = hosts_pool()
    lp: list[str] = []
    csv: list[str] = [CSV_HEADER]
    for i in range(n):
        hi = rng.randrange(len(hosts))
        h, reg, dc = hosts[hi], REGIONS[hi % 4], f"dc{hi % 4}{hi % 2}"
        c = f"cpu{rng.randrange(8)}"
        ui, uu, us = (
            round(rng.uniform(0, 100), 1),
            round(rng.uniform(0, 100), 1),
            round(rng.uniform(0, 20), 2),
        )
        cnt, ok = rng.randrange(100_000), rng.random() < 0.9
        ts = T0 + i * STEP_NS
        okt = "true" if ok else "false"
        lp.append(
            f"cpu,host={h},region={reg},cpu={c},dc={dc} usage_idle={ui},usage_user={uu},"
            f"usage_system={us},count={cnt}i,ok={okt} {ts}"
        )
        csv.append(f"cpu,{h},{reg},{c},{dc},{ui},{uu},{us},{cnt},{okt},{ts}")
    return ("\n".join(lp) + "\n").encode(), ("\n".join(csv) + "\n").encode()


Timing = tuple[float, float]  # (CPU seconds, wall seconds), medians


def median_seconds(fn: Callable[[], Any], runs: int) -> Timing:
    cpu, wall = [], []
    for _ in range(runs):
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


# ---- peers -----------------------------------------------------------------------------------


def _py_value(v: str) -> Any:
    c = v[-1]
    if c == "i" or c == "u":
        return int(v[:-1])
    if c == '"':
        return v[1:-1]
    if v in ("t", "T", "true", "True", "TRUE"):
        return True
    if v in ("f", "F", "false", "False", "FALSE"):
        return False
    return float(v)


def py_split_columns(buf: bytes) -> dict[str, list[Any]]:
    """A pure-Python str.split parser into column lists (no escapes: the best case for it)."""
    cols: dict[str, list[Any]] = {"_measurement": [], "_time": []}
    meas, times = cols["_measurement"], cols["_time"]
    fv = _py_value
    for line in buf.decode().splitlines():
        if not line or line[0] == "#":
            continue
        key, fieldset, ts = line.split(" ")
        kparts = key.split(",")
        meas.append(kparts[0])
        for kv in kparts[1:]:
            k, _, v = kv.partition("=")
            col = cols.get(k)
            if col is None:
                cols[k] = col = []
            col.append(v)
        for kv in fieldset.split(","):
            k, _, v = kv.partition("=")
            col = cols.get(k)
            if col is None:
                cols[k] = col = []
            col.append(fv(v))
        times.append(int(ts))
    return cols


def lpp_columns(buf: bytes) -> int:
    """line-protocol-parser (C extension): one dict per line, as its API gives."""
    import line_protocol_parser as lpp  # type: ignore[import-not-found]

    parse_line = lpp.parse_line
    out = [parse_line(line) for line in buf.decode().splitlines()]
    return len(out)


POLARS_CHILD = r"""
import gc, json, statistics, sys, time
import polars as pl
data = open(sys.argv[1], "rb").read()
runs = int(sys.argv[2])
cpu, wall = [], []
for _ in range(runs):
    gc.collect()
    c, w = time.process_time(), time.perf_counter()
    df = pl.read_csv(data)
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
assert df.height == int(sys.argv[3])
print(json.dumps({"cpu": statistics.median(cpu), "wall": statistics.median(wall)}))
"""


def polars_csv_seconds(csv: bytes, n: int, runs: int, threads: int) -> Timing | None:
    try:
        import polars  # noqa: F401
    except ImportError:
        return None
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        f.write(csv)
        path = f.name
    try:
        env = dict(os.environ, POLARS_MAX_THREADS=str(threads))
        out = subprocess.run(
            [sys.executable, "-c", POLARS_CHILD, path, str(runs), str(n)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        got = json.loads(out.stdout)
        return float(got["cpu"]), float(got["wall"])
    finally:
        os.unlink(path)


# ---- the run ---------------------------------------------------------------------------------


def kapfast_parse(buf: bytes, n: int) -> None:
    res = lineproto.parse(buf, precision="ns", now_ns=T0)
    assert not res.errors and len(res.batch) == n, res.errors[:3]


def run(n: int, runs: int) -> dict[str, Timing | None]:
    print(f"generating {n:,} Telegraf cpu lines (4 tags, 5 fields, seed 42)...", flush=True)
    lp, csv = gen_data(n)
    mb = len(lp) / 1e6
    print(f"line protocol: {mb:.1f} MB ({len(lp) / n:.1f} B/line); CSV: {len(csv) / 1e6:.1f} MB")
    check = lineproto.parse(lp, now_ns=T0).batch
    assert check.field_kind("count") == "integer" and check.field_kind("ok") == "boolean"
    assert len(check.series()) > 1000

    res: dict[str, Timing | None] = {}
    res["kapfast"] = median_seconds(lambda: kapfast_parse(lp, n), runs)
    peer_runs = max(1, min(runs, 3))
    try:
        import line_protocol_parser  # type: ignore[import-not-found]  # noqa: F401

        res["line-protocol-parser"] = median_seconds(lambda: lpp_columns(lp), peer_runs)
    except ImportError:
        res["line-protocol-parser"] = None
    res["pure Python split"] = median_seconds(lambda: py_split_columns(lp), peer_runs)
    res["polars CSV (1 thread)"] = polars_csv_seconds(csv, n, runs, threads=1)
    res["polars CSV (2 threads)"] = polars_csv_seconds(csv, n, runs, threads=2)

    k = res["kapfast"]
    assert k is not None
    print(f"\n{'parser':<26}{'M lines/s':>10}{'MB/s':>7}{'wall M/s':>10}{'kapfast is':>12}")
    for name, t in res.items():
        if t is None:
            print(f"{name:<26}{'not installed':>39}")
            continue
        cpu, wall = t
        nb = len(csv) if "CSV" in name else len(lp)
        ratio = "" if name == "kapfast" else f"{cpu / k[0]:.2f}x"
        print(f"{name:<26}{n / cpu / 1e6:>10.2f}{nb / cpu / 1e6:>7.0f}{n / wall / 1e6:>10.2f}{ratio:>12}")
    ser_cpu, ser_wall = median_seconds(lambda: lineproto.serialize(check), runs)
    print(
        f"{'kapfast serialize':<26}{n / ser_cpu / 1e6:>10.2f}{len(lp) / ser_cpu / 1e6:>7.0f}"
        f"{n / ser_wall / 1e6:>10.2f}{'(batch -> LP)':>14}"
    )
    print(
        "\nM lines/s and MB/s from CPU time (one core); 'kapfast is' = peer CPU time / kapfast's.\n"
        "targets: >= 5 M lines/s, >= 20x line-protocol-parser, >= 0.8x polars CSV (1 thread); "
        f"kapfast: {n / k[0] / 1e6:.2f} M lines/s"
    )
    return res


def test_bench_lineproto() -> None:
    """`pytest benches -s`: prints the table; asserts only that every parser ran."""
    n = int(os.environ.get("KAPFAST_BENCH_LINES", "1000000"))
    res = run(n, runs=int(os.environ.get("KAPFAST_BENCH_RUNS", "5")))
    assert res["kapfast"] is not None and res["kapfast"][0] > 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    run(args.lines, args.runs)


if __name__ == "__main__":
    main()
