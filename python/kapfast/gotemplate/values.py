"""How Go's template executor sees Python values: truth, field access, printing, comparison.

Python data stands for Go data (see :mod:`kapfast.gofmt`). One more value exists only inside the
executor: :data:`NO_VALUE`, Go's *invalid* ``reflect.Value`` that a missing map key yields. It
prints as ``<no value>`` and turns into ``nil`` when passed to a function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapfast.gofmt import GoDuration, GoMap, GoStruct, GoTime, go_type_name, sprint
from kapfast.gotemplate.errors import ExecError
from kapfast.gotemplate.methods import call_method, find_method


class _NoValue:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Any = _NoValue()


def is_true(v: Any) -> tuple[bool, bool]:
    """Go's ``template.IsTrue``: (truth, whether the value has a truth at all)."""
    if v is None or v is NO_VALUE:
        return False, True
    if isinstance(v, bool):
        return v, True
    if isinstance(v, int | float | complex):
        return v != 0, True
    if isinstance(v, str | dict | list | tuple):
        return len(v) > 0, True
    if isinstance(v, GoDuration):
        return v.ns != 0, True
    # Structs (GoTime, GoStruct) and functions are always true.
    return True, True


def truth(v: Any) -> bool:
    return is_true(v)[0]


def print_value(v: Any) -> str:
    """How an action prints its value (``fmt.Fprint`` of the value; ``<no value>`` if missing)."""
    if v.__class__ is str:
        return str.__str__(v)
    if v is NO_VALUE:
        return "<no value>"
    if isinstance(v, str):
        return str.__str__(v)
    if callable(v) and not isinstance(v, GoTime | GoDuration | dict):
        raise ExecError(f"can't print value of type {go_type_name(v)}")
    return sprint(v)


def arg_value(v: Any) -> Any:
    """A value passed to a function: a missing value becomes nil."""
    return None if v is NO_VALUE else v


def field(receiver: Any, name: str) -> Any:
    """``receiver.name``: a struct field, a map key (missing -> NO_VALUE) or an error."""
    if isinstance(receiver, GoStruct):
        try:
            return receiver[name]
        except KeyError:
            raise ExecError(f"can't evaluate field {name} in type {receiver.type_name}") from None
    if isinstance(receiver, dict):
        return receiver.get(name, NO_VALUE)
    if receiver is None:
        raise ExecError(f"nil pointer evaluating interface {{}}.{name}")
    if receiver is NO_VALUE:
        return NO_VALUE
    if isinstance(receiver, GoTime | GoDuration) and find_method(receiver, name) is not None:
        return call_method(receiver, name, [])
    raise ExecError(f"can't evaluate field {name} in type {go_type_name(receiver)}")


def map_zero(m: dict[str, Any]) -> Any:
    """The zero value of a map's element type (``index`` of a missing key returns it)."""
    if isinstance(m, GoMap):
        return m.zero
    return None


# --- comparisons (Go's eq/lt on basic kinds) --------------------------------------------------

_BAD_CMP = "incompatible types for comparison"
_BAD_CMP_TYPE = "invalid type for comparison"


def _kind(v: Any) -> str:
    if v is None or v is NO_VALUE:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, GoDuration):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return "other"


def _num(v: Any) -> Any:
    return v.ns if isinstance(v, GoDuration) else v


def _comparable(v: Any) -> bool:
    return not isinstance(v, dict | list) and not callable(v)


def eq(arg1: Any, *args: Any) -> bool:
    """Go's ``eq``: arg1 equals any of args; mismatched basic kinds are an error."""
    if not args:
        raise ExecError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise ExecError(_BAD_CMP)
            continue
        if k1 == "invalid":
            return True
        if k1 == "other":
            if not _comparable(arg1) or not _comparable(arg):
                bad = arg1 if not _comparable(arg1) else arg
                raise ExecError(f"non-comparable type {sprint(bad)}: {go_type_name(bad)}")
            if type(arg1) is not type(arg):
                raise ExecError(_BAD_CMP)
        if _num(arg1) == _num(arg):
            return True
    return False


def lt(a: Any, b: Any) -> bool:
    """Go's ``lt`` on basic kinds (numbers of one kind, strings by bytes)."""
    ka, kb = _kind(a), _kind(b)
    if ka in ("invalid", "other", "bool", "complex") or kb in ("invalid", "other", "bool", "complex"):
        raise ExecError(_BAD_CMP_TYPE)
    if ka != kb:
        raise ExecError(_BAD_CMP)
    if ka == "string":
        return bool(a.encode("utf-8") < b.encode("utf-8"))
    return bool(_num(a) < _num(b))


def call_value(fn: Any, args: list[Any]) -> Any:
    """Go's ``call``: call a function value found in the data."""
    if fn is None or fn is NO_VALUE:
        raise ExecError("call of nil")
    if not callable(fn) or isinstance(fn, type):
        raise ExecError(f"non-function of type {go_type_name(fn)}")
    f: Callable[..., Any] = fn
    return f(*args)
