"""Stateful nodes on the Rust kernels (derivative, changeDetect, stateDuration/Count, windows and
aggregates over the windows a chunk closes, join): outputs do not depend on how points are
chunked, and the edge cases (groups appearing and vanishing, DeleteGroup, out-of-order points,
field type changes, missing fields, many groups) behave as Kapacitor's point-at-a-time nodes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.helpers import Row, S, feed, make_task

from kapfast.engine.messages import Barrier, BatchMessage, BatchSet, DeleteGroup, Message, StreamChunk
from kapfast.engine.nodes.outputs import HttpOutNode
from kapfast.engine.rows import batch_rows
from kapfast.errors import TaskError


class Recorder:
    """A child that writes down, per point, what its parent emitted."""

    name = "recorder"

    def __init__(self) -> None:
        self.out: list[Any] = []

    def push(self, msg: Message, port: int = 0) -> None:
        if isinstance(msg, StreamChunk):
            for row, code in zip(batch_rows(msg.batch), list(msg.codes), strict=True):
                self.out.append(("point", msg.groups[int(code)].id, row))
        elif isinstance(msg, BatchMessage):
            self.out.append(("batch", msg.name, msg.group.id, msg.tmax, batch_rows(msg.points)))
        elif isinstance(msg, BatchSet):
            for b in msg.batches:
                self.push(b, port)
        elif isinstance(msg, Barrier):
            self.out.append(("barrier", msg.group.id, msg.time))
        elif isinstance(msg, DeleteGroup):
            self.out.append(("delete", msg.group.id))

    def finish(self, port: int = 0) -> None:
        pass


def run(script: str, rows: list[Row], sizes: list[int] | None = None) -> list[Any]:
    """Everything the httpOut node saw, the rows fed in chunks of ``sizes`` (cycled; None: one
    chunk)."""
    task, clock = make_task(script)
    rec = Recorder()
    sink = next(n for n in task.nodes.values() if isinstance(n, HttpOutNode))
    sink.link(rec, 0)  # type: ignore[arg-type]
    if sizes is None:
        feed(task, clock, rows)
    else:
        i = k = 0
        while i < len(rows):
            n = sizes[k % len(sizes)]
            feed(task, clock, rows[i : i + n])
            i += n
            k += 1
    task.finish()
    return rec.out


SCRIPTS = {
    "derivative": """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(9s).delete(TRUE)
    |derivative('value').unit(2s)
    |httpOut('out')
""",
    "derivative_nonneg_as": """
stream
    |from().measurement('cpu').groupBy('host')
    |derivative('value').nonNegative().as('rate')
    |httpOut('out')
""",
    "changeDetect": """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(11s).delete(TRUE)
    |changeDetect('value')
    |httpOut('out')
""",
    "stateDuration": """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(8s).delete(TRUE)
    |stateDuration(lambda: "value" > 2 AND count() < 6).unit(1s)
    |httpOut('out')
""",
    "stateCount": """
stream
    |from().measurement('cpu').groupBy('host')
    |stateCount(lambda: "value" > 2).as('n')
    |httpOut('out')
""",
    "window_time": """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(13s).delete(TRUE)
    |window().period(4s).every(3s)
    |httpOut('out')
""",
    "window_align_fill": """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(5s).every(2s).align().fillPeriod()
    |httpOut('out')
""",
    "window_every0": """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(3s)
    |httpOut('out')
""",
    "window_count": """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(10s).delete(TRUE)
    |window().periodCount(3).everyCount(2)
    |httpOut('out')
""",
    "window_mean": """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(3s).every(3s)
    |mean('value')
    |httpOut('out')
""",
    "window_count_agg": """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(2s).every(2s)
    |count('value')
    |httpOut('out')
""",
    "window_sum_batch": """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(2s).every(2s)
    |sum('value')
    |window().periodCount(2).everyCount(1)
    |httpOut('out')
""",
}

SCRIPTS["window_max_point_times"] = """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(3s).every(2s)
    |max('value').usePointTimes()
    |httpOut('out')
"""
SCRIPTS["window_percentile"] = """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(3s).every(3s)
    |percentile('value', 50.0).as('p')
    |httpOut('out')
"""
SCRIPTS["flatten"] = """
stream
    |from().measurement('cpu').groupBy('host')
    |flatten().on('host').tolerance(2s)
    |httpOut('out')
"""
SCRIPTS["combine"] = """
stream
    |from().measurement('cpu')
    |barrier().period(12s).delete(TRUE)
    |combine(lambda: "value" > 1, lambda: TRUE).as('x', 'y').tolerance(2s).max(30)
    |httpOut('out')
