"""Lexical rules and operator precedence, one test per rule."""

from __future__ import annotations

import pytest

from kapfast.errors import TickScriptError
from kapfast.tick import ast
from kapfast.tick.lexer import T, tokenize
from kapfast.tick.parser import parse, parse_lambda


def kinds(text: str) -> list[tuple[T, str]]:
    return [(t.typ, t.val) for t in tokenize(text) if t.typ is not T.EOF]


def test_identifiers_and_keywords() -> None:
    assert kinds("var x_1 = TRUE") == [(T.VAR, "var"), (T.IDENT, "x_1"), (T.ASGN, "="), (T.TRUE, "TRUE")]
    assert kinds("a AND b OR FALSE")[1] == (T.AND, "AND")
    assert kinds("a and b")[1] == (T.IDENT, "and")  # keywords are case-sensitive
    assert kinds("dbrp") == [(T.DBRP, "dbrp")]


def test_lambda_keyword_only_before_colon() -> None:
    assert kinds("lambda: 1")[0] == (T.LAMBDA, "lambda:")
    assert kinds("lambda")[0] == (T.IDENT, "lambda")


@pytest.mark.parametrize(
    ("text", "typ"),
    [("10", T.NUMBER), ("1.5", T.NUMBER), ("0644", T.NUMBER), (".5", T.NUMBER), ("5.", T.NUMBER)],
)
def test_numbers(text: str, typ: T) -> None:
    assert kinds(text) == [(typ, text)]


def test_octal_value() -> None:
    decl = parse("var x = 0644").statements[0]
    assert isinstance(decl, ast.Declaration) and isinstance(decl.value, ast.Number)
    assert decl.value.value == 420 and decl.value.octal


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1u", 1_000),
        ("1µ", 1_000),
        ("5ms", 5_000_000),
        ("10s", 10_000_000_000),
        ("2m", 120_000_000_000),
        ("1h", 3_600_000_000_000),
        ("1d", 86_400_000_000_000),
        ("1w", 604_800_000_000_000),
    ],
)
def test_durations(text: str, ns: int) -> None:
    assert kinds(text) == [(T.DURATION, text)]
    decl = parse(f"var d = {text}").statements[0]
    assert isinstance(decl, ast.Declaration) and isinstance(decl.value, ast.Duration)
    assert decl.value.ns == ns and decl.value.literal == text


def test_decimal_disables_duration_unit() -> None:
    assert kinds("1.5s")[0] == (T.NUMBER, "1.5")


def test_strings() -> None:
    decl = parse("var s = 'it\\'s \\n'").statements[0]
    assert isinstance(decl, ast.Declaration) and isinstance(decl.value, ast.String)
    assert decl.value.value == "it's \\n"  # only \' is an escape
    decl = parse("var s = '''a 'quoted'\nline'''").statements[0]
    assert isinstance(decl, ast.Declaration) and isinstance(decl.value, ast.String)
    assert decl.value.value == "a 'quoted'\nline" and decl.value.triple
    assert kinds("''") == [(T.STRING, "''")]


def test_references() -> None:
    expr = parse_lambda('"a \\"b\\""')
    assert isinstance(expr, ast.Reference) and expr.name == 'a "b"'


def test_regex_vs_division() -> None:
    assert [k for k, _ in kinds('"a" / 2')] == [T.REFERENCE, T.DIV, T.NUMBER]
    assert [k for k, _ in kinds('"a" =~ /x\\/y/')] == [T.REFERENCE, T.REQ, T.REGEX]
    assert [k for k, _ in kinds('"a" !~ /x/')] == [T.REFERENCE, T.RNEQ, T.REGEX]
    assert [k for k, _ in kinds("var r = /x/")] == [T.VAR, T.IDENT, T.ASGN, T.REGEX]
    expr = parse_lambda('"a" =~ /x\\/y/')
    assert isinstance(expr, ast.Binary) and isinstance(expr.right, ast.Regex)
    assert expr.right.pattern == "x/y" and expr.right.literal == "x\\/y"


def test_star_vs_multiply() -> None:
    assert [k for k, _ in kinds("groupBy(*)")] == [T.IDENT, T.LPAREN, T.STAR, T.RPAREN]
    assert [k for k, _ in kinds('"a" * 2')] == [T.REFERENCE, T.MULT, T.NUMBER]
    assert [k for k, _ in kinds("(1) * 2")] == [T.LPAREN, T.NUMBER, T.RPAREN, T.MULT, T.NUMBER]


def test_comments_attach_to_next_node() -> None:
    prog = parse("// hello\n//  world\n\n// again\nvar x = 1 // trailing\n")
    decl = prog.statements[0]
    assert decl.comment == ["hello", " world", "\n", "again"]
    assert isinstance(prog.statements[1], ast.CommentOnly)


def test_string_lists() -> None:
    decl = parse("var l = ['a', b, *]").statements[0]
    assert isinstance(decl, ast.Declaration) and isinstance(decl.value, ast.ListNode)
    assert [type(i).__name__ for i in decl.value.items] == ["String", "Identifier", "Star"]


def test_udf_and_chains() -> None:
    stmt = parse("stream|from()@myUDF().opt(1)|log()").statements[0]
    assert isinstance(stmt, ast.Chain) and stmt.op == "|"
    inner = stmt.left
    assert isinstance(inner, ast.Chain) and inner.op == "."
    assert isinstance(inner.left, ast.Chain) and inner.left.op == "@"


def tree(text: str) -> str:
    def show(n: ast.Expr) -> str:
        if isinstance(n, ast.Binary):
            return f"({show(n.left)} {n.op} {show(n.right)})"
        if isinstance(n, ast.Unary):
            return f"({n.op}{show(n.operand)})"
        if isinstance(n, ast.Number):
            return n.literal
        if isinstance(n, ast.Reference):
            return n.name
        if isinstance(n, ast.Bool):
            return "TRUE" if n.value else "FALSE"
        if isinstance(n, ast.Function):
            return f"{n.name}(" + ", ".join(show(a) for a in n.args) + ")"
        return type(n).__name__

    return show(parse_lambda(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("1 * 2 + 3", "((1 * 2) + 3)"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),  # left-associative
        ("8 / 4 % 3", "((8 / 4) % 3)"),
        ('"a" + 1 < 3', "((a + 1) < 3)"),
        ('"a" < 1 == TRUE', "((a < 1) == TRUE)"),
        ('"a" == 1 AND "b" == 2', "((a == 1) AND (b == 2))"),
        ('"a" OR "b" AND "c"', "(a OR (b AND c))"),
        ('"a" AND "b" OR "c"', "((a AND b) OR c)"),
        ('-"a" * 2', "((-a) * 2)"),
        ('!"a" AND "b"', "((!a) AND b)"),
        ("(1 + 2) * 3", "((1 + 2) * 3)"),
        ('abs(-"a" + 1) > 2', "(abs(((-a) + 1)) > 2)"),
    ],
)
def test_precedence(text: str, expected: str) -> None:
    assert tree(text) == expected


def test_parens_are_recorded_for_the_formatter() -> None:
    expr = parse_lambda("(1 + 2) * 3")
    assert isinstance(expr, ast.Binary) and isinstance(expr.left, ast.Binary) and expr.left.parens


def test_positions_are_exact() -> None:
    with pytest.raises(TickScriptError) as info:
        parse("var x = 1\n\tvar y = @")
    assert (info.value.line, info.value.column) == (2, 10)
    assert info.value.excerpt == "\tvar y = @\n\t        ^"
