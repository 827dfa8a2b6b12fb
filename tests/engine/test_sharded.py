"""A task run one instance per partition (kapfast.engine.sharded): the same answer as one task,
and a partition's state moved to another ShardedTask mid-window carries on exactly."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kapfast.batch import PointBatch
from kapfast.clock import VirtualClock
from kapfast.cluster.partition import split
from kapfast.engine.context import TaskContext
from kapfast.engine.explain import explain_nodes
from kapfast.engine.sharded import ShardedTask
from kapfast.engine.task import Task
from kapfast.errors import NotFoundError
from kapfast.lineproto import parse
from kapfast.tick import compile_script

SCRIPTS = {
    "window": "stream|from().measurement('m').groupBy('host')|window().period(10s).every(10s)"
    "|count('v')|httpOut('out')",
    "derivative": "stream|from().measurement('m').groupBy('host')|derivative('v')|httpOut('out')",
    "join": "var a = stream|from().measurement('m').groupBy('host')\n"
    "var b = stream|from().measurement('n').groupBy('host')\n"
    "a|join(b).as('a', 'b').tolerance(1s)|httpOut('out')",
}
PARTITIONS = 4


def _ctx() -> TaskContext:
    return TaskContext(task_id="t", clock=VirtualClock(0))


def _sharded(script: str, owned: set[int] | None = None) -> ShardedTask:
    def by_partition(batch: PointBatch) -> dict[int, PointBatch]:
        return split(batch, ["host"], PARTITIONS)

    return ShardedTask("t", compile_script(script), _ctx, by_partition, lambda p: owned is None or p in owned)


def _batches(start: int, stop: int) -> list[PointBatch]:
    out = []
    for s in range(start, stop):
        body = "".join(
            f"{m},host=h{h} v={s * 10 + h} {s * 1_000_000_000 + h}\n" for h in range(6) for m in ("m", "n")
        )
        out.append(parse(body.encode(), now_ns=0).batch)
    return out


def _series(body: dict[str, Any] | None) -> list[Any]:
    assert body is not None
    return sorted((body.get("series") or []), key=repr)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_by_partition_the_answer_and_stats_of_one_task(name: str) -> None:
    one = Task("t", compile_script(SCRIPTS[name]), _ctx())
    sharded = _sharded(SCRIPTS[name])
    for b in _batches(0, 25):
        one.write_points(b)
        sharded.write_points(b)
    assert len(sharded.shards) > 1
    assert _series(sharded.http_out("out")) == _series(one.http_out("out"))
    assert sharded.node_stats() == {
        k: {**v, "avg_exec_time_ns": sharded.node_stats()[k]["avg_exec_time_ns"]}
        for k, v in one.node_stats().items()
    }


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_partition_moved_mid_window_carries_on_exactly(name: str) -> None:
    one = Task("t", compile_script(SCRIPTS[name]), _ctx())
    old, new = _sharded(SCRIPTS[name]), _sharded(SCRIPTS[name])
    for b in _batches(0, 15):  # the windows [10s, 20s) are open
        one.write_points(b)
        old.write_points(b)
    moved = sorted(old.shards)[:2]
    for p in moved:  # the partition goes to the other worker with its state
        new.put_shard(p, old.shard_snapshot(p))
        old.drop_shard(p)
    for b in _batches(15, 25):
        one.write_points(b)
        for p, part in split(b, ["host"], PARTITIONS).items():
            (new if p in moved else old).write_points(part)
    assert _series(old.http_out("out")) + _series(new.http_out("out")) != []
    got = sorted(_series(old.http_out("out")) + _series(new.http_out("out")), key=repr)
    assert got == _series(one.http_out("out"))
    # the counters of the partitions that left stay counted where they were: none twice
    source = one.sources[0].name
    collected = old.node_stats()[source]["collected"] + new.node_stats()[source]["collected"]
    assert collected == one.node_stats()[source]["collected"]


def test_its_own_checkpoint_keeps_the_partitions_owned_only() -> None:
    task = _sharded(SCRIPTS["window"])
    for b in _batches(0, 15):
        task.write_points(b)
    shards = sorted(task.shards)
    again = _sharded(SCRIPTS["window"], owned={shards[0]})
    again.restore(task.snapshot())
    assert sorted(again.shards) == [shards[0]]
    assert again.shards[shards[0]].snapshot() == task.shards[shards[0]].snapshot()


def test_explain_and_dot_answer_for_every_partition() -> None:
    script = "stream|from().measurement('m').groupBy('host')|alert().crit(lambda: \"v\" > 3)"
    one = Task("t", compile_script(script), _ctx())
    sharded = _sharded(script)
    for b in _batches(0, 3):
        one.write_points(b)
        sharded.write_points(b)
    [want] = explain_nodes(one)
    [got] = explain_nodes(sharded)
    assert got["node"] == want["node"] and len(want["groups"]) == 6
    assert sorted(got["groups"], key=repr) == sorted(want["groups"], key=repr)
    assert explain_nodes(_sharded(script), "alert2") == [{"node": "alert2", "groups": []}]
    with pytest.raises(NotFoundError):
        explain_nodes(sharded, "nope")
    # the DOT's statistics are the sums over the partitions (times aside)
    assert _timeless(sharded.dot()) == _timeless(one.dot())
    assert 'crits_triggered="14"' in one.dot()


def _timeless(dot: str) -> str:
    return re.sub(r'(avg_exec_time_ns|throughput)="?[^" \]]*"?', "", dot)


def test_httpout_last_results_move_with_the_partition() -> None:
    old, new = _sharded(SCRIPTS["window"]), _sharded(SCRIPTS["window"])
    for b in _batches(0, 25):
        old.write_points(b)
    want = _series(old.http_out("out"))
    for p in sorted(old.shards):
        new.put_shard(p, old.shard_snapshot(p))
        old.drop_shard(p)
    assert _series(new.http_out("out")) == want and len(want) == 6
    assert old.http_out("out") == {"series": None}
    for b in _batches(25, 31):  # the next results replace the moved ones
        new.write_points(b)
    times = [s["values"][0][0] for s in _series(new.http_out("out"))]
    assert len(times) == 6 and all(t.startswith("1970-01-01T00:00:30") for t in times), times


def test_httpout_of_a_task_without_points_yet() -> None:
    task = _sharded(SCRIPTS["window"])
    assert task.http_out("out") == {"series": None}
    assert task.http_out("other") is None


def test_points_of_a_known_partition_are_not_hashed_again() -> None:
    """A worker's partition feed knows the partition of its points: the instance is picked by
    it (the split is never called) and the answer is the one task's."""
    one = Task("t", compile_script(SCRIPTS["window"]), _ctx())
    splits = 0

    def counted(batch: PointBatch) -> dict[int, PointBatch]:
        nonlocal splits
        splits += 1
        return split(batch, ["host"], PARTITIONS)

    sharded = ShardedTask("t", compile_script(SCRIPTS["window"]), _ctx, counted, lambda p: True)
    for b in _batches(0, 25):
        one.write_points(b)
        for p, part in split(b, ["host"], PARTITIONS).items():
            sharded.write_points(part, shard=p)
    assert splits == 0
    assert sorted(sharded.shards) == sorted(
        {p for b in _batches(0, 1) for p in split(b, ["host"], PARTITIONS)}
    )
    assert _series(sharded.http_out("out")) == _series(one.http_out("out"))
