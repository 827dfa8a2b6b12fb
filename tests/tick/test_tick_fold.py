"""Folding of expressions outside lambdas, with Kapacitor's type rules."""

from __future__ import annotations

import pytest

from kapfast.tick.fold import FoldError, fold_binary, fold_unary
from kapfast.tick.pipeline import Duration

S = 1_000_000_000


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("+", "a", "b", "ab"),
        ("+", 1, 2, 3),
        ("/", 7, 2, 3),
        ("/", -7, 2, -3),  # Go truncates toward zero
        ("%", -7, 2, -1),
        ("/", 1.0, 4.0, 0.25),
        ("<", 1, 1.5, True),  # comparisons mix int and float
        ("==", "a", "a", True),
        ("AND", True, False, False),
        ("+", Duration(S), Duration(2 * S), Duration(3 * S)),
        ("*", Duration(S), 3, Duration(3 * S)),
        ("*", 2, Duration(S), Duration(2 * S)),
        ("*", Duration(S), 1.5, Duration(S + S // 2)),
        ("/", Duration(10 * S), Duration(3 * S), 3),
        ("<", Duration(S), Duration(2 * S), True),
    ],
)
def test_fold(op: str, left: object, right: object, expected: object) -> None:
    assert fold_binary(op, left, right) == expected


@pytest.mark.parametrize(
    ("op", "left", "right", "message"),
    [
        ("*", 1, 2.0, "mismatched type to binary operator. got int * float"),
        ("/", 1, 0, "division by zero"),
        ("/", Duration(S), 0, "division by zero"),
        ("/", Duration(S), Duration(0), "division by zero"),
        ("%", 1.0, 2.0, "invalid binary operation: float % float"),
        ("+", 9223372036854775807, 1, "integer overflow"),
        ("<", True, False, "invalid comparison: bool < bool"),
        ("-", "a", "b", "invalid binary operation: string - string"),
    ],
)
def test_fold_errors(op: str, left: object, right: object, message: str) -> None:
    with pytest.raises(FoldError, match=message.replace(".", r"\.").replace("*", r"\*")):
        fold_binary(op, left, right)


def test_fold_unary() -> None:
    assert fold_unary("-", 5) == -5
    assert fold_unary("-", Duration(S, "1s")) == Duration(-S, "-1s")
    assert fold_unary("!", True) is False
    with pytest.raises(FoldError):
        fold_unary("!", 1)
