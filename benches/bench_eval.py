"""Compiled lambdas over columnar batches: kapfast against numpy and polars, measured in this run.

Data: 1,000,000 Telegraf-like ``cpu`` points (fixed seed) with 200 hosts (web00–49, db00–49,
server000–099) and three float fields, parsed once into a kapfast batch; numpy and polars get the
same values as arrays / a DataFrame (polars on one thread). Three expressions:

* ``"usage_idle" < 90``                         → a boolean mask (the most common ``where``);
* ``"usage_idle" < 10 AND "usage_user" > 50``  → a boolean mask (TICKscript ``where``);
* ``"host" =~ /^web[0-9]+$/``                   → a mask (kapfast and numpy run the regex once per
  distinct host; polars runs ``str.contains`` on the string column);
* ``"usage_user" + "usage_system" * 2.0``      → a float column (``eval``);
* ``where("usage_idle" < 90)``                  → the batch's kept rows (``Program.filter``, the
  path of ``from().where()`` and batch ``where``): numpy computes the same comparison, the kept
  rows' indices, and takes them from each of the same columns (time, measurement, tag and series
  codes, the three fields and their validity flags), so both sides read and write the same bytes.
  At 1 M rows numpy's outputs (up to 7 MB each) are fresh mappings faulted in on every run, while
  kapfast's allocator reuses freed large blocks; at 100,000 rows, where neither faults, the
  ratio is about 1.1x.

Each figure is the median of ``--runs`` runs, ``gc.collect()`` before each. Two clocks: CPU time of
this process (robust when other jobs share the machine; ratios use it) and wall time.

    python benches/bench_eval.py [--rows N] [--runs R]
    pytest benches/bench_eval.py -s        # same; KAPFAST_BENCH_ROWS, KAPFAST_BENCH_RUNS

Targets (../shared/spec/perf_anchors.md): numeric predicate ≥ 1x numpy (≥ 570 M rows/s on a quiet
machine), regex ≥ numpy-on-dictionary-codes, ≈ 1.5x polars.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before polars is imported: one core each
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads would spin on our CPU time

import numpy as np

import report
from kapfast import lineproto
from kapfast.lambdas import Program

T0 = 1_700_000_000_000_000_000
STEP_NS = 10_000_000
HOST_RE = "^web[0-9]+$"

COMPARE = ("binary", "<", ("ref", "usage_idle"), ("int", 90))
PREDICATE = (
    "binary",
    "AND",
    ("binary", "<", ("ref", "usage_idle"), ("int", 10)),
    ("binary", ">", ("ref", "usage_user"), ("int", 50)),
)
REGEX = ("binary", "=~", ("ref", "host"), ("regex", HOST_RE))
ARITH = ("binary", "+", ("ref", "usage_user"), ("binary", "*", ("ref", "usage_system"), ("float", 2.0)))

FIELDS = ("usage_idle", "usage_user", "usage_system")

Timing = tuple[float, float]  # (cpu seconds, wall seconds)


def hosts_pool() -> list[str]:
    return (
        [f"web{i:02d}" for i in range(50)]
        + [f"db{i:02d}" for i in range(50)]
        + [f"server{i:03d}" for i in range(100)]
    )


def gen_data(n: int, seed: int = 42) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    pool = hosts_pool()
    codes = rng.integers(0, len(pool), n).astype(np.int64)
    cols = {k: np.round(rng.uniform(0.0, 100.0, n), 1) for k in ("usage_idle", "usage_user", "usage_system")}
    idle, user, system = (cols[k].tolist() for k in ("usage_idle", "usage_user", "usage_system"))
    host_of = [pool[c] for c in codes.tolist()]
    lines = [
        f"cpu,host={host_of[i]} usage_idle={idle[i]!r},usage_user={user[i]!r},usage_system={system[i]!r} "
        f"{T0 + i * STEP_NS}"
        for i in range(n)
    ]
    return {"lp": ("\n".join(lines) + "\n").encode(), "codes": codes, "pool": pool, "hosts": host_of, **cols}


def median(fn: Callable[[], Any], runs: int) -> Timing:
    cpus, walls = [], []
    for _ in range(runs):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return statistics.median(cpus), statistics.median(walls)


def run(n: int, runs: int) -> dict[str, dict[str, Timing]]:
    data = gen_data(n)
    parsed = lineproto.parse(data["lp"], now_ns=T0)
    assert parsed.ok and len(parsed.batch) == n
    batch = parsed.batch
    idle, user, system = data["usage_idle"], data["usage_user"], data["usage_system"]
    codes, pool = data["codes"], data["pool"]

    cmp, pred, rx, arith = Program(COMPARE), Program(PREDICATE), Program(REGEX), Program(ARITH)

    # The results agree before anything is timed.
    mask, errors, _ = cmp.mask(batch)
    assert errors == 0 and np.array_equal(np.frombuffer(mask, dtype=np.bool_), idle < 90)
    mask, errors, _ = pred.mask(batch)
    want = (idle < 10) & (user > 50)
    assert errors == 0 and np.array_equal(np.frombuffer(mask, dtype=np.bool_), want)
    mask, errors, _ = rx.mask(batch)
    regex = re.compile(HOST_RE)
    want_rx = np.array([bool(regex.search(h)) for h in pool])[codes]
    assert errors == 0 and np.array_equal(np.frombuffer(mask, dtype=np.bool_), want_rx)
    res = arith.eval(batch)
    assert res.kind == "float" and res.error_count == 0
    assert np.array_equal(np.frombuffer(res.values, dtype=np.float64), user + system * 2.0)

    # numpy's copies of every column the kapfast batch holds, for the where() row
    host_codes = np.asarray(batch.tag("host")[0]).copy()
    columns = [
        np.asarray(batch.time()).copy(),
        np.zeros(n, dtype=np.uint32),  # measurement codes (one measurement)
        host_codes,
        host_codes.copy(),  # series codes (one series per host)
        idle,
        user,
        system,
        *(np.asarray(batch.field_valid(f)).astype(bool) for f in FIELDS),
    ]
    kept, errors, _ = cmp.filter(batch)
    assert errors == 0 and len(kept) == int((idle < 90).sum())
    assert np.array_equal(np.asarray(kept.field("usage_idle")), idle[idle < 90])

    def numpy_where() -> Any:
        # numpy's fastest way here: the kept rows' indices once, then a take per column
        # (indexing each column with the bool array costs 1.7x as much)
        rows = np.flatnonzero(idle < 90)
        return [c.take(rows) for c in columns]

    def numpy_regex() -> Any:
        lut = np.array([bool(regex.search(h)) for h in pool])
        return lut[codes]

    out: dict[str, dict[str, Timing]] = {
        "compare": {
            "kapfast": median(lambda: cmp.mask(batch), runs),
            "numpy": median(lambda: idle < 90, runs),
            # reads the column and writes nothing: the floor of any pass over it
            "numpy max()": median(lambda: idle.max(), runs),
        },
        "predicate": {
            "kapfast": median(lambda: pred.mask(batch), runs),
            "numpy": median(lambda: (idle < 10) & (user > 50), runs),
        },
        "regex": {
            "kapfast": median(lambda: rx.mask(batch), runs),
            "numpy (codes)": median(numpy_regex, runs),
        },
        "arith": {
            "kapfast": median(lambda: arith.eval(batch), runs),
            "numpy": median(lambda: user + system * 2.0, runs),
        },
        "where": {
            "kapfast": median(lambda: cmp.filter(batch), runs),
            "numpy": median(numpy_where, runs),
        },
    }
    try:
        import polars as pl
    except ImportError:  # polars is a bench extra (`make bench` installs it)
        pl = None
    if pl is not None:
        df = pl.DataFrame(
            {"usage_idle": idle, "usage_user": user, "usage_system": system, "host": data["hosts"]}
        )
        p_pred = (pl.col("usage_idle") < 10) & (pl.col("usage_user") > 50)
        p_rx = pl.col("host").str.contains(HOST_RE)
        p_arith = pl.col("usage_user") + pl.col("usage_system") * 2.0
        assert df.select(p_pred).to_series().sum() == int(want.sum())
        out["predicate"]["polars"] = median(lambda: df.select(p_pred), runs)
        out["regex"]["polars"] = median(lambda: df.select(p_rx), runs)
        out["arith"]["polars"] = median(lambda: df.select(p_arith), runs)

    print(f"\n{n:,} rows, median of {runs} runs (CPU time of one process; wall in the last column)")
    print(f"{'expression':<11}{'system':<15}{'ms':>8}{'M rows/s':>10}{'kapfast is':>12}{'wall ms':>9}")
    for case, systems in out.items():
        k_cpu = systems["kapfast"][0]
        for name, (cpu, wall) in systems.items():
            ratio = "" if name == "kapfast" else f"{cpu / k_cpu:.2f}x"
            rate = n / cpu / 1e6 if cpu > 0 else float("inf")
            print(f"{case:<11}{name:<15}{cpu * 1e3:>8.2f}{rate:>10.0f}{ratio:>12}{wall * 1e3:>9.2f}")
    print("'kapfast is' = peer time / kapfast time (> 1: kapfast is faster). Target: predicate >= 1x numpy.")
    target_ms, floor_ms = out["compare"]["numpy"][0] / 1.5 * 1e3, out["compare"]["numpy max()"][0] * 1e3
    print(
        "compare/predicate: both sides produce one bool per row (what alert levels consume). 'numpy max()' "
        "only reads the column:\nthe memory floor of any pass over it (1.5x numpy's compare would be "
        f"{target_ms:.2f} ms, the floor is {floor_ms:.2f} ms). "
        "where: kapfast's predicate is a bitmask\n(one bit per row) that each column is compacted by; "
        "numpy takes the kept rows' indices from each column."
    )
    rows = (
        ("compare", "numpy", 'lambda "usage_idle" < 90', ">= 1.5x numpy"),
        ("regex", "numpy (codes)", 'lambda "host" =~ /re/ (tag)', ">= 1x numpy"),
        ("arith", "numpy", 'lambda eval "a" + "b" * 2.0', ">= 1x numpy"),
        ("where", "numpy", 'where "usage_idle" < 90, all columns', ">= 1x numpy"),
    )
    for case, peer, work, target in rows:
        k_rate, p_rate = n / out[case]["kapfast"][0], n / out[case][peer][0]
        report.row(f"{work}, {n:,} rows", k_rate / 1e6, p_rate / 1e6, "numpy", "M rows/CPU-s", target)
    return out


def test_bench_eval() -> None:
    """`pytest benches/bench_eval.py -s`: prints the table; asserts only that every system ran."""
    n = int(os.environ.get("KAPFAST_BENCH_ROWS", "1000000"))
    res = run(n, runs=int(os.environ.get("KAPFAST_BENCH_RUNS", "7")))
    assert all(t[1] > 0 for systems in res.values() for t in systems.values())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    run(args.rows, args.runs)


if __name__ == "__main__":
    main()
