"""InfluxDB /query answers decoded in Rust into batches (kapfast.influxdb.answer, issue #13).

The decoder must give the batch message the row-by-row Python reading gives (the JSON decoded
to dicts, ``series_to_batch`` of ``tests/answer_reference.py``, then
:func:`kapfast.engine.replay.batch_message`): the same points, fields, types, tags, group and
time, for any answer. Random answers check that; the cases below name the rules.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest
from tests.answer_reference import series_to_batch

from kapfast.engine.replay import batch_message
from kapfast.influxdb.answer import AnswerSeries, answer_series
from kapfast.influxdb.errors import InfluxDBError
from kapfast.tasks.batch_query import BatchQuery, live_batches
from kapfast.tick import compile_script

S = 1_000_000_000
T0 = 1_700_000_000 * S


def body(*series: dict[str, Any], **result: Any) -> bytes:
    return json.dumps({"results": [{"statement_id": 0, "series": list(series), **result}]}).encode()


def reference(s: dict[str, Any]) -> tuple[str, dict[str, str], int, list[Any], dict[str, str]]:
    """What the row-by-row Python reading makes of one series."""
    rb = series_to_batch(s, False)
    msg = batch_message(rb)
    return rb.name, rb.tags, rb.time_ns, msg.points.rows(), msg.points.field_kinds()


def decoded(s: AnswerSeries) -> tuple[str, dict[str, str], int, list[Any], dict[str, str]]:
    return s.name, s.tags, s.tmax_ns, s.batch.rows(), s.batch.field_kinds()


def _value(rng: random.Random, kind: str) -> Any:
    if rng.random() < 0.2:
        return None
    if kind == "mixed":
        kind = rng.choice(["int", "float", "str", "bool"])
    return {
        "int": lambda: rng.choice([0, -1, 7, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 10**30]),
        "float": lambda: rng.choice([0.1, -2.5, 1e300, 5e-324, 123456.789]),
        "str": lambda: rng.choice(["", "x", 'q"uo\\te', "new\nline", "\u00e9\u4e2d", "\U0001f600"]),
        "bool": lambda: rng.random() < 0.5,
    }[kind]()


def random_series(rng: random.Random) -> dict[str, Any]:
    ncol = rng.randint(0, 4)
    kinds = [rng.choice(["int", "float", "str", "bool", "mixed"]) for _ in range(ncol)]
    columns = ["time"] + [f"f{i}" for i in range(ncol)]
    values = [
        [T0 + rng.randint(-5, 5) * S] + [_value(rng, k) for k in kinds] for _ in range(rng.randint(0, 6))
    ]
    s: dict[str, Any] = {"name": rng.choice(["cpu", "m e,m", "\u00e9"]), "columns": columns, "values": values}
    if rng.random() < 0.7:
        s["tags"] = {k: rng.choice(["a", "", "b c", "x=y"]) for k in rng.sample(["host", "dc", "z"], 2)}
    return s


def test_random_answers_read_as_the_row_by_row_python_reading_reads_them() -> None:
    rng = random.Random(13)
    for _ in range(300):
        series = [random_series(rng) for _ in range(rng.randint(0, 3))]
        got = answer_series(body(*series))
        assert [decoded(s) for s in got] == [reference(s) for s in series], series


def test_numbers_are_floats_nulls_skipped_rows_without_values_dropped() -> None:
    (s,) = answer_series(
        body(
            {
                "name": "cpu",
                "tags": {"host": "a", "dc": ""},
                "columns": ["time", "n", "s", "b", "gone"],
                "values": [
                    [T0, 3, "x", None, None],
                    [T0 + S, None, None, None, None],
                    [T0 + 2 * S, 4.5, None, True, None],
                ],
            }
        )
    )
    assert s.tags == {"host": "a", "dc": ""} and s.tmax_ns == T0 + 2 * S
    assert s.batch.rows() == [
        ("cpu", {"host": "a"}, {"n": 3.0, "s": "x"}, T0),
        ("cpu", {"host": "a"}, {"b": True, "n": 4.5}, T0 + 2 * S),
    ]
    assert s.batch.field_kinds() == {"b": "boolean", "n": "float", "s": "string"}


def test_huge_integers_round_as_float64() -> None:
    (s,) = answer_series(
        body({"name": "m", "columns": ["time", "v"], "values": [[1, 2**64 + 1], [2, 10**30]]})
    )
    assert [r[2]["v"] for r in s.batch.rows()] == [float(2**64 + 1), 1e30]


def test_empty_series_and_absent_tags() -> None:
    got = answer_series(
        body({"name": "cpu"}, {"name": "mem", "columns": ["time", "v"], "values": [[1, None]]})
    )
    assert [(s.name, s.tags, s.tmax_ns, len(s.batch)) for s in got] == [("cpu", {}, 0, 0), ("mem", {}, 0, 0)]
    assert answer_series(body()) == []


def test_rfc3339_times_read_as_with_epoch() -> None:
    (s,) = answer_series(
        body({"name": "m", "columns": ["time", "v"], "values": [["2023-11-14T22:13:20.5Z", 1]]})
    )
    assert s.batch.rows()[0][3] == T0 + S // 2


def test_batch_messages_carry_the_group_and_time_of_the_python_reading() -> None:
    script = "batch\n    |query('''SELECT v FROM db.rp.cpu''').period(10s).every(10s).groupByMeasurement()\n"
    q = BatchQuery.from_node(next(n for n in compile_script(script).nodes if n.kind == "query"))
    s = {"name": "cpu", "tags": {"host": "a", "dc": ""}, "columns": ["time", "v"], "values": [[T0, 1]]}
    (msg,) = live_batches(answer_series(body(s)), q, T0 + 10 * S)
    ref = batch_message(series_to_batch(s, True))
    assert (msg.name, msg.group.id, msg.group.dims, msg.by_name) == (
        ref.name,
        ref.group.id,
        ref.group.dims,
        ref.by_name,
    )
    assert msg.tmax == T0 + 10 * S and msg.points == ref.points


def test_errors_are_the_ones_query_raises(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InfluxDBError, match=r"^database not found: x$") as info:
        answer_series(b'{"error": "database not found: x"}', status=200)
    assert info.value.status == 200
    answer = {
        "results": [
            {"statement_id": 0, "series": [{"name": "a", "columns": ["time", "v"], "values": [[1, 1]]}]},
            {"statement_id": 1, "error": "boom", "messages": [{"level": "warning", "text": "careful"}]},
        ]
    }
    with caplog.at_level(logging.WARNING, "kapfast.influxdb"), pytest.raises(InfluxDBError) as info:
        answer_series(json.dumps(answer).encode(), query="SELECT 1")
    assert info.value.message == "boom" and info.value.statement_id == 1
    assert "InfluxDB warning: careful (query 'SELECT 1')" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"results": [{"series": [', "query answered with bad JSON: EOF while parsing"),
        (b"<html>oops</html>", "query answered with bad JSON: expected value at line 1 column 1"),
        (b"{}", "query answered with query answer has no results"),
        (body({"name": "m", "tags": {"k": 1}}), "invalid type: integer `1`, expected a string"),
        (
            body({"name": "m", "columns": ["time", "v"], "values": [[1, {"a": 1}]]}),
            'series "m", row 0: column "v" holds an object, not a field value',
        ),
        (
            body({"name": "m", "columns": ["time", "v"], "values": [["soon", 1]]}),
            'series "m", row 0: invalid time "soon" in the answer: not an RFC 3339 time',
        ),
    ],
)
def test_malformed_answers_are_clear_errors(text: bytes, message: str) -> None:
    with pytest.raises(InfluxDBError) as info:
        answer_series(text)
    assert message in info.value.message
