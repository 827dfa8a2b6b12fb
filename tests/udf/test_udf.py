"""UDFs end to end with agents written for these tests against udf.proto only (agentlib.py):
Info at load, define-time option checks, stream and batch agents, a socket agent, and agents
that crash, hang, write garbage or answer an error (the task fails with a clear error, nothing
hangs, other tasks go on)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.config import UDFConfig, UDFFunctionConfig, from_mapping
from kapfast.engine.checkpoint import definition_hash, unpack_task
from kapfast.engine.context import TaskContext
from kapfast.engine.master import TaskMaster
from kapfast.engine.task import Task
from kapfast.errors import ConfigError, TickScriptError, UDFError
from kapfast.storage import DBRP, Storage, TaskRecord
from kapfast.tick import compile_script
from kapfast.udf import UDFService

AGENT = str(Path(__file__).with_name("agentlib.py"))
S = 1_000_000_000


def proc(kind: str, timeout: str = "5s") -> UDFFunctionConfig:
    return UDFFunctionConfig(prog=sys.executable, args=["-u", AGENT, kind], timeout=timeout)


@pytest.fixture(scope="module")
def service() -> UDFService:
    cfg = UDFConfig(
        {
            "mirror": proc("mirror"),
            "bstats": proc("batch"),
            "bmirror": proc("bmirror"),
            "crash": proc("crash"),
            "hang": proc("hang", "1s"),
            "garbage": proc("garbage"),
            "failing": proc("error"),
            "badinit": proc("badinit"),
        }
    )
    svc = UDFService(cfg)
    svc.load()
    return svc


def rows(n: int, start_s: int = 0, **tags: str) -> PointBatch:
    return PointBatch.concat(
        [
            PointBatch.from_rows([("cpu", dict(tags), {"value": float(i)}, (start_s + i) * S)])
            for i in range(n)
        ]
    )


def run_task(service: UDFService, script: str) -> tuple[Task, VirtualClock]:
    clock = VirtualClock(0)
    pipeline = compile_script(script, udfs=service.infos)
    ctx = TaskContext(task_id="t", clock=clock, services={"udf": service})
    return Task("t", pipeline, ctx), clock


# --- config ------------------------------------------------------------------------------------


def test_config_reads_kapacitord_udf_tables() -> None:
    cfg, warnings = from_mapping(
        {
            "udf": {
                "functions": {
                    "pyavg": {
                        "prog": "/usr/bin/python3",
                        "args": ["-u", "x.py"],
                        "timeout": "10s",
                        "env": {"A": "1"},
                    },
                    "sock": {"socket": "/tmp/x.sock", "timeout": "3s"},
                }
            }
        }
    )
    assert not warnings
    f = cfg.udf.functions["pyavg"]
    assert (f.prog, f.args, f.env, f.timeout_ns) == ("/usr/bin/python3", ["-u", "x.py"], {"A": "1"}, 10 * S)
    assert cfg.udf.functions["sock"].socket == "/tmp/x.sock"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"prog": "x", "timeout": "1ms"}, "UDF f: timeout is too small: 1ms"),
        ({"prog": "x"}, "UDF f: timeout is too small: 0s"),
        ({"prog": "x", "socket": "/s", "timeout": "1s"}, "UDF f: both socket and process config provided"),
        ({"timeout": "1s"}, "UDF f: must set either prog or socket"),
        ({"prog": "x", "timeout": "1s", "nope": 1}, "unknown key 'nope' in [udf.functions.f]"),
    ],
)
def test_config_validation_as_kapacitord(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        from_mapping({"udf": {"functions": {"f": table}}})


def test_load_failure_names_the_udf() -> None:
    svc = UDFService(UDFConfig({"nope": UDFFunctionConfig(prog="/nonexistent/agent", timeout="1s")}))
    with pytest.raises(ConfigError, match='failed to load process info for "nope": cannot start'):
        svc.load()


# --- define time -------------------------------------------------------------------------------


def test_info_gives_edges_and_options(service: UDFService) -> None:
    info = service.infos["mirror"]
    assert (info.wants, info.provides) == ("stream", "stream")
    assert info.options == {"every": (4,), "on": (0,), "scale": (2, 1), "tag": (3,)}
    assert (service.infos["bstats"].wants, service.infos["bstats"].provides) == ("batch", "stream")


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ("@nosuch()", "no UDF named 'nosuch'"),
        ("@mirror().tagg('x')", 'no option "tagg" on UDF mirror'),
        ("@mirror().tag(1)", "unexpected arg to tag, got INT expected STRING"),
        ("@mirror().scale(1.5)", "unexpected number of args to scale, got 1 expected 2"),
        ("@mirror().scale(1, 2)", "unexpected arg to scale, got INT expected DOUBLE"),
        ("@mirror().every(5)", "unexpected arg to every, got INT expected DURATION"),
        ("@bstats()", "@bstats() wants batch edges but from1 provides stream"),
    ],
)
def test_options_checked_at_define_time(service: UDFService, chain: str, message: str) -> None:
    with pytest.raises(TickScriptError, match=re.escape(message)):
        compile_script(f"stream|from().measurement('cpu'){chain}|httpOut('out')", udfs=service.infos)


def test_good_options_compile(service: UDFService) -> None:
    p = compile_script(
        "stream|from().measurement('cpu')@mirror().tag('x').scale(1.5, 2).every(5s).on(TRUE)|httpOut('out')",
        udfs=service.infos,
    )
    udf = next(n for n in p.nodes if n.kind == "udf")
    assert udf.name == "mirror2"


# --- running -----------------------------------------------------------------------------------


def test_stream_mirror(service: UDFService) -> None:
    task, _clock = run_task(
        service, "stream|from().measurement('cpu').groupBy('host')@mirror().tag('m')|httpOut('out')"
    )
    try:
        task.write_points(rows(3, host="a"), "db", "rp")
        task.write_points(rows(2, 10, host="b"), "db", "rp")
        body = task.http_out("out")
        assert body is not None
        series = sorted(body["series"], key=lambda s: s["tags"]["host"])
        assert [s["tags"] for s in series] == [{"host": "a", "udf": "m"}, {"host": "b", "udf": "m"}]
        last = [dict(zip(s["columns"], s["values"][-1], strict=True)) for s in series]
        assert [(r["seen"], r["value"]) for r in last] == [(3, 2.0), (5, 1.0)]
        assert task.node_stats()["mirror2"]["emitted"] == 5
    finally:
        task.finish()
    dot = task.dot()
    assert "mirror2" in dot


def test_batch_udf_wants_batch_provides_stream(service: UDFService) -> None:
    task, _ = run_task(
        service,
        "stream|from().measurement('cpu')|window().period(10s).every(10s)@bstats()|httpOut('out')",
    )
    try:
        task.write_points(rows(25), "db", "rp")
        body = task.http_out("out")
        assert body is not None
        (s,) = body["series"]
        assert s["name"] == "cpu"
        assert dict(zip(s["columns"], s["values"][0], strict=True))["count"] == 10
        assert dict(zip(s["columns"], s["values"][0], strict=True))["mean"] == 14.5
    finally:
        task.finish()


def test_batch_in_batch_out(service: UDFService) -> None:
    task, _ = run_task(
        service,
        "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)"
        "@bmirror()|httpOut('out')",
    )
    try:
        task.write_points(rows(12, host="a"), "db", "rp")
        body = task.http_out("out")
        assert body is not None
        (s,) = body["series"]
        assert (s["name"], s["tags"]) == ("cpu", {"host": "a"})
        assert s["columns"] == ["time", "seen", "value"]
        assert [v[1:] for v in s["values"]] == [[i + 1, float(i)] for i in range(10)]
        assert task.node_stats()["bmirror3"]["emitted"] == 1
    finally:
        task.finish()


@pytest.fixture
def socket_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = str(tmp_path_factory.mktemp("sock") / "agent.sock")
    server = subprocess.Popen([sys.executable, "-u", AGENT, "mirror", path])
    try:
        for _ in range(200):
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                break
            except OSError:
                time.sleep(0.02)
        yield path
    finally:
        server.kill()
        server.wait()


def test_socket_udf_one_connection_per_node(socket_agent: str) -> None:
    svc = UDFService(UDFConfig({"smirror": UDFFunctionConfig(socket=socket_agent, timeout="5s")}))
    svc.load()
    task, _ = run_task(
        svc,
        "var s = stream|from().measurement('cpu')\n"
        "s@smirror().tag('one')|httpOut('one')\n"
        "s@smirror().tag('two')|httpOut('two')",
    )
    try:
        task.write_points(rows(4), "db", "rp")
        for name in ("one", "two"):
            body = task.http_out(name)
            assert body is not None
            (s,) = body["series"]
            assert s["tags"] == {"udf": name}
            # each node has its own connection, so its own count
            assert [v[s["columns"].index("seen")] for v in s["values"]] == [4]
    finally:
        task.finish()


# --- failures ----------------------------------------------------------------------------------


def master_with(service: UDFService) -> TaskMaster:
    return TaskMaster(services={"udf": service})


def start(master: TaskMaster, task_id: str, script: str, service: UDFService) -> None:
    rec = TaskRecord(id=task_id, type="stream", dbrps=[DBRP("db", "rp")], script=script, status="enabled")
    master.start(rec, compile_script(script, udfs=service.infos))


@pytest.mark.parametrize(
    ("udf", "reason"),
    [
        ("crash", "udf2: UDF crash: process exited unexpectedly: exit status 3"),
        ("garbage", "udf2: UDF garbage: failed to read response: "),
        ("failing", "udf2: UDF failing: agent error: cannot handle points today"),
        ("hang", "udf2: UDF hang: keepalive timedout, last keepalive received was: "),
    ],
)
def test_failing_agent_fails_only_its_task(service: UDFService, udf: str, reason: str) -> None:
    master = master_with(service)
    start(master, "bad", f"stream|from().measurement('cpu')@{udf}()|httpOut('out')", service)
    start(master, "good", "stream|from().measurement('cpu')@mirror()|httpOut('out')", service)
    began = time.monotonic()
    for i in range(5):
        master.write_points("db", "rp", rows(1, i))
        master.tick()
    assert time.monotonic() - began < 10  # bounded by the 1s timeout of the hanging agent
    assert not master.is_executing("bad")
    err = master.failed["bad"].replace(f"{udf}2", "udf2")
    assert err.startswith(reason), err
    assert master.is_executing("good")
    body = master.http_out("good", "out")
    assert body is not None and len(body["series"][0]["values"]) == 1
    master.close()


def test_init_failure_is_a_start_error(service: UDFService) -> None:
    master = master_with(service)
    with pytest.raises(
        UDFError, match="badinit2: UDF badinit: failed to initialize processes option tag is required"
    ):
        start(master, "t", "stream|from().measurement('cpu')@badinit()|httpOut('out')", service)
    assert not master.is_executing("t")


def test_unconfigured_udf_is_refused_when_the_task_starts() -> None:
    pipeline = compile_script("stream|from()@mine()|httpOut('out')")
    with pytest.raises(UDFError, match=r"UDF 'mine' is not configured: add \[udf.functions.mine\]"):
        Task("t", pipeline, TaskContext(task_id="t", clock=VirtualClock(0)))


# --- snapshots ---------------------------------------------------------------------------------

MIRROR = "stream|from().measurement('cpu')@mirror()|httpOut('out')"


def udf_saved(storage: Storage, service: UDFService) -> dict[str, bytes]:
    """The UDF node's part of task "s"'s stored checkpoint ({} when none is stored; the httpOut
    node's last series are in it too, left out here)."""
    blob = storage.snapshots.get("s")
    if blob is None:
        return {}
    parts = unpack_task(blob, definition_hash(compile_script(MIRROR, udfs=service.infos)))
    return {name: part for name, part in parts.items() if name.startswith("mirror")}


def seen(master: TaskMaster, task_id: str) -> int:
    body = master.http_out(task_id, "out")
    assert body is not None
    (s,) = body["series"]
    return int(dict(zip(s["columns"], s["values"][-1], strict=True))["seen"])


def test_snapshot_on_clean_stop_restored_after_init(service: UDFService, tmp_path: Path) -> None:
    storage = Storage(tmp_path / "k.db")
    rec = TaskRecord(id="s", type="stream", dbrps=[DBRP("db", "rp")], script=MIRROR, status="enabled")
    storage.tasks.put(rec)
    first = TaskMaster(services={"udf": service}, storage=storage)
    first.start(rec, compile_script(MIRROR, udfs=service.infos))
    first.write_points("db", "rp", rows(3))
    first.close()  # a clean stop takes a snapshot
    assert udf_saved(storage, service) == {"mirror2": b"3"}
    again = TaskMaster(services={"udf": service}, storage=storage)
    again.start(rec, compile_script(MIRROR, udfs=service.infos))
    again.write_points("db", "rp", rows(1, 10))
    assert seen(again, "s") == 4  # the new agent got the old one's state back
    again.close()
    storage.tasks.delete("s")
    assert udf_saved(storage, service) == {}  # deleted with the task
    storage.close()


def test_snapshot_every_interval(service: UDFService, tmp_path: Path) -> None:
    storage = Storage(tmp_path / "k.db")
    clock = VirtualClock(0)
    master = TaskMaster(clock=clock, services={"udf": service}, storage=storage, snapshot_interval_ns=10 * S)
    rec = TaskRecord(id="s", type="stream", dbrps=[DBRP("db", "rp")], script=MIRROR, status="enabled")
    master.start(rec, compile_script(MIRROR, udfs=service.infos))
    master.write_points("db", "rp", rows(2))
    master.tick()
    clock.set(10 * S)  # past any splay in [0, 10s)
    master.tick()
    master.wait_checkpoints()  # written on the checkpoint thread
    assert udf_saved(storage, service) == {"mirror2": b"2"}
    master.write_points("db", "rp", rows(1, 5))
    clock.set(15 * S)
    master.tick()  # not due again before 20s
    master.wait_checkpoints()
    assert udf_saved(storage, service) == {"mirror2": b"2"}
    clock.set(21 * S)
    master.tick()
    master.wait_checkpoints()
    assert udf_saved(storage, service) == {"mirror2": b"3"}
    master.tasks["s"].abort()  # as a crash: no snapshot on the way out
    storage.close()


def test_answers_taken_as_they_arrive_when_the_master_runs_on_a_loop(service: UDFService) -> None:
    """kapfastd's mode: a chunk is one write; the agent's reader thread wakes the loop, which
    emits the answers; an agent that dies while idle fails its task without waiting for data."""
    import asyncio

    async def scenario() -> tuple[int, str]:
        master = master_with(service)
        master.bind_loop(asyncio.get_running_loop())
        start(master, "m", MIRROR, service)
        start(master, "c", "stream|from().measurement('cpu')@crash()|httpOut('out')", service)
        for i in range(3):
            master.write_points("db", "rp", rows(1, i))
        for _ in range(500):
            await asyncio.sleep(0.01)
            body = master.http_out("m", "out")
            if body and body["series"] and not master.is_executing("c"):
                break
        count = seen(master, "m")
        failed = master.failed.get("c", "")
        master.close()
        return count, failed

    count, failed = asyncio.run(scenario())
    assert count == 3
    assert failed == "crash2: UDF crash: process exited unexpectedly: exit status 3"


def test_hanging_agent_found_by_keepalives_when_answers_are_not_awaited(service: UDFService) -> None:
    """kapfastd's mode: nothing waits for a hung agent's answers; the keepalives sent on the
    clock tick (every timeout/2) go unanswered and the task fails after its 1s timeout."""
    import asyncio

    async def scenario() -> tuple[float, str]:
        master = master_with(service)
        master.bind_loop(asyncio.get_running_loop())
        start(master, "h", "stream|from().measurement('cpu')@hang()|httpOut('out')", service)
        began = time.monotonic()
        for i in range(3):
            master.write_points("db", "rp", rows(1, i))
        while master.is_executing("h") and time.monotonic() - began < 10:
            await asyncio.sleep(0.1)
            master.tick()
        took = time.monotonic() - began
        failed = master.failed.get("h", "")
        master.close()
        return took, failed

    took, failed = asyncio.run(scenario())
    assert failed.startswith("hang2: UDF hang: keepalive timedout, last keepalive received was: "), failed
    assert took < 5
