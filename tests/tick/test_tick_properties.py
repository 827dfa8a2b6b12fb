"""Property tests: formatting any lambda keeps its meaning and is stable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kapfast.tick import compile_script, format_script

LEAVES = st.sampled_from(
    ['"a"', '"b c"', "1", "2.5", "0644", "10s", "'s'", "TRUE", "x", "abs(-1.0)", "/r\\/x/"]
)
BINARY = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "AND", "OR"])


def _expr(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return LEAVES
    sub = _expr(depth - 1)
    return st.one_of(
        sub,
        st.builds(lambda a, op, b: f"{a} {op} {b}", sub, BINARY, sub),
        st.builds(lambda a: f"({a})", sub),
        st.builds(lambda a: f"-{a}", sub),
        st.builds(lambda a: f"!{a}", sub),
        st.builds(lambda a, b: f"if({a}, {b}, {b})", sub, sub),
    )


@settings(max_examples=150, deadline=None)
@given(_expr(3), st.sampled_from([" ", "\n", "\n    "]))
def test_format_keeps_the_lambda(expr: str, gap: str) -> None:
    script = f"var x = 3\nstream|from()|where(lambda:{gap}{expr})"
    formatted = format_script(script)
    assert format_script(formatted) == formatted
    before = compile_script(script).node("where2").args[0].ast
    after = compile_script(formatted).node("where2").args[0].ast
    assert before == after
