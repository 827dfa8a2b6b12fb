"""kapacitorLoopback, as Kapacitor's kapacitor_loopback.go: points written back into the task
master's stream under the node's db/rp (measurement and tags set), read there by other tasks."""

from __future__ import annotations

import pytest

from kapfast._native import PointBatch
from kapfast.clock import VirtualClock
from kapfast.engine.master import TaskMaster
from kapfast.errors import InputError, TaskError
from kapfast.storage import TaskRecord
from kapfast.storage.stores import DBRP
from kapfast.tick import compile_script

S = 1_000_000_000

WRITER = """
stream|from().measurement('cpu')
  |eval(lambda: "value" * 2.0).as('double')
  |kapacitorLoopback().database('loop').retentionPolicy('autogen').measurement('cpu2').tag('via', 'lb')
"""
READER = """
stream|from().measurement('cpu2').groupBy('host')|httpOut('out')
"""
BATCH_WRITER = """
stream|from().measurement('cpu').groupBy('host')
  |window().period(10s).every(10s)
  |kapacitorLoopback().database('loop').retentionPolicy('autogen').measurement('ignored').tag('via', 'w')
"""
READER_ANY = """
stream|from().groupBy('host')|httpOut('out')
"""


def rec(ident: str, db: str, rp: str, script: str) -> TaskRecord:
    return TaskRecord(id=ident, type="stream", dbrps=[DBRP(db, rp)], script=script)


def points(*rows: tuple[str, dict[str, str], dict[str, float], int]) -> PointBatch:
    return PointBatch.from_rows(list(rows))


def test_stream_points_loop_back_into_another_dbrp() -> None:
    tm = TaskMaster(clock=VirtualClock(0))
    tm.start(rec("w", "telegraf", "autogen", WRITER), compile_script(WRITER))
    tm.start(rec("r", "loop", "autogen", READER), compile_script(READER))
    tm.write_points("telegraf", "autogen", points(("cpu", {"host": "a"}, {"value": 1.5}, 7 * S)))
    body = tm.http_out("r", "out")
    assert body is not None
    assert body["series"] == [
        {
            "name": "cpu2",
            "tags": {"host": "a", "via": "lb"},
            "columns": ["time", "double"],
            "values": [["1970-01-01T00:00:07Z", 3.0]],
        }
    ]
    assert tm.tasks["w"].node_stats()["kapacitor_loopback3"]["points_written"] == 1


def test_batch_points_keep_the_batch_name() -> None:
    tm = TaskMaster(clock=VirtualClock(0))
    tm.start(rec("w", "telegraf", "autogen", BATCH_WRITER), compile_script(BATCH_WRITER))
    tm.start(rec("r", "loop", "autogen", READER_ANY), compile_script(READER_ANY))
    for t in (1, 2, 11):
        tm.write_points("telegraf", "autogen", points(("cpu", {"host": "a"}, {"value": float(t)}, t * S)))
    body = tm.http_out("r", "out")
    assert body is not None
    # Kapacitor writes a batch's points under the batch's name: .measurement() is not applied
    assert body["series"][0]["name"] == "cpu"
    assert body["series"][0]["tags"] == {"host": "a", "via": "w"}
    assert tm.tasks["w"].node_stats()["kapacitor_loopback3"]["points_written"] == 2


def test_a_loop_onto_the_tasks_own_dbrp_is_refused() -> None:
    tm = TaskMaster(clock=VirtualClock(0))
    with pytest.raises(TaskError, match="loop detected on dbrp"):
        tm.start(rec("w", "loop", "autogen", WRITER), compile_script(WRITER))


def test_two_tasks_feeding_each_other_do_not_recurse() -> None:
    a = "stream|from().measurement('m')|kapacitorLoopback().database('b').retentionPolicy('r')"
    b = "stream|from().measurement('m')|where(lambda: \"n\" < 3)|eval(lambda: \"n\" + 1).as('n')"
    b += "|kapacitorLoopback().database('a').retentionPolicy('r')"
    tm = TaskMaster(clock=VirtualClock(0))
    tm.start(rec("a", "a", "r", a), compile_script(a))
    tm.start(rec("b", "b", "r", b), compile_script(b))
    tm.write_points("a", "r", points(("m", {}, {"n": 0}, S)))
    # a -> b -> a ... until n reaches 3: each hop delivered after the previous one returned
    assert tm.tasks["a"].node_stats()["kapacitor_loopback2"]["points_written"] == 4
    assert tm.tasks["b"].node_stats()["kapacitor_loopback4"]["points_written"] == 3


def test_database_and_retention_policy_are_required_at_define() -> None:
    with pytest.raises(InputError, match="must specify a database"):
        compile_script("stream|from()|kapacitorLoopback().retentionPolicy('r')")
    with pytest.raises(InputError, match="must specify a retention policy"):
        compile_script("stream|from()|kapacitorLoopback().database('d')")
