"""Recordings and replays of a cluster (docs/scaleout.md, "Recordings and replays"): a stream
recording made on one node reads the cluster's stream, whatever node ingested the points; any
node lists it, gets it and replays it, with the answer one kapfastd gives."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import Callable
from typing import Any

import nats
import pytest
from kapfastd_proc import Kapfastd, wait_for
from tests.engine.recorder import Recorder

from .conftest import NatsServer, cluster_config

pytestmark = pytest.mark.integration

T0 = 1_577_836_800  # 2020-01-01T00:00:00Z, in seconds
STOP = "2020-01-01T00:00:29Z"


def _script(url: str) -> str:
    return (
        "stream|from().measurement('m').groupBy('host')"
        "|window().period(10s).every(10s)|count('v')"
        f"|alert().id('{{{{ index .Tags \"host\" }}}}').crit(lambda: \"count\" > 0).post('{url}')"
    )


def _finished(node: Kapfastd, resource: str, ident: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        ans = node.api("GET", f"/{resource}/{ident}")
        if ans.status == 200 and ans.json()["status"] != "running":
            return dict(ans.json())
        return None

    got: dict[str, Any] = wait_for(done, 60, f"{resource} {ident} finished on {node.url}")
    assert got["status"] == "finished", got
    return got


def _write(node: Kapfastd, body: str, db: str = "db") -> None:
    ans = node.write(body, f"db={db}&rp=autogen&precision=s")
    assert ans.status == 204, ans


def _alerts(hook: Recorder) -> list[tuple[str, str, Any]]:
    out = []
    for req in list(hook.requests):
        doc = json.loads(req.body)
        out.append((doc["id"], doc["level"], doc["data"]["series"][0]["values"]))
    return sorted(out)


def _recording_consumers(server: NatsServer) -> list[str]:
    async def names() -> list[str]:
        nc = await nats.connect(server.url)
        try:
            return [c.name for c in await nc.jetstream().consumers_info("KAPFAST_IN")]
        finally:
            await nc.close()

    return [n for n in asyncio.run(names()) if n.startswith("kapfast-r-")]


def _comparable(stats: dict[str, Any]) -> dict[str, Any]:
    """A replay's stats without what measures the machine (execution times, throughput)."""
    nodes = {
        n: {k: v for k, v in s.items() if k not in ("avg_exec_time_ns",)}
        for n, s in stats["node-stats"].items()
    }
    task = {k: v for k, v in stats["task-stats"].items() if k != "throughput"}
    return {"task": task, "nodes": nodes}


