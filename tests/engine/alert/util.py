"""Small builders for alert-node unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kapfast._native import PointBatch
from kapfast.alert_event import group_id
from kapfast.engine.messages import BatchMessage, Group, StreamChunk

S = 1_000_000_000


def group(**tags: str) -> Group:
    dims = tuple(sorted(tags))
    return Group(group_id("", tags, dims), dims, False, tuple((k, tags[k]) for k in dims))


def chunk(
    rows: Sequence[tuple[str, dict[str, str], dict[str, Any], int]], dims: Sequence[str] = ()
) -> StreamChunk:
    """A stream chunk of ``rows`` grouped by ``dims``."""
    groups: list[Group] = []
    index: dict[str, int] = {}
    codes: list[int] = []
    for _, tags, _, _ in rows:
        g = group(**{d: tags.get(d, "") for d in dims})
        if g.id not in index:
            index[g.id] = len(groups)
            groups.append(g)
        codes.append(index[g.id])
    return StreamChunk(PointBatch.from_rows(list(rows)), codes, groups)


def values_chunk(values: Sequence[float], *, start: int = 0, name: str = "cpu", **tags: str) -> StreamChunk:
    """One point per second with field ``value``."""
    rows = [(name, dict(tags), {"value": float(v)}, start + i * S) for i, v in enumerate(values)]
    return chunk(rows, dims=sorted(tags))


def batch(
    values: Sequence[float], *, tmax: int, name: str = "cpu", field: str = "value", **tags: str
) -> BatchMessage:
    rows = [(name, dict(tags), {field: float(v)}, tmax - (len(values) - i) * S) for i, v in enumerate(values)]
    return BatchMessage(name, group(**tags), tmax, PointBatch.from_rows(rows))
