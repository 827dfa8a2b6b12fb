"""The InfluxQL kernels through the Python binding: names, arguments and errors.

Batches are built by the line-protocol parser; see ``test_influxql_batches.py`` for the kernels on
data. These tests need only the extension.
"""

from __future__ import annotations

import pytest

from kapfast import _native, influxql
from kapfast.errors import TaskError

SHAPES = {
    "count": "aggregate",
    "sum": "aggregate",
    "mean": "aggregate",
    "median": "aggregate",
    "mode": "aggregate",
    "spread": "aggregate",
    "stddev": "aggregate",
    "first": "selector",
    "last": "selector",
    "min": "selector",
    "max": "selector",
    "percentile": "selector",
    "distinct": "multi",
    "top": "multi",
    "bottom": "multi",
    "holtWinters": "multi",
    "holtWintersWithFit": "multi",
    "elapsed": "transform",
    "difference": "transform",
    "derivative": "transform",
    "cumulativeSum": "transform",
    "movingAverage": "transform",
}


@pytest.mark.parametrize(("func", "shape"), sorted(SHAPES.items()))
def test_every_function_has_its_shape(func: str, shape: str) -> None:
    assert influxql.shape(func) == shape


def test_unknown_function_names_the_known_ones() -> None:
    with pytest.raises(TaskError, match=r'unknown InfluxQL function "avg"; known functions: count, '):
        influxql.shape("avg")
    with pytest.raises(TaskError, match="unknown InfluxQL function"):
        influxql.new_transform("moving_average", 3)


@pytest.mark.parametrize(
    ("func", "args", "message"),
    [
        ("movingAverage", (), "movingAverage: expects a window length, got 0 arguments"),
        ("movingAverage", (0,), "the window length must be greater than 0, got 0"),
        ("movingAverage", (2.5,), "the window length must be an integer, got float"),
        ("elapsed", ("1s",), "the unit must be an integer, got string"),
        ("derivative", (influxql.SECOND, 1), "nonNegative must be a boolean, got integer"),
        ("difference", (1,), "difference: expects no arguments besides the field, got 1 argument"),
        ("mean", (), "mean: is not a transformation"),
        ("cumulativeSum", (None,), "arguments must be int, float, str or bool, got NoneType"),
    ],
)
def test_bad_arguments_are_task_errors(func: str, args: tuple[object, ...], message: str) -> None:
    with pytest.raises(TaskError, match=message):
        _native.InfluxQLTransform(func, args)  # type: ignore[arg-type]


def test_a_transform_state_reports_itself() -> None:
    state = influxql.new_transform("derivative", 10 * influxql.SECOND, True)
    assert state.func == "derivative"
    assert state.errors == 0
    assert repr(state) == 'InfluxQLTransform("derivative", errors=0)'
