"""The batch operations the engine added to the Rust extension (rust/src/py/ops.rs)."""

from __future__ import annotations

import numpy as np
import pytest

from kapfast._native import (
    Group,
    GroupIndex,
    GroupIntTable,
    PointBatch,
    StreamChunk,
    batch_group_codes,
    batch_group_ids,
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
    with pytest.raises(ValueError, match="4 bytes per row"):
        batch_split(b, b"\x00", 1)
    chunk = StreamChunk(b, [1, 0, 1, 1], [Group("a"), Group("b")])
    assert [len(p) for p in batch_split(b, chunk.codes, 2)] == [1, 3], "a chunk's codes, as they are"


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
        chunk = index.chunk(b)
        groups = chunk.groups
        want_raw, want_ids, _ = batch_group_ids(b, dims, star, exclude, by_name)
        assert chunk.codes.tolist() == codes(want_raw)
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


def test_group_ints_match_by_object_or_id_and_are_never_reused() -> None:
    table = GroupIntTable()
    a, b = Group("a"), Group("b")
    pts = PointBatch.from_rows(ROWS[:3])
    ints = table.codes(StreamChunk(pts, [0, 1, 1], [a, b]))
    assert ints.tolist() == [0, 1, 1] and np.asarray(ints).dtype == np.uint32
    assert table.codes(StreamChunk(pts, [0, 1, 1], [b, a])).tolist() == [1, 0, 0]
    # another object of the same id is the same group
    assert table.codes(StreamChunk.of_group(pts, Group("a"))).tolist() == [0, 0, 0]
    assert table.get_id("b") == 1 and table[1] is b and table.get(7) is None and len(table) == 2
    assert table.forget("a") == 0 and table.forget("a") is None and 0 not in table
    # seen again after being forgotten: a new int, never an old one
    assert table.codes(StreamChunk(pts, [1, 1, 0], [a, b])).tolist() == [1, 1, 2]
    assert table.next == 3 and [(i, g.id) for i, g in table.items()] == [(1, "b"), (2, "a")]
    copy = GroupIntTable()
    copy.load(table.next, table.items())
    assert copy.int_of(Group("a")) == 2 and copy.int_of(Group("c")) == 3


def test_chunk_checks_its_codes_and_shares_them() -> None:
    b = PointBatch.from_rows(ROWS)
    x, y, z = Group("x"), Group("y"), Group("z")
    chunk = StreamChunk(b, np.array([2, 0, 2, 1], dtype=np.uint32), [x, y, z], "db", "rp")
    assert len(chunk) == 4 and chunk.groups == (x, y, z) and (chunk.db, chunk.rp) == ("db", "rp")
    view = np.asarray(chunk.codes)
    assert view.dtype == np.uint32 and view.tolist() == [2, 0, 2, 1]
    assert not view.flags.writeable, "a read-only view of the Rust buffer"
    assert chunk.codes == [2, 0, 2, 1] and chunk.codes[-1] == 1
    # the same codes from every form the constructor takes
    for codes_in in ([2, 0, 2, 1], np.array([2, 0, 2, 1], dtype="<u4").tobytes(), chunk.codes):
        assert StreamChunk(b, codes_in, [x, y, z]).codes == chunk.codes
    with pytest.raises(ValueError, match="3 group codes for a batch of 4 rows"):
        StreamChunk(b, [0, 0, 0], [x])
    with pytest.raises(ValueError, match="group code 3 out of range of 3 groups"):
        StreamChunk(b, [0, 1, 2, 3], [x, y, z])
    with pytest.raises(TypeError, match="Group objects"):
        StreamChunk(b, [0, 0, 0, 0], ["x"])
    assert StreamChunk.of_group(b, y).codes == [0, 0, 0, 0]


def test_chunk_edits_keep_each_row_s_group() -> None:
    b = PointBatch.from_rows(ROWS)
    x, y, z = Group("x"), Group("y"), Group("z")
    chunk = StreamChunk(b, [2, 0, 2, 1], [x, y, z], "db", "rp")
    kept = chunk.filter(np.array([True, False, False, True]))
    assert (
        kept.codes == [2, 1]
        and kept.groups == chunk.groups
        and kept.batch.rows() == [b.rows()[0], b.rows()[3]]
    )
    assert kept.db == "db"
    taken = chunk.take(np.array([3, 0], dtype=np.uint32))
    assert taken.codes == [1, 2] and taken.batch.rows() == [b.rows()[3], b.rows()[0]]
    assert chunk.take([1], b.take([2])).batch.rows() == [b.rows()[2]]
    assert chunk.with_batch(b.take([3, 2, 1, 0])).codes == chunk.codes
    with pytest.raises(ValueError):
        chunk.with_batch(b.take([0]))
    # regroup: output row k came from input row rows[k]; groups in first-seen order
    rows = np.array([3, 0, 1, 3], dtype="<u4").tobytes()
    out = chunk.regroup(b, rows)
    assert out.codes == [0, 1, 2, 0] and out.groups == (y, z, x)
    with pytest.raises(IndexError):
        chunk.regroup(b.take([0]), np.array([9], dtype="<u4").tobytes())
