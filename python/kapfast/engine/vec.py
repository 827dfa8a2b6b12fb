"""Vectorised helpers: per-row measurement and group codes from Rust, numpy on columns.

These keep the stateless steps and the window's bookkeeping free of a Python object per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from kapfast.batch import GroupIndex, PointBatch, batch_measurement_codes
from kapfast.engine.messages import StreamChunk

RowCodes = npt.NDArray[np.uint32]


def measurement_mask(batch: PointBatch, measurement: str) -> npt.NDArray[np.bool_] | None:
    """Rows whose measurement is ``measurement``; None when every row is (no filtering needed)."""
    ms = batch.measurements()
    if ms == [measurement]:
        return None
    if measurement not in ms:
        return np.zeros(len(batch), dtype=bool)
    raw, names = batch_measurement_codes(batch)
    codes = np.frombuffer(raw, dtype="<u4")
    return codes == names.index(measurement)  # type: ignore[no-any-return]


def measurement_names(batch: PointBatch) -> tuple[RowCodes, list[str]]:
    raw, names = batch_measurement_codes(batch)
    return np.frombuffer(raw, dtype="<u4"), names


class GroupCache:
    """Group objects by id across chunks, so a group seen in many chunks is one object: a Rust
    ``GroupIndex`` per way of grouping (dims, star, exclude, by measurement)."""

    def __init__(self) -> None:
        self.indexes: dict[tuple[tuple[str, ...], bool, tuple[str, ...], bool], GroupIndex] = {}

    def forget(self, group_id: str) -> None:
        """The group expired: its object is let go (seen again, a new one is made)."""
        for idx in self.indexes.values():
            idx.forget(group_id)

    def index(self, dims: list[str], star: bool, exclude: list[str], by_name: bool) -> GroupIndex:
        key = (tuple(dims), star, tuple(exclude), by_name)
        idx = self.indexes.get(key)
        if idx is None:
            # the index makes each Group once (a Rust object sharing one dims tuple per way
            # of grouping) and finds it again by its id's hash (#13, #19)
            idx = self.indexes[key] = GroupIndex(dims, star, exclude, by_name)
        return idx


def group_chunk(
    batch: PointBatch,
    dims: list[str],
    star: bool,
    exclude: list[str],
    by_name: bool,
    cache: GroupCache,
    db: str = "",
    rp: str = "",
) -> StreamChunk:
    """The chunk of ``batch`` grouped by ``dims``: Rust matches rows on their tag codes and
    finds each distinct key's group among those seen before (``GroupIndex``), and makes the
    chunk with its codes in place: no Python object per row, none per group seen before."""
    return cache.index(dims, star, exclude, by_name).chunk(batch, db, rp)


def times(batch: PointBatch) -> npt.NDArray[np.int64]:
    return np.asarray(batch.time())


def numeric_field(batch: PointBatch, name: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_], str] | None:
    """(values, valid, kind) of a float or int field; None when absent or of another type."""
    if name not in batch.field_names():
        return None
    kind = batch.field_kind(name)
    if kind not in ("float", "integer"):
        return None
    return np.asarray(batch.field(name)), np.asarray(batch.field_valid(name)).astype(bool), kind
