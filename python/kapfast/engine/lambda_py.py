"""A row-at-a-time lambda interpreter: the fallback used where the Rust evaluator is not available
(and by stateful nodes that test one row at a time). Semantics follow docs/lambda_ast.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from kapfast.errors import EvalError

FieldValue = float | int | str | bool


class Dur(int):
    """A duration value (int ns) kept apart from ints, as Kapacitor's types are."""


class Tm(int):
    """A time value (int ns)."""


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Dur):
        return "duration"
    if isinstance(v, Tm):
        return "time"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, re.Pattern):
        return "regex"
    return type(v).__name__


class _Missing(Exception):
    pass


class GroupState:
    """Per-group state of stateful lambda functions (sigma, count, spread), keyed by call site."""

    def __init__(self) -> None:
        self.slots: dict[int, list[float]] = {}


class PyLambda:
    """A compiled (closure-tree) lambda evaluated on one row at a time."""

    def __init__(self, ast: Any) -> None:
        self._next_slot = 0
        self.fn = self._compile(ast)

    def eval(
        self,
        name: str,
        tags: dict[str, str],
        fields: dict[str, FieldValue],
        t: int,
        state: GroupState | None = None,
    ) -> Any:
        return self.fn((name, tags, fields, t, state if state is not None else GroupState()))

    # --- compilation ------------------------------------------------------------------------

    def _compile(self, ast: Any) -> Callable[[Any], Any]:
        tag = ast[0]
        if tag in ("float", "int", "string", "bool"):
            v = ast[1]
            return lambda row: v
        if tag == "duration":
            d = Dur(ast[1])
            return lambda row: d
        if tag == "regex":
            rx = re.compile(ast[1])
            return lambda row: rx
        if tag == "ref":
            return self._ref(ast[1])
        if tag == "unary":
            op = ast[1]
            x = self._compile(ast[2])
            if op == "!":

                def not_(row: Any) -> Any:
                    v = x(row)
                    if not isinstance(v, bool):
                        raise EvalError(f"invalid unary operator ! on {_type_name(v)}")
                    return not v

                return not_

            def neg(row: Any) -> Any:
                v = x(row)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise EvalError(f"invalid unary operator - on {_type_name(v)}")
                return Dur(-v) if isinstance(v, Dur) else -v

            return neg
        if tag == "binary":
            return self._binary(ast[1], self._compile(ast[2]), self._compile(ast[3]), ast[2], ast[3])
        if tag == "call":
            return self._call(ast[1], [self._compile(a) for a in ast[2]], ast[2])
        raise EvalError(f"unknown lambda node {tag!r}")

    def _ref(self, ref: str) -> Callable[[Any], Any]:
        def get(row: Any) -> Any:
            _, tags, fields, t, _ = row
            if ref in fields:
                if ref in tags:
                    raise EvalError(f"cannot have field and tags with same name {ref!r}")
                return fields[ref]
            if ref in tags:
                return tags[ref]
            if ref == "time":
                return Tm(t)
            raise _Missing(ref)

        return get

    def _binary(
        self, op: str, lf: Callable[[Any], Any], rf: Callable[[Any], Any], la: Any, ra: Any
    ) -> Callable[[Any], Any]:
        def side(f: Callable[[Any], Any], which: str) -> Callable[[Any], Any]:
            def g(row: Any) -> Any:
                try:
                    return f(row)
                except _Missing as m:
                    raise EvalError(f'{which} reference value "{m.args[0]}" is missing value') from None

            return g

        lf = side(lf, "left")
        rf = side(rf, "right")
        if op == "AND":
            return lambda row: _bool(lf(row), op) and _bool(rf(row), op)
        if op == "OR":
            return lambda row: _bool(lf(row), op) or _bool(rf(row), op)
        return lambda row: _binop(op, lf(row), rf(row))

    def _call(self, fname: str, args: list[Callable[[Any], Any]], raw: Sequence[Any]) -> Callable[[Any], Any]:
        if fname == "isPresent":
            a = args[0]

            def is_present(row: Any) -> Any:
                try:
                    a(row)
                    return True
                except _Missing:
                    return False

            return is_present
        if fname in ("sigma", "count", "spread"):
            slot = self._next_slot
            self._next_slot += 1
            a0: Callable[[Any], Any] | None = args[0] if args else None

            def stateful(row: Any) -> Any:
                st: GroupState = row[4]
                s = st.slots.setdefault(slot, [0.0, 0.0, 0.0, math.inf, -math.inf])
                if fname == "count":
                    s[0] += 1
                    return int(s[0])
                v = _arg(a0, row) if a0 is not None else 0
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise EvalError(f"cannot call {fname} on {_type_name(v)}")
                v = float(v)
                if fname == "spread":
                    s[3] = min(s[3], v)
                    s[4] = max(s[4], v)
                    return s[4] - s[3]
                # Welford's running mean/variance as Kapacitor's sigma
                s[0] += 1
                n = s[0]
                delta = v - s[1]
                s[1] += delta / n
                s[2] += delta * (v - s[1])
                if n < 2:
                    return 0.0
                std = math.sqrt(s[2] / (n - 1))
                return 0.0 if std == 0 else abs(v - s[1]) / std

            return stateful
        fn = _FUNCS.get(fname)
        if fn is None:
            raise EvalError(f"undefined function {fname}()")
        f = fn

        def call(row: Any) -> Any:
            return f(*[_arg(a, row) for a in args])

        return call


