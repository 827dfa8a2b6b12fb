"""``kapfast test`` (the offline runner) and ``TaskMaster`` (what the server calls)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kapfast._native import PointBatch
from kapfast.cli.main import main
from kapfast.clock import VirtualClock
from kapfast.engine.master import TaskMaster
from kapfast.errors import TaskError
from kapfast.storage import TaskRecord
from kapfast.storage.stores import DBRP
from kapfast.tick import compile_script

SCRIPT = """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |count('value')
    |httpOut('out')
"""


def srpl(points: list[tuple[str, int]]) -> bytes:
    return b"".join(f"db\nrp\ncpu,host={h} value=1 {t}\n".encode() for h, t in points)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["test", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_kapfast_test_gzipped_without_clock_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.tick").write_text(SCRIPT)
    # gzipped recordings (what Kapacitor and kapfast record) have ns timestamps
    base = 1_600_000_000 * 10**9
    (tmp_path / "d.srpl.gz").write_bytes(gzip.compress(srpl([("a", base + i * 10**9) for i in range(12)])))
    code, out, _ = run_cli([str(tmp_path / "s.tick"), "--data", str(tmp_path / "d.srpl.gz")], capsys)
    assert code == 0
    body = json.loads(out)["http_out"]["out"]
    assert body["series"][0]["values"] == [["2020-09-13T12:26:50Z", 10]]


def test_kapfast_test_clock_zero_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.tick").write_text(SCRIPT)
    (tmp_path / "d.srpl").write_bytes(srpl([("a", 100 + i) for i in range(12)]))
    args = [
        str(tmp_path / "s.tick"),
        "--data",
        str(tmp_path / "d.srpl"),
        "--clock-zero",
        "1971-01-01T00:00:00Z",
    ]
    code, out, _ = run_cli([*args, "--duration", "13s"], capsys)
    assert code == 0
    assert json.loads(out)["http_out"]["out"]["series"][0]["values"] == [["1971-01-01T00:00:10Z", 10]]
    code, out, _ = run_cli([*args, "--summary"], capsys)
    assert code == 0 and "httpOut out: 1 series" in out and "window2: collected=12" in out
    code, out, _ = run_cli([*args, "--precision", "ms"], capsys)
    assert code == 0 and json.loads(out)["http_out"]["out"]["series"] is None  # 12 ms of data


def test_kapfast_test_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.tick").write_text(SCRIPT)
    # 12 points at 0..11 s of two hosts: one 10 s window each closed by the points at 10 and 11 s
    (tmp_path / "d.srpl").write_bytes(srpl([("ab"[i % 2], i) for i in range(12)]))
    code, out, _ = run_cli([str(tmp_path / "s.tick"), "--data", str(tmp_path / "d.srpl"), "--stats"], capsys)
    assert code == 0
    stats = json.loads(out)["stats"]
    assert stats["task-stats"]["points"] == 12
    ns = stats["node-stats"]
    got = {n: (s["collected"], s["emitted"], s["working_cardinality"]) for n, s in ns.items()}
    assert got == {
        "stream0": (12, 12, 0),
        "from1": (12, 12, 0),
        "window2": (12, 2, 2),  # points in, one batch per host out
        "count3": (2, 2, 2),
        "http_out4": (2, 0, 2),
    }
    assert all(isinstance(s["avg_exec_time_ns"], int) for s in ns.values())
    # the window holds its 12 points (the closed windows' too, until their next emit purges them)
    assert stats["kapfast-node-stats"] == {"window2": {"buffered_points": 12}}


def test_kapfast_test_bad_script_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.tick").write_text("stream|from().nope()")
    code, _, err = run_cli([str(tmp_path / "bad.tick")], capsys)
    assert code != 0 and "bad.tick:1:" in err


def test_kapfast_test_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.tick").write_text(SCRIPT)
    code, _, err = run_cli([str(tmp_path / "s.tick"), "--data", str(tmp_path / "none.srpl")], capsys)
    assert code != 0 and "no such recording" in err


def record(script: str = SCRIPT) -> TaskRecord:
    return TaskRecord(id="cpu", type="stream", dbrps=[DBRP("db", "rp")], script=script)


def test_task_master_routes_points_by_dbrp() -> None:
    tm = TaskMaster(clock=VirtualClock(0))
    tm.start(record(), compile_script(SCRIPT))
    assert tm.is_executing("cpu")
    rows = [("cpu", {"host": "a"}, {"value": 1.0}, i * 1_000_000_000) for i in range(12)]
    batch = PointBatch.from_rows(rows)
    tm.write_points("other", "rp", batch)  # not this task's dbrp
    assert tm.http_out("cpu", "out") == {"series": None}
    tm.write_points("db", "rp", batch)
    body = tm.http_out("cpu", "out")
    assert body is not None and body["series"][0]["values"] == [["1970-01-01T00:00:10Z", 10]]
    stats = tm.stats("cpu")
    assert stats["node-stats"]["from1"]["collected"] == 12
    assert "window2 -> count3" in tm.dot("cpu", True)
    tm.stop("cpu")
    assert not tm.is_executing("cpu") and tm.http_out("cpu", "out") is None
    with pytest.raises(TaskError):
        tm.stats("cpu")


def test_task_master_replay(tmp_path: Path) -> None:
    path = tmp_path / "r.srpl"
    path.write_bytes(srpl([("a", 100 + i) for i in range(12)]))
    tm = TaskMaster(clock=VirtualClock(5_000_000_000))
    st = tm.replay(record(), compile_script(SCRIPT), path, replay_id="r1", recording_time=True)
    assert st["task-stats"]["points"] == 12 and st["task-stats"]["first"] == 100_000_000_000
    assert st["node-stats"]["window2"]["emitted"] == 1
    st = tm.replay(record(), compile_script(SCRIPT), str(path), replay_id="r2", clock="fast")
    assert st["task-stats"]["first"] == 5_000_000_000
    with pytest.raises(TaskError):
        tm.replay(record(), compile_script(SCRIPT), path, replay_id="r3", clock="slow")
    with pytest.raises(TaskError, match="does not exist"):
        tm.replay(record(), compile_script(SCRIPT), tmp_path / "none.srpl", replay_id="r4")


JOIN_SCRIPT = """
var a = batch|query('SELECT v FROM "db"."rp"."a"').period(10s).every(10s)
var b = batch|query('SELECT v FROM "db"."rp"."b"').period(10s).every(10s)
a|join(b).as('a', 'b')|httpOut('out')
"""


def test_kapfast_test_reads_a_batch_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kapfast.recordings import BatchArchiveWriter, RecordedBatch, RecordedPoint

    (tmp_path / "j.tick").write_text(JOIN_SCRIPT)
    t = 1_600_000_000 * 10**9
    # sources feed the query nodes in the pipeline's order (Kapacitor's): here b's query first
    queries = [n.args[0] for n in compile_script(JOIN_SCRIPT).nodes if n.kind == "query"]
    assert '"b"' in queries[0]
    feeds = ((0, "b", 2.0), (1, "a", 1.0))
    with BatchArchiveWriter(tmp_path / "r.brpl", 2) as w:
        for src, name, v in feeds:
            w.write(src, RecordedBatch(name, {}, [RecordedPoint(t, {"v": v}, {})], t + 10**10, t + 10**10))
    code, out, err = run_cli([str(tmp_path / "j.tick"), "--data", str(tmp_path / "r.brpl")], capsys)
    assert code == 0, err
    series = json.loads(out)["http_out"]["out"]["series"]
    assert series[0]["columns"] == ["time", "a.v", "b.v"]
    assert series[0]["values"] == [["2020-09-13T12:26:40Z", 1.0, 2.0]]
