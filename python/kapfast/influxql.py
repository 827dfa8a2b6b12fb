"""Kernels of Kapacitor's InfluxQL function nodes (``|mean()``, ``|top()``, ``|derivative()``, ...).

The arithmetic is InfluxDB 1.x's, as Kapacitor uses it, computed in Rust over a
:class:`~kapfast.batch.PointBatch` without a Python object per point. The task engine calls:

* :func:`reduce` on each window of one group (on a stream edge: on each run of points with the same
  time) for every function whose :func:`shape` is ``"aggregate"``, ``"selector"`` or ``"multi"``;
* a :class:`Transform` per group on a stream edge (fed point chunk after point chunk; it answers as
  if it had seen all points at once), or :func:`transform` per batch on a batch edge, for the
  ``"transform"`` functions.

Function names and arguments (after the field name) are TICKscript's; durations are int nanoseconds:

=====================================  =====================================================
``count`` ``sum`` ``mean`` ``median``  none
``mode`` ``spread`` ``stddev``
``first`` ``last`` ``min`` ``max``     none
``distinct``                           none
``percentile``                         the percentile, 0-100 (float or int)
``top`` ``bottom``                     n (int >= 1), then field or tag names (str): keep only the
                                       best point of each combination of their values
``elapsed``                            unit (ns)
``derivative``                         optional unit (ns, default 1 s), optional nonNegative
``difference`` ``cumulativeSum``       none
``movingAverage``                      window length (int >= 1)
``holtWinters``                        h (int), m (season length, int; < 2: none),
``holtWintersWithFit``                 interval (ns)
=====================================  =====================================================

Typing follows Kapacitor: the first value of a type the function accepts fixes the type of the
window; points without the field and values of another type are skipped. count, distinct, first,
last, elapsed and mode take any type; derivative takes numbers including unsigned; the rest take
floats and integers. Integer inputs give integer results for sum, min, max, first, last, spread,
mode, percentile, top, bottom, difference and cumulativeSum; mean, median, stddev, movingAverage,
derivative and holtWinters give floats; count and elapsed give integers. A window without values
emits nothing, except count (0) and sum (0.0).

Errors: an unknown function, bad arguments, or a field whose values all have a type the function
cannot take raise :class:`kapfast.errors.TaskError` with a message naming the function and the
field; a row index past the end of the batch raises :class:`IndexError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

from kapfast._native import InfluxQLTransform as Transform
from kapfast._native import influxql_reduce, influxql_shape, influxql_transform
from kapfast.batch import PointBatch

#: A literal argument of a call (durations are int nanoseconds).
Arg: TypeAlias = int | float | str | bool
#: A field value as it comes out of a kernel.
FieldValue: TypeAlias = int | float | str | bool
Shape: TypeAlias = Literal["aggregate", "selector", "multi", "transform"]
#: Row indices: a sequence of ints, or (no Python object per row) any buffer of 32/64-bit integers
#: such as ``array('I')``, a numpy array or a ``ColumnView``.
Rows: TypeAlias = Sequence[int] | object

SECOND = 1_000_000_000


def shape(func: str) -> Shape:
    """How ``func``'s output is shaped.

    ``"aggregate"``: one value per window, stamped with the window's time. ``"selector"``: one
    selected point per window (first, last, min, max, percentile); Kapacitor keeps that point's tags
    and other fields, and its time with ``.usePointTimes()``. ``"multi"``: any number of points,
    emitted as a batch (distinct, top, bottom, holtWinters*). ``"transform"``: one output per input
    point, with state carried between points.
    """
    return influxql_shape(func)


def reduce(
    batch: PointBatch, func: str, field: str, *args: Arg, rows: Rows | None = None
) -> list[tuple[int | None, int | None, FieldValue]]:
    """Apply a whole-window function to ``field`` of ``batch`` (or of its ``rows``, in order).

    Returns ``(row, time, value)`` per output point. ``row`` is the batch row the point was selected
    from (selectors; distinct: the value's first row; top, bottom), ``None`` for computed values.
    ``time`` is the point's own time in ns, to use with ``.usePointTimes()`` (and always for
    holtWinters forecasts); ``None`` means the window's time. InfluxDB's percentile of integers
    reports no point time, so it is ``None`` there too.
    """
    return influxql_reduce(batch, func, field, args, rows)


def transform(
    batch: PointBatch, func: str, field: str, *args: Arg, rows: Rows | None = None
) -> list[tuple[int, FieldValue]]:
    """Apply a transformation to one batch with a fresh state, as on a batch edge.

    Returns ``(row, value)`` per output: emit ``value`` at that row's time. Use a :class:`Transform`
    to carry the state across calls (a stream edge keeps one per group).
    """
    return influxql_transform(batch, func, field, args, rows)


def new_transform(func: str, *args: Arg) -> Transform:
    """A fresh :class:`Transform` state for ``func`` (elapsed, difference, derivative,
    cumulativeSum or movingAverage). ``state.feed(batch, field, rows=None)`` returns ``(row,
    value)`` pairs; ``state.errors`` counts points Kapacitor would have logged as errors and skipped.
    """
    return Transform(func, args)


__all__ = [
    "SECOND",
    "Arg",
    "FieldValue",
    "Rows",
    "Shape",
    "Transform",
    "new_transform",
    "reduce",
    "shape",
    "transform",
]
