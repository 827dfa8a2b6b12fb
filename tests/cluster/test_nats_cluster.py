"""The scale-out cluster on a 3-node NATS cluster (JetStream clustered, ``replicas = 3``): the
NATS server leading the stream is killed -9 in the middle of a stream, and the cluster's outputs
still equal one kapfastd's (no point lost or counted twice, no alert lost or repeated)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from kapfastd_proc import Kapfastd, wait_for
from tests.engine.recorder import Recorder

from .conftest import NATS_SERVER, NatsServer, cluster_config, nats_cluster
from .test_cluster import _gathered, _seen, _series

pytestmark = pytest.mark.integration

#: above a JetStream leader election (seconds on a loaded machine): a worker's leases ride it out
LEASE_TTL = "10s"


async def _jetstream_ready(urls: list[str]) -> bool:
    """The cluster elected its JetStream meta leader (account info answers)."""
    try:
        nc = await nats.connect(servers=urls, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        await nc.jetstream(timeout=1).account_info()
        return True
    except Exception:
        return False
    finally:
        await nc.close()


async def _stream_leader(urls: list[str], stream: str) -> str:
    nc = await nats.connect(servers=urls)
    try:
        info = await nc.jetstream(timeout=2).stream_info(stream)
        assert info.cluster is not None and info.config.num_replicas == 3
        return str(info.cluster.leader)
    finally:
        await nc.close()


@pytest.fixture
def nats_servers(tmp_path: Path) -> Iterator[list[NatsServer]]:
    if NATS_SERVER is None:
        pytest.skip("nats-server is not installed (make system-deps)")
    servers = nats_cluster(tmp_path, 3)
    for s in servers:
        s.start()
    try:
        urls = [s.url for s in servers]
        wait_for(lambda: asyncio.run(_jetstream_ready(urls)), 30, "the NATS cluster's JetStream")
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_a_nats_server_killed_mid_stream_changes_no_output(
    nats_servers: list[NatsServer], node_factory: Callable[..., Kapfastd]
) -> None:
    urls = [s.url for s in nats_servers]
    conf = {"lease_ttl": LEASE_TTL, "replicas": "3"}
    single = node_factory("[stats]\n  enabled = false\n")
    ingest = node_factory(cluster_config(nats_servers, "ingest", "in1", **conf))
    workers = [node_factory(cluster_config(nats_servers, "worker", f"w{i}", **conf)) for i in range(2)]
    alive = {"w0", "w1"}
    with Recorder() as hook, Recorder() as single_hook:
        for node, url in ((ingest, hook.url), (single, single_hook.url)):
            alert = (
                "stream|from().measurement('m').groupBy('host')"
                f"|alert().id('{{{{ index .Tags \"host\" }}}}').crit(lambda: TRUE).post('{url}')"
            )
            counts = "stream|from().measurement('m').groupBy('host')|window().period(10s).every(10s)"
            counts += "|count('v')"
            for task_id, script in (("alerts", alert), ("counts", counts + "|httpOut('n')")):
                task = {"id": task_id, "type": "stream", "dbrps": [{"db": "db", "rp": "autogen"}]}
                ans = node.api("POST", "/tasks", {**task, "script": script, "status": "enabled"})
                assert ans.status == 200, ans
        for w in workers:
            wait_for(lambda w=w: w.api("GET", "/tasks/counts").status == 200, what="the tasks on the workers")
        # both workers own their share, so that what follows tests the NATS failover alone
        wait_for(
            lambda: _caught_up(workers[0], alive, balanced=True), 60, "the workers to share the partitions"
        )
        hosts = 16
        sent: list[tuple[str, int]] = []

        def write(round_: int) -> None:
            body = "".join(f"m,host=h{h} v={round_} {round_ * 1_000_000_000 + h}\n" for h in range(hosts))
            assert single.write(body, "db=db&rp=autogen").status == 204
            # the ingest node retries a publish JetStream did not acknowledge (same message id:
            # stored once) for 10 s; a longer election answers 503 and the writer retries, as
            # Telegraf and the InfluxDB clients do
            deadline = time.monotonic() + 60
            while (ans := ingest.write(body, "db=db&rp=autogen")).status != 204:
                assert ans.status == 503 and time.monotonic() < deadline, ans
                time.sleep(0.2)
            sent.extend((f"h{h}", round_ * 1_000_000_000 + h) for h in range(hosts))

        for r in range(15):
            write(r)
        leader = asyncio.run(_stream_leader(urls, "KAPFAST_IN"))
        victim = next(s for s in nats_servers if s.extra_args[1] == leader)
        assert victim.proc is not None
        victim.proc.kill()  # -9, mid-stream: the stream's leader
        victim.proc.wait()
        for r in range(15, 31):  # the point at 30s closes the windows [20s, 30s)
            write(r)
        wait_for(lambda: _caught_up(workers[0], alive), 120, "the cluster to catch up after the kill")
        wait_for(lambda: set(_seen(hook)) >= set(sent), 30, "every point's event")
        # the single node's handlers post from their own thread after the 204 too
        wait_for(lambda: set(_seen(single_hook)) >= set(sent), 30, "every point's event on the single node")
        events = _seen(hook)
        assert sorted(_seen(single_hook)) == sorted(sent)
    assert sorted(events) == sorted(sent), f"{len(events) - len(set(events))} events repeated"
    want = _series([single], "counts", "n")
    assert want
    for w in workers:  # each answers for the whole cluster
        assert _gathered(w, "counts", "n", want) == want


def _caught_up(node: Kapfastd, alive: set[str], *, balanced: bool = False) -> bool:
    """test_cluster.wait_caught_up's condition (and with ``balanced`` every partition owned by the
    worker whose share it is, so that no partition moves later); a status that fails while NATS
    fails over is "not yet"."""
    ans = node.api("GET", "/cluster")
    if ans.status != 200:
        return False
    st: dict[str, Any] = ans.json()
    order = sorted(alive)  # the workers' shares: partition p is order[p % n]'s
    if balanced and any(p["owner"] != order[p["partition"] % len(order)] for p in st["partitions"]):
        return False
    feeds = [*st["partitions"], *st["placed_tasks"]]
    return all(f["owner"] in alive and f["lag"] == 0 and f["ack_pending"] == 0 for f in feeds)
