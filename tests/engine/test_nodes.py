"""Node behaviour beyond the conformance cases: empty windows, groups coming and going,
out-of-order points, field type changes, missing fields, large groups, chunking invariance."""

from __future__ import annotations

from typing import Any

from tests.engine.helpers import S, cpu, feed, make_task, series

WINDOW_MEAN = """
stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('value')
    |httpOut('out')
"""


def values(s: dict[str, Any]) -> list[list[Any]]:
    return s["values"]  # type: ignore[no-any-return]


def test_window_mean_per_group() -> None:
    task, clock = make_task(WINDOW_MEAN)
    rows = [cpu(t, float(t), host=h) for t in range(0, 21) for h in ("a", "b")]
    feed(task, clock, rows)
    out = series(task)
    assert [s["tags"] for s in out] == [{"host": "a"}, {"host": "b"}]
    # second window [10s, 20s): mean of 10..19
    assert values(out[0]) == [["1970-01-01T00:00:20Z", 14.5]]


def test_results_do_not_depend_on_chunking() -> None:
    rows = [cpu(t * 0.5, float(t % 7), host=h) for t in range(0, 80) for h in ("a", "b", "c")]
    results = []
    for chunk in (0, 1, 7):
        task, clock = make_task(WINDOW_MEAN)
        feed(task, clock, rows, chunk=chunk)
        results.append(series(task))
    assert results[0] == results[1] == results[2]


def test_empty_window_never_emits_and_open_window_is_dropped() -> None:
    task, clock = make_task(WINDOW_MEAN)
    feed(task, clock, [cpu(1, 1.0, host="a"), cpu(5, 2.0, host="a")])
    task.finish()
    assert series(task) == []


def test_window_skips_over_a_gap() -> None:
    # a gap of several periods: the next point closes the old window once; no empty windows
    task, clock = make_task(WINDOW_MEAN.replace("mean('value')", "count('value')"))
    feed(
        task,
        clock,
        [cpu(0, 1.0, host="a"), cpu(1, 1.0, host="a"), cpu(55, 1.0, host="a"), cpu(70, 1.0, host="a")],
    )
    out = series(task)
    assert values(out[0]) == [["1970-01-01T00:01:05Z", 1]]


def test_group_appearing_late_gets_its_own_window() -> None:
    task, clock = make_task(WINDOW_MEAN.replace("mean('value')", "count('value')"))
    rows = [cpu(t, 1.0, host="a") for t in range(0, 30)] + [cpu(t, 1.0, host="z") for t in range(25, 40)]
    feed(task, clock, rows)
    out = series(task)
    assert [s["tags"]["host"] for s in out] == ["a", "z"]
    assert values(out[1]) == [["1970-01-01T00:00:35Z", 10]]


def test_out_of_order_point_stays_in_the_open_window() -> None:
    task, clock = make_task(WINDOW_MEAN.replace("mean('value')", "count('value')"))
    rows = [cpu(0, 1.0, host="a"), cpu(5, 1.0, host="a"), cpu(3, 1.0, host="a"), cpu(11, 1.0, host="a")]
    feed(task, clock, rows)
    assert values(series(task)[0]) == [["1970-01-01T00:00:10Z", 3]]


def test_missing_field_is_skipped_by_aggregates() -> None:
    task, clock = make_task(WINDOW_MEAN)
    rows = [cpu(0, 2.0, host="a"), ("cpu", {"host": "a"}, {"other": 1.0}, 1 * S), cpu(2, 4.0, host="a")]
    rows.append(cpu(10, 0.0, host="a"))
    feed(task, clock, rows)
    assert values(series(task)[0]) == [["1970-01-01T00:00:10Z", 3.0]]


def test_field_type_change_between_chunks() -> None:
    script = """
stream
    |from().measurement('cpu')
    |window().period(10s).every(10s)
    |httpOut('out')
"""
    task, clock = make_task(script)
    rows = [cpu(0, 1.0), cpu(1, 2), cpu(2, "x"), cpu(10, 1.0)]
    feed(task, clock, rows, chunk=1)
    assert [v[1] for v in values(series(task)[0])] == [1.0, 2, "x"]


