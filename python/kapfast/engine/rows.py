"""Row helpers for stateful nodes that work point by point (joins, windows, selectors).

A row is the tuple ``PointBatch.rows()`` yields: ``(name, tags, fields, time_ns)``. Stateless nodes
never build rows; stateful nodes convert a chunk once and convert their output back once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kapfast.batch import PointBatch
from kapfast.engine.messages import Group, StreamChunk

FieldValue = float | int | str | bool
Row = tuple[str, dict[str, str], dict[str, FieldValue], int]

EMPTY = PointBatch.from_rows([])

#: Kapacitor lets a point lose all its fields inside a task (``delete().field(...)``); a PointBatch
#: row needs one, so such rows carry this placeholder field, which :func:`rows` hides again.
NO_FIELDS = "\x00nofields"


#: A join's ``.fill('null')`` makes fields whose value is null; a PointBatch has no nulls, so such
#: a row lists its null fields' names (NUL-separated) in this hidden string field.
NULLS = "\x00nulls"


def batch_rows(batch: PointBatch) -> list[Row]:
    """The rows of a batch, without the placeholder field of field-less points, nulls restored."""
    out = batch.rows()
    names = batch.field_names()
    if NO_FIELDS in names:
        for r in out:
            r[2].pop(NO_FIELDS, None)
    if NULLS in names:
        for r in out:
            nulls = r[2].pop(NULLS, None)
            if isinstance(nulls, str):
                for k in nulls.split("\x00"):
                    r[2][k] = None  # type: ignore[assignment]
    return out


def _encode_nulls(row: Row) -> Row:
    fields = {k: v for k, v in row[2].items() if v is not None}
    fields[NULLS] = "\x00".join(k for k, v in row[2].items() if v is None)
    return (row[0], row[1], fields, row[3])


def to_batch(rows: Sequence[Row]) -> PointBatch:
    """Rows back to a PointBatch; a field whose type changes between rows keeps each row's value."""
    if not rows:
        return EMPTY
    if any(None in r[2].values() for r in rows):
        rows = [_encode_nulls(r) if None in r[2].values() else r for r in rows]
    if any(not r[2] for r in rows):
        rows = [r if r[2] else (r[0], r[1], {NO_FIELDS: True}, r[3]) for r in rows]
    try:
        return PointBatch.from_rows(rows)
    except (TypeError, ValueError):
        # A field changed type inside the batch: build one batch per row and concatenate.
        return PointBatch.concat([PointBatch.from_rows([r]) for r in rows])


def group_of(name: str, tags: dict[str, str], dims: Sequence[str], by_name: bool) -> Group:
    """Kapacitor's ``models.ToGroupID``: sorted dims ``k=v`` joined by ``,``, measurement first."""
    if not dims:
        return Group(name + "\n" if by_name else "", (), by_name, ()) if by_name else Group()
    vals = tuple((d, tags.get(d, "")) for d in dims)
    gid = ",".join(f"{d}={v}" for d, v in vals)
    if by_name:
        gid = name + "\n" + gid
    return Group(gid, tuple(dims), by_name, vals)


class ChunkBuilder:
    """Collects output rows with their groups and makes one StreamChunk of them."""

    __slots__ = ("codes", "db", "groups", "index", "rows", "rp")

    def __init__(self, db: str = "", rp: str = "") -> None:
        self.rows: list[Row] = []
        self.codes: list[int] = []
        self.groups: list[Group] = []
        self.index: dict[str, int] = {}
        self.db = db
        self.rp = rp

    def add(self, row: Row, group: Group) -> None:
        code = self.index.get(group.id)
        if code is None:
            code = self.index[group.id] = len(self.groups)
            self.groups.append(group)
        self.rows.append(row)
        self.codes.append(code)

    def __len__(self) -> int:
        return len(self.rows)

    def chunk(self) -> StreamChunk:
        return StreamChunk(to_batch(self.rows), self.codes, self.groups, self.db, self.rp)


def chunk_rows(chunk: StreamChunk) -> Iterable[tuple[Row, Group]]:
    """The rows of a chunk with their groups, in arrival order."""
    groups = chunk.groups
    for row, code in zip(batch_rows(chunk.batch), chunk.codes.tolist(), strict=True):
        yield row, groups[code]


def jsonable(v: Any) -> Any:
    return v