def test_a_stream_recording_on_one_node_holds_what_every_node_ingested_and_replays_on_any(
    nats_server: NatsServer, node_factory: Callable[..., Kapfastd]
) -> None:
    single = node_factory("[stats]\n  enabled = false\n")
    a = node_factory(cluster_config(nats_server, "worker", "a"))
    b = node_factory(cluster_config(nats_server, "ingest", "b"))
    c = node_factory(cluster_config(nats_server, "both", "c"))
    with Recorder() as single_hook, Recorder() as cluster_hook:
        for node, hook in ((single, single_hook), (a, cluster_hook)):
            # defined, not enabled: the only alerts are the replays'
            task = {"id": "t", "type": "stream", "dbrps": [{"db": "db", "rp": "autogen"}]}
            ans = node.api("POST", "/tasks", {**task, "script": _script(hook.url)})
            assert ans.status == 200, ans
        for n in (b, c):
            wait_for(lambda n=n: n.api("GET", "/tasks/t").status == 200, what="the task on every node")
        # written before the recording starts: in neither recording
        for node in (single, b):
            _write(node, f"m,host=h0 v=100 {T0}\n")
        for node in (single, a):
            ans = node.api("POST", "/recordings/stream", {"id": "r1", "task": "t", "stop": STOP})
            assert ans.status == 201, ans
            assert ans.json()["status"] == "running"
        for second in range(30):
            # every request spans several partitions (hosts), some points not the task's
            body = "".join(f"m,host=h{h} v={h + second} {T0 + second}\n" for h in range(12))
            body += f"other,host=h1 v=1 {T0 + second}\n"
            for node in (single, b if second % 2 == 0 else c):  # the cluster's through two nodes
                _write(node, body)
                _write(node, f"m,host=h2 v=7 {T0 + second}\n", db="elsewhere")
        # a point past `stop` ends both recordings (data time, as Kapacitor)
        for node in (single, b):
            _write(node, f"m,host=h3 v=1 {T0 + 60}\n")
        want = _finished(single, "recordings", "r1")
        # the recording's consumer of the stream goes with its end
        wait_for(lambda: not _recording_consumers(nats_server), what="the recording's consumer deleted")
        # listed and got from every node, the cluster's recording made on a
        for node in (a, b, c):
            got = _finished(node, "recordings", "r1")
            assert got["type"] == "stream" and got["id"] == "r1" and got["size"] > 0
            listed = node.api("GET", "/recordings").json()["recordings"]
            assert [r["id"] for r in listed] == ["r1"]
        assert want["size"] > 0
        # replayed on c (which did not make it: fetched from the object store), as on one node
        replay = {"id": "rp1", "task": "t", "recording": "r1", "recording-time": True}
        for node in (single, c):
            ans = node.api("POST", "/replays", replay)
            assert ans.status == 201, ans
        want_replay = _finished(single, "replays", "rp1")
        got_replay = _finished(c, "replays", "rp1")
        assert want_replay["stats"]["task-stats"]["points"] == 12 * 30
        assert _comparable(got_replay["stats"]) == _comparable(want_replay["stats"])
        wait_for(lambda: len(cluster_hook.requests) >= len(single_hook.requests) > 0, what="the alerts")
        assert _alerts(cluster_hook) == _alerts(single_hook)
        # any node lists the replay made on c
        got = _finished(a, "replays", "rp1")
        assert got["recording"] == "r1" and got["task"] == "t"
        assert [r["id"] for r in b.api("GET", "/replays").json()["replays"]] == ["rp1"]
        # an id the cluster has is refused on any node
        ans = b.api("POST", "/recordings/stream", {"id": "r1", "task": "t", "stop": STOP})
        assert ans.status == 400 and "already exists" in ans.json()["error"], ans
    # deleted on b: gone everywhere (a's own copy too)
    assert b.api("DELETE", "/recordings/r1").status == 204
    assert b.api("DELETE", "/replays/rp1").status == 204
    for node in (a, b, c):
        wait_for(lambda node=node: node.api("GET", "/recordings/r1").status == 404, what="r1 deleted")
        wait_for(lambda node=node: node.api("GET", "/replays/rp1").status == 404, what="rp1 deleted")
        assert node.api("GET", "/recordings").json()["recordings"] == []


def _rfc3339(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_stream_recording_ends_at_its_stop_on_the_clock_with_the_points_written_before(
    nats_server: NatsServer, node_factory: Callable[..., Kapfastd]
) -> None:
    """No point past ``stop`` comes: the recording ends when the clock passes it, after reading
    what the stream holds up to then (points another node ingested). A node that leaves the
    cluster while recording has its recording shown failed by the others."""
    a = node_factory(cluster_config(nats_server, "worker", "a"))
    b = node_factory(cluster_config(nats_server, "ingest", "b"))
    script = "stream|from().measurement('m')|count('v')"
    task = {"id": "t", "type": "stream", "dbrps": [{"db": "db", "rp": "autogen"}], "script": script}
    assert b.api("POST", "/tasks", task).status == 200
    wait_for(lambda: a.api("GET", "/tasks/t").status == 200, what="the task on a")
    stop = time.time() + 6
    ans = a.api("POST", "/recordings/stream", {"id": "timed", "task": "t", "stop": _rfc3339(stop)})
    assert ans.status == 201, ans
    ans = a.api("POST", "/recordings/stream", {"id": "left", "task": "t", "stop": _rfc3339(stop + 3600)})
    assert ans.status == 201, ans
    now = int(time.time())
    for i in range(10):
        _write(b, "".join(f"m,host=h{h} v={i} {now}\n" for h in range(12)))
    got = _finished(b, "recordings", "timed")  # seen from b: the mirror of a's
    assert got["size"] > 0
    assert b.api("POST", "/replays", {"id": "rp", "task": "t", "recording": "timed"}).status == 201
    assert _finished(b, "replays", "rp")["stats"]["task-stats"]["points"] == 10 * 12
    assert b.api("GET", "/recordings/left").json()["status"] == "running"
    a.kill()

    def failed() -> dict[str, Any] | None:
        doc = dict(b.api("GET", "/recordings/left").json())
        return doc if doc["status"] == "failed" else None

    assert "left the cluster" in wait_for(failed, 60, "the recording of a node gone shown failed")["error"]
