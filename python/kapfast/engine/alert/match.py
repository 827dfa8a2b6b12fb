"""Topic handler ``match`` expressions: which events of a topic a handler receives.

A match is a TICKscript lambda body (without ``lambda:``) such as
``changed() == TRUE AND level() >= WARNING``. It is parsed and checked once, when the handler is
defined, into a tree of small closures that is evaluated per event. Available, as in Kapacitor:

* ``changed()`` (bool: the level differs from the previous event's), ``level()`` (int),
  ``name()`` (the measurement), ``taskName()``, ``alertDuration()`` (Kapacitor 1.5's
  ``duration()`` is accepted too; a duration in ns);
* identifiers ``OK INFO WARNING CRITICAL`` (the level numbers 0..3);
* references ``"host"``: the value of that tag of the event's data (an event without the tag
  does not match, and the failure is reported like Kapacitor's "no tag exists for host").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kapfast.errors import KapfastError
from kapfast.tick import ast
from kapfast.tick.parser import parse_lambda

LEVEL_NUMBERS = {"OK": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3}


class MatchError(KapfastError):
    """A match expression that cannot be compiled, or that fails on an event."""


@dataclass(frozen=True, slots=True)
class MatchEvent:
    """What a match expression can see of one event."""

    level: str
    previous_level: str = "OK"
    name: str = ""
    task_name: str = ""
    duration_ns: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)


Eval = Callable[[MatchEvent], Any]

_FUNCTIONS: dict[str, Eval] = {
    "changed": lambda e: e.level != e.previous_level,
    "level": lambda e: LEVEL_NUMBERS.get(e.level, 0),
    "name": lambda e: e.name,
    "taskName": lambda e: e.task_name,
    "alertDuration": lambda e: e.duration_ns,
    "duration": lambda e: e.duration_ns,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return "string"


class Match:
    """A compiled match expression; the empty text matches every event."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._eval: Eval | None = None
        if text.strip():
            try:
                tree = parse_lambda(text)
            except KapfastError as e:
                raise MatchError(f"invalid match expression: {e}") from None
            self._eval = self._compile(tree)

    def matches(self, event: MatchEvent) -> bool:
        """Raises :class:`MatchError` when the expression fails on this event."""
        if self._eval is None:
            return True
        v = self._eval(event)
        if not isinstance(v, bool):
            raise MatchError(f"match expression {self.text!r} is not a boolean (got {v!r})")
        return v

    # --- compilation -----------------------------------------------------------------------------

    def _fail(self, node: ast.Base, message: str) -> MatchError:
        return MatchError(f"invalid match expression: line {node.line} column {node.col}: {message}")

    def _compile(self, node: Any) -> Eval:
        if isinstance(node, ast.Bool | ast.String):
            value = node.value
            return lambda e: value
        if isinstance(node, ast.Number):
            number = node.value
            return lambda e: number
        if isinstance(node, ast.Duration):
            ns = node.ns
            return lambda e: ns
        if isinstance(node, ast.Identifier):
            if node.name not in LEVEL_NUMBERS:
                raise self._fail(
                    node, f'unknown identifier "{node.name}" (use OK, INFO, WARNING or CRITICAL)'
                )
            level = LEVEL_NUMBERS[node.name]
            return lambda e: level
        if isinstance(node, ast.Reference):
            return self._reference(node.name)
        if isinstance(node, ast.Function):
            fn = _FUNCTIONS.get(node.name)
            if fn is None:
                known = ", ".join(f"{n}()" for n in _FUNCTIONS if n != "duration")
                raise self._fail(node, f"unknown function {node.name}() (a match can use {known})")
            if node.args:
                raise self._fail(node, f"{node.name}() takes no arguments")
            return fn
        if isinstance(node, ast.Unary):
            return self._unary(node)
        if isinstance(node, ast.Binary):
            return self._binary(node)
        raise self._fail(node, f"{type(node).__name__.lower()} is not allowed in a match expression")

    def _reference(self, tag: str) -> Eval:
        text = self.text

        def ref(e: MatchEvent) -> Any:
            v = e.tags.get(tag)
            if v is None:
                raise MatchError(f"match {text!r}: no tag exists for {tag}")
            return v

        return ref

    def _unary(self, node: ast.Unary) -> Eval:
        inner = self._compile(node.operand)
        text = self.text
        if node.op == "!":

            def not_(e: MatchEvent) -> Any:
                v = inner(e)
                if not isinstance(v, bool):
                    raise MatchError(f"match {text!r}: ! needs a boolean, got {v!r}")
                return not v

            return not_

        def neg(e: MatchEvent) -> Any:
            v = inner(e)
            if _kind(v) != "number":
                raise MatchError(f"match {text!r}: - needs a number, got {v!r}")
            return -v

        return neg

    def _binary(self, node: ast.Binary) -> Eval:
        op = node.op
        left = self._compile(node.left)
        text = self.text
        if op in ("=~", "!~"):
            if not isinstance(node.right, ast.Regex):
                raise self._fail(node, f"{op} needs a regular expression on its right")
            try:
                rx = re.compile(node.right.pattern)
            except re.error as exc:
                raise self._fail(node.right, f"invalid regular expression: {exc}") from None
            want = op == "=~"

            def regex(e: MatchEvent) -> Any:
                v = left(e)
                if not isinstance(v, str):
                    raise MatchError(f"match {text!r}: {op} needs a string, got {v!r}")
                return (rx.search(v) is not None) == want

            return regex
        right = self._compile(node.right)
        if op in ("AND", "OR"):
            is_and = op == "AND"

            def logic(e: MatchEvent) -> Any:
                a = left(e)
                if not isinstance(a, bool):
                    raise MatchError(f"match {text!r}: {op} needs booleans, got {a!r}")
                if a != is_and:  # short circuit: FALSE AND .., TRUE OR ..
                    return a
                b = right(e)
                if not isinstance(b, bool):
                    raise MatchError(f"match {text!r}: {op} needs booleans, got {b!r}")
                return b

            return logic
        if op in _COMPARE:
            cmp = _COMPARE[op]

            def compare(e: MatchEvent) -> Any:
                a, b = left(e), right(e)
                if _kind(a) != _kind(b):
                    raise MatchError(f"match {text!r}: cannot compare {a!r} {op} {b!r}")
                if isinstance(a, bool) and op not in ("==", "!="):
                    raise MatchError(f"match {text!r}: booleans only compare with == and !=")
                return cmp(a, b)

            return compare
        if op in _ARITH:
            arith = _ARITH[op]

            def calc(e: MatchEvent) -> Any:
                a, b = left(e), right(e)
                if _kind(a) != "number" or _kind(b) != "number":
                    if op == "+" and isinstance(a, str) and isinstance(b, str):
                        return a + b
                    raise MatchError(f"match {text!r}: cannot compute {a!r} {op} {b!r}")
                if op in ("/", "%") and b == 0:
                    raise MatchError(f"match {text!r}: division by zero")
                if op == "/" and isinstance(a, int) and isinstance(b, int):
                    return a // b
                return arith(a, b)

            return calc
        raise self._fail(node, f"operator {op} is not allowed in a match expression")


def compile_match(text: str) -> Match:
    """Raises :class:`MatchError` (naming line and column) for a bad expression."""
    return Match(text)
