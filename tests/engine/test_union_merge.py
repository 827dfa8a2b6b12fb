"""union merging a whole time-ordered write at once (the Rust ``batch_merge_by_time``) gives what
the one-timestamp-at-a-time feed gives (the old path, Kapacitor's interleaving): the same points,
groups and order at the union and after it; tasks where that would not hold keep the old path."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from tests.engine.helpers import Row, S, feed, make_task
from tests.engine.test_nodes_stateful import Recorder

from kapfast._native import PointBatch, batch_merge_by_time
from kapfast.engine.messages import UNGROUPED, Group, StreamChunk
from kapfast.engine.nodes.join import merge_chunks
from kapfast.engine.rows import batch_rows

MERGEABLE = {
    "plain": """
var a = stream|from().measurement('a')
var b = stream|from().measurement('b')
a|union(b)|httpOut('out')
""",
    "three_renamed_grouped": """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host', 'cpu')
var c = stream|from().measurement('c')
a|union(b, c).rename('u')|httpOut('out')
""",
    "filtered_and_evaluated": """
var s = stream|from().groupBy('host')
var hi = s|where(lambda: "v" > 5)|eval(lambda: "v" * 2.0).as('d').keep()
var lo = s|where(lambda: "v" <= 5)|default().field('x', 1)
hi|union(lo)|derivative('v').as('dv')|httpOut('out')
""",
    "windowed_after": """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|union(b)|window().period(4s).every(2s)|count('v')|httpOut('out')
""",
}

KEPT_OLD_PATH = {
    "truncate": """
var a = stream|from().measurement('a').truncate(2s)
var b = stream|from().measurement('b')
a|union(b)|httpOut('out')
""",
    "branch_beside": """
var a = stream|from().measurement('a')
var b = stream|from().measurement('b')
a|httpOut('side')
a|union(b)|httpOut('out')
""",
    "window_before": """
var a = stream|from().measurement('a')|window().period(2s).every(2s)
var b = stream|from().measurement('b')|window().period(2s).every(2s)
a|union(b)|httpOut('out')
""",
    "two_unions": """
var a = stream|from().measurement('a')
var b = stream|from().measurement('b')
var c = stream|from().measurement('c')
a|union(b)|union(c)|httpOut('out')
""",
}


def _rows(rng: random.Random, n: int) -> list[Row]:
    t, rows = 0, []
    for _ in range(n):
        t += rng.choice([0, 0, 1, 1, 2])  # equal times are common: their order is the point
        fields: dict[str, Any] = {"v": rng.choice([rng.randint(0, 10), rng.random() * 10])}
        tags = {"host": rng.choice("xyz"), "cpu": rng.choice(["c0", "c1"])}
        rows.append((rng.choice("abc"), tags, fields, t * S))
    return rows


def _run(script: str, rows: list[Row], sizes: list[int], *, merge: bool) -> tuple[list[Any], ...]:
    task, clock = make_task(script)
    if not merge:
        task.merging_unions = []
    recs = []
    for name in ("union", "http_out"):
        node = next(n for n in task.nodes.values() if n.name.startswith(name))
        rec = Recorder()
        node.link(rec, 0)  # type: ignore[arg-type]
        recs.append(rec)
    i = k = 0
    while i < len(rows):
        feed(task, clock, rows[i : i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    task.finish()
    stats = [(n.name, n.stats.collected, n.stats.emitted) for n in task.nodes.values()]
    return recs[0].out, recs[1].out, stats


@pytest.mark.parametrize("case", sorted(MERGEABLE))
@pytest.mark.parametrize("seed", range(6))
def test_merged_union_matches_the_timestamp_at_a_time_feed(case: str, seed: int) -> None:
    rng = random.Random(seed)
    rows = _rows(rng, rng.randint(1, 120))
    sizes = [rng.randint(1, 60) for _ in range(3)]
    task, _ = make_task(MERGEABLE[case])
    assert task.merging_unions, "this task should take the merged path"
    merged = _run(MERGEABLE[case], rows, sizes, merge=True)
    assert merged[0], "the union saw points"
    assert merged == _run(MERGEABLE[case], rows, sizes, merge=False)


@pytest.mark.parametrize("case", sorted(KEPT_OLD_PATH))
def test_tasks_whose_order_would_change_keep_the_old_path(case: str) -> None:
    task, _ = make_task(KEPT_OLD_PATH[case])
    assert task.merging_unions == []


def test_a_write_out_of_time_order_is_fed_a_timestamp_at_a_time() -> None:
    rows = [("a", {}, {"v": 1}, 2 * S), ("b", {}, {"v": 2}, 1 * S), ("a", {}, {"v": 3}, 1 * S)]
    got = _run(MERGEABLE["plain"], rows, [3], merge=True)
    assert [r[2][3] for r in got[0]] == [2 * S, S, S]
    assert got == _run(MERGEABLE["plain"], rows, [3], merge=False)


def test_merge_chunks_orders_by_time_and_shares_one_group_table() -> None:
    gx = Group("host=x", ("host",), False, (("host", "x"),))
    gy = Group("host=y", ("host",), False, (("host", "y"),))

    def chunk(times: list[int], codes: list[int], groups: list[Group]) -> StreamChunk:
        rows = [("m", {}, {"i": t * 10 + c}, t) for t, c in zip(times, codes, strict=True)]
        return StreamChunk(PointBatch.concat([PointBatch.from_rows([r]) for r in rows]), codes, groups)

    m = merge_chunks([chunk([1, 3, 3], [0, 1, 0], [gx, gy]), chunk([0, 3, 4], [0, 0, 1], [gy, UNGROUPED])])
    got = [(row[3], m.groups[int(c)]) for row, c in zip(batch_rows(m.batch), m.codes, strict=True)]
    assert got == [(0, gy), (1, gx), (3, gy), (3, gx), (3, gy), (4, UNGROUPED)]
    assert [row[2]["i"] for row in batch_rows(m.batch)] == [0, 10, 31, 30, 30, 41]
    assert m.groups == (gx, gy, UNGROUPED)


def test_batch_merge_by_time_against_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    parts = []
    for _ in range(4):
        t = np.sort(rng.integers(0, 50, rng.integers(0, 200)))
        rows = [("m", {}, {"v": float(i)}, int(x)) for i, x in enumerate(t)]
        parts.append(PointBatch.concat([PointBatch.from_rows([r]) for r in rows]) if rows else None)
    batches = [p for p in parts if p is not None]
    merged, order = batch_merge_by_time(batches)
    flat = np.concatenate([np.asarray(b.time()) for b in batches])
    want = np.argsort(flat, kind="stable")
    assert np.array_equal(np.frombuffer(order, "<u4"), want)
    assert np.array_equal(np.asarray(merged.time()), flat[want])
    assert batch_rows(merged) == [
        r for i in want for r in batch_rows(PointBatch.concat(batches).take(np.array([i])))
    ]
    empty, none = batch_merge_by_time([])
    assert len(empty) == 0 and none == b""