def test_where_errors_skip_rows_and_count() -> None:
    script = """
stream
    |from().measurement('cpu')
    |where(lambda: "value" > 1.5)
    |httpOut('out')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 1.0), cpu(1, "text"), cpu(2, 2.0)])
    assert values(series(task)[0]) == [["1970-01-01T00:00:02Z", 2.0]]
    where = next(n for n in task.nodes.values() if n.spec.kind == "where")
    assert where.stats.errors == 1


def test_eval_keep_and_tags() -> None:
    script = """
stream
    |from().measurement('cpu')
    |eval(lambda: "value" * 2.0, lambda: 'x')
        .as('double', 'label')
        .tags('label')
        .keep('value', 'double')
    |httpOut('out')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 1.5, host="h")])
    s = series(task)[0]
    assert s["tags"] == {"host": "h", "label": "x"}
    assert s["columns"] == ["time", "double", "value"]
    assert values(s) == [["1970-01-01T00:00:00Z", 3.0, 1.5]]


def test_huge_group_count() -> None:
    task, clock = make_task(WINDOW_MEAN.replace("mean('value')", "count('value')"))
    rows = [cpu(t, 1.0, host=f"h{i}") for t in (0, 10) for i in range(2000)]
    feed(task, clock, rows)
    out = series(task)
    assert len(out) == 2000
    assert all(values(s) == [["1970-01-01T00:00:10Z", 1]] for s in out)


def test_derivative_and_non_negative() -> None:
    script = """
stream
    |from().measurement('cpu')
    |derivative('value').unit(2s).nonNegative()
    |window().period(10s).every(10s)
    |httpOut('out')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 1.0), cpu(1, 3.0), cpu(2, 2.0), cpu(4, 6.0), cpu(11, 0.0), cpu(25, 1.0)])
    assert [v[1] for v in values(series(task)[0])] == [4.0, 4.0]


def test_state_count_resets() -> None:
    script = """
stream
    |from().measurement('cpu')
    |stateCount(lambda: "value" > 1)
    |window().period(10s).every(10s)
    |httpOut('out')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 2), cpu(1, 3), cpu(2, 0), cpu(3, 5), cpu(10, 0)])
    assert [v[1] for v in values(series(task)[0])] == [1, 2, -1, 1]


def test_join_fill_number_emits_unmatched_sets() -> None:
    script = """
var a = stream|from().measurement('a')
var b = stream|from().measurement('b')
a|join(b).as('a', 'b').fill(0.0)|httpOut('out')
"""
    task, clock = make_task(script)
    rows = [
        ("a", {}, {"v": 1.0}, 0),
        ("b", {}, {"v": 2.0}, 0),
        ("a", {}, {"v": 3.0}, S),
        ("a", {}, {"v": 4.0}, 2 * S),
    ]
    rows.append(("b", {}, {"v": 5.0}, 3 * S))
    feed(task, clock, rows, chunk=1)
    out = series(task)
    assert out[0]["columns"] == ["time", "a.v", "b.v"]
    # the set at 2s waits until a moves past 2s (Kapacitor), the set at 1s went out unmatched
    assert values(out[0]) == [["1970-01-01T00:00:01Z", 3.0, 0.0]]


def test_http_out_drops_deleted_group() -> None:
    script = """
stream
    |from().measurement('cpu').groupBy('host')
    |barrier().idle(5s).delete(TRUE)
    |httpOut('out')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 1.0, host="a"), cpu(1, 1.0, host="b")])
    assert len(series(task)) == 2
    clock.set(7 * S)
    task.tick(clock.now_ns())
    assert series(task) == []


def test_stats_and_dot() -> None:
    task, clock = make_task(WINDOW_MEAN)
    feed(task, clock, [cpu(t, 1.0, host="a") for t in range(12)])
    st = task.node_stats()
    assert st["from1"]["collected"] == 12
    assert st["window2"]["emitted"] == 1
    dot = task.dot()
    assert 'from1 -> window2 [processed="12"];' in dot


class _Writer:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, str, bytes, str]] = []

        self.created: list[tuple[str, str, str]] = []

    def write(self, cluster: str, db: str, rp: str, body: bytes, precision: str) -> None:
        self.writes.append((cluster, db, rp, body, precision))

    def create_database(self, cluster: str, db: str, rp: str = "") -> None:
        self.created.append((cluster, db, rp))


def test_influxdb_out_create_makes_the_database_when_the_task_starts() -> None:
    script = """
