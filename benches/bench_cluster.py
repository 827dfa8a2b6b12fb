"""Scale-out on NATS JetStream (docs/scaleout.md): 1, 2 and 3 workers plus one ingest node against
one kapfastd, same points, same task, same run.

A real ``nats-server -js`` (a temp store) on loopback; kapfastd processes as in bench_server. The
task is partitioned (``groupBy`` the partition key ``host``)::

    from().measurement('cpu').groupBy('host') | window 10s | mean('usage_user') | httpOut

2 client processes POST 5,000-line Telegraf ``cpu`` bodies (bench_lineproto's data, 200 hosts)
to the ingest node (to the single node for the peer). A cluster round ends when every partition's
consumer has nothing pending and nothing unacked (a worker acks once it applied). CPU is user +
system from ``/proc`` of **every** process of the side measured: nats-server + ingest + workers,
or the single kapfastd; rows quote the median round. On this 2-core machine the clients, the NATS
server and up to 4 kapfastd share 2 cores, so the wall rate cannot grow with workers here: the
CPU figures (per point, per process) are what the N-machine projection in docs/scaleout.md uses.

    python benches/bench_cluster.py [--lines N] [--rounds R] [--workers 1,2,3]
    pytest benches/bench_cluster.py -s   # KAPFAST_BENCH_CLUSTER_LINES (default 300,000),
                                         # KAPFAST_BENCH_CLUSTER_ROUNDS (default 2)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.cluster's nats-server

import pytest
from tests.cluster.conftest import NATS_SERVER, NatsServer

import report
from bench_lineproto import gen_data
from bench_server import BODY_LINES, CLIENTS, Server, cpu_seconds, send_round, split_bodies

PARTITIONS = 12  # spread evenly over 1, 2 and 3 workers

SCRIPT = """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('usage_user')
    |httpOut('mean')
"""


class Nats(NatsServer):
    """tests/cluster's ``nats-server -js`` on a free loopback port, with its CPU time."""

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)


def cluster_section(nats: Nats, role: str, node_id: str) -> str:
    return (
        f'[cluster]\n  enabled = true\n  urls = ["{nats.url}"]\n  role = "{role}"\n'
        f'  node-id = "{node_id}"\n  partitions = {PARTITIONS}\n  partition-key = ["host"]\n'
        '  lease-ttl = "2s"\n[stats]\n  enabled = false\n'
    )


@dataclass
class Cluster:
    nats: Nats
    ingest: Server
    workers: list[Server]

    @property
    def port(self) -> int:  # what send_round posts to
        return self.ingest.port

    def cpus(self) -> tuple[float, float, float]:
        """(nats-server, ingest, all workers) CPU seconds so far."""
        return self.nats.cpu(), self.ingest.cpu(), sum(w.cpu() for w in self.workers)

    def cpu(self) -> float:
        return sum(self.cpus())

    def status(self) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.workers[0].port, timeout=30)
        try:
            conn.request("GET", "/kapacitor/v1/cluster")
            return dict(json.loads(conn.getresponse().read()))
        finally:
            conn.close()

    def wait_drained(self, timeout_s: float = 300.0) -> None:
        """Until every partition is owned by a worker and its consumer has nothing pending or unacked."""
        alive = {f"w{i}" for i in range(len(self.workers))}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            parts = self.status()["partitions"]
            if all(p["owner"] in alive and p["lag"] == 0 and p["ack_pending"] == 0 for p in parts):
                return
            time.sleep(0.2)  # each poll costs the workers and NATS some CPU: not too often
        raise RuntimeError("the cluster did not drain")


@contextmanager
def cluster(workers: int) -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="kapfast-bench-cluster-") as tmp:
        root = Path(tmp)
        (root / "js").mkdir()
        nats = Nats(root / "js")
        nats.start()
        servers: list[Server] = []
        try:
            for name, role in [("in", "ingest"), *((f"w{i}", "worker") for i in range(workers))]:
                (root / name).mkdir()
                servers.append(Server(root / name, cluster_section(nats, role, name)))
            c = Cluster(nats, servers[0], servers[1:])
            c.ingest.define("bench", SCRIPT)  # the control plane defines it on every worker
            yield c
        finally:
            for s in servers:
                s.stop()
            nats.stop()


