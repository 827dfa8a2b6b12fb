"""Times as Kapacitor's JSON writes them (Go's RFC3339Nano in UTC), and back."""

from __future__ import annotations

import datetime as dt
import re

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Go's zero time (0001-01-01T00:00:00Z) is what Kapacitor shows for "never"; kapfast stores it as 0.
ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def rfc3339nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` of ``ns`` in UTC: fraction trimmed of trailing zeros; 0 is Go's zero time."""
    if ns == 0:
        return ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    base = (_EPOCH + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_rfc3339(text: str) -> int:
    """RFC3339 (with up to 9 fraction digits, any offset) -> int ns since the epoch, exactly."""
    m = _RFC3339.fullmatch(text.strip())
    if not m:
        raise ValueError(f"invalid RFC3339 time {text!r}")
    offset = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = dt.datetime.fromisoformat(m.group(1) + offset)
    if text.strip() == ZERO_TIME:
        return 0
    whole = (base - _EPOCH) // dt.timedelta(seconds=1)
    return whole * 1_000_000_000 + int((m.group(2) or "0").ljust(9, "0"))
