"""The InfluxQL kernels on real batches through the Python binding, including windows taken from
Kapacitor's own integration cases (values Kapacitor produced)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapfast import influxql
from kapfast._native import PointBatch
from kapfast.errors import TaskError

S = influxql.SECOND
T0 = 31_536_000 * S  # 1971-01-01T00:00:00Z, where the conformance replays start

FieldValue = float | int | str | bool


def batch(
    values: Sequence[FieldValue | None],
    field: str = "value",
    tags: Sequence[Mapping[str, str]] | None = None,
    extra: Sequence[Mapping[str, FieldValue]] | None = None,
    start: int = 0,
) -> PointBatch:
    """One point per second from ``start``; ``None`` = the point lacks the field."""
    rows = []
    for i, v in enumerate(values):
        fields: dict[str, FieldValue] = dict(extra[i]) if extra else {}
        if v is not None:
            fields[field] = v
        else:
            fields.setdefault("other", 0.0)
        rows.append(("m", dict(tags[i]) if tags else {}, fields, start + i * S))
    return PointBatch.from_rows(rows)


def test_aggregates_keep_influxdb_types() -> None:
    f = batch([4.0, 1.0, 3.0, 1.0])
    i = batch([4, 1, 3, 1])
    assert influxql.reduce(f, "sum", "value") == [(None, None, 9.0)]
    assert influxql.reduce(i, "sum", "value") == [(None, None, 9)]
    assert isinstance(influxql.reduce(i, "sum", "value")[0][2], int)
    assert influxql.reduce(i, "mean", "value") == [(None, None, 2.25)]
    assert influxql.reduce(i, "count", "value") == [(None, None, 4)]
    assert influxql.reduce(f, "stddev", "value") == [(None, None, 1.5)]
    assert influxql.reduce(i, "median", "value") == [(None, None, 2.0)]
    assert influxql.reduce(i, "mode", "value") == [(None, None, 1)]
    assert influxql.reduce(i, "spread", "value") == [(None, None, 3)]


def test_selectors_return_the_row_and_its_time() -> None:
    f = batch([4.0, 1.0, 3.0, 1.0], start=T0)
    assert influxql.reduce(f, "first", "value") == [(0, T0, 4.0)]
    assert influxql.reduce(f, "last", "value") == [(3, T0 + 3 * S, 1.0)]
    assert influxql.reduce(f, "min", "value") == [(1, T0 + S, 1.0)]
    assert influxql.reduce(f, "max", "value") == [(0, T0, 4.0)]
    assert influxql.reduce(f, "percentile", "value", 75.0) == [(2, T0 + 2 * S, 3.0)]
    # InfluxDB reports no point time for the percentile of integers.
    assert influxql.reduce(batch([4, 1, 3, 1]), "percentile", "value", 75) == [(2, None, 3)]
    assert influxql.reduce(f, "percentile", "value", 1.0) == []


def test_strings_and_booleans() -> None:
    s = batch(["b", "a", "b"])
    assert influxql.reduce(s, "count", "value") == [(None, None, 3)]
    assert influxql.reduce(s, "distinct", "value") == [(0, 0, "b"), (1, S, "a")]
    assert influxql.reduce(batch([True, False, True]), "last", "value") == [(2, 2 * S, True)]
    with pytest.raises(TaskError, match='cannot apply mean to field "value": its values are of type string'):
        influxql.reduce(s, "mean", "value")


def test_empty_windows_and_missing_values() -> None:
    nothing = batch([None, None])
    assert influxql.reduce(nothing, "count", "value") == [(None, None, 0)]
    assert influxql.reduce(nothing, "sum", "value") == [(None, None, 0.0)]
    assert influxql.reduce(nothing, "mean", "value") == []
    assert influxql.reduce(nothing, "top", "value", 2) == []
    gappy = batch([1.0, None, 3.0])
    assert influxql.reduce(gappy, "mean", "value") == [(None, None, 2.0)]
    assert influxql.transform(gappy, "difference", "value") == [(2, 2.0)]


def test_rows_select_a_window_of_the_batch() -> None:
    b = batch([5.0, 1.0, 9.0, 2.0])
    assert influxql.reduce(b, "max", "value", rows=[1, 3]) == [(3, 3 * S, 2.0)]
    with pytest.raises(IndexError, match="row 7 is out of range for a batch of 4 rows"):
        influxql.reduce(b, "max", "value", rows=[1, 7])


def test_top_and_bottom_one_point_per_tag() -> None:
    tags = [{"host": "a"}, {"host": "b"}, {"host": "a"}, {"host": "b"}, {}]
    b = batch([5.0, 7.0, 9.0, 1.0, 3.0], tags=tags)
    assert [r[0] for r in influxql.reduce(b, "top", "value", 2)] == [1, 2]
    assert [r[0] for r in influxql.reduce(b, "top", "value", 3, "host")] == [1, 2, 4]
    assert [r[0] for r in influxql.reduce(b, "bottom", "value", 3, "host")] == [0, 3, 4]


def test_holt_winters_conformance_case() -> None:
    # TestStream_HoltWinters: the 10 s window of serverA, holtWinters('value', 3, 0, 1s).
    values = [1000.0, 1001.0, 1002.0, 1003.0, 1004.0, 1006.0, 1007.0, 1007.0, 1008.0, 1009.0]
    b = batch(values, start=T0)
    got = influxql.reduce(b, "holtWinters", "value", 3, 0, S)
    assert got == [
        (None, T0 + 10 * S, 1009.324690106368),
        (None, T0 + 11 * S, 1009.7524349889708),
        (None, T0 + 12 * S, 1010.105056042826),
    ]


def test_selectors_conformance_case() -> None:
    # TestStream_Selectors: |last('value') keeps the selected point's field "another" (= 5).
    vals = [97.1, 92.6, 95.6, 93.1, 92.6, 95.8, 92.7, 96.0, 93.4, 95.3]
    another = [7.0, 2.0, 5.0, 3.0, 2.0, 5.0, 2.0, 6.0, 3.0, 5.0]
    b = batch(vals, extra=[{"another": a} for a in another])
    [(row, _, value)] = influxql.reduce(b, "last", "value")
    assert value == 95.3
    assert row is not None
    assert b.field_values("another")[row] == 5.0


def test_transform_conformance_cases() -> None:
    # TestStream_MovingAverage: movingAverage('value', 4).
    ma = batch([1000.0, 1001.0, 1002.0, 1003.0, 1014.0, 1015.0])
    assert influxql.transform(ma, "movingAverage", "value", 4) == [(3, 1001.5), (4, 1005.0), (5, 1008.5)]
    # TestBatch_Derivative: a point without the field is skipped; unit 1 s.
    d = PointBatch.from_rows(
        [
            ("packets", {}, {"value": 1000.0}, 0),
            ("packets", {}, {"value": 1001.0}, 2 * S),
            ("packets", {}, {"value2": 0.0}, 5 * S),
            ("packets", {}, {"value": 1003.0}, 6 * S),
        ]
    )
    assert influxql.transform(d, "derivative", "value") == [(1, 0.5), (3, 0.5)]
    assert influxql.transform(d, "derivative", "value", 2 * S) == [(1, 1.0), (3, 1.0)]
    # TestBatch_Elapsed: elapsed('value', 1ms) over points 2 s apart.
    assert influxql.transform(d, "elapsed", "value", 1_000_000) == [(1, 2000), (3, 4000)]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-1000, 1000) | st.none(), min_size=1, max_size=40),
    cut=st.integers(0, 40),
    func=st.sampled_from(["difference", "cumulativeSum", "movingAverage", "elapsed", "derivative"]),
)
def test_a_stream_state_fed_in_chunks_answers_as_one_pass(
    values: list[int | None], cut: int, func: str
) -> None:
    args: tuple[int, ...] = {"movingAverage": (3,), "elapsed": (S,)}.get(func, ())
    b = batch(values)
    whole = influxql.transform(b, func, "value", *args)
    state = influxql.new_transform(func, *args)
    cut = min(cut, len(values))
    first = state.feed(b, "value", list(range(cut)))
    rest = state.feed(b, "value", list(range(cut, len(values))))
    assert first + rest == whole


def test_rows_may_be_integer_buffers() -> None:
    import array

    import numpy as np

    b = batch([5.0, 1.0, 9.0, 2.0])
    want = [(3, 3 * S, 2.0)]
    assert influxql.reduce(b, "max", "value", rows=array.array("I", [1, 3])) == want
    assert influxql.reduce(b, "max", "value", rows=np.array([1, 3], dtype=np.int64)) == want
    assert influxql.reduce(b, "max", "value", rows=np.array([1, 3], dtype=np.uint64)) == want
    state = influxql.new_transform("cumulativeSum")
    assert state.feed(b, "value", np.array([2, 0], dtype=np.int32)) == [(2, 9.0), (0, 14.0)]
    with pytest.raises(IndexError, match="must not be negative"):
        influxql.reduce(b, "max", "value", rows=np.array([-1], dtype=np.int64))
    with pytest.raises(TypeError, match="rows must be a sequence"):
        influxql.reduce(b, "max", "value", rows="01")


def test_a_field_with_two_types_keeps_the_first() -> None:
    # Like TestStream_Aggregate_Changing_Type: the type of the first value wins.
    b = PointBatch.from_rows(
        [
            ("m", {}, {"value": 2}, 0),
            ("m", {}, {"value": 2.5}, S),
            ("m", {}, {"value": 3}, 2 * S),
        ]
    )
    assert influxql.reduce(b, "sum", "value") == [(None, None, 5)]
    state = influxql.new_transform("difference")
    assert state.feed(b, "value") == [(2, 1)]
    assert state.errors == 1