@dataclass
class Round:
    points: int
    cpu: float  # every process of the side measured
    wall: float
    parts: tuple[float, float, float] = (0.0, 0.0, 0.0)  # nats-server, ingest, workers (cluster)

    @property
    def per_cpu(self) -> float:
        return self.points / self.cpu

    @property
    def per_wall(self) -> float:
        return self.points / self.wall


def cluster_round(c: Cluster, bodies: list[bytes]) -> Round:
    before, w0 = c.cpus(), time.perf_counter()
    send_round(c, bodies)  # type: ignore[arg-type]  # Cluster has the port and cpu() it uses
    c.wait_drained()
    after, w1 = c.cpus(), time.perf_counter()
    parts = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    return Round(len(bodies) * BODY_LINES, sum(parts), w1 - w0, parts)


def median_round(rounds: list[Round]) -> Round:
    return sorted(rounds, key=lambda r: r.per_cpu)[len(rounds) // 2]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000, help="points per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", default="1,2,3")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    per = max(1, args.lines // BODY_LINES)
    all_data, _ = gen_data(per * BODY_LINES * (args.rounds + 1))
    bodies = split_bodies(all_data, BODY_LINES)
    warm, rounds = bodies[:per][:4], [bodies[(i + 1) * per : (i + 2) * per] for i in range(args.rounds)]

    with tempfile.TemporaryDirectory(prefix="kapfast-bench-single-") as tmp:
        single = Server(Path(tmp))
        try:
            single.define("bench", SCRIPT)
            send_round(single, warm)
            one = median_round([Round(len(b) * BODY_LINES, *send_round(single, b)) for b in rounds])
        finally:
            single.stop()

    results: dict[int, Round] = {}
    for k in counts:
        with cluster(k) as c:
            c.wait_drained(60)  # every partition owned before the clock starts
            cluster_round(c, warm)
            results[k] = median_round([cluster_round(c, b) for b in rounds])

    us = 1e6
    print(f"\ncluster bench: {one.points:,} points a round, {CLIENTS} clients, {BODY_LINES:,}-line bodies")
    print(f"  {'':24}{'pts/CPU-s':>12}{'pts/s wall':>12}{'µs CPU/pt':>11}  nats / ingest / workers µs/pt")
    print(f"  {'one kapfastd':24}{one.per_cpu:12,.0f}{one.per_wall:12,.0f}{us / one.per_cpu:11.2f}")
    for k, r in results.items():
        n, i, w = (x / r.points * us for x in r.parts)
        label = f"{k} worker(s) + ingest + NATS"
        rates = f"{r.per_cpu:12,.0f}{r.per_wall:12,.0f}{us / r.per_cpu:11.2f}"
        print(f"  {label:24}{rates}  {n:.2f} / {i:.2f} / {w:.2f}")
    work = "cluster from|groupBy(host)|window|mean|httpOut"
    for k, r in results.items():
        what = f"{work}, {k} worker(s)"
        report.row(what, r.per_cpu, one.per_cpu, "one kapfastd", "pts/CPU-s (all procs)", "info")
        report.row(what, r.per_wall, one.per_wall, "one kapfastd", "pts/s (wall, 2 cores)", "info")
    if 1 in results:
        r = results[1]
        n, i, w = (x / r.points * us for x in r.parts)
        report.row(
            "NATS overhead: cluster CPU per point, 1 worker",
            us / r.per_cpu,
            us / one.per_cpu,
            "one kapfastd",
            "µs CPU/pt",
            "info",
            higher_is_better=False,
        )
        report.row(
            "nats-server (JetStream, R=1) CPU per point",
            n,
            us / one.per_cpu,
            "one kapfastd",
            "µs CPU/pt",
            "info",
            higher_is_better=False,
        )
    return {"single": one, "clusters": results}


@pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed (make system-deps)")
def test_bench_cluster() -> None:
    main(
        [
            "--lines",
            os.environ.get("KAPFAST_BENCH_CLUSTER_LINES", "300000"),
            "--rounds",
            os.environ.get("KAPFAST_BENCH_CLUSTER_ROUNDS", "2"),
        ]
    )


if __name__ == "__main__":
    main()
    print()
    print(report.render(report.ROWS))
