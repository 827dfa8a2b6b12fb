"""Group identity in one place (#13) and the memory of idle series (#19): ``Group`` is a small
Rust object found by its id's hash, a node's groups live at dense slots of a Rust
``GroupTable``, and an alert node keeps no state for a group that never left OK."""

from __future__ import annotations

import copy
import gc
import pickle

import numpy as np
import pytest

from kapfast import lineproto
from kapfast._native import GroupIndex, GroupTable, PointBatch, StreamChunk
from kapfast.clock import VirtualClock
from kapfast.engine.alert.node import AlertNode
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import UNGROUPED, Group
from kapfast.engine.task import Task
from kapfast.tick import compile_script

MINUTE = 60 * 10**9


def test_group_reads_its_tags_out_of_its_id() -> None:
    g = Group("host=a,region=eu", ("host", "region"), False, (("host", "a"), ("region", "eu")))
    assert g.id == "host=a,region=eu"
    assert g.dims == ("host", "region")
    assert g.tags == (("host", "a"), ("region", "eu"))
    assert g.tag_dict == {"host": "a", "region": "eu"}
    assert not g.by_measurement
    # by measurement, empty values, values with the separators in them
    m = Group("cpu\nhost=,k==,v", ("host", "k"), True, (("host", ""), ("k", "=,v")))
    assert m.tags == (("host", ""), ("k", "=,v")) and m.by_measurement


def test_group_keeps_tags_that_are_not_its_id() -> None:
    # more tags than two, tags that are not the dimensions, an id not made of them
    many = Group("a=1,b=2,c=3", ("a", "b", "c"), False, (("a", "1"), ("b", "2"), ("c", "3")))
    assert many.tags == (("a", "1"), ("b", "2"), ("c", "3"))
    odd = Group("x", ("host",), False, (("host", "a"), ("extra", "b")))
    assert odd.tags == (("host", "a"), ("extra", "b"))
    assert Group("only-an-id").tags == () and Group("only-an-id").dims == ()


def test_group_equality_hash_repr_and_copies() -> None:
    a = Group("host=a", ("host",), False, (("host", "a"),))
    b = Group("host=a", ["host"], False, [("host", "a")])
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Group("host=a", ("host",), True, (("host", "a"),))
    assert a != Group("host=a", ("host",), False, (("host", "b"),))
    assert a != "host=a"
    assert Group() == UNGROUPED and UNGROUPED.id == ""
    assert repr(a) == "Group(id='host=a', dims=('host',), by_measurement=False, tags=(('host', 'a'),))"
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.deepcopy(a) == a


def test_table_slots_are_dense_and_reused() -> None:
    t = GroupTable()
    a, b, c = (Group(f"host={h}", ("host",), False, (("host", h),)) for h in "abc")
    t.see([a, b, c])
    assert len(t) == 3 and [t.get(g) for g in (a, b, c)] == [0, 1, 2]
    # found by id: another object of the same group has the same slot
    assert t.get(Group("host=b")) == 1 and t.get_id("host=b") == 1
    raw = t.slots([c, Group("host=z"), a])
    assert np.frombuffer(raw, "<u4").tolist() == [2, 0xFFFFFFFF, 0]
    assert t.forget("host=b") == 1 and t.forget("host=b") is None
    assert len(t) == 2 and t.get_id("host=b") is None
    d = Group("host=d")
    assert t.add(d) == 1, "a forgotten slot goes to the next new group"
    assert t.end() == 3
    assert [(s, g.id) for s, g in t.items()] == [(0, "host=a"), (1, "host=d"), (2, "host=c")]
    t.put(7, Group("host=q"))
    assert t.get_id("host=q") == 7 and t.end() == 8 and len(t) == 4
    t.clear()
    assert len(t) == 0 and t.get(a) is None


def test_table_holds_only_groups_rows_use() -> None:
    t = GroupTable()
    gs = [Group(f"g{i}") for i in range(4)]
    rows = PointBatch.from_rows([("m", {}, {"v": 1.0}, i) for i in range(3)])
    assert t.see(StreamChunk(rows, np.array([0, 2, 2], dtype=np.uint32), gs)) == 2
    assert [t.get(g) is not None for g in gs] == [True, False, True, False]


