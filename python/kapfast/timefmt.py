"""RFC 3339 timestamps <-> int nanoseconds, exactly (no float on the way).

Kapacitor writes batch recordings with Go's ``time.RFC3339Nano``: UTC, ``Z``, a fraction of up to
nine digits with trailing zeros removed. We read any RFC 3339 offset and any fraction length (digits
past the ninth are truncated, as Go does) and always write Go's form back.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

NS_PER_S = 1_000_000_000
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)

#: Go's zero ``time.Time`` as Kapacitor serialises it (an unset ``tmax``).
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_rfc3339_ns(text: str) -> int:
    """``2015-10-30T17:14:12.5Z`` -> ns since the epoch. Raises ``ValueError`` with the reason."""
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    try:
        days = _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {text!r} ({exc})") from None
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not an RFC 3339 time: {text!r} (time of day out of range)")
    frac = m.group(7) or ""
    frac_ns = int((frac[:9]).ljust(9, "0")) if frac else 0
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        seconds -= offset if m.group(9) == "+" else -offset
    ns = seconds * NS_PER_S + frac_ns
    if not INT64_MIN <= ns <= INT64_MAX:
        raise ValueError(f"time {text!r} is outside the range of int64 nanoseconds (1677..2262)")
    return ns


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """``2006-01-02T15:04:05`` of a second since the epoch: kept for the seconds seen last, as
    the events and points written in one stretch share their seconds (alert details, #13)."""
    days, rem = divmod(seconds, 86400)
    date = _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def format_rfc3339_ns(ns: int) -> str:
    """ns since the epoch -> Go's RFC3339Nano in UTC (``...T17:14:12.5Z``; no fraction if whole)."""
    seconds, frac = divmod(ns, NS_PER_S)
    base = _second(seconds)
    if frac:
        return f"{base}.{f'{frac:09d}'.rstrip('0')}Z"
    return base + "Z"


def api_time(ns: int) -> str:
    """A resource timestamp of the HTTP API: 0 means "never" and prints as Go's zero time."""
    return GO_ZERO_TIME if ns == 0 else format_rfc3339_ns(ns)


def parse_api_time(text: str) -> int:
    """The inverse of :func:`api_time`."""
    return 0 if text == GO_ZERO_TIME else parse_rfc3339_ns(text)


__all__ = [
    "GO_ZERO_TIME",
    "INT64_MAX",
    "INT64_MIN",
    "NS_PER_S",
    "api_time",
    "format_rfc3339_ns",
    "parse_api_time",
    "parse_rfc3339_ns",
]
