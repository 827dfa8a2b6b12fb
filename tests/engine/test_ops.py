"""The batch operations the engine added to the Rust extension (rust/src/py/ops.rs)."""

from __future__ import annotations

import numpy as np
import pytest

from kapfast._native import (
    GroupIndex,
    GroupObjects,
    PointBatch,
    batch_group_codes,
    batch_group_ids,
    batch_measurement_codes,
    batch_select_fields,
    batch_split,
    rows_groups,
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


def _index_case(rows: list, dims: list[str], star: bool, exclude: list[str], by_name: bool) -> None:
    index = GroupIndex(dims, star, exclude, by_name)
    seen: dict[str, object] = {}
    for part in (rows, rows[::-1], rows[1:], rows):
        b = PointBatch.from_rows(part)
        raw, groups = index.codes(b)
        want_raw, want_ids, _ = batch_group_ids(b, dims, star, exclude, by_name)
        assert codes(raw) == codes(want_raw)
        assert [g.id for g in groups] == want_ids
        want_tags = batch_group_codes(b, dims, star, exclude, by_name)[1]
        assert [(g.id, list(g.tags)) for g in groups] == [(i, list(map(tuple, t))) for i, t in want_tags]
        for g in groups:
            assert g.by_measurement == by_name
            assert seen.setdefault(g.id, g) is g  # one object per group across chunks
    assert len(index) == len(seen)


def test_group_index_names_groups_as_batch_group_ids() -> None:
    rows = [
        *ROWS,
        ("cpu", {"host": "", "dc": "y"}, {"v": 1.0}, 5),
        ("cpu", {"dc": "y"}, {"v": 1.0}, 6),  # no host: the same group as host=""
        ("disk", {}, {"v": 1.0}, 7),
    ]
    for dims, star, exclude, by_name in (
        (["dc", "host"], False, [], False),
        (["host", "nope"], False, [], True),
        ([], True, ["dc"], True),
        ([], True, [], False),
        ([], False, [], False),
    ):
        _index_case(rows, dims, star, exclude, by_name)


def test_group_objects_match_by_object_and_forget() -> None:
    objs = GroupObjects()
    a, b = object(), object()
    assert objs.codes([a, b], np.array([0, 1, 1], dtype=np.uint32)) is None
    objs.learn([a, b], [7, 9])
    assert codes(objs.codes([b, a], np.array([0, 1, 1], dtype=np.uint32))) == [9, 7, 7]
    assert codes(objs.codes([a], [0, 0])) == [7, 7]
    objs.forget(7)
    assert objs.codes([a, b], [0]) is None
    with pytest.raises(IndexError):
        objs.codes([b], [1])


def test_rows_groups_first_seen_order() -> None:
    g = ["x", "y", "z"]
    rows = np.array([3, 0, 1, 3], dtype="<u4").tobytes()
    raw, groups = rows_groups(np.array([2, 0, 2, 1], dtype=np.uint32), rows, g)
    assert codes(raw) == [0, 1, 2, 0]
    assert groups == ["y", "z", "x"]
    with pytest.raises(IndexError):
        rows_groups([0], rows, g)
