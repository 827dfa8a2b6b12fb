"""kapfastd with a real InfluxDB 1.x: subscriptions delivering Telegraf-like writes, InfluxDB
down at boot, query and batch recordings."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, influxdb_config

from kapfast.recordings import read_batch_recording, read_stream_recording

DBRPS = [{"db": "subs", "rp": "autogen"}]
SCRIPT = """stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 10)
"""


def influx_query(server: Any, q: str, db: str = "") -> list[dict[str, Any]]:
    data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ns"}).encode()
    with urllib.request.urlopen(server.url + "/query", data=data, timeout=10) as resp:
        return list(json.loads(resp.read())["results"])


def influx_write(server: Any, db: str, body: str) -> None:
    req = urllib.request.Request(f"{server.url}/write?db={db}", data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204


def subscriptions(server: Any) -> dict[tuple[str, str, str], list[str]]:
    out = {}
    for s in influx_query(server, "SHOW SUBSCRIPTIONS")[0].get("series") or []:
        for rp, name, mode, dests in s["values"]:
            del mode
            out[(s["name"], rp, name)] = dests
    return out


def wait_for(cond: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_subscription_delivers_writes_into_a_recording(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    influx_query(influxdb, "CREATE DATABASE subs")
    k = kapfastd_factory(influxdb_config(influxdb))
    name = "kapfast-" + k.api("GET", "/debug/vars").json()["cluster_id"]
    subs = wait_for(
        lambda: {key: v for key, v in subscriptions(influxdb).items() if key[0] == "subs"},
        what="subscription",
    )
    assert subs == {("subs", "autogen", name): [f"http://127.0.0.1:{k.port}"]}
    assert k.api("GET", "/debug/vars").json()["num_subscriptions"] == 1
    assert k.api("POST", "/tasks", {"id": "cpu_alert", "dbrps": DBRPS, "script": SCRIPT}).status == 200
    assert (
        k.api(
            "POST",
            "/recordings/stream",
            {"id": "live", "task": "cpu_alert", "stop": rfc3339(time.time() + 4)},
        ).status
        == 201
    )
    # What Telegraf sends to InfluxDB: kapfastd gets it through the subscription.
    now = time.time_ns()
    influx_write(
        influxdb,
        "subs",
        f"cpu,cpu=cpu-total,host=h1 usage_idle=3.5,usage_user=90 {now}\nmem,host=h1 used=1i {now}\n",
    )
    done = k.wait_status("recordings", "live", timeout_s=15)
    assert done["status"] == "finished", done
    records = list(read_stream_recording(k.data_dir / "replay" / "live.srpl"))
    assert [(r.db, r.rp) for r in records] == [("subs", "autogen")]
    assert records[0].line.startswith(b"cpu,cpu=cpu-total,host=h1 ")
    # A manual relink answers 204; the subscription is still exactly one.
    assert k.api("POST", "/subscriptions").status == 204
    assert [key for key in subscriptions(influxdb) if key[0] == "subs"] == [("subs", "autogen", name)]


def test_influxdb_down_at_boot_is_retried(
    influxdb_factory: Callable[..., Any], kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    server = influxdb_factory()
    k = kapfastd_factory(influxdb_config(server))  # InfluxDB is not running yet: not fatal
    assert k.api("GET", "/ping").status == 204
    assert k.write("cpu v=1 1").status == 204  # ingestion works meanwhile
    relink = k.api("POST", "/subscriptions")
    assert relink.status == 500 and "default" in relink.json()["error"]
    server.start()
    influx_query(server, "CREATE DATABASE late")
    wait_for(
        lambda: any(key[0] == "late" for key in subscriptions(server)), timeout_s=30, what="late subscription"
    )


def test_query_and_batch_recordings(influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    influx_query(influxdb, "CREATE DATABASE qrec")
    base = (int(time.time()) - 600) * 10**9
    lines = "\n".join(f"cpu,host=h{i % 2} usage_idle={i}.5 {base + i * 10**9}" for i in range(20))
    influx_write(influxdb, "qrec", lines)
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    q = 'SELECT usage_idle FROM "qrec"."autogen"."cpu" GROUP BY host'
    assert k.api("POST", "/recordings/query", {"id": "qs", "type": "stream", "query": q}).status == 201
    assert k.wait_status("recordings", "qs")["status"] == "finished"
    recs = list(read_stream_recording(k.data_dir / "replay" / "qs.srpl"))
    assert len(recs) == 20 and {(r.db, r.rp) for r in recs} == {("qrec", "autogen")}
    assert recs[0].line == f"cpu,host=h0 usage_idle=0.5 {base}".encode()
    assert k.api("POST", "/recordings/query", {"id": "qb", "type": "batch", "query": q}).status == 201
    assert k.wait_status("recordings", "qb")["status"] == "finished"
    batches = list(read_batch_recording(k.data_dir / "replay" / "qb.brpl"))
    assert [(b.name, b.tags, len(b.points)) for b in batches] == [
        ("cpu", {"host": "h0"}, 10),
        ("cpu", {"host": "h1"}, 10),
    ]
    bad = k.api("POST", "/recordings/query", {"id": "qx", "type": "stream", "query": "SELECT * FROM nowhere"})
    assert bad.status == 400 and "fully qualified" in bad.json()["error"]
    failing = k.api("POST", "/recordings/query", {"id": "qf", "type": "batch", "query": "SELEC nonsense"})
    assert failing.status == 201
    failed = k.wait_status("recordings", "qf")
    assert failed["status"] == "failed" and "error parsing query" in failed["error"]
    # A batch task's recording runs its query() once per period between start and stop.
    batch_script = (
        'batch\n    |query(\'SELECT mean(usage_idle) AS m FROM "qrec"."autogen"."cpu"\')\n'
        "        .period(10s)\n        .every(10s)\n        .groupBy('host')\n"
    )
    assert (
        k.api(
            "POST", "/tasks", {"id": "b", "dbrps": [{"db": "qrec", "rp": "autogen"}], "script": batch_script}
        ).status
        == 200
    )
    start, stop = rfc3339(base / 1e9), rfc3339(base / 1e9 + 20)
    assert (
        k.api("POST", "/recordings/batch", {"id": "br", "task": "b", "start": start, "stop": stop}).status
        == 201
    )
    done = k.wait_status("recordings", "br")
    assert done["status"] == "finished", done
    got = list(read_batch_recording(k.data_dir / "replay" / "br.brpl"))
    assert [(b.tags["host"], b.tmax_ns) for b in got] == [
        ("h0", base + 10 * 10**9),
        ("h1", base + 10 * 10**9),
        ("h0", base + 20 * 10**9),
        ("h1", base + 20 * 10**9),
    ]
    assert got[0].points[0].fields == {"m": 4.5}  # mean of 0.5, 2.5, ..., 8.5


def test_subscription_comes_back_after_influxdb_restart_and_manual_drop(
    influxdb_factory: Callable[..., Any], kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    server = influxdb_factory()
    server.start()
    influx_query(server, "CREATE DATABASE tg")
    k = kapfastd_factory(influxdb_config(server))
    name = "kapfast-" + k.api("GET", "/debug/vars").json()["cluster_id"]
    wait_for(lambda: ("tg", "autogen", name) in subscriptions(server), what="subscription")
    server.stop()
    assert k.write("cpu v=1 1").status == 204  # InfluxDB down: kapfastd keeps serving
    server.start()
    influx_query(server, f'DROP SUBSCRIPTION "{name}" ON "tg"."autogen"')
    wait_for(lambda: ("tg", "autogen", name) in subscriptions(server), timeout_s=30, what="re-created")
    # Data written to InfluxDB after the restart reaches kapfastd again.
    influx_write(server, "tg", f"cpu,host=h usage_idle=1 {time.time_ns()}")

    def received() -> bool:
        vars_ = k.api("GET", "/debug/vars").json()["kapacitor"]
        return any(v["name"] == "ingress" and v["tags"]["database"] == "tg" for v in vars_.values())

    wait_for(received, what="points through the re-created subscription")


def test_replays_straight_from_influxdb(influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    influx_query(influxdb, "CREATE DATABASE rq")
    base = (int(time.time()) - 600) * 10**9
    influx_write(influxdb, "rq", "\n".join(f"cpu,host=h usage_idle={i} {base + i * 10**9}" for i in range(5)))
    k = kapfastd_factory(influxdb_config(influxdb, disable_subscriptions="true"))
    batch_script = (
        'batch\n    |query(\'SELECT mean(usage_idle) AS m FROM "rq"."autogen"."cpu"\')\n'
        "        .period(10s)\n        .every(10s)\n"
    )
    dbrps = [{"db": "rq", "rp": "autogen"}]
    assert k.api("POST", "/tasks", {"id": "b", "dbrps": dbrps, "script": batch_script}).status == 200
    assert k.api("POST", "/tasks", {"id": "s", "dbrps": dbrps, "script": SCRIPT}).status == 200
    start, stop = rfc3339(base / 1e9), rfc3339(base / 1e9 + 10)
    stream_task = k.api("POST", "/replays/batch", {"task": "s", "start": start, "stop": stop})
    assert stream_task.status == 400 and "stream task" in stream_task.json()["error"]
    rb = k.api("POST", "/replays/batch", {"id": "rb", "task": "b", "start": start, "stop": stop})
    assert rb.status == 201, rb
    assert rb.json()["recording"] == ""
    rq = k.api(
        "POST", "/replays/query", {"id": "rq", "task": "s", "query": 'SELECT * FROM "rq"."autogen"."cpu"'}
    )
    assert rq.status == 201, rq
    bad = k.api(
        "POST", "/replays/query", {"id": "bad", "task": "s", "query": 'SELEC * FROM "rq"."autogen"."cpu"'}
    )
    assert bad.status == 201
    for ident in ("rb", "rq"):
        done = k.wait_status("replays", ident)
        assert (done["status"] == "failed") == bool(done["error"]), done
        assert "querying InfluxDB failed" not in done["error"]
    failed = k.wait_status("replays", "bad")
    assert failed["status"] == "failed" and failed["error"].startswith("querying InfluxDB failed: ")
    assert not list((k.data_dir / "replay").glob("replay-*"))  # the fetched data is not kept
