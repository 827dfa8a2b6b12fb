"""What travels on the edges of a task: chunks of stream points, group batches, control messages.

Kapacitor sends one message per point; kapfast sends one per *chunk* of points (stream edges) or
per *group batch* (batch edges). The points themselves stay in a Rust-owned ``PointBatch``; a
message is one small Python object however many points it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from kapfast.batch import Codes as Codes
from kapfast.batch import Group as Group
from kapfast.batch import GroupIntTable, PointBatch
from kapfast.batch import StreamChunk as StreamChunk
from kapfast.stateops import ClosedWindows

# ``Group`` (imported above) is a group as Kapacitor forms it (``models.ToGroupID``):
# ``Group(id, dims, by_measurement, tags)``. ``id`` is ``tag1=v1,tag2=v2`` over the dimension
# tags sorted by name, prefixed with the measurement and a newline when grouped by
# measurement; the ungrouped group has id ``""`` (shown as ``nil`` in alert templates).
# ``tags`` are the dimension tags' values, ``tag_dict`` them as a dict. A Rust object
# (rust/src/py/groups.rs): an idle group costs about 64 bytes and its id, its tag values read
# out of the id, and its id's hash (computed once) is what every group table finds it by
# (#13, #19).

UNGROUPED = Group()

# ``StreamChunk`` (imported above): stream points in arrival order, row ``i`` of ``batch`` in
# group ``groups[codes[i]]``, with the ``db``/``rp`` they were written to. One Rust object
# (rust/src/py/chunk.rs) that owns its codes (a u32 buffer, ``Codes``) and its groups (a tuple):
# made by the Rust operations that group rows (``GroupIndex.chunk``) or edit a chunk
# (``with_batch``, ``filter``, ``take``, ``regroup``), read in place by the Rust kernels; its
# one constructor ``StreamChunk(batch, codes, groups, db, rp)`` checks one code per row, each
# naming one of its groups, and ``StreamChunk.of_group`` puts every row in one group.


def codes_array(codes: Codes | StreamChunk) -> npt.NDArray[np.uint32]:
    """A chunk's codes (or a node's per-row ints) as a read-only uint32 array over the Rust
    buffer: no copy, for the nodes that work on them with numpy."""
    if isinstance(codes, StreamChunk):
        codes = codes.codes
    return np.frombuffer(cast(Any, codes), dtype=np.uint32)


@dataclass(slots=True)
class BatchMessage:
    """One group's batch (Kapacitor's BeginBatch / points / EndBatch): all points of ``group``.

    ``tmax`` is the batch's time (window end or query stop); ``points`` rows are in time order and
    carry their own tags (the group's tags included).
    """

    name: str
    group: Group
    tmax: int
    points: PointBatch
    by_name: bool = False

    def __len__(self) -> int:
        return len(self.points)


class BatchSet:
    """Several group batches sent at once, in order (the windows one chunk closed).

    A node that can do the same work for many batches in one call (an InfluxQL aggregate)
    overrides ``Node.on_batch_set``; every other node sees the batches one by one.

    A window node sends its closed windows as they are in Rust (``closed``, a
    ``ClosedWindows``, with ``groups`` its group ints' ``Group``s): ``batches`` are made from
    them only when a node reads them, so an aggregate reducing ``closed`` in one call never
    pays for a Python object per window.
    """

    __slots__ = ("_batches", "closed", "groups")

    def __init__(
        self,
        batches: list[BatchMessage] | None = None,
        *,
        closed: ClosedWindows | None = None,
        groups: GroupIntTable | None = None,
    ) -> None:
        self._batches = batches
        self.closed = closed
        self.groups = groups

    @property
    def batches(self) -> list[BatchMessage]:
        if self._batches is None:
            assert self.closed is not None and self.groups is not None
            groups = self.groups
            msgs = []
            for g, name, tmax, points, _ in self.closed.to_list():
                group = groups[g]
                msgs.append(BatchMessage(name, group, tmax, points, group.by_measurement))
            self._batches = msgs
        return self._batches

    def __len__(self) -> int:
        if self._batches is None and self.closed is not None:
            return len(self.closed)
        return len(self.batches)

    def __repr__(self) -> str:
        return f"BatchSet({self.batches!r})"


@dataclass(slots=True)
class Barrier:
    """Time has reached ``time`` for ``group`` (emitted by the barrier node)."""

    group: Group
    time: int


@dataclass(slots=True)
class DeleteGroup:
    """Forget all state of ``group`` (barrier ``.delete(TRUE)``); outputs drop the group too."""

    group: Group


Message = StreamChunk | BatchMessage | BatchSet | Barrier | DeleteGroup


@dataclass(slots=True)
class EdgeStats:
    """Counts of one edge, as Kapacitor's ``collected`` / ``emitted``."""

    collected: int = 0
    emitted: int = 0


@dataclass(slots=True)
class NodeStats:
    """Per-node statistics (``kapacitor show`` DOT and ``/debug/vars``)."""

    collected: int = 0
    emitted: int = 0
    errors: int = 0
    exec_ns: int = 0
    exec_count: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def avg_exec_ns(self) -> int:
        return self.exec_ns // self.exec_count if self.exec_count else 0
