"""Methods of Go values that templates may call: ``{{ .Time.Format "15:04" }}``, ``.Duration.Seconds``.

Kapacitor passes ``time.Time`` and ``time.Duration`` values to alert templates, and Go templates
call their methods by name. The useful, side-effect-free ones are provided here; a method is
called without arguments when used as a field and with arguments when used as a command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapfast.gofmt import _MONTHS, _WEEKDAYS, GoDuration, GoTime, _split_ns, time_format, time_string
from kapfast.gotemplate.errors import ExecError

_NS = 1_000_000_000
# Go's zero time.Time (January 1, year 1, 00:00:00 UTC) in Unix nanoseconds.
_ZERO_TIME_NS = -62135596800 * _NS


def _time_arg(v: Any, method: str) -> GoTime:
    if not isinstance(v, GoTime):
        raise ExecError(f"wrong type for value; expected time.Time; got {type(v).__name__} (in {method})")
    return v


def _duration_arg(v: Any, method: str) -> int:
    if isinstance(v, GoDuration):
        return v.ns
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise ExecError(f"wrong type for value; expected time.Duration; got {type(v).__name__} (in {method})")


def _weekday(t: GoTime) -> str:
    dt, _ = _split_ns(t.ns)
    return _WEEKDAYS[dt.weekday()]


def _round(d: int, m: int) -> int:
    """Go's Duration.Round: halfway values round away from zero."""
    if m <= 0:
        return d
    r = abs(d) % m
    if d < 0:
        return d + r - m if r + r >= m else d + r
    return d - r + m if r + r >= m else d - r


def _truncate(d: int, m: int) -> int:
    if m <= 0:
        return d
    return d - (abs(d) % m if d >= 0 else -(abs(d) % m))


# name -> (function of receiver and args, number of args)
TIME_METHODS: dict[str, tuple[Callable[..., Any], int]] = {
    "Unix": (lambda t: t.ns // _NS, 0),
    "UnixMilli": (lambda t: t.ns // 1_000_000, 0),
    "UnixMicro": (lambda t: t.ns // 1_000, 0),
    "UnixNano": (lambda t: t.ns, 0),
    "Year": (lambda t: _split_ns(t.ns)[0].year, 0),
    "Month": (lambda t: _MONTHS[_split_ns(t.ns)[0].month - 1], 0),
    "Day": (lambda t: _split_ns(t.ns)[0].day, 0),
    "Hour": (lambda t: _split_ns(t.ns)[0].hour, 0),
    "Minute": (lambda t: _split_ns(t.ns)[0].minute, 0),
    "Second": (lambda t: _split_ns(t.ns)[0].second, 0),
    "Nanosecond": (lambda t: _split_ns(t.ns)[1], 0),
    "YearDay": (lambda t: _split_ns(t.ns)[0].timetuple().tm_yday, 0),
    "Weekday": (_weekday, 0),
    "UTC": (lambda t: t, 0),
    "Local": (lambda t: t, 0),  # kapfast renders times in UTC
    "IsZero": (lambda t: t.ns == _ZERO_TIME_NS, 0),
    "String": (lambda t: time_string(t.ns), 0),
    "Format": (lambda t, layout: time_format(t.ns, _str_arg(layout, "Format")), 1),
    "Add": (lambda t, d: GoTime(t.ns + _duration_arg(d, "Add")), 1),
    "Sub": (lambda t, u: GoDuration(t.ns - _time_arg(u, "Sub").ns), 1),
    "Before": (lambda t, u: t.ns < _time_arg(u, "Before").ns, 1),
    "After": (lambda t, u: t.ns > _time_arg(u, "After").ns, 1),
    "Equal": (lambda t, u: t.ns == _time_arg(u, "Equal").ns, 1),
}


def _tdiv(a: int, b: int) -> int:
    """Go's integer division: truncates toward zero."""
    q = abs(a) // b
    return q if a >= 0 else -q


def _units(ns: int, unit: int) -> float:
    # Go splits whole units and the remainder so that the float is as exact as possible.
    whole = _tdiv(ns, unit)
    return float(whole) + float(ns - whole * unit) / unit


DURATION_METHODS: dict[str, tuple[Callable[..., Any], int]] = {
    "Hours": (lambda d: _units(d.ns, 3600 * _NS), 0),
    "Minutes": (lambda d: _units(d.ns, 60 * _NS), 0),
    "Seconds": (lambda d: _units(d.ns, _NS), 0),
    "Milliseconds": (lambda d: _tdiv(d.ns, 1_000_000), 0),
    "Microseconds": (lambda d: _tdiv(d.ns, 1_000), 0),
    "Nanoseconds": (lambda d: d.ns, 0),
    "String": (lambda d: str(d), 0),
    "Abs": (lambda d: GoDuration(abs(d.ns)), 0),
    "Round": (lambda d, m: GoDuration(_round(d.ns, _duration_arg(m, "Round"))), 1),
    "Truncate": (lambda d, m: GoDuration(_truncate(d.ns, _duration_arg(m, "Truncate"))), 1),
}


def _str_arg(v: Any, method: str) -> str:
    if not isinstance(v, str):
        raise ExecError(f"wrong type for value; expected string; got {type(v).__name__} (in {method})")
    return v


def find_method(receiver: Any, name: str) -> tuple[Callable[..., Any], int] | None:
    """The method ``name`` of ``receiver`` and its number of arguments, if it has one."""
    if isinstance(receiver, GoTime):
        return TIME_METHODS.get(name)
    if isinstance(receiver, GoDuration):
        return DURATION_METHODS.get(name)
    return None


def call_method(receiver: Any, name: str, args: list[Any]) -> Any:
    """Call a method found by :func:`find_method`, checking the number of arguments like Go."""
    found = find_method(receiver, name)
    if found is None:
        raise ExecError(f"can't evaluate field {name}")
    fn, nargs = found
    if len(args) != nargs:
        raise ExecError(f"wrong number of args for {name}: want {nargs} got {len(args)}")
    return fn(receiver, *args)
