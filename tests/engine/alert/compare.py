"""Compare alert events and series the way the conformance runner does."""

from __future__ import annotations

import math
from typing import Any

from kapfast.alert_event import parse_rfc3339


def _num_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0) or a == b
    return bool(a == b)


def _time(v: Any) -> int:
    return parse_rfc3339(v) if isinstance(v, str) else int(v)


def series_diff(exp: list[dict[str, Any]], got: list[dict[str, Any]]) -> str | None:
    if len(exp) != len(got):
        return f"series count {len(got)} != {len(exp)}"
    for i, (e, g) in enumerate(zip(exp, got, strict=True)):
        if e.get("name", "") != g.get("name", ""):
            return f"series {i} name {g.get('name')!r} != {e.get('name')!r}"
        if (e.get("tags") or {}) != (g.get("tags") or {}):
            return f"series {i} tags {g.get('tags')} != {e.get('tags')}"
        if list(e.get("columns") or []) != list(g.get("columns") or []):
            return f"series {i} columns {g.get('columns')} != {e.get('columns')}"
        ev, gv = e.get("values") or [], g.get("values") or []
        if len(ev) != len(gv):
            return f"series {i}: {len(gv)} rows != {len(ev)}"
        for j, (er, gr) in enumerate(zip(ev, gv, strict=True)):
            if _time(er[0]) != _time(gr[0]):
                return f"series {i} row {j} time {gr[0]} != {er[0]}"
            for a, b in zip(er[1:], gr[1:], strict=True):
                if not _num_eq(a, b):
                    return f"series {i} row {j}: {gr} != {er}"
    return None


def event_diff(exp: dict[str, Any], got: dict[str, Any], ignore: tuple[str, ...] = ()) -> str | None:
    for k in ("id", "message", "details", "level", "previousLevel", "recoverable", "duration"):
        if k in ignore:
            continue
        if exp.get(k) != got.get(k):
            return f"{k}: got {got.get(k)!r}, want {exp.get(k)!r}"
    if _time(exp["time"]) != _time(got["time"]):
        return f"time: got {got['time']}, want {exp['time']}"
    if "data" not in ignore:
        d = series_diff(
            (exp.get("data") or {}).get("series") or [], (got.get("data") or {}).get("series") or []
        )
        if d:
            return "data: " + d
    return None


def events_diff(
    exp: list[dict[str, Any]], got: list[dict[str, Any]], ignore: tuple[str, ...] = ()
) -> str | None:
    for i, (e, g) in enumerate(zip(exp, got, strict=False)):
        d = event_diff(e, g, ignore)
        if d:
            return f"event {i}: {d}"
    if len(exp) != len(got):
        return f"{len(got)} events, want {len(exp)}"
    return None
