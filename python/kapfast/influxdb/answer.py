"""InfluxDB 1.x ``/query`` answers read straight into point batches (``rust/src/queryanswer.rs``).

A batch task's query node needs each series of its answer as one batch. The body is decoded
in Rust, with the GIL released, into one :class:`~kapfast.batch.PointBatch` per series: no
Python object per point or per value. The series are read as Kapacitor's query node reads them
(``edge.ResultToBufferedBatches``): every number a float field, ``null`` values left out, rows
without any value dropped, the series' tags on every point; a series' ``tmax_ns`` is its latest
kept point's time (0 when none is later).

Errors are the ones :meth:`kapfast.influxdb.InfluxDBClient.query` raises for the same answer:
the request's own ``error``, else the first failing statement's (with its ``statement_id``); a
statement's ``messages`` are logged. A body that is not such an answer is an
:class:`InfluxDBError` naming what is wrong.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from kapfast.batch import PointBatch, decode_query_answer
from kapfast.errors import InputError
from kapfast.influxdb.errors import InfluxDBError

log = logging.getLogger("kapfast.influxdb")


class AnswerSeries(NamedTuple):
    """One series of an answer as a batch."""

    name: str
    tags: dict[str, str]
    tmax_ns: int
    batch: PointBatch


def answer_series(body: bytes, *, status: int | None = None, query: str = "") -> list[AnswerSeries]:
    """The series of every statement of an answer body, in order (see the module's doc)."""
    try:
        error, results = decode_query_answer(body)
    except InputError as exc:
        raise InfluxDBError(f"query answered with {exc}", status=status) from None
    if error is not None:
        raise InfluxDBError(error, status=status)
    out: list[AnswerSeries] = []
    for statement_id, err, messages, series in results:
        for level, text in messages:
            log.warning("InfluxDB %s: %s (query %r)", level, text, query)
        if err is not None:
            raise InfluxDBError(err, status=status, statement_id=statement_id)
        out.extend(AnswerSeries(*s) for s in series)
    return out


__all__ = ["AnswerSeries", "answer_series"]
