"""Replaying recordings into a task on a virtual clock (``kapfast test``, the server's replays).

Stream recordings are delivered in file order, chunk by chunk; the clock follows the data. Batch
recordings feed the query nodes in script order (the i-th file the i-th query), merged by batch
time. After the data the clock moves to the end, the task drains and finishes.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from kapfast import lineproto
from kapfast.batch import batch_retime
from kapfast.clock import VirtualClock
from kapfast.engine.messages import BatchMessage
from kapfast.engine.rows import Row, group_of, to_batch
from kapfast.engine.task import Task
from kapfast.errors import InputError
from kapfast.recordings import (
    RecordedBatch,
    batch_recording_sources,
    detect_stream_precision,
    raw_stream_chunks,
    read_batch_recording,
    replay_offset_ns,
    stream_chunks,
)
from kapfast.timefmt import INT64_MAX, INT64_MIN

PathLike = str | os.PathLike[str]


@dataclass
class ReplayStats:
    points: int = 0
    batches: int = 0
    errors: int = 0
    first_ns: int | None = None
    last_ns: int | None = None


#: the time a point without a timestamp would get: no recorded point can have it once parsed
#: (a recording needs a timestamp per point; :func:`_exact_error` tells which one lacks it)
_NO_TIME = -(1 << 63)


def replay_stream(
    task: Task,
    path: PathLike,
    clock: VirtualClock,
    *,
    clock_zero_ns: int | None,
    precision: str = "auto",
    stats: ReplayStats | None = None,
    until_ns: int | None = None,
) -> ReplayStats:
    """Feed one ``.srpl`` file into ``task``; returns counts. With ``until_ns`` only the points
    at or before it (``kapfast explain --at``; the file is read to its end, late points too).

    Each chunk of records is parsed as recorded (in the recording's precision) and shifted as a
    column in Rust: no line is rewritten in Python. A chunk with anything wrong in it (a point
    without a timestamp, a bad one, one the shift takes out of range) is looked at again line by
    line (:func:`kapfast.recordings.stream_chunks`) for the exact error, before any of it is fed.
    """
    st = stats or ReplayStats()
    if precision == "auto":
        precision = detect_stream_precision(path)
    offset = replay_offset_ns(path, precision=precision, clock_zero_ns=clock_zero_ns)
    # One series index per db/rp across chunks, as live ingest keeps one across bodies: a
    # recording repeats its series, so a known one costs a hash probe (same result).
    indexes = lineproto.SeriesIndexes()
    for chunk in raw_stream_chunks(path):
        index = indexes.get(chunk.db, chunk.rp)
        res = index.parse(chunk.body, precision=precision, now_ns=_NO_TIME)
        times = np.frombuffer(cast(Any, res.batch.time()), dtype=np.int64)
        lo, hi = (int(times.min()), int(times.max())) if len(times) else (0, 0)
        if until_ns is not None and len(times) and lo + offset > until_ns:
            continue
        if (
            res.errors
            or len(res.batch) != chunk.count  # a blank point line: no point, no parse error
            or lo == _NO_TIME
            or not INT64_MIN <= lo + offset <= hi + offset <= INT64_MAX
        ):
            st.errors += len(res.errors)
            _exact_error(path, precision, clock_zero_ns, res.errors)
        batch = batch_retime(res.batch, offset) if offset else res.batch
        count = chunk.count
        if until_ns is not None and hi + offset > until_ns:
            batch = batch.filter(times + offset <= until_ns)
            count, hi = len(batch), until_ns - offset
        if st.first_ns is None:
            st.first_ns = int(times[0]) + offset
        st.last_ns = hi + offset if st.last_ns is None else max(st.last_ns, hi + offset)
        clock.set(hi + offset)
        task.tick(clock.now_ns())
        task.write_points(batch, chunk.db, chunk.rp)
        st.points += count
    return st


def _exact_error(path: PathLike, precision: str, clock_zero_ns: int | None, errors: list[Any]) -> None:
    """Raise the error of the first bad record (RecordingError, with its line) or point."""
    for _ in stream_chunks(path, precision=precision, clock_zero_ns=clock_zero_ns):
        pass
    first = errors[0] if errors else "a line holds no point, or its shifted time is out of range"
    raise InputError(f"{os.fspath(path)}: bad point in recording: {first}")


def batch_message(rb: RecordedBatch) -> BatchMessage:
    """A recorded batch as the message a query node emits (group from the batch's tags)."""
    dims = tuple(sorted(rb.tags))
    group = group_of(rb.name, rb.tags, dims, rb.by_name)
    rows: list[Row] = [(rb.name, dict(p.tags), dict(p.fields), p.time_ns) for p in rb.points]
    return BatchMessage(rb.name, group, rb.time_ns, to_batch(rows), rb.by_name)


def _merged(sources: Sequence[Iterator[RecordedBatch]]) -> Iterator[tuple[int, RecordedBatch]]:
    def keyed(i: int, it: Iterator[RecordedBatch]) -> Iterator[tuple[int, int, int, RecordedBatch]]:
        for n, b in enumerate(it):
            yield (b.time_ns, i, n, b)

    for t, i, _n, b in heapq.merge(
        *(keyed(i, it) for i, it in enumerate(sources)), key=lambda x: (x[0], x[1], x[2])
    ):
        del t
        yield i, b


def replay_batches(
    task: Task,
    paths: Sequence[PathLike],
    clock: VirtualClock,
    *,
    clock_zero_ns: int | None,
    stats: ReplayStats | None = None,
    until_ns: int | None = None,
) -> ReplayStats:
    """Feed ``.brpl`` files into the task's query nodes (file i → query i); with ``until_ns``
    only the batches of that time or earlier."""
    st = stats or ReplayStats()
    # a zip archive (what `kapfast record` writes for a task with several queries) holds one
    # source per query node, in script order
    feeds = [(p, s) for p in paths for s in range(batch_recording_sources(p))]
    if len(feeds) > len(task.queries):
        raise InputError(f"{len(feeds)} batch source(s) for a task with {len(task.queries)} query node(s)")
    sources = [read_batch_recording(p, clock_zero_ns=clock_zero_ns, source=s) for p, s in feeds]
    for i, rb in _merged(sources):
        if until_ns is not None and rb.time_ns > until_ns:
            break  # merged in time order: the rest is later still
        if st.first_ns is None:
            st.first_ns = rb.time_ns
        st.last_ns = rb.time_ns if st.last_ns is None else max(st.last_ns, rb.time_ns)
        clock.set(rb.time_ns)
        task.tick(clock.now_ns())
        task.write_batch(i, batch_message(rb))
        st.batches += 1
        st.points += len(rb.points)
    return st
