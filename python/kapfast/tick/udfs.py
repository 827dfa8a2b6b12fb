"""What a UDF agent said of itself in its ``Info`` answer, and the define-time check of a
TICKscript's ``@name().option(args...)`` against it (Kapacitor's ``UDFNode.SetProperty``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kapfast.tick.pipeline import Duration

#: udf.proto's ValueType numbers and names
BOOL, INT, DOUBLE, STRING, DURATION = range(5)
TYPE_NAMES = ("BOOL", "INT", "DOUBLE", "STRING", "DURATION")
#: udf.proto's EdgeType numbers
EDGES = ("stream", "batch")


@dataclass(frozen=True)
class UDFInfo:
    """A UDF's edges (``stream``/``batch``) and options (name -> value types, in order)."""

    wants: str = "stream"
    provides: str = "stream"
    options: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def from_event(cls, ev: tuple[Any, ...]) -> UDFInfo:
        """From ``("info", wants, provides, options)`` (``UdfDecoder`` events)."""
        _, wants, provides, options = ev
        for edge in (wants, provides):
            if edge not in (0, 1):
                raise ValueError(f"unknown edge type {edge} in the Info response")
        return cls(EDGES[wants], EDGES[provides], {k: tuple(v) for k, v in options.items()})


def value_type(v: Any) -> int | None:
    """The ValueType of a TICKscript value (None: no UDF option can take it)."""
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return DOUBLE
    if isinstance(v, str):
        return STRING
    if isinstance(v, Duration):
        return DURATION
    return None


def check_option(info: UDFInfo, name: str, args: list[Any]) -> str | None:
    """Why ``.name(args)`` is not an option call the UDF takes (Kapacitor's messages), or None."""
    types = info.options[name]
    if len(args) != len(types):
        return f"unexpected number of args to {name}, got {len(args)} expected {len(types)}"
    for arg, want in zip(args, types, strict=True):
        got = value_type(arg)
        if got is None:
            return f"unexpected arg to {name}: {type(arg).__name__} values cannot be UDF options"
        if got != want:
            return f"unexpected arg to {name}, got {TYPE_NAMES[got]} expected {_type_name(want)}"
    return None


def _type_name(t: int) -> str:
    return TYPE_NAMES[t] if 0 <= t < len(TYPE_NAMES) else str(t)


def option_values(calls: list[list[Any]]) -> list[list[tuple[int, Any]]]:
    """The typed values of each call of one option, for ``Init``."""
    out = []
    for args in calls:
        values: list[tuple[int, Any]] = []
        for arg in args:
            t = value_type(arg)
            if t is None:
                raise ValueError(f"{type(arg).__name__} values cannot be UDF options")
            values.append((t, arg.ns if isinstance(arg, Duration) else arg))
        out.append(values)
    return out
