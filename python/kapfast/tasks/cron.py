"""Cron schedules for ``query().cron('...')``, with the dialect Kapacitor accepts.

Kapacitor reads cron expressions with gorhill/cronexpr: 5 fields (minute hour day-of-month month
day-of-week), 6 fields (the same plus a year) or 7 fields (a second first, then those six), and the
shorthands ``@yearly @annually @monthly @weekly @daily @midnight @hourly``. Each field takes ``*``
(``?`` in the day fields), numbers, ranges ``a-b``, steps ``*/n`` ``a/n`` ``a-b/n``, lists ``a,b``
and the names ``JAN``-``DEC`` and ``SUN``-``SAT`` (day 7 is Sunday too). When both day fields are
restricted a day matches either (classic cron). The special ``L W #`` forms are refused with a
clear error rather than half understood.

Times are wall-clock times of the local zone, as Kapacitor's (crons are "sensitive to timezones").
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from kapfast.errors import InputError

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_SHORTHANDS = {
    "@yearly": "0 0 0 1 1 * *",
    "@annually": "0 0 0 1 1 * *",
    "@monthly": "0 0 0 1 * * *",
    "@weekly": "0 0 0 * * 0 *",
    "@daily": "0 0 0 * * * *",
    "@midnight": "0 0 0 * * * *",
    "@hourly": "0 0 * * * * *",
}
_YEARS = (1970, 2099)


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: dict[str, int] | None = None


_SEC = _Field("second", 0, 59)
_MIN = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day of month", 1, 31)
_MON = _Field("month", 1, 12, _MONTHS)
_DOW = _Field("day of week", 0, 7, _DAYS)
_YEAR = _Field("year", *_YEARS)


def _value(text: str, f: _Field, expr: str) -> int:
    key = text.upper()
    if f.names and key in f.names:
        return f.names[key]
    if not text.isdigit():
        raise InputError(f"invalid cron expression {expr!r}: bad {f.name} {text!r}")
    v = int(text)
    if not f.lo <= v <= f.hi:
        raise InputError(f"invalid cron expression {expr!r}: {f.name} {v} is outside {f.lo}-{f.hi}")
    return v


def _parse_field(text: str, f: _Field, expr: str) -> frozenset[int] | None:
    """The values a field allows; None for "any" (``*`` or ``?``)."""
    if text in ("*", "?"):
        return None
    if re.search(r"[LW#]", re.sub(r"[A-Z]{3}", "", text.upper())):  # names like JUL, WED aside
        raise InputError(f"invalid cron expression {expr!r}: the L, W and # forms are not supported")
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise InputError(f"invalid cron expression {expr!r}: bad step {step_text!r} in {f.name}")
            step = int(step_text)
        if rng in ("*", "?"):
            lo, hi = f.lo, f.hi
        elif "-" in rng:
            a, _, b = rng.partition("-")
            lo, hi = _value(a, f, expr), _value(b, f, expr)
            if hi < lo:
                raise InputError(f"invalid cron expression {expr!r}: empty range {rng!r} in {f.name}")
        else:
            lo = _value(rng, f, expr)
            hi = f.hi if step_text else lo
        out.update(range(lo, hi + 1, step))
    if f is _DOW and 7 in out:
        out.discard(7)
        out.add(0)
    return frozenset(out)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; :meth:`next_after` gives its next time."""

    text: str
    seconds: frozenset[int] | None
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None
    years: frozenset[int] | None

    @classmethod
    def parse(cls, expr: str) -> CronSchedule:
        text = expr.strip()
        fields = _SHORTHANDS.get(text.lower(), text).split()
        if len(fields) == 5:
            fields = ["0", *fields, "*"]
        elif len(fields) == 6:
            fields = ["0", *fields]
        elif len(fields) != 7:
            raise InputError(
                f"invalid cron expression {expr!r}: expected 5, 6 or 7 fields, got {len(fields)}"
            )
        specs = (_SEC, _MIN, _HOUR, _DOM, _MON, _DOW, _YEAR)
        sets = [_parse_field(t, f, expr) for t, f in zip(fields, specs, strict=True)]
        return cls(expr, *sets)

    def _day_ok(self, d: dt.datetime) -> bool:
        if self.days is None and self.weekdays is None:
            return True
        dom = self.days is not None and d.day in self.days
        dow = self.weekdays is not None and (d.isoweekday() % 7) in self.weekdays
        if self.days is None:
            return dow
        if self.weekdays is None:
            return dom
        return dom or dow

    def next_after(self, now_ns: int) -> int | None:
        """The first matching second strictly after ``now_ns`` (local time), in ns; None if the
        expression never matches again (e.g. a past year)."""
        d = dt.datetime.fromtimestamp(now_ns // 1_000_000_000).replace(microsecond=0)
        d += dt.timedelta(seconds=1)
        while d.year <= _YEARS[1]:
            if self.years is not None and d.year not in self.years:
                d = dt.datetime(d.year + 1, 1, 1)
                continue
            if self.months is not None and d.month not in self.months:
                d = (d.replace(day=1) + dt.timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
                continue
            if not self._day_ok(d):
                d = (d + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            if self.hours is not None and d.hour not in self.hours:
                d = (d + dt.timedelta(hours=1)).replace(minute=0, second=0)
                continue
            if self.minutes is not None and d.minute not in self.minutes:
                d = (d + dt.timedelta(minutes=1)).replace(second=0)
                continue
            if self.seconds is not None and d.second not in self.seconds:
                d += dt.timedelta(seconds=1)
                continue
            return int(time.mktime(d.timetuple())) * 1_000_000_000
        return None


__all__ = ["CronSchedule"]
