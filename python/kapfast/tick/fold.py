"""Constant folding of expressions outside lambdas (``var idVar = name + ':{{.Group}}'``).

Kapacitor evaluates these at define time with the lambda type rules: no implicit int/float mixing
in arithmetic (comparisons may mix), ``string + string``, duration arithmetic; integers are 64-bit
and divide like Go (truncating). Division by zero and overflow are reported instead of crashing.
"""

from __future__ import annotations

from typing import Any

from kapfast.tick.pipeline import Duration

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class FoldError(Exception):
    """The expression cannot be folded; the message is for the user."""


def kind(v: Any) -> str:
    """The TICKscript type name of a folded value."""
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
    return type(v).__name__


def go_int_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int(value: int, what: str) -> int:
    if not I64_MIN <= value <= I64_MAX:
        raise FoldError(f"integer overflow: {what} does not fit in 64 bits")
    return value


def fold_unary(op: str, v: Any) -> Any:
    if op == "-":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
        if isinstance(v, Duration):
            return Duration(-v.ns, "-" + v.literal if v.literal else "")
    elif isinstance(v, bool):
        return not v
    raise FoldError(f"invalid operand to unary {op}: {kind(v)}")


def fold_binary(op: str, left: Any, right: Any) -> Any:
    lk, rk = kind(left), kind(right)
    what = f"{left!r} {op} {right!r}"
    if op in ("AND", "OR") and lk == rk == "bool":
        return (left and right) if op == "AND" else (left or right)
    if op in COMPARISONS:
        numbers = lk in ("int", "float") and rk in ("int", "float")
        if numbers or (lk == rk and lk in ("string", "bool", "duration")):
            if lk == rk == "bool" and op not in ("==", "!="):
                raise FoldError(f"invalid comparison: bool {op} bool")
            a, b = (left.ns, right.ns) if lk == "duration" else (left, right)
            return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+" and lk == rk == "string":
        return left + right
    if op in ("+", "-", "*", "/", "%") and lk == rk and lk in ("int", "float"):
        if op == "%" and lk != "int":
            raise FoldError("invalid binary operation: float % float (% takes ints)")
        if op in ("/", "%") and right == 0:
            raise FoldError("division by zero")
        if lk == "int":
            if op == "/":
                return _int(go_int_div(left, right), what)
            if op == "%":
                return left - go_int_div(left, right) * right
            return _int({"+": left + right, "-": left - right, "*": left * right}[op], what)
        return {"+": left + right, "-": left - right, "*": left * right, "/": left / right}[op]
    if "duration" in (lk, rk):
        return _duration_math(op, left, right, lk, rk, what)
    if lk in ("int", "float") and rk in ("int", "float") and lk != rk:
        raise FoldError(
            f"mismatched type to binary operator. got {lk} {op} {rk}. "
            "see bool(), int(), float(), string(), duration()"
        )
    raise FoldError(f"invalid binary operation: {lk} {op} {rk}")


def _duration_math(op: str, a: Any, b: Any, lk: str, rk: str, what: str) -> Any:
    number = ("int", "float")
    if lk == rk == "duration":
        if op == "+":
            return Duration(_int(a.ns + b.ns, what))
        if op == "-":
            return Duration(_int(a.ns - b.ns, what))
        if op == "/":
            if b.ns == 0:
                raise FoldError("division by zero")
            return go_int_div(a.ns, b.ns)
    elif lk == "duration" and rk in number:
        if op == "*":
            return Duration(_int(int(a.ns * b), what))
        if op == "/":
            if b == 0:
                raise FoldError("division by zero")
            return Duration(_int(go_int_div(a.ns, b) if rk == "int" else int(a.ns / b), what))
    elif rk == "duration" and lk in number and op == "*":
        return Duration(_int(int(a * b.ns), what))
    raise FoldError(f"invalid binary operation: {lk} {op} {rk}")