"""

#: scripts whose field may hold strings or booleans (the others take numbers only, plus missing)
ANY_TYPE = {"changeDetect", "stateCount", "window_time", "window_every0", "window_count", "flatten"}


def point(t: int, host: str, value: Any) -> Row:
    fields: dict[str, Any] = {"value": value} if value is not None else {"other": 1.0}
    return ("cpu", {"host": host}, fields, t * S)


numbers = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 2.5, 3.0, -1.5]))
values = st.one_of(numbers, st.none())
any_values = st.one_of(numbers, st.none(), st.sampled_from(["x", "y"]), st.booleans())


@st.composite
def streams(draw: st.DrawFn, any_type: bool) -> list[Row]:
    n = draw(st.integers(0, 40))
    t = 0
    rows = []
    for _ in range(n):
        t += draw(st.integers(0, 3))
        # now and then a point from the past (out of order)
        late = draw(st.integers(0, 9)) == 0
        rows.append(
            point(
                max(0, t - 4) if late else t,
                draw(st.sampled_from("abc")),
                draw(any_values if any_type else values),
            )
        )
    return rows


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_outputs_do_not_depend_on_chunking(name: str, data: st.DataObject) -> None:
    rows = data.draw(streams(name in ANY_TYPE))
    script = SCRIPTS[name]
    whole = run(script, rows)
    assert run(script, rows, [1]) == whole
    sizes = data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=5))
    assert run(script, rows, sizes) == whole


# --- edge cases ------------------------------------------------------------------------------


def fields_of(out: list[Any], name: str) -> list[Any]:
    return [r[2][2].get(name) for r in out if r[0] == "point"]


def test_derivative_groups_types_and_missing_fields() -> None:
    rows = [
        point(0, "a", 1),  # int
        point(0, "b", 10.0),
        point(1, "a", 3.0),  # int -> float: still a number
        point(1, "b", None),  # missing: an error, state kept
        point(2, "b", 4.0),
        point(2, "a", 3.0),
        point(2, "a", 9.0),  # same time as the previous point: skipped, not the new previous
        point(4, "a", 1.0),
    ]
    out = run(SCRIPTS["derivative_nonneg_as"], rows)
    got = [(r[1], r[2][3] // S, r[2][2]["rate"], r[2][2]["value"]) for r in out]
    assert got == [("host=a", 1, 2.0, 3.0), ("host=a", 2, 0.0, 3.0)]
    out = run(SCRIPTS["derivative_nonneg_as"].replace(".nonNegative()", ""), rows)
    assert [(r[1], r[2][2]["rate"]) for r in out] == [
        ("host=a", 2.0),
        ("host=b", -3.0),
        ("host=a", 0.0),
        ("host=a", -1.0),
    ]


def test_derivative_default_as_writes_over_the_field() -> None:
    out = run(SCRIPTS["derivative"], [point(0, "a", 1), point(1, "a", 5)])
    assert [r[2][2] for r in out if r[0] == "point"] == [{"value": 8.0}]  # 4 per second, unit 2s


def test_delete_group_resets_derivative_and_state_duration() -> None:
    # barrier period 9s: the point at 9s fires a barrier + DeleteGroup first, so a starts over
    rows = [point(0, "a", 1.0), point(4, "a", 3.0), point(9, "a", 7.0), point(10, "a", 8.0)]
    out = run(SCRIPTS["derivative"], rows)
    assert [x[0] for x in out] == ["point", "barrier", "delete", "point"]
    assert fields_of(out, "value") == [1.0, 2.0]
    # stateDuration: the run starts over, and the lambda's count() starts over too
    rows = [point(t, "a", 5.0) for t in range(0, 20)]
    out = run(SCRIPTS["stateDuration"], rows)
    durations = fields_of(out, "state_duration")
    # count() < 6 holds for the first 5 points of each 8s barrier period
    assert durations[:9] == [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, 0.0]


def test_change_detect_first_point_types_and_missing() -> None:
    rows = [
        point(0, "a", 1),
        point(1, "a", 1),
        point(2, "a", 1.0),  # another type is a change (Go's !=)
        point(3, "a", None),  # missing: error, state kept
        point(4, "a", 1.0),
        point(5, "b", 1.0),  # a new group's first point goes on
        point(6, "a", "x"),
    ]
    out = run(SCRIPTS["changeDetect"], rows)
    assert [(r[1], r[2][3] // S) for r in out if r[0] == "point"] == [
        ("host=a", 0),
        ("host=a", 2),
        ("host=b", 5),
        ("host=a", 6),
    ]


def test_state_count_non_boolean_lambda_is_an_error() -> None:
    script = SCRIPTS["stateCount"].replace('"value" > 2', '"value"')
    task, clock = make_task(script)
    feed(task, clock, [point(0, "a", 1.0), point(1, "a", 2.0)])
    node = next(n for n in task.nodes.values() if n.spec.kind == "stateCount")
    assert node.stats.errors == 2
    assert node.stats.emitted == 0


def test_windows_of_many_groups_in_one_chunk_go_out_in_point_order() -> None:
    hosts = [f"h{i:04d}" for i in range(3000)]
    rows = [point(t, h, float(t)) for t in (0, 1, 3) for h in hosts]
    out = run(SCRIPTS["window_mean"], rows)
    assert len(out) == 3000
    assert [r[1] for r in out] == [f"host={h}" for h in hosts]
    assert all(r[2][2] == {"mean": 0.5} and r[2][3] == 3 * S for r in out)
    assert out == run(SCRIPTS["window_mean"], rows, [1000])
    task, clock = make_task(SCRIPTS["window_mean"])
    feed(task, clock, rows)
    window = next(n for n in task.nodes.values() if n.spec.kind == "window")
    assert window.working_cardinality() == 3000


def test_window_out_of_order_point_stays_in_the_open_window() -> None:
    rows = [point(0, "a", 1.0), point(2, "a", 2.0), point(1, "a", 3.0), point(3, "a", 4.0)]
    out = run(SCRIPTS["window_time"], rows)
    assert [(b[3] // S, [r[2]["value"] for r in b[4]]) for b in out] == [(3, [1.0, 2.0, 3.0])]


def test_window_every_zero_and_count_windows() -> None:
    rows = [
        point(0, "a", 1.0),
        point(1, "a", 2.0),
        point(5, "a", 3.0),
        point(4, "a", 4.0),
        point(6, "a", 5.0),
    ]
    out = run(SCRIPTS["window_every0"], rows)
    assert [(b[3] // S, [r[2]["value"] for r in b[4]]) for b in out] == [
        (0, [1.0]),
        (1, [1.0, 2.0]),
        (5, [3.0]),
        (6, [3.0, 4.0, 5.0]),
    ]
    out = run(SCRIPTS["window_count"], rows)
    assert [(b[3] // S, [r[2]["value"] for r in b[4]]) for b in out] == [
        (1, [1.0, 2.0]),
        (4, [2.0, 3.0, 4.0]),
    ]


def test_aggregate_over_many_windows_skips_windows_without_the_field() -> None:
    rows = [point(0, "a", 1.0), point(0, "b", None), point(0, "c", "s"), point(3, "a", 1.0)]
    rows += [point(3, "b", 1.0), point(3, "c", 1.0)]
    task, clock = make_task(SCRIPTS["window_mean"])
    rec = Recorder()
    next(n for n in task.nodes.values() if isinstance(n, HttpOutNode)).link(rec, 0)  # type: ignore[arg-type]
    feed(task, clock, rows)
    assert [(r[1], r[2][2]) for r in rec.out] == [("host=a", {"mean": 1.0})]
    mean = next(n for n in task.nodes.values() if n.spec.kind == "mean")
    assert mean.stats.errors == 1  # the string window
    count = run(SCRIPTS["window_count_agg"], rows)
    assert [(r[1], r[2][2]["count"]) for r in count] == [("host=a", 1), ("host=b", 0), ("host=c", 1)]


def test_random_large_stream_is_chunk_invariant() -> None:
    rng = random.Random(7)
    rows = []
    t = 0
    for _ in range(3000):
        t += rng.randrange(2)
        rows.append(point(t, f"h{rng.randrange(50)}", rng.choice([1.0, 2.0, 3.5, 4, None])))
    for name in ("derivative", "stateDuration", "window_mean", "window_count", "changeDetect"):
        whole = run(SCRIPTS[name], rows)
        assert run(SCRIPTS[name], rows, [rng.randrange(1, 300) for _ in range(20)]) == whole, name


# --- join ------------------------------------------------------------------------------------

JOINS = {
    "plain_fill_null": """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b').tolerance(2s).fill('null')|httpOut('out')
