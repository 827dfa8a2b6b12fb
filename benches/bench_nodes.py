"""Points/s through the stateless nodes: ``from|<node>`` pipelines on one core, each on whole
batches (now) and on the row-by-row reference path (before: a Python tuple per point), printed
beside the parse-only rate of the same data in the same run.

Data: the Telegraf ``cpu`` lines of bench_lineproto (200 hosts x 8 cpus), parsed once, fed in
chunks of ``--chunk`` points.

    python benches/bench_nodes.py [--lines N] [--runs R] [--chunk C]
    pytest benches -s          # same, with KAPFAST_BENCH_NODES_LINES (default 100,000)
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import report
from bench_lineproto import gen_data
from kapfast import lineproto
from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import RowNode
from kapfast.engine.nodes.basic import EvalNode
from kapfast.engine.nodes.outputs import HttpOutNode, InfluxDBOutNode
from kapfast.engine.rows import batch_rows, to_batch
from kapfast.engine.task import Task
from kapfast.tick import compile_script


class _NullWriter:
    """Takes influxDBOut's writes and only counts them (the network is not measured)."""

    def __init__(self) -> None:
        self.points = 0

    def write(self, cluster: str, db: str, rp: str, body: bytes, precision: str) -> None:
        self.points += body.count(b"\n")

    def write_batch(self, cluster: str, db: str, rp: str, batch: PointBatch, precision: str) -> None:
        body = batch.to_line_protocol(precision)
        self.points += body.count(b"\n")

    def create_database(self, cluster: str, db: str, rp: str = "") -> None:
        pass


# --- the row paths as they were (the "before" of each node) ---------------------------------------


def _row_node(node: Node) -> None:
    if isinstance(node, EvalNode):
        node._eval_tags = node._eval_tags_rows  # type: ignore[method-assign]
    elif isinstance(node, HttpOutNode):
        node.on_chunk = types.MethodType(_http_out_rows, node)  # type: ignore[method-assign]
    elif isinstance(node, InfluxDBOutNode):
        node.on_chunk = types.MethodType(_influxdb_out_rows, node)  # type: ignore[method-assign]
    elif isinstance(node, RowNode):
        node.on_chunk = types.MethodType(RowNode.on_chunk, node)  # type: ignore[method-assign]


def _http_out_rows(self: HttpOutNode, chunk: StreamChunk, port: int) -> None:
    # The node's own state has since changed shape (numbered parts, rendered when read); the
    # row path kept a one-row batch per group in a dict, which is what is timed here.
    results: dict[str, PointBatch] = self.__dict__.setdefault("_row_results", {})
    groups, codes = chunk.groups, chunk.codes
    last: dict[int, int] = {}
    for i in range(len(codes)):
        last[int(codes[i])] = i
    order = sorted(last.values())
    for row, i in zip(batch_rows(chunk.batch.take(order)), order, strict=True):
        gid = groups[int(codes[i])].id
        results.pop(gid, None)
        results[gid] = to_batch([row])
    self.emit(chunk)


def _influxdb_out_rows(self: InfluxDBOutNode, chunk: StreamChunk, port: int) -> None:
    rows = []
    for name, tags, fields, t in batch_rows(chunk.batch):
        if self.tags:
            tags = {**tags, **self.tags}
        rows.append((self.measurement or name, tags, fields, t))
    self._add(to_batch(rows))


# ---------------------------------------------------------------------------------------------------

PIPELINES: dict[str, tuple[str, str]] = {
    "default": ("|default().field('missing', 0.0).tag('zone', 'z')", "default"),
    "delete": ("|delete().field('count').tag('dc')", "delete"),
    "shift": ("|shift(5s)", "shift"),
    "eval.tags": ("|eval(lambda: \"host\" + '-' + \"cpu\").as('hc').tags('hc').keep()", "eval"),
    "groupBy": ("|groupBy('host', 'cpu')", "groupBy"),
    "sample": (".groupBy('host')|sample(10)", "sample"),
    "httpOut": (".groupBy('host')|httpOut('out')", "httpOut"),
    "influxDBOut": (
        "|influxDBOut().database('out').measurement('m').tag('k', 'v').buffer(5000)",
        "influxDBOut",
    ),
}


def run(pipeline: str, kind: str, batches: list[PointBatch], rows: bool) -> int:
    script = "stream\n    |from().measurement('cpu')" + pipeline
    writer = _NullWriter()
    task = Task(
        "bench",
        compile_script(script),
        TaskContext(task_id="bench", clock=VirtualClock(0), writer=writer),
    )
    node = next(n for n in task.nodes.values() if n.spec.kind == kind)
    if rows:
        _row_node(node)
    for b in batches:
        task.write_points(b, "telegraf", "autogen")
    task.finish()
    return node.stats.collected


def median_cpu(fn: Callable[[], Any], runs: int) -> float:
    out = []
    for _ in range(runs):
        gc.collect()
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return statistics.median(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=5_000)
    args = ap.parse_args(argv)
    data, _ = gen_data(args.lines)
    parse_s = median_cpu(lambda: lineproto.parse(data, precision="ns", now_ns=0), args.runs)
    batch = lineproto.parse(data, precision="ns", now_ns=0).batch
    batches = [
        batch.take(np.arange(i, min(i + args.chunk, len(batch)), dtype=np.int64))
        for i in range(0, len(batch), args.chunk)
    ]
    n = len(batch)
    print(f"\nstateless nodes bench: {n:,} points, chunks of {args.chunk:,}")
    print(f"  parse only:              {n / parse_s:14,.0f} points/s")
    print(f"  {'from|<node>':<22}  {'row path (before)':>17}  {'columnar (now)':>17}  speed-up  vs parse")
    for name, (pipeline, kind) in PIPELINES.items():
        assert run(pipeline, kind, batches, rows=False) == run(pipeline, kind, batches, rows=True) == n
        before = median_cpu(lambda p=pipeline, k=kind: run(p, k, batches, True), args.runs)  # type: ignore[misc]
        after = median_cpu(lambda p=pipeline, k=kind: run(p, k, batches, False), args.runs)  # type: ignore[misc]
        print(
            f"  {name:<22}  {n / before:17,.0f}  {n / after:17,.0f}  {before / after:7.1f}x"
            f"  {after / parse_s:6.2f}x parse time"
        )
        report.row(
            f"node from|{name}, columnar vs row path",
            n / after,
            n / before,
            "row path",
            "points/CPU-s",
            "> 1x",
        )


def test_bench_nodes() -> None:
    main(["--lines", os.environ.get("KAPFAST_BENCH_NODES_LINES", "100000"), "--runs", "1"])


if __name__ == "__main__":
    main()
