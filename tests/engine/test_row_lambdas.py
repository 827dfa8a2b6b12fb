"""Lambdas on the engine's row paths (eval .tags(), stateCount/stateDuration, from with truncate,
combine) go through the Rust evaluator with per-group state, whatever the chunking."""

from __future__ import annotations

from typing import Any

import pytest
from tests.engine.helpers import cpu, feed, make_task, series

from kapfast.engine.task import Task


def _run(script: str, rows: list[Any], chunk: int = 0) -> tuple[Task, list[dict[str, Any]]]:
    task, clock = make_task(script)
    feed(task, clock, rows, chunk=chunk)
    return task, series(task)


def _errors(task: Task, node: str) -> int:
    return int(task.stats()["nodes"][node]["errors"])


EVAL_TAGS_COUNT = """
stream
    |from().measurement('cpu').groupBy('host')
    |eval(lambda: count(), lambda: 'x').as('n', 'label').tags('label')
    |httpOut('out')
"""


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_eval_tags_keeps_count_per_group(chunk: int) -> None:
    rows = [cpu(t, 1.0, host=h) for t in range(0, 10) for h in ("a", "b")]
    _, out = _run(EVAL_TAGS_COUNT, rows, chunk)
    assert [s["tags"] for s in out] == [{"host": "a", "label": "x"}, {"host": "b", "label": "x"}]
    for s in out:
        assert s["columns"] == ["time", "n"]
        assert s["values"] == [["1970-01-01T00:00:09Z", 10]]


def test_eval_tags_later_expressions_see_earlier_results() -> None:
    script = """
stream
    |from().measurement('cpu')
    |eval(lambda: 'x', lambda: 5s, lambda: "label" + 'y').as('label', 'd', 'z').tags('label')
    |httpOut('out')
"""
    _, out = _run(script, [cpu(0, 1.0, host="a")])
    assert out == [
        {
            "name": "cpu",
            "tags": {"host": "a", "label": "x"},
            "columns": ["time", "d", "z"],
            "values": [["1970-01-01T00:00:00Z", 5_000_000_000, "xy"]],
        }
    ]


def test_eval_tags_failing_rows_are_skipped_and_counted() -> None:
    # `if` evaluates only the branch it takes (the Rust evaluator's documented semantics)
    script = """
stream
    |from().measurement('cpu')
    |eval(lambda: if("value" > 3.0, 'big', "nope"), lambda: count()).as('label', 'c').tags('label')
    |httpOut('out')
"""
    task, out = _run(script, [cpu(t, float(t)) for t in range(6)], chunk=2)
    assert out[0]["tags"] == {"label": "big"}
    assert out[0]["values"] == [["1970-01-01T00:00:05Z", 2]]  # count() saw only surviving rows
    assert _errors(task, "eval2") == 4


def test_eval_tag_must_be_a_string() -> None:
    script = """
stream
    |from().measurement('cpu')
    |eval(lambda: "value" * 2.0).as('label').tags('label')
    |httpOut('out')
"""
    task, out = _run(script, [cpu(0, 1.0), cpu(1, 2.0)])
    assert out == []
    assert _errors(task, "eval2") == 2


STATE_COUNT = """
stream
    |from().measurement('cpu').groupBy('host')
    |stateCount(lambda: count() > 2)
    |httpOut('out')
"""


@pytest.mark.parametrize("chunk", [0, 1, 4])
def test_state_count_lambda_state_is_per_group(chunk: int) -> None:
    rows = [cpu(t, 1.0, host=h) for t in range(0, 6) for h in ("a", "b")]
    _, out = _run(STATE_COUNT, rows, chunk)
    assert [s["values"] for s in out] == [[["1970-01-01T00:00:05Z", 4, 1.0]]] * 2


def test_state_duration_non_boolean_rows_are_skipped() -> None:
    script = """
stream
    |from().measurement('cpu')
    |stateDuration(lambda: "value" * 1.0)
    |httpOut('out')
"""
    task, out = _run(script, [cpu(t, 1.0) for t in range(0, 5)])
    assert out == []
    assert _errors(task, "state_duration2") == 5


def test_from_truncate_applies_where_first() -> None:
    script = """
stream
    |from().measurement('cpu').truncate(1s).where(lambda: sigma("value") < 1.5)
    |httpOut('out')
"""
    rows = [cpu(t + 0.5, float(t % 3), host="a") for t in range(0, 4)]
    _, out = _run(script, rows, 1)
    assert out[0]["values"] == [["1970-01-01T00:00:03Z", 0.0]]


def test_combine_matches_with_rust_lambdas() -> None:
    script = """
stream
    |from().measurement('cpu')
    |combine(lambda: "host" == 'a', lambda: TRUE).as('x', 'y')
    |httpOut('out')
"""
    rows = [cpu(0, 1.0, host="a"), cpu(0, 2.0, host="b"), cpu(1, 3.0, host="a")]
    _, out = _run(script, rows)
    assert out == [
        {
            "name": "cpu",
            "tags": {"x.host": "a", "y.host": "b"},
            "columns": ["time", "x.value", "y.value"],
            "values": [["1970-01-01T00:00:00Z", 1.0, 2.0]],
        }
    ]
