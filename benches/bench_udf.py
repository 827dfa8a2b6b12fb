"""Points/s through a mirror UDF (a process agent written against udf.proto with the protobuf
runtime, as Kapacitor's Python agents are: tests/udf/agentlib.py) beside the same pipeline
without the UDF, in the same run; and kapfast's own cost per point at the boundary (framing the
chunk's points as ``Point`` requests in Rust, parsing the agent's ``Point`` responses back into
a batch), which is what kapfast adds on top of the agent.

Data: the Telegraf ``cpu`` lines of bench_lineproto (200 hosts x 8 cpus, 10 fields), parsed
once, fed in chunks of ``--chunk`` points.

    python benches/bench_udf.py [--lines N] [--chunk C]
    pytest benches -s          # same, with KAPFAST_BENCH_UDF_LINES (default 20,000)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import report
from bench_lineproto import gen_data
from kapfast import lineproto
from kapfast._native import Group, PointBatch, StreamChunk, UdfDecoder, udf_encode_stream
from kapfast.clock import VirtualClock
from kapfast.config import UDFConfig, UDFFunctionConfig
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.tick import compile_script
from kapfast.udf import UDFService

AGENT = str(Path(__file__).resolve().parents[1] / "tests" / "udf" / "agentlib.py")
WITH = "stream|from().measurement('cpu').groupBy('host')@mirror()|httpOut('out')"
WITHOUT = "stream|from().measurement('cpu').groupBy('host')|httpOut('out')"


def run(service: UDFService, script: str, batches: list[PointBatch]) -> tuple[float, int]:
    """(wall seconds, points emitted by the last node before httpOut)."""
    task = Task(
        "b",
        compile_script(script, udfs=service.infos),
        TaskContext("b", VirtualClock(0), services={"udf": service}),
    )
    start = time.perf_counter()
    for b in batches:
        task.write_points(b, "db", "rp")
    task.finish()
    secs = time.perf_counter() - start
    last = [n for n in task.nodes.values() if n.spec.kind != "httpOut"][-1]
    return secs, last.stats.emitted


def boundary_cost(batches: list[PointBatch]) -> tuple[float, float]:
    """ns per point to frame a chunk's points and to parse the same frames back (a mirror's
    answer uses the same field numbers, so the request bytes stand for it)."""
    enc = dec = 0.0
    n = 0
    for b in batches:
        chunk = StreamChunk.of_group(b, Group(), "db", "rp")
        t0 = time.perf_counter()
        data = udf_encode_stream(chunk)
        t1 = time.perf_counter()
        events = UdfDecoder().feed(data)
        t2 = time.perf_counter()
        assert sum(len(ev[1]) for ev in events if ev[0] == "points") == len(b)
        enc += t1 - t0
        dec += t2 - t1
        n += len(b)
    return enc / n * 1e9, dec / n * 1e9


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--chunk", type=int, default=1_000)
    args = ap.parse_args(argv)
    data, _ = gen_data(args.lines)
    batch = lineproto.parse(data, precision="ns", now_ns=0).batch
    batches = [
        batch.take(np.arange(i, min(i + args.chunk, len(batch)), dtype=np.int64))
        for i in range(0, len(batch), args.chunk)
    ]
    n = len(batch)
    fc = UDFFunctionConfig(prog=sys.executable, args=["-u", AGENT, "mirror"], timeout="60s")
    service = UDFService(UDFConfig({"mirror": fc}))
    service.load()
    without, out0 = run(service, WITHOUT, batches)
    with_udf, out1 = run(service, WITH, batches)
    assert out0 == out1 == n, (out0, out1, n)
    enc, dec = boundary_cost(batches)
    print(f"\nUDF bench: {n:,} points (10 fields, 4 tags), chunks of {args.chunk:,}")
    print(f"  without the UDF:          {n / without:12,.0f} points/s")
    print(
        f"  through a mirror UDF:     {n / with_udf:12,.0f} points/s   ({with_udf / without:.1f}x the time)"
    )
    print(f"  kapfast's boundary cost:  {enc:8.0f} ns/point to frame, {dec:6.0f} ns/point to parse back")
    per_point = with_udf / n * 1e9
    print(f"  cost per point through the UDF: {per_point:,.0f} ns, kapfast's side of it {enc + dec:,.0f} ns")
    report.row(
        "stream through a mirror UDF (process agent)",
        n / with_udf,
        n / without,
        "kapfast, no UDF",
        "points/s",
        "(info: the UDF hop's cost)",
    )


def test_bench_udf() -> None:
    main(["--lines", os.environ.get("KAPFAST_BENCH_UDF_LINES", "20000")])


if __name__ == "__main__":
    main()
