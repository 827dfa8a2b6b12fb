"""The batch operations the engine added to the Rust extension (rust/src/py/ops.rs)."""

from __future__ import annotations

import numpy as np
import pytest

from kapfast._native import (
    PointBatch,
    batch_group_codes,
    batch_measurement_codes,
    batch_select_fields,
    batch_split,
)

ROWS = [
    ("cpu", {"host": "a", "dc": "x"}, {"v": 1.0, "w": 1}, 1),
    ("cpu", {"host": "b"}, {"v": 2.0}, 2),
    ("mem", {"host": "a", "dc": "x"}, {"v": 3.0}, 3),
    ("cpu", {"host": "a", "dc": "x"}, {"v": 4.0}, 4),
]


def codes(raw: bytes) -> list[int]:
    return np.frombuffer(raw, dtype="<u4").tolist()  # type: ignore[no-any-return]


def test_group_codes_named_dims_missing_tag_is_empty() -> None:
    raw, groups = batch_group_codes(PointBatch.from_rows(ROWS), ["dc", "host"])
    assert codes(raw) == [0, 1, 0, 0]
    assert groups == [
        ("dc=x,host=a", [("dc", "x"), ("host", "a")]),
        ("dc=,host=b", [("dc", ""), ("host", "b")]),
    ]


def test_group_codes_star_exclude_by_measurement() -> None:
    raw, groups = batch_group_codes(PointBatch.from_rows(ROWS), [], True, ["dc"], True)
    assert codes(raw) == [0, 1, 2, 0]
    assert [g for g, _ in groups] == ["cpu\nhost=a", "cpu\nhost=b", "mem\nhost=a"]


def test_ungrouped_is_one_nil_group() -> None:
    raw, groups = batch_group_codes(PointBatch.from_rows(ROWS), [])
    assert codes(raw) == [0, 0, 0, 0] and groups == [("", [])]


def test_measurement_codes() -> None:
    raw, names = batch_measurement_codes(PointBatch.from_rows(ROWS))
    assert [names[c] for c in codes(raw)] == ["cpu", "cpu", "mem", "cpu"]


def test_split_keeps_rows_and_order() -> None:
    b = PointBatch.from_rows(ROWS)
    parts = batch_split(b, np.array([1, 0, 1, 1], dtype="<u4").tobytes(), 3)
    assert [len(p) for p in parts] == [1, 3, 0]
    assert parts[1].rows() == [b.rows()[0], b.rows()[2], b.rows()[3]]
    assert parts[0].rows() == [b.rows()[1]]
    with pytest.raises(ValueError, match="code bytes"):
        batch_split(b, b"\x00", 1)


def test_select_fields() -> None:
    b = batch_select_fields(PointBatch.from_rows(ROWS), ["w"])
    assert b.field_names() == ["w"]
    assert b.rows()[0] == ("cpu", {"dc": "x", "host": "a"}, {"w": 1}, 1)
    assert len(b) == 4