def _arg(a: Callable[[Any], Any], row: Any) -> Any:
    try:
        return a(row)
    except _Missing as m:
        raise EvalError(f'reference value "{m.args[0]}" is missing value') from None


def _bool(v: Any, op: str) -> bool:
    if not isinstance(v, bool):
        raise EvalError(f"invalid {op} operator on {_type_name(v)}")
    return v


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _binop(op: str, a: Any, b: Any) -> Any:
    ta, tb = _type_name(a), _type_name(b)
    if op in ("=~", "!~"):
        if isinstance(a, str) and isinstance(b, re.Pattern):
            m = b.search(a) is not None
            return m if op == "=~" else not m
        raise EvalError(f"invalid comparison operator {op} for {ta} and {tb}")
    if op in ("==", "!="):
        if (
            _num(a) and _num(b) and ta not in ("duration", "time") and tb not in ("duration", "time")
        ) or ta == tb:
            eq = a == b
            return eq if op == "==" else not eq
        raise EvalError(f"invalid comparison operator {op} for {ta} and {tb}")
    if op in ("<", "<=", ">", ">="):
        ok = (ta in ("int", "float") and tb in ("int", "float")) or (
            ta == tb and ta in ("string", "duration", "time")
        )
        if not ok:
            raise EvalError(f"invalid comparison operator {op} for {ta} and {tb}")
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b
    # arithmetic
    if ta == "string" and tb == "string" and op == "+":
        return a + b
    if ta == tb == "float":
        return _arith_float(op, a, b, ta, tb)
    if ta == tb == "int":
        return _arith_int(op, a, b)
    if ta == tb == "duration":
        if op in ("+", "-"):
            return Dur(a + b if op == "+" else a - b)
        if op == "/":
            if b == 0:
                raise EvalError("integer divide by zero")
            return int(a / b)
    if ta == "duration" and tb in ("int", "float") and op in ("*", "/"):
        if op == "/" and b == 0:
            raise EvalError("integer divide by zero")
        return Dur(int(a * b) if op == "*" else int(a / b))
    if tb == "duration" and ta in ("int", "float") and op == "*":
        return Dur(int(a * b))
    if ta in ("int", "float") and tb in ("int", "float"):
        raise EvalError(
            f"mismatched type to binary operator. got {ta} {op} {tb}. "
            "see bool(), int(), float(), string(), duration()"
        )
    raise EvalError(f"invalid math operator {op} for type {ta}")


def _arith_float(op: str, a: float, b: float, ta: str, tb: str) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.copysign(math.inf, a) if a != 0 else math.nan
        return a / b
    raise EvalError(f"invalid math operator {op} for type {ta}")


def _arith_int(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%"):
        if b == 0:
            raise EvalError("integer divide by zero")
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q
        return q if op == "/" else a - q * b
    raise EvalError(f"invalid math operator {op} for type int")


def _f_string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        from kapfast.gofmt import format_float

        return format_float(v, "f", -1)
    if isinstance(v, Dur):
        from kapfast.gofmt import duration_string

        return duration_string(v)
    return str(v)


def _f_int(v: Any) -> int:
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError as e:
            raise EvalError(f"cannot convert string to int: {v!r}") from e
    if isinstance(v, bool):
        return 1 if v else 0
    return int(v)


def _f_float(v: Any) -> float:
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError as e:
            raise EvalError(f"cannot convert string to float: {v!r}") from e
    return float(v)


def _f_bool(v: Any) -> bool:
    if isinstance(v, str):
        if v.lower() in ("true", "t", "1"):
            return True
        if v.lower() in ("false", "f", "0"):
            return False
        raise EvalError(f"cannot convert string to bool: {v!r}")
    return bool(v)


def _f_abs(v: Any) -> Any:
    return abs(v)


def _f_if(c: Any, a: Any, b: Any) -> Any:
    if not isinstance(c, bool):
        raise EvalError("first argument to if must be a condition with type bool")
    if _type_name(a) != _type_name(b):
        raise EvalError("Different return types are not supported")
    return a if c else b


_FUNCS: dict[str, Callable[..., Any]] = {
    "string": _f_string,
    "int": _f_int,
    "float": _f_float,
    "bool": _f_bool,
    "abs": _f_abs,
    "if": _f_if,
    "sqrt": lambda v: math.sqrt(v),
    "floor": lambda v: float(math.floor(v)),
    "ceil": lambda v: float(math.ceil(v)),
    "log": lambda v: math.log(v),
    "exp": lambda v: math.exp(v),
    "pow": lambda a, b: math.pow(a, b),
    "strContains": lambda s, sub: sub in s,
    "strHasPrefix": lambda s, p: s.startswith(p),
    "strHasSuffix": lambda s, p: s.endswith(p),
    "strLength": lambda s: len(s),
    "strToLower": lambda s: s.lower(),
    "strToUpper": lambda s: s.upper(),
    "strReplace": lambda s, old, new, n: s.replace(old, new, n if n >= 0 else -1),
    "strSubstring": lambda s, a, b: s[a:b],
    "strTrimSpace": lambda s: s.strip(),
    "duration": lambda v, unit=None: Dur(int(v * (unit or 1))),
    "unixNano": lambda t: int(t),
    "minute": lambda t: (int(t) // 60_000_000_000) % 60,
    "hour": lambda t: (int(t) // 3_600_000_000_000) % 24,
    "weekday": lambda t: ((int(t) // 86_400_000_000_000) + 4) % 7,
}