""",
    "inner_stream_name": """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b').streamName('j')|httpOut('out')
""",
    "on_fill_number": """
var a = stream|from().measurement('a').groupBy('host', 'cpu')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b').on('host').fill(0)|httpOut('out')
""",
}


def join_point(t: int, m: str, host: str, cpu: str, value: Any) -> Row:
    fields: dict[str, Any] = {"v": value} if value is not None else {"w": 1}
    return (m, {"host": host, "cpu": cpu}, fields, t * S)


@st.composite
def join_streams(draw: st.DrawFn) -> list[Row]:
    n = draw(st.integers(0, 30))
    t = 0
    rows = []
    for _ in range(n):
        t += draw(st.integers(0, 2))
        rows.append(
            join_point(
                t,
                draw(st.sampled_from("ab")),
                draw(st.sampled_from("xy")),
                draw(st.sampled_from(["c0", "c1"])),
                draw(values),
            )
        )
    return rows


def per_group(out: list[Any]) -> dict[str, list[Any]]:
    """Outputs by group: across groups the order follows how parents' points interleave."""
    groups: dict[str, list[Any]] = {}
    for r in out:
        groups.setdefault(r[1], []).append(r)
    return groups


@pytest.mark.parametrize("name", sorted(JOINS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_join_outputs_do_not_depend_on_chunking(name: str, data: st.DataObject) -> None:
    rows = data.draw(join_streams())
    script = JOINS[name]
    one = run(script, rows, [1])
    sizes = data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=5))
    assert per_group(run(script, rows, sizes)) == per_group(one)
    assert per_group(run(script, rows)) == per_group(one)


