"""Shared machinery of nodes that transform rows one at a time (a first, row-based version)."""

from __future__ import annotations

from typing import Any

from kapfast.engine.messages import BatchMessage, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.rows import ChunkBuilder, Row, batch_rows, chunk_rows, to_batch
from kapfast.errors import EvalError
from kapfast.tick.pipeline import Duration


def dur_ns(v: Any) -> int:
    """A Duration property (or a bare int of ns) as int ns."""
    if isinstance(v, Duration):
        return int(v.ns)
    if v is None:
        return 0
    return int(v)


class RowNode(Node):
    """A node whose output rows each come from one input row (where, eval, default, ...)."""

    def row(self, row: Row, group: Group) -> tuple[Row, Group] | None:
        return row, group

    def on_chunk(self, chunk: StreamChunk, port: int) -> None:
        out = ChunkBuilder(chunk.db, chunk.rp)
        errors = 0
        first: str | None = None
        for row, group in chunk_rows(chunk):
            try:
                r = self.row(row, group)
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                continue
            if r is not None:
                out.add(*r)
        self.error(errors, first)
        if len(out):
            self.emit(out.chunk())

    def on_batch(self, batch: BatchMessage, port: int) -> None:
        rows: list[Row] = []
        errors = 0
        first: str | None = None
        for row in batch_rows(batch.points):
            try:
                r = self.row(row, batch.group)
            except EvalError as exc:
                errors += 1
                first = first or str(exc)
                continue
            if r is not None:
                rows.append(r[0])
        self.error(errors, first)
        self.emit(BatchMessage(batch.name, batch.group, batch.tmax, to_batch(rows), batch.by_name))
