"""Task checkpoints (#15): the state of every stateful node of a task as one versioned blob.

A task's checkpoint is ``MAGIC, FORMAT, sha256 of the task's definition, then per node (name,
bytes)``. Each node's bytes are its own (``Node.snapshot_state``): small metadata as JSON (group
ids and tags, counters, timestamps) beside the bulk state, which Rust encodes (buffered points
as compact columns, kernel state; ``rust/src/stateops/snapshot.rs``) — never a Python object
per point. Nothing here is pickled: checkpoints cross processes (kapfastd restarts, cluster
workers), and loading one must not run code.

A checkpoint only goes back into a task of the same definition (the hash of its compiled
pipeline: every node, argument and property). Another definition, another format or bytes that
do not parse raise :class:`SnapshotMismatch`; the caller then starts the task fresh and logs why.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from kapfast.engine.messages import Group
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Pipeline

MAGIC = b"KFCP"
#: the layout of the task blob and of every node's part; bump on any change
FORMAT = 1


class SnapshotMismatch(TaskError):
    """A checkpoint that cannot go into this task: another definition, format, or not one."""


def definition_hash(pipeline: Pipeline) -> bytes:
    """The sha256 of the task's compiled definition (what its checkpoint belongs to)."""
    text = json.dumps(pipeline.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).digest()


def pack_task(definition: bytes, nodes: Mapping[str, bytes]) -> bytes:
    parts = [MAGIC, struct.pack("<H", FORMAT), definition, struct.pack("<I", len(nodes))]
    for name, data in nodes.items():
        raw = name.encode()
        parts += [struct.pack("<I", len(raw)), raw, struct.pack("<Q", len(data)), bytes(data)]
    return b"".join(parts)


def unpack_task(data: bytes, definition: bytes) -> dict[str, bytes]:
    """The nodes' parts of a checkpoint of the task defined by ``definition``."""
    if data[:4] != MAGIC:
        raise SnapshotMismatch("not a kapfast task checkpoint")
    r = _Reader(data, 4)
    (fmt,) = r.unpack("<H")
    if fmt != FORMAT:
        raise SnapshotMismatch(f"checkpoint format {fmt}; this kapfast reads format {FORMAT}")
    if r.take(32) != definition:
        raise SnapshotMismatch("the checkpoint is of another definition of the task (its TICKscript changed)")
    (n,) = r.unpack("<I")
    out: dict[str, bytes] = {}
    for _ in range(n):
        (ln,) = r.unpack("<I")
        name = r.take(ln).decode()
        (ld,) = r.unpack("<Q")
        out[name] = r.take(ld)
    if r.pos != len(data):
        raise SnapshotMismatch("checkpoint has trailing bytes")
    return out


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SnapshotMismatch("checkpoint is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


# --- a node's part: JSON metadata and binary blobs -------------------------------------------


def pack(meta: Any, *blobs: bytes) -> bytes:
    """A node's checkpoint: ``meta`` (JSON-able) and binary ``blobs`` (Rust snapshots)."""
    raw = json.dumps(meta, separators=(",", ":")).encode()
    parts = [struct.pack("<I", len(raw)), raw, struct.pack("<I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), bytes(b)]
    return b"".join(parts)


def unpack(data: bytes, what: str) -> tuple[Any, list[bytes]]:
    """What :func:`pack` packed; SnapshotMismatch naming ``what`` for other bytes."""
    try:
        r = _Reader(data, 0)
        (ln,) = r.unpack("<I")
        meta = json.loads(r.take(ln))
        (n,) = r.unpack("<I")
        blobs = []
        for _ in range(n):
            (lb,) = r.unpack("<Q")
            blobs.append(r.take(lb))
    except (SnapshotMismatch, ValueError, UnicodeDecodeError) as exc:
        raise SnapshotMismatch(f"{what}: malformed checkpoint ({exc})") from None
    return meta, blobs


def group_json(g: Group) -> list[Any]:
    return [g.id, list(g.dims), g.by_measurement, [list(t) for t in g.tags]]


def group_of_json(raw: Any) -> Group:
    gid, dims, by_m, tags = raw
    return Group(str(gid), tuple(str(d) for d in dims), bool(by_m), tuple((str(k), str(v)) for k, v in tags))


def groups_json(groups: Iterable[tuple[int, Group]]) -> list[Any]:
    return [[i, group_json(g)] for i, g in groups]