def test_join_on_matches_specific_points_with_the_less_specific_one() -> None:
    rows = [
        join_point(0, "a", "x", "c0", 1.0),
        join_point(0, "a", "x", "c1", 2.0),
        join_point(0, "b", "x", "", 10.0),
        join_point(1, "a", "x", "c0", 3.0),
        join_point(2, "a", "x", "c0", 4.0),
        join_point(2, "b", "x", "", 20.0),
        join_point(3, "a", "x", "c0", 5.0),
        join_point(3, "b", "x", "", 30.0),
    ]
    out = run(JOINS["on_fill_number"], rows, [1])
    got = [(r[1], r[2][3] // S, r[2][2]) for r in out]
    assert got == [
        ("cpu=c0,host=x", 0, {"a.v": 1.0, "b.v": 10.0}),
        ("cpu=c1,host=x", 0, {"a.v": 2.0, "b.v": 10.0}),
        ("cpu=c0,host=x", 1, {"a.v": 3.0, "b.v": 0}),
        ("cpu=c0,host=x", 2, {"a.v": 4.0, "b.v": 20.0}),
        ("cpu=c0,host=x", 3, {"a.v": 5.0, "b.v": 30.0}),
    ]
    assert all(r[2][1] == {"cpu": r[1][4:6], "host": "x"} for r in out)


def test_join_fill_null_delete_group_and_stream_name() -> None:
    script = """
var a = stream|from().measurement('a').groupBy('host')|barrier().period(5s).delete(TRUE)
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b').fill('null').streamName('j')|httpOut('out')
"""
    rows = [
        join_point(0, "a", "x", "c0", 1.0),
        join_point(1, "b", "x", "c0", 2.0),
        join_point(2, "a", "x", "c0", 3.0),
        join_point(6, "a", "x", "c0", 4.0),  # barrier + DeleteGroup of host=x first
        join_point(6, "b", "x", "c0", 5.0),
    ]
    out = [r for r in run(script, rows, [1]) if r[0] == "point"]
    got = [(r[2][0], r[2][3] // S, r[2][2]) for r in out]
    # the set at 0 went out filled when a passed it; the DeleteGroup dropped the sets waiting at
    # 1s (b only) and 2s (a only)
    assert got == [("j", 0, {"a.v": 1.0, "b.v": None}), ("j", 6, {"a.v": 4.0, "b.v": 5.0})]


# --- combine and flatten ---------------------------------------------------------------------


def test_flatten_sets_by_time_and_missing_tags() -> None:
    script = """
stream
    |from().measurement('cpu').groupBy('dc')
    |flatten().on('host', 'cpu').delimiter('_')
    |httpOut('out')
"""
    rows: list[Row] = [
        ("cpu", {"dc": "e", "host": "a", "cpu": "0"}, {"v": 1.0}, 0),
        ("cpu", {"dc": "e", "host": "b", "cpu": "1"}, {"v": 2, "w": "s"}, 0),
        ("cpu", {"dc": "e", "host": "c"}, {"v": 3.0}, 0),  # no cpu tag: an error, skipped
        ("cpu", {"dc": "w", "host": "a", "cpu": "0"}, {"v": 4.0}, 0),
        ("cpu", {"dc": "e", "host": "a", "cpu": "0"}, {"v": 5.0}, S),  # closes dc=e at 0
        ("cpu", {"dc": "w", "host": "a", "cpu": "0"}, {"v": 6.0}, 0),  # same time: joins
        ("cpu", {"dc": "w", "host": "a", "cpu": "0"}, {"v": 7.0}, 2 * S),  # closes dc=w at 0
    ]
    task, clock = make_task(script)
    rec = Recorder()
    next(n for n in task.nodes.values() if isinstance(n, HttpOutNode)).link(rec, 0)  # type: ignore[arg-type]
    feed(task, clock, rows, chunk=1)
    assert [(r[1], r[2][1], r[2][2], r[2][3]) for r in rec.out] == [
        ("dc=e", {"dc": "e"}, {"a_0_v": 1.0, "b_1_v": 2, "b_1_w": "s"}, 0),
        ("dc=w", {"dc": "w"}, {"a_0_v": 6.0}, 0),
    ]
    node = next(n for n in task.nodes.values() if n.spec.kind == "flatten")
    assert node.stats.errors == 1
    assert rec.out == run(script, rows)


def test_combine_pairs_and_max() -> None:
    script = """
stream
    |from().measurement('cpu').groupBy('dc')
    |combine(lambda: "host" == 'a', lambda: TRUE).as('first', 'other').max(2)
    |httpOut('out')
"""
    rows: list[Row] = [
        ("cpu", {"dc": "e", "host": "a"}, {"v": 1.0}, 0),
        ("cpu", {"dc": "e", "host": "b"}, {"v": 2.0}, 0),
        ("cpu", {"dc": "e", "host": "c"}, {"v": 3.0}, 0),
        ("cpu", {"dc": "e", "host": "a"}, {"v": 4.0}, S),
        ("cpu", {"dc": "e", "host": "b"}, {"v": 5.0}, S),
        ("cpu", {"dc": "e", "host": "a"}, {"v": 6.0}, 2 * S),
    ]
    task, clock = make_task(script)
    rec = Recorder()
    next(n for n in task.nodes.values() if isinstance(n, HttpOutNode)).link(rec, 0)  # type: ignore[arg-type]
    feed(task, clock, rows, chunk=2)
    # the set at 0 has 3 choose 2 = 3 > max 2 combinations: refused; the set at 1s pairs a with b
    assert [(r[2][1], r[2][2], r[2][3]) for r in rec.out] == [
        ({"dc": "e", "first.host": "a", "other.host": "b"}, {"first.v": 4.0, "other.v": 5.0}, S)
    ]
    node = next(n for n in task.nodes.values() if n.spec.kind == "combine")
    assert node.stats.errors == 1
    assert rec.out == run(script, rows)


@pytest.mark.parametrize(
    "step",
    ["derivative('value').unit(-1s)", "stateDuration(lambda: TRUE).unit(-2s)", "window().periodCount(-2)"],
)
def test_negative_units_and_periods_are_task_errors(step: str) -> None:
    with pytest.raises(TaskError, match="must"):
        make_task(f"stream\n    |from().measurement('cpu')\n    |{step}\n    |httpOut('out')\n")


def test_union_rename_keeps_tags_fields_and_groups() -> None:
    script = """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|union(b).rename('u')|httpOut('out')
"""
    rows = [
        join_point(0, "a", "x", "c0", 1.0),
        join_point(1, "b", "y", "c1", 2),
        join_point(2, "b", "y", "c1", None),
    ]
    out = run(script, rows, [1])
    assert [(r[1], r[2]) for r in out] == [
        ("host=x", ("u", {"cpu": "c0", "host": "x"}, {"v": 1.0}, 0)),
        ("host=y", ("u", {"cpu": "c1", "host": "y"}, {"v": 2}, S)),
        ("host=y", ("u", {"cpu": "c1", "host": "y"}, {"w": 1}, 2 * S)),
    ]


def test_barrier_period_splits_the_chunk_where_boundaries_pass() -> None:
    script = """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().period(5s)
    |httpOut('out')
"""
    rows = [
        point(0, "a", 1.0),
        point(1, "b", 1.0),
        point(6, "a", 2.0),
        point(4, "b", 2.0),
        point(7, "b", 3.0),
    ]
    out = run(script, rows)
    assert [(x[0], x[1], x[2] if x[0] == "barrier" else x[2][3] // S) for x in out] == [
        ("point", "host=a", 0),
        ("point", "host=b", 1),
        ("barrier", "host=a", 5 * S),
        ("point", "host=a", 6),
        ("point", "host=b", 4),
        ("barrier", "host=b", 5 * S),
        ("point", "host=b", 7),
    ]
    assert run(script, rows, [1]) == out
    task, clock = make_task(script)
    feed(task, clock, rows)
    node = next(n for n in task.nodes.values() if n.spec.kind == "barrier")
    assert list(node.last) == ["host=a", "host=b"]
    assert node.working_cardinality() == 2
