"""The literal values a TICKscript property or argument can hold, and their JSON form.

A pipeline (``kapfast.tick.pipeline``) carries them; the node table (``kapfast.tick.registry``)
writes its defaults with them. They live here, below both, so that neither imports the other
to name a duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapfast.tick import lambda_ast


@dataclass(frozen=True)
class Duration:
    """A duration in nanoseconds; ``literal`` is how the script wrote it (may be empty)."""

    ns: int
    literal: str = ""


@dataclass(frozen=True)
class Regex:
    """A regular expression (RE2 syntax, ``\\/`` already unescaped)."""

    pattern: str


@dataclass(frozen=True)
class Star:
    """The ``*`` argument (``groupBy(*)``)."""


@dataclass(frozen=True)
class TimeDimension:
    """``time(10s)`` or ``time(10s, 5s)`` (with an offset) in a query's ``groupBy``."""

    ns: int
    offset: int = 0


@dataclass(frozen=True)
class Lambda:
    """A compiled lambda: its AST (docs/lambda_ast.md) and its canonical source text."""

    ast: lambda_ast.LambdaAST
    text: str


@dataclass(frozen=True)
class NodeRef:
    """Another node of the pipeline, by id (``join``/``union`` arguments)."""

    id: int


Value = Any  # str | int | float | bool | Duration | Regex | Star | TimeDimension | Lambda | NodeRef | list


def value_to_json(v: Value) -> Any:
    if isinstance(v, Duration):
        return {"duration": v.ns, "literal": v.literal}
    if isinstance(v, Regex):
        return {"regex": v.pattern}
    if isinstance(v, Star):
        return {"star": True}
    if isinstance(v, TimeDimension):
        return {"time": v.ns, "offset": v.offset}
    if isinstance(v, Lambda):
        return {"lambda": v.ast, "text": v.text}
    if isinstance(v, NodeRef):
        return {"node": v.id}
    if isinstance(v, list):
        return [value_to_json(x) for x in v]
    if isinstance(v, float):
        return {"float": v}  # keep 1.0 a float through JSON
    return v


def value_from_json(v: Any) -> Value:
    if isinstance(v, list):
        return [value_from_json(x) for x in v]
    if isinstance(v, dict):
        if "duration" in v:
            return Duration(int(v["duration"]), v.get("literal", ""))
        if "regex" in v:
            return Regex(v["regex"])
        if "star" in v:
            return Star()
        if "time" in v:
            return TimeDimension(int(v["time"]), int(v.get("offset", 0)))
        if "lambda" in v:
            return Lambda(lambda_ast.validate(v["lambda"]), v.get("text", ""))
        if "node" in v:
            return NodeRef(int(v["node"]))
        if "float" in v:
            return float(v["float"])
        raise ValueError(f"unknown value {v!r}")
    return v
