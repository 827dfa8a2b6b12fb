"""Template vars: the ``vars`` JSON the task API takes, checked and turned into script values.

``{"name": {"type": "float", "value": 1.0}}`` with types ``int float bool string regex duration
lambda list star``. A supplied var overrides the script's default and must have the declared type
(``invalid type supplied for X, got T exp U``, Kapacitor's message).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kapfast.errors import TickScriptError
from kapfast.lambdas import regex_error
from kapfast.tick.durations import parse_duration
from kapfast.tick.pipeline import Duration, Regex, Star
from kapfast.tick.values import LambdaVal

VAR_TYPES: tuple[str, ...] = ("int", "float", "bool", "string", "regex", "duration", "lambda", "list", "star")


@dataclass(frozen=True)
class SuppliedVar:
    type: str
    value: Any  # an evaluation value (see compiler): int, float, bool, str, Duration, Regex, ...


def _err(message: str, source: str) -> TickScriptError:
    return TickScriptError(message, source=source)


#: Compiles a lambda var's text (the expression after ``lambda:``): ``(text, var name, source)``.
#: The compiler passes its own, so that this module (below the compiler) need not import it.
LambdaCompiler = Callable[[str, str, str], LambdaVal]


def parse_vars(
    raw: Mapping[str, Any], compile_lambda: LambdaCompiler, source: str = ""
) -> dict[str, SuppliedVar]:
    """Check and convert API-style vars; raises TickScriptError naming the bad var."""
    out: dict[str, SuppliedVar] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise _err(f'var "{name}": expected {{"type": ..., "value": ...}}', source)
        out[name] = SuppliedVar(
            spec["type"], _value(name, spec["type"], spec.get("value"), source, compile_lambda)
        )
    return out


def _value(name: str, typ: Any, v: Any, source: str, compile_lambda: LambdaCompiler) -> Any:
    def bad(expected: str) -> TickScriptError:
        return _err(f'var "{name}" of type {typ}: expected {expected}, got {v!r}', source)

    if typ == "int":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise bad("an integer")
        return int(v)
    if typ == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad("a number")
        return float(v)
    if typ == "bool":
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if typ == "string":
        if not isinstance(v, str):
            raise bad("a string")
        return v
    if typ == "regex":
        if not isinstance(v, str):
            raise bad("a regex pattern string")
        why = regex_error(v)
        if why is not None:
            raise bad(f"a valid regex ({why})")
        return Regex(v)
    if typ == "duration":
        if isinstance(v, int) and not isinstance(v, bool):
            return Duration(v)
        if isinstance(v, str):
            try:
                return Duration(parse_duration(v), v)
            except ValueError as exc:
                raise bad("a duration such as '10s' or nanoseconds") from exc
        raise bad("a duration such as '10s' or nanoseconds")
    if typ == "star":
        return Star()
    if typ == "list":
        if not isinstance(v, list):
            raise bad("a list")
        items: list[Any] = []
        for item in v:
            if isinstance(item, str):
                items.append(item)
            elif isinstance(item, Mapping) and item.get("type") == "string":
                items.append(_value(name, "string", item.get("value"), source, compile_lambda))
            elif isinstance(item, Mapping) and item.get("type") == "star":
                items.append(Star())
            else:
                raise bad("a list of strings")
        return items
    if typ == "lambda":
        if not isinstance(v, str):
            raise bad("a lambda expression string")
        text = v.strip()
        if text.startswith("lambda:"):
            text = text[len("lambda:") :]
        return compile_lambda(text, name, source)
    raise _err(f'var "{name}": invalid type {typ!r}, use one of {", ".join(VAR_TYPES)}', source)


def type_of(v: Any) -> str | None:
    """The var type of an evaluation value, or None for values vars cannot hold (nodes)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Duration):
        return "duration"
    if isinstance(v, Regex):
        return "regex"
    if isinstance(v, Star):
        return "star"
    if isinstance(v, list):
        return "list"
    if isinstance(v, LambdaVal):
        return "lambda"
    return None


def var_to_json(v: Any) -> Any:
    """A var value as the API shows it."""
    if isinstance(v, Duration):
        return v.ns
    if isinstance(v, Regex):
        return v.pattern
    if isinstance(v, Star):
        return None
    if isinstance(v, LambdaVal):
        return v.text
    if isinstance(v, list):
        # list items are vars themselves in the API, as Kapacitor shows them
        return [{"type": type_of(x), "value": var_to_json(x)} for x in v]
    return v
