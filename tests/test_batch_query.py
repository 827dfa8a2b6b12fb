"""The InfluxQL and schedule of a batch task's query() node (kapfast.tasks.batch_query, .cron)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from kapfast.errors import InputError
from kapfast.influxdb.answer import AnswerSeries, answer_series
from kapfast.tasks.batch_query import BatchQuery, live_batches, recorded_batch, recorded_batches
from kapfast.tasks.cron import CronSchedule
from kapfast.tick import compile_script
from kapfast.timefmt import format_rfc3339_ns

S = 1_000_000_000
T0 = 1_700_000_000 * S  # 2023-11-14T22:13:20Z
START, STOP = "'2023-11-14T22:13:20Z'", "'2023-11-14T22:13:30Z'"


def query(q: str, props: str = ".period(10s).every(10s)") -> BatchQuery:
    script = f"batch\n    |query('''{q}'''){props}\n"
    node = next(n for n in compile_script(script).nodes if n.kind == "query")
    return BatchQuery.from_node(node)


def text(q: str, props: str = ".period(10s).every(10s)") -> str:
    return query(q, props).text(T0, T0 + 10 * S)


def test_time_condition_alone_and_after_the_querys_own_condition() -> None:
    assert text('SELECT mean("v") FROM "db"."rp"."cpu"') == (
        f'SELECT mean("v") FROM "db"."rp"."cpu" WHERE time >= {START} AND time < {STOP}'
    )
    assert text("SELECT v FROM db.rp.cpu WHERE host = 'a' OR host = 'b' ") == (
        f"SELECT v FROM db.rp.cpu WHERE (host = 'a' OR host = 'b') AND time >= {START} AND time < {STOP}"
    )


def test_group_by_and_fill_come_from_the_node_and_replace_the_querys_own() -> None:
    q = query(
        "SELECT mean(v) FROM db.rp.cpu WHERE x > 1 GROUP BY region fill(0) ORDER BY time DESC LIMIT 5",
        ".period(10s).every(10s).groupBy(time(5s), 'host', *).fill('none')",
    )
    assert q.dropped_group_by == "region"
    assert q.text(T0, T0 + 10 * S) == (
        f"SELECT mean(v) FROM db.rp.cpu WHERE (x > 1) AND time >= {START} AND time < {STOP}"
        ' GROUP BY time(5000000000ns), "host", * fill(none) ORDER BY time DESC LIMIT 5'
    )
    # without .groupBy() the query's GROUP BY goes (Kapacitor), its fill stays unless .fill() is set
    assert text("SELECT mean(v) FROM db.rp.cpu GROUP BY host fill(previous)") == (
        f"SELECT mean(v) FROM db.rp.cpu WHERE time >= {START} AND time < {STOP} fill(previous)"
    )


def test_keywords_inside_strings_identifiers_regexes_and_calls_are_left_alone() -> None:
    q = (
        'SELECT "group by" FROM db.rp."where" WHERE host = \'GROUP BY x\' '
        'AND path =~ /LIMIT 3|ORDER BY/ AND "limit" > 1'
    )
    assert text(q) == (
        'SELECT "group by" FROM db.rp."where" WHERE (host = \'GROUP BY x\' AND path =~ /LIMIT 3|ORDER BY/'
        f' AND "limit" > 1) AND time >= {START} AND time < {STOP}'
    )


def test_align_group_moves_the_time_offset_to_the_start() -> None:
    q = query("SELECT mean(v) FROM db.rp.m", ".period(10s).every(10s).groupBy(time(7s)).alignGroup()")
    start = T0 + 3 * S
    assert f"GROUP BY time(7000000000ns, {start % (7 * S)}ns)" in q.text(start, start + 10 * S)
    plain = query("SELECT mean(v) FROM db.rp.m", ".period(10s).every(10s).groupBy(time(7s, 2s))")
    assert plain.text(start, start + 10 * S).endswith("GROUP BY time(7000000000ns, 2000000000ns)")


@pytest.mark.parametrize(
    ("q", "props", "message"),
    [
        ("SELECT v FROM db.rp.m; DROP DATABASE x", ".every(1s)", "single select statement, got 2"),
        ("DROP DATABASE _internal", ".every(1s)", 'query is not a select statement "DROP DATABASE'),
        ("SELECT v", ".every(1s)", "expected FROM"),
        ("SELECT v FROM db.rp.m", ".period(1s)", "must define one of 'every' or 'cron'"),
        ("SELECT v FROM db.rp.m", ".every(1s).groupBy(time(1s), time(2s))", "more than one time dimension"),
    ],
)
def test_bad_queries_are_refused(q: str, props: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        query(q, props)


def test_every_offset_align_schedule() -> None:
    q = query("SELECT v FROM db.rp.m", ".period(1m).every(10s).offset(5s)")
    assert q.next_tick(T0 + 3 * S) == T0 + 13 * S
    assert q.bounds(T0 + 13 * S) == (T0 + 8 * S - 60 * S, T0 + 8 * S)
    aligned = query("SELECT v FROM db.rp.m", ".period(10s).every(10s).align()")
    assert aligned.next_tick(T0 + 3 * S) == T0 + 10 * S
    assert aligned.next_tick(T0 + 10 * S) == T0 + 20 * S


def test_cron_schedule() -> None:
    def local(*a: int) -> int:
        return int(time.mktime(dt.datetime(*a).timetuple())) * S  # type: ignore[misc]

    every5 = CronSchedule.parse("*/5 * * * *")
    assert every5.next_after(local(2024, 3, 1, 10, 2, 30)) == local(2024, 3, 1, 10, 5, 0)
    assert every5.next_after(local(2024, 3, 1, 10, 5, 0)) == local(2024, 3, 1, 10, 10, 0)
    seconds = CronSchedule.parse("*/15 * * * * * *")
    assert seconds.next_after(local(2024, 3, 1, 10, 2, 31)) == local(2024, 3, 1, 10, 2, 45)
    weekdays = CronSchedule.parse("0 9 * * MON-FRI")
    assert weekdays.next_after(local(2024, 3, 1, 10, 0, 0)) == local(2024, 3, 4, 9, 0, 0)  # Fri → Mon
    # both day fields restricted: either matches
    either = CronSchedule.parse("0 0 13 * 5")
    assert either.next_after(local(2024, 9, 1, 0, 0, 0)) == local(2024, 9, 6, 0, 0, 0)
    monthly = CronSchedule.parse("@monthly")
    assert monthly.next_after(local(2024, 1, 31, 12, 0, 0)) == local(2024, 2, 1, 0, 0, 0)
    assert CronSchedule.parse("0 0 29 2 * 2024").next_after(local(2024, 3, 1, 0, 0, 0)) is None
    assert CronSchedule.parse("0 12 * JUL,AUG SUN").next_after(local(2024, 7, 1, 0, 0, 0)) == local(
        2024, 7, 7, 12, 0, 0
    )
    q = query("SELECT v FROM db.rp.m", ".period(1m).cron('0 * * * *')")
    assert q.next_tick(local(2024, 3, 1, 10, 2, 30)) == local(2024, 3, 1, 11, 0, 0)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * *", "expected 5, 6 or 7 fields"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("* * L * *", "L, W and # forms"),
        ("*/0 * * * *", "bad step"),
        ("5-2 * * * *", "empty range"),
        ("* * * FOO *", "bad month"),
    ],
)
def test_bad_cron_expressions(expr: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        CronSchedule.parse(expr)


def test_answers_become_batches_as_kapacitor_reads_them() -> None:
    series = {
        "name": "cpu",
        "tags": {"host": "a"},
        "columns": ["time", "n", "s", "gone"],
        "values": [[T0, 3, "x", None], [T0 + S, None, None, None], [T0 + 2 * S, 4.5, None, None]],
    }

    def decoded(*series: dict[str, Any]) -> list[AnswerSeries]:
        return answer_series(json.dumps({"results": [{"statement_id": 0, "series": list(series)}]}).encode())

    answer = decoded(series)
    rb = recorded_batch(answer[0], by_name=True)
    points = [(p.time_ns, p.fields) for p in rb.points]
    assert points == [(T0, {"n": 3.0, "s": "x"}), (T0 + 2 * S, {"n": 4.5})]
    assert isinstance(rb.points[0].fields["n"], float) and rb.by_name and rb.time_ns == T0 + 2 * S
    raw = query("SELECT n FROM db.rp.cpu")
    by_time = query("SELECT mean(n) FROM db.rp.cpu", ".period(10s).every(10s).groupBy(time(5s))")
    stop = T0 + 10 * S
    # Kapacitor's QueryNode.doQuery and replay service alike: the query's stop unless the query
    # groups by time (then the batch keeps its latest point's time)
    assert [b.tmax for b in live_batches(answer, raw, stop)] == [stop]
    assert [b.tmax for b in live_batches(answer, by_time, stop)] == [T0 + 2 * S]
    assert [b.time_ns for b in recorded_batches(answer, raw, stop)] == [stop]
    assert [b.time_ns for b in recorded_batches(answer, by_time, stop)] == [T0 + 2 * S]
    (msg,) = live_batches(answer, raw, stop)
    assert msg.points.rows() == [("cpu", {"host": "a"}, f, t) for t, f in points]
    assert msg.group.id == "host=a" and not msg.by_name
    # an answer without epoch=ns carries RFC 3339 times: read the same
    rfc = dict(series, values=[[format_rfc3339_ns(v[0]), *v[1:]] for v in series["values"]])
    assert recorded_batch(decoded(rfc)[0], by_name=True) == rb