def test_index_hands_out_one_group_per_id_and_forgets() -> None:
    idx = GroupIndex(["host"], False, [], False)
    b1 = lineproto.parse(b"cpu,host=a v=1 1\ncpu,host=b v=1 2\ncpu v=1 3", now_ns=0).batch
    chunk = idx.chunk(b1)
    groups = chunk.groups
    assert np.asarray(chunk.codes).tolist() == [0, 1, 2]
    assert [g.id for g in groups] == ["host=a", "host=b", "host="]
    assert groups[0].tags == (("host", "a"),) and groups[2].tags == (("host", ""),)
    b2 = lineproto.parse(b"cpu,host=b v=1 4\ncpu,x=1 v=1 5", now_ns=0).batch
    again = idx.chunk(b2).groups
    assert again[0] is groups[1], "a group seen before is the same object"
    assert again[1] is groups[2], "a group of a missing tag, again"
    assert idx.forget("host=a") and not idx.forget("host=a")
    assert len(idx) == 2
    back = idx.chunk(b1).groups
    assert back[0] is not groups[0] and back[0] == groups[0]


SCRIPT = """stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "v" > 90)
"""


def _task(expiry_ns: int = 0) -> Task:
    return Task("t", compile_script(SCRIPT), TaskContext("t", VirtualClock(0), group_expiry_ns=expiry_ns))


def _write(task: Task, first: int, count: int, t_ns: int, value: str = "1") -> None:
    body = "\n".join(f"cpu,host=h{i} v={value} {t_ns}" for i in range(first, first + count))
    task.write_points(lineproto.parse(body.encode(), now_ns=t_ns).batch)


def _alert(task: Task) -> AlertNode:
    return next(n for n in task.nodes.values() if isinstance(n, AlertNode))


def test_alert_groups_are_table_slots() -> None:
    """An alert node's groups are slots of its Rust table, their states columns of the state
    store by slot: no Python object per group (#19)."""
    task = _task()
    _write(task, 0, 1000, 0)
    _write(task, 0, 3, MINUTE, "95")  # three groups go critical
    node = _alert(task)
    assert node.working_cardinality() == len(node._table) == 1000
    assert node._table.get_id("host=h1") == 1
    st = node.group_state("host=h500")
    assert st is not None and st.level == 0
    assert node.group_state("host=h1").level == 3  # type: ignore[union-attr]
    _write(task, 0, 3, 2 * MINUTE)  # they recover
    assert node.group_state("host=h1").level == 0  # type: ignore[union-attr]
    assert node.group_state("host=nope") is None


def test_alert_checkpoint_keeps_slots_and_states() -> None:
    task = _task()
    _write(task, 0, 50, 0)
    _write(task, 10, 2, MINUTE, "95")
    data = task.snapshot()
    fresh = _task()
    fresh.restore(data)
    node = _alert(fresh)
    assert node.working_cardinality() == 50
    assert node.group_state("host=h11").level == 3  # type: ignore[union-attr]
    # the group continues: back to OK makes a recovery event, as without the restart
    oks = node.stats.extra["oks_triggered"]
    _write(fresh, 11, 1, 2 * MINUTE)
    assert node.stats.extra["oks_triggered"] == oks + 1
    assert node.group_state("host=h11").level == 0  # type: ignore[union-attr]


def test_expiry_frees_groups_everywhere() -> None:
    task = _task(expiry_ns=MINUTE)
    for wave in range(5):
        t = wave * 2 * MINUTE
        task.ctx.clock.set(t)  # type: ignore[attr-defined]
        task.tick(t)
        _write(task, wave * 500, 500, t)
    gc.collect()
    src = next(n for n in task.nodes.values() if n.spec.kind == "from")
    index_groups = sum(len(i) for i in src.cache.indexes.values())  # type: ignore[attr-defined]
    node = _alert(task)
    # the last wave only: the expired waves left the index and the alert's table
    assert index_groups == 500
    assert node.working_cardinality() == 500 and node.held is None  # one table: its own
    assert node._table.end() <= 1000, "expired slots are reused, the columns stay flat"


@pytest.mark.parametrize("n", [1, 2])
def test_groups_keep_identity_across_tasks(n: int) -> None:
    # two froms forming the same group ids hand out different objects of one identity
    a = GroupIndex(["host"], False, [], False)
    b = GroupIndex(["host"], False, [], False)
    batch = lineproto.parse(b"cpu,host=x v=1 1\ncpu,host=y v=1 2", now_ns=0).batch
    ga = a.chunk(batch).groups[:n]
    gb = b.chunk(batch).groups[:n]
    t = GroupTable()
    t.see(ga)
    assert [t.get(g) for g in gb] == list(range(n))
