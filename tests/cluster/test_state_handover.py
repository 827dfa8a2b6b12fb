"""A partitioned task's state moves with its partition (docs/scaleout.md, "State that moves"):
a window open while its partition changes owner counts every point once, as one node does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kapfastd_proc import Kapfastd, wait_for

from .conftest import NatsServer, cluster_config
from .test_cluster import _gathered, _series, _status, wait_caught_up

pytestmark = pytest.mark.integration

SCRIPT = (
    "stream|from().measurement('m').groupBy('host')|window().period(10s).every(10s)|count('v')|httpOut('n')"
)
HOSTS = 24
LOCAL = {"X-Kapfast-Cluster-Local": "1"}  # the node's own answer (kapfast.cluster.reads)


def _write(nodes: list[Kapfastd], second: int) -> None:
    body = "".join(f"m,host=h{h} v={h} {second * 1_000_000_000 + h}\n" for h in range(HOSTS))
    for node in nodes:
        assert node.write(body, "db=db&rp=autogen").status == 204


def _checkpointed(node: Kapfastd, alive: set[str]) -> None:
    """Until every partition has a checkpoint written after now (the cluster caught up: of
    everything): the open windows are in NATS, the next owner must take them from there."""
    now = time.time()

    def covered() -> bool:
        st = _status(node)
        return all(p["owner"] in alive and (p["checkpoint_time"] or 0) > now for p in st["partitions"])

    wait_for(covered, 60, "the partitions' checkpoints")


@pytest.mark.parametrize("move", ["kill -9 of the owner", "a worker added"])
def test_a_window_open_across_a_partition_move_counts_every_point_once(
    move: str, nats_server: NatsServer, node_factory: Callable[..., Kapfastd]
) -> None:
    single = node_factory("[stats]\n  enabled = false\n")
    ingest = node_factory(cluster_config(nats_server, "ingest", "in1"))
    first = {"w0", "w1"} if move.startswith("kill") else {"w0"}
    workers = {w: node_factory(cluster_config(nats_server, "worker", w)) for w in sorted(first)}
    task: dict[str, Any] = {"id": "win", "type": "stream", "dbrps": [{"db": "db", "rp": "autogen"}]}
    for node in (single, ingest):
        assert node.api("POST", "/tasks", {**task, "script": SCRIPT, "status": "enabled"}).status == 200
    for w in workers.values():
        wait_for(lambda w=w: w.api("GET", "/tasks/win").status == 200, what="the task on every worker")
    wait_caught_up(workers["w0"], first, balanced=True)
    for second in range(15):  # the windows [10s, 20s) are open: 5 points of each host in them
        _write([single, ingest], second)
    wait_caught_up(workers["w0"], first)
    _checkpointed(workers["w0"], first)
    if move.startswith("kill"):
        workers.pop("w0").kill()
        alive = {"w1"}
    else:
        workers["w1"] = node_factory(cluster_config(nats_server, "worker", "w1"))
        alive = {"w0", "w1"}
        # moved before the windows close (httpOut's last result is not in a checkpoint: the new
        # owner shows the windows it closes)
        wait_caught_up(workers["w1"], alive, balanced=True)
    for second in range(15, 21):  # the points at 20s close the windows [10s, 20s)
        _write([single, ingest], second)
    st = wait_caught_up(workers["w1"], alive, balanced=True)
    assert {p["owner"] for p in st["partitions"]} == alive
    want = _series([single], "win", "n")
    assert len(want) == HOSTS and all(s["values"][0][1] == 10 for s in want)
    for w in workers.values():  # asked any node: the whole cluster's answer
        assert _gathered(w, "win", "n", want) == want
    if move == "a worker added":
        # `kapfast show` against any node: the statistics of every worker summed (a clean
        # handover counts each point once; a partition whose lease lapsed on a loaded machine
        # has the points after its checkpoint counted again: at least one node's counts)
        one = _collected(single.api("GET", "/tasks/win").json())
        local = [
            _collected(w.request("GET", "/kapacitor/v1/tasks/win", headers=LOCAL).json())
            for w in workers.values()
        ]
        for node in (ingest, *workers.values()):
            got = node.api("GET", "/tasks/win").json()
            assert got["executing"] is True
            summed = _collected(got)
            assert summed.keys() == one.keys()
            for name, n in summed.items():
                assert n >= one[name] and n == sum(c[name] for c in local)
            assert "->" in got["dot"]


def _collected(task: dict[str, Any]) -> dict[str, int]:
    return {n: v["collected"] for n, v in task["stats"]["node-stats"].items()}
