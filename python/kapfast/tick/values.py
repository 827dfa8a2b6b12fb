"""Values met while evaluating a script, and how arguments are checked against signatures.

``NodeVal`` (a pipeline node, with the alert handler being configured), ``RefVal`` (a
"double-quoted" reference outside a lambda, kept to explain the mistake) and ``LambdaVal`` (a
compiled lambda) exist only during evaluation; the pipeline stores plain values instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapfast.tick import lambda_ast
from kapfast.tick.pipeline import Duration, Handler, Node, Regex, Star, TimeDimension


@dataclass
class NodeVal:
    """A node of the pipeline being built; ``handler`` is the alert handler being configured."""

    node: Node
    handler: Handler | None = None


@dataclass(frozen=True)
class RefVal:
    """A "double-quoted" reference met outside a lambda (kept to explain the mistake)."""

    name: str


@dataclass(frozen=True)
class LambdaVal:
    """A compiled lambda: its AST (docs/lambda_ast.md) and its canonical text."""

    tree: lambda_ast.LambdaAST
    text: str


def describe(v: Any) -> str:
    """A value as error messages name it (``int 10``, ``the reference "cpu"``)."""
    if isinstance(v, NodeVal):
        return f"node {v.node.name}"
    if isinstance(v, RefVal):
        return f'the reference "{v.name}"'
    if isinstance(v, LambdaVal):
        return "a lambda"
    if isinstance(v, bool):
        return "bool " + ("TRUE" if v else "FALSE")
    if isinstance(v, int):
        return f"int {v}"
    if isinstance(v, float):
        return f"float {v!r}"
    if isinstance(v, str):
        return f"string '{v}'"
    if isinstance(v, Duration):
        return f"duration {v.literal or v.ns}"
    if isinstance(v, Regex):
        return f"regex /{v.pattern}/"
    if isinstance(v, Star):
        return "*"
    if isinstance(v, TimeDimension):
        return "time()"
    if isinstance(v, list):
        return "a list"
    return type(v).__name__


TYPE_WORDS = {
    "string": "a string",
    "int": "an int",
    "float": "a float",
    "bool": "a bool (TRUE or FALSE)",
    "duration": "a duration",
    "lambda": "a lambda expression",
    "regex": "a regex",
    "star": "*",
    "node": "a node",
    "time": "time(duration)",
    "any": "a literal value",
}


def type_ok(v: Any, typ: str) -> bool:
    """Whether ``v`` fits the registry argument type ``typ`` (``a|b`` accepts either)."""
    for t in typ.split("|"):
        if t == "string" and isinstance(v, str):
            return True
        if t == "int" and isinstance(v, int) and not isinstance(v, bool):
            return True
        if t == "float" and isinstance(v, float):
            return True
        if t == "bool" and isinstance(v, bool):
            return True
        if t == "duration" and isinstance(v, Duration):
            return True
        if t == "lambda" and isinstance(v, LambdaVal):
            return True
        if t == "regex" and isinstance(v, Regex):
            return True
        if t == "star" and isinstance(v, Star):
            return True
        if t == "node" and isinstance(v, NodeVal):
            return True
        if t == "time" and isinstance(v, TimeDimension):
            return True
        if t == "any" and isinstance(v, (str, int, float, bool, Duration)):
            return True
    return False


def expected(typ: str) -> str:
    """A registry argument type in words (``a string or *``)."""
    return " or ".join(TYPE_WORDS.get(t, t) for t in typ.split("|"))


def hint(v: Any, typ: str) -> str:
    """The likely mistake behind a type mismatch, as a suffix for the error message."""
    types = typ.split("|")
    if isinstance(v, RefVal) and "string" in types:
        return ", did you use double quotes instead of single quotes?"
    if isinstance(v, int) and not isinstance(v, bool) and "float" in types:
        return f" (write {v}.0 for a float)"
    if isinstance(v, int) and not isinstance(v, bool) and "duration" in types:
        return f" (a duration needs a unit, e.g. {v}s)"
    if "lambda" in types and not isinstance(v, LambdaVal):
        return " (did you forget 'lambda:'?)"
    if isinstance(v, LambdaVal) and "string" in types:
        return " (this takes a plain value, not a lambda)"
    return ""
