"""Compiling lambda ASTs: the Program API surface and its errors (no batch needed)."""

from __future__ import annotations

import json

import pytest

from kapfast import lambdas
from kapfast._native import EvalResult, EvalState, Program, batch_with_field
from kapfast.errors import EvalError, KapfastError

WHERE = ("binary", "AND", ("binary", "<", ("ref", "usage_idle"), ("int", 10)),
         ("binary", ">", ("ref", "usage_user"), ("int", 50)))  # fmt: skip


def test_program_reports_what_the_engine_needs() -> None:
    p = Program(WHERE)
    assert p.references == ["usage_idle", "usage_user"]
    assert p.is_stateful is False
    assert p.result_kind == "bool"
    assert repr(p) == "Program(references=['usage_idle', 'usage_user'], result_kind='bool', stateful=False)"


def test_references_exclude_time_and_repeat_once() -> None:
    p = Program(("binary", "*", ("ref", "x"), ("call", "hour", [("ref", "time")])))
    assert p.references == ["x"]
    assert p.result_kind is None  # int or duration, depending on the type "x" has per row
    q = Program(
        (
            "binary",
            "AND",
            ("binary", ">", ("ref", "x"), ("int", 1)),
            ("binary", "<", ("ref", "x"), ("int", 5)),
        )
    )
    assert q.references == ["x"]


def test_stateful_functions_are_flagged() -> None:
    assert Program(("binary", ">", ("call", "sigma", [("ref", "v")]), ("float", 3.0))).is_stateful
    assert Program(("call", "count", [])).result_kind == "int"
    assert not Program(("call", "abs", [("ref", "v")])).is_stateful


def test_ast_survives_json() -> None:
    ast = ("binary", "=~", ("ref", "host"), ("regex", "^web[0-9]+$"))
    again = json.loads(json.dumps(ast))
    assert isinstance(again, list)
    assert Program(again).result_kind == "bool"


def test_constant_folding_keeps_types() -> None:
    assert Program(("binary", "*", ("duration", 60_000_000_000), ("int", 2))).result_kind == "duration"
    assert Program(("binary", "+", ("string", "a"), ("string", "b"))).result_kind == "string"
    assert Program(("call", "now", [])).result_kind == "time"


@pytest.mark.parametrize(
    ("ast", "message"),
    [
        (("call", "nope", []), 'undefined function: "nope"'),
        (("call", "abs", [("float", 1.0), ("float", 2.0)]), 'function "abs" expects 1 argument(s), got 2'),
        (
            ("binary", "+", ("int", 1), ("float", 2.0)),
            "mismatched type to binary operator. got int + float. "
            "see bool(), int(), float(), string(), duration()",
        ),
        (("binary", "-", ("string", "a"), ("string", "b")), "invalid math operator - for type string"),
        (("binary", "%", ("float", 1.0), ("float", 2.0)), "invalid math operator % for type float"),
        (("binary", "<", ("bool", True), ("bool", False)), "invalid comparison operator < for type boolean"),
        (("binary", "/", ("int", 1), ("int", 0)), "integer divide by zero"),
        (("unary", "!", ("int", 1)), "invalid unary operator ! for type int"),
        (
            ("call", "abs", [("int", -1)]),
            'Cannot call function "abs" with args (int), available signatures are [(float) float].',
        ),
        (
            ("call", "if", [("bool", True), ("int", 1), ("string", "x")]),
            'error calling "if": Different return types are not supported - '
            "second argument is int64 and third argument is string",
        ),
        (("regex", "a"), "a lambda expression cannot evaluate to a regex"),
    ],
)
def test_statically_wrong_expressions_do_not_compile(ast: tuple[object, ...], message: str) -> None:
    with pytest.raises(EvalError) as info:
        Program(ast)
    assert str(info.value) == message
    assert isinstance(info.value, KapfastError)


def test_bad_regex_is_a_compile_error() -> None:
    with pytest.raises(EvalError, match=r"^invalid regex /\(/: "):
        Program(("binary", "=~", ("ref", "host"), ("regex", "(")))


@pytest.mark.parametrize(
    ("ast", "fragment"),
    [
        (("foo", 1), 'unknown tag "foo"'),
        ((), "empty node"),
        ("ref", "a node is a tuple or list"),
        ((1, 2), "the tag must be a string"),
        (("int", True), "the value must be an int"),
        (("int", 2**70), "does not fit in a signed 64-bit integer"),
        (("float", "1.0"), "the value must be a float"),
        (("bool", 1), "the value must be a bool"),
        (("ref", "a", "b"), '"ref" takes 1 item(s) after the tag'),
        (("binary", "**", ("int", 1), ("int", 2)), 'unknown binary operator "**"'),
        (("unary", "+", ("int", 1)), 'unknown unary operator "+"'),
        (("call", "abs", 5), "the arguments must be a list"),
        (("call", 3, []), "the function name must be a string"),
    ],
)
def test_malformed_asts_are_rejected_clearly(ast: object, fragment: str) -> None:
    with pytest.raises(EvalError) as info:
        Program(ast)  # type: ignore[arg-type]
    assert "invalid lambda AST node" in str(info.value)
    assert fragment in str(info.value)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    ast: object = ("float", 1.0)
    for _ in range(10_000):
        ast = ("unary", "-", ast)
    with pytest.raises(EvalError, match="nested deeper than"):
        Program(ast)  # type: ignore[arg-type]


def test_eval_state_resets() -> None:
    st = EvalState()
    assert len(st) == 0
    st.reset()
    st.reset(group=7)
    st.reset(None)
    assert len(st) == 0


def test_facade_reexports_the_native_api() -> None:
    assert lambdas.Program is Program
    assert lambdas.EvalState is EvalState
    assert lambdas.EvalResult is EvalResult
    assert lambdas.batch_with_field is batch_with_field
    assert lambdas.compile_lambda(WHERE).references == ["usage_idle", "usage_user"]
    assert set(lambdas.__all__) == {
        "EvalResult",
        "EvalState",
        "Program",
        "batch_with_field",
        "compile_lambda",
        "regex_error",
    }