stream
    |from().measurement('cpu')
    |influxDBOut().database('out').retentionPolicy('rp').create()
"""
    writer = _Writer()
    make_task(script, writer=writer)
    assert writer.created == [("", "out", "rp")]


def test_influxdb_out_buffers_flushes_on_interval_and_at_the_end() -> None:
    script = """
stream
    |from().measurement('cpu')
    |influxDBOut().database('out').retentionPolicy('autogen').measurement('m').tag('k', 'v')
        .buffer(3).flushInterval(10s).precision('s')
"""
    task, clock = make_task(script)
    writer = _Writer()
    task.ctx.writer = writer
    feed(task, clock, [cpu(0, 1.0), cpu(1, 2.0)], chunk=1)
    assert writer.writes == []
    feed(task, clock, [cpu(2, 3.0)])  # the buffer is full
    assert len(writer.writes) == 1
    _, db, rp, body, prec = writer.writes[0]
    assert (db, rp, prec) == ("out", "autogen", "s")
    assert body.splitlines()[0] == b"m,k=v value=1 0"
    feed(task, clock, [cpu(5, 4.0)])
    clock.set(16 * S)
    task.tick(clock.now_ns())  # flushInterval passed
    assert len(writer.writes) == 2
    feed(task, clock, [cpu(17, 5.0)])
    task.finish()
    assert len(writer.writes) == 3
    stats = task.node_stats()["influxdb_out2"]
    assert stats["points_written"] == 5


def test_stats_node_counts_per_group_of_the_observed_node() -> None:
    script = """
var data = stream|from().measurement('cpu').groupBy('host')
data|stats(10s).align()|httpOut('out')
data|httpOut('raw')
"""
    task, clock = make_task(script)
    feed(task, clock, [cpu(0, 1.0, host="a"), cpu(1, 1.0, host="a"), cpu(2, 1.0, host="b")])
    clock.set(25 * S)
    task.tick(clock.now_ns())
    out = series(task)
    assert [(s["tags"], s["values"]) for s in out] == [
        ({"host": "a"}, [["1970-01-01T00:00:20Z", 2]]),
        ({"host": "b"}, [["1970-01-01T00:00:20Z", 1]]),
    ]


def _reduced(func: str, rows: list[Any], *, alone: bool) -> tuple[list[dict[str, Any]], int]:
    """A window's reducer fed the closed windows as Rust holds them (alone: the window's only
    child) or as batches (a second child reads them)."""
    script = f"""
var w = stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
w
    |{func}
    |httpOut('out')
"""
    if not alone:
        script += "w\n    |httpOut('windows')\n"
    task, clock = make_task(script)
    feed(task, clock, rows, chunk=7)
    reducer = next(n for n in task.nodes.values() if n.spec.kind == func.split("(")[0])
    window = next(n for n in task.nodes.values() if n.spec.kind == "window")
    assert window.fast is alone  # type: ignore[attr-defined]
    return series(task), reducer.stats.errors


def test_reducer_of_closed_windows_matches_batches() -> None:
    rows: list[Any] = []
    for t in range(0, 60):
        for h in ("a", "b", "c"):
            v: Any = float((t * 7 + len(h)) % 11) if t % 9 else t  # some ints among floats
            if h == "c" and 20 <= t < 35:
                rows.append(("cpu", {"host": h, "k": str(t % 3)}, {"other": 1.0}, t * S))
                continue
            if h == "b" and t == 41:
                v = "text"
            rows.append(("cpu", {"host": h, "k": str(t % 3)}, {"value": v, "x": t}, t * S))
    for func in (
        "mean('value')",
        "count('value')",
        "sum('value')",
        "spread('value')",
        "max('value')",
        "first('value')",
        "percentile('value', 50.0)",
        "min('value').usePointTimes()",
    ):
        got, errors = _reduced(func, rows, alone=True)
        want, want_errors = _reduced(func, rows, alone=False)
        assert got == want, func
        assert errors == want_errors, func
        assert got, func
