"""kapfast._native.PointBatch: construction, zero-copy column views, selection, equality."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from kapfast import lineproto
from kapfast._native import ColumnView, PointBatch

NO_TAG = 2**32 - 1


def sample() -> PointBatch:
    body = b'cpu,host=a,dc=x usage=1.5,n=3i,ok=T,s="hi" 10\ncpu,host=b usage=2 20\nmem,host=a free=7u 30\n'
    res = lineproto.parse(body, now_ns=0)
    assert res.ok
    return res.batch


def test_views_are_zero_copy_and_typed() -> None:
    b = sample()
    usage = b.field("usage")
    assert isinstance(usage, ColumnView)
    assert (usage.format, usage.name, len(usage)) == ("d", "usage", 3)
    a1, a2 = np.asarray(usage), np.asarray(b.field("usage"))
    assert np.shares_memory(a1, a2)  # two views, one Rust buffer: nothing was copied
    assert a1.dtype == np.float64 and a1.tolist() == [1.5, 2.0, 0.0]
    assert np.asarray(b.field("n")).dtype == np.int64
    assert np.asarray(b.field("free")).dtype == np.uint64
    assert np.asarray(b.field("ok")).dtype == np.bool_
    assert np.asarray(b.time()).dtype == np.int64
    assert np.frombuffer(b.field("usage"), dtype=np.float64).tolist() == [1.5, 2.0, 0.0]
    m = memoryview(b.time())
    assert m.readonly and m.format == "q" and m.tolist() == [10, 20, 30]
    assert b.field_valid("free").to_list() == [False, False, True]
    assert "usage" in repr(usage)


def test_views_are_read_only() -> None:
    arr = np.asarray(sample().time())
    with pytest.raises(ValueError):
        arr[0] = 1


def test_view_keeps_the_batch_alive() -> None:
    b = sample()
    view = b.field("usage")
    del b
    gc.collect()
    _ = [bytes(1000) for _ in range(1000)]
    assert np.asarray(view).tolist() == [1.5, 2.0, 0.0]


def test_string_and_mixed_fields_have_no_buffer() -> None:
    b = sample()
    with pytest.raises(TypeError, match="field_values"):
        b.field("s")
    assert b.field_values("s") == ["hi", None, None]
    mixed = lineproto.parse(b'm a=1 1\nn a="x" 2\n', now_ns=0).batch
    assert mixed.field_kind("a") == "mixed"
    assert mixed.field_values("a") == [1.0, "x"]
    with pytest.raises(KeyError):
        b.field("nope")
    with pytest.raises(KeyError):
        b.field_kind("nope")


def test_tags_are_dictionary_encoded() -> None:
    b = sample()
    codes, values = b.tag("host")
    assert codes.format == "I"
    assert [values[c] for c in np.asarray(codes)] == ["a", "b", "a"]
    dc_codes, dc_values = b.tag("dc")
    assert np.asarray(dc_codes).tolist() == [0, NO_TAG, NO_TAG] and dc_values == ["x"]
    assert b.tag_values("dc") == ["x", None, None]
    with pytest.raises(KeyError):
        b.tag("nope")


def test_describing_methods() -> None:
    b = sample()
    assert b.series() == ["cpu,dc=x,host=a", "cpu,host=b", "mem,host=a"]
    assert b.measurements() == ["cpu", "mem"]
    assert b.tag_keys() == ["dc", "host"]
    assert b.field_names() == ["free", "n", "ok", "s", "usage"]
    assert b.field_kinds() == {
        "free": "unsigned",
        "n": "integer",
        "ok": "boolean",
        "s": "string",
        "usage": "float",
    }
    r = repr(b)
    assert r.startswith("<PointBatch 3 rows, 3 series") and "usage: float" in r


def test_from_rows_round_trips_rows() -> None:
    b = sample()
    again = PointBatch.from_rows(b.rows(), kinds={"free": "unsigned"})
    assert again == b
    assert again.rows() == b.rows()
    assert PointBatch.from_rows(b.rows()) != b  # free comes back as a signed integer


def test_rows_of_few_rows_taken_from_a_large_dictionary() -> None:
    # rows() shares one Python string per dictionary entry, except for a dictionary much
    # larger than the rows read (a few rows taken from a large batch): both give the rows
    lines = "".join(f'm{i % 3},host=h{i},dc=d{i % 2} v={i}i,s="x{i % 5}" {i}\n' for i in range(500))
    b = lineproto.parse(lines.encode(), precision="ns", now_ns=0).batch
    every = b.rows()
    assert every[7] == ("m1", {"dc": "d1", "host": "h7"}, {"s": "x2", "v": 7}, 7)
    assert b.take([499, 3]).rows() == [every[499], every[3]]
    assert b.take(list(range(0, 500, 2))).rows() == every[::2]


def test_from_rows_kinds_and_errors() -> None:
    b = PointBatch.from_rows(
        [("m", {"t": ""}, {"f": 1, "u": 2**64 - 1}, 5)], kinds={"f": "float", "u": "unsigned"}
    )
    assert b.field_kind("f") == "float" and b.field_kind("u") == "unsigned"
    assert b.tag_keys() == []  # an empty tag value is no tag, as in InfluxDB
    with pytest.raises(ValueError, match="int64 range"):
        PointBatch.from_rows([("m", {}, {"u": 2**64 - 1}, 0)])
    with pytest.raises(ValueError, match="row 0: missing fields"):
        PointBatch.from_rows([("m", {}, {}, 0)])
    with pytest.raises(ValueError, match="row 1: missing measurement"):
        PointBatch.from_rows([("m", {}, {"f": 1.0}, 0), ("", {}, {"f": 1.0}, 0)])
    with pytest.raises(TypeError, match="expected float, int, str or bool"):
        PointBatch.from_rows([("m", {}, {"f": [1]}, 0)])  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="unknown field kind"):
        PointBatch.from_rows([("m", {}, {"f": 1}, 0)], kinds={"f": "double"})
    with pytest.raises(TypeError, match="row 0"):
        PointBatch.from_rows([("m", {}, {"f": 1.0})])  # type: ignore[list-item]


def test_filter_take_concat() -> None:
    b = sample()
    assert b.filter([True, False, True]).rows() == [b.rows()[0], b.rows()[2]]
    assert b.filter(np.array([False, True, False])).rows() == [b.rows()[1]]
    assert b.filter(np.array([0, 1, 0], dtype=np.uint8)).series() == ["cpu,host=b"]
    only_mem = b.filter([False, False, True])
    assert only_mem.field_names() == ["free"] and only_mem.tag_keys() == ["host"]
    assert b.take([2, 0, -1]).rows() == [b.rows()[2], b.rows()[0], b.rows()[2]]
    assert b.take(np.array([1], dtype=np.int64)).rows() == [b.rows()[1]]
    with pytest.raises(IndexError):
        b.take([3])
    with pytest.raises(ValueError, match="mask has 2 items"):
        b.filter([True, False])
    both = PointBatch.concat([b, b.take([1])])
    assert len(both) == 4 and both.rows() == [*b.rows(), b.rows()[1]]
    assert PointBatch.concat([b.take([0]), b.take([1, 2])]) == b
    assert len(PointBatch.concat([])) == 0


def test_equality_is_by_points() -> None:
    b = sample()
    assert b == sample()
    assert b != b.take([0, 1])
    assert b != "not a batch"
    with pytest.raises(TypeError):
        hash(b)
