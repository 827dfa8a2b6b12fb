"""Which partition a point belongs to, and a batch split by partition.

The partition of a point is ``fnv1a64(v1 + "\\x00" + v2 + ...) % partitions`` over the UTF-8 values
of the ``[cluster] partition-key`` tags in the configured order (a missing tag counts as ``""``).
FNV-1a (64 bit, offset basis 0xcbf29ce484222325, prime 0x100000001b3) is fixed here and never
seeded, so every node, every version and every restart agree: the same host always lands on the
same partition. The measurement is not part of the key, so the points of one host in different
measurements (joins) meet on one partition.

The hash is computed once per distinct key in a batch (Rust's group codes give each point the
index of its key); points are then split in Rust, keeping their order within a partition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kapfast.batch import PointBatch, batch_group_codes, batch_split

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def partition_of(values: Sequence[str], partitions: int) -> int:
    """The partition of a point whose partition-key tags have ``values`` (missing: ``""``)."""
    return fnv1a64("\x00".join(values).encode()) % partitions


def assign(batch: PointBatch, key: Sequence[str], partitions: int) -> np.ndarray:
    """Each point's partition (little-endian u32, one per point)."""
    codes, groups = batch_group_codes(batch, list(key))
    lut = np.empty(len(groups), dtype="<u4")
    for i, (_gid, tags) in enumerate(groups):
        have = dict(tags)
        lut[i] = partition_of([have.get(k, "") for k in key], partitions)
    per_point: np.ndarray = lut[np.frombuffer(codes, dtype="<u4")]
    return per_point


def split(batch: PointBatch, key: Sequence[str], partitions: int) -> dict[int, PointBatch]:
    """``batch`` split by partition: {partition: its points, in their order}; empty ones left out."""
    if not len(batch):
        return {}
    return split_by(batch, assign(batch, key, partitions), partitions)


def split_by(batch: PointBatch, per_point: np.ndarray, partitions: int) -> dict[int, PointBatch]:
    first = int(per_point[0])
    if bool((per_point == first).all()):
        return {first: batch}
    parts = batch_split(batch, per_point.astype(np.uint32, copy=False), partitions)
    return {p: b for p, b in enumerate(parts) if len(b)}


def merge_in_order(parts: Sequence[tuple[int, PointBatch]], order: np.ndarray) -> PointBatch:
    """The inverse of :func:`split_by`: ``parts`` (partition, points), a partition's pieces in
    their order, and ``order`` (each original point's partition) give the original batch."""
    ranked = sorted(range(len(parts)), key=lambda i: parts[i][0])  # stable: pieces stay in order
    merged = PointBatch.concat([parts[i][1] for i in ranked])
    if len(merged) != len(order):
        raise ValueError(f"{len(merged)} points for an order of {len(order)}")
    # position j of `merged` holds original point perm[j]; original point i is at inv[i]
    perm = np.argsort(order, kind="stable")
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return merged.take(inv.astype("<i8"))
