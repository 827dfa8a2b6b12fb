"""Duration literals as InfluxQL spells them (``10s``, ``1500ms``, ``2w``) ↔ nanoseconds."""

from __future__ import annotations

import re

NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}

_PART = re.compile(r"(\d+)(ns|ms|u|µ|s|m|h|d|w)")
_MAX = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Nanoseconds of a duration literal; raises ValueError with a readable message."""
    pos = 0
    total = 0
    if not text:
        raise ValueError("invalid duration: empty")
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}")
        total += int(m.group(1)) * NS_PER_UNIT[m.group(2)]
        pos = m.end()
    if total > _MAX:
        raise ValueError(f"duration {text} is out of range")
    return total


def format_duration(ns: int) -> str:
    """The shortest InfluxQL literal for ``ns`` (largest unit dividing it exactly)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    n = abs(ns)
    for unit in ("w", "d", "h", "m", "s", "ms", "u"):
        if n % NS_PER_UNIT[unit] == 0:
            return f"{sign}{n // NS_PER_UNIT[unit]}{unit}"
    return f"{sign}{n}ns"
