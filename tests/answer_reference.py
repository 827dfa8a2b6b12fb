"""The row-by-row Python reading of an InfluxDB /query series that kapfast used before the Rust
decoder (``rust/src/queryanswer.rs``): the reference the decoder's tests compare with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kapfast.recordings import RecordedBatch, RecordedPoint
from kapfast.tasks.batch_query import answer_time


def series_to_batch(s: Mapping[str, Any], by_name: bool) -> RecordedBatch:
    """One series of an InfluxQL answer (``epoch=ns``) as a batch, read as Kapacitor reads it:
    numbers become floats (Go decodes JSON numbers as float64), null values are left out and rows
    without any value are dropped; the batch's time is its latest point's (0 when empty)."""
    cols = list(s.get("columns") or [])
    tags = {str(k): str(v) for k, v in (s.get("tags") or {}).items()}
    points: list[RecordedPoint] = []
    tmax = 0
    for row in s.get("values") or ():
        t = 0
        fields: dict[str, Any] = {}
        for c, v in zip(cols, row, strict=False):
            if c == "time":
                t = answer_time(v)
            elif v is not None:
                fields[c] = float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        if fields:
            tmax = max(tmax, t)
            points.append(RecordedPoint(t, fields, dict(tags)))
    return RecordedBatch(str(s.get("name", "")), tags, points, tmax_ns=tmax, time_ns=tmax, by_name=by_name)
