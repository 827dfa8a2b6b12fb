"""TICKscript parser: script text → :mod:`kapfast.tick.ast`.

The hand-written lexer (:mod:`kapfast.tick.lexer`) produces tokens with exact positions; they are
fed one by one to the lark LALR parser built from :mod:`kapfast.tick.grammar`, whose callbacks
build the syntax tree directly. Comments never reach lark: afterwards each comment block is
attached to the node that starts at the token right after it (Kapacitor's rule; a block written
where no node starts, e.g. before a ``)``, moves on to the next node instead of being lost).
Syntax errors are turned into messages that say what was expected, with hints for the usual
mistakes (``=`` for ``==``, single quotes in ``dbrp``, double quotes in lists ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

from lark import Token as LarkToken
from lark import Transformer
from lark.exceptions import UnexpectedToken

from kapfast.lambdas import regex_error
from kapfast.tick import ast
from kapfast.tick.durations import parse_duration
from kapfast.tick.errors import error_at
from kapfast.tick.grammar import lark_parser
from kapfast.tick.lexer import T, Token, tokenize

_PRIMARY_WORDS = "a number, string, duration, reference, identifier, TRUE, FALSE, regex, '(', '-' or '!'"
_PRIMARY_START = {"NUMBER", "STRING", "DURATION", "REFERENCE", "IDENT", "TRUE", "FALSE", "REGEX", "LPAREN"}
_OPERATORS = {"PLUS", "MINUS", "MULT", "DIV", "MOD", "AND", "OR", "EQ", "NEQ", "LT", "GT", "LTE", "GTE"}
_OPERATORS |= {"REQ", "RNEQ"}

#: how deep brackets and prefix operators may nest (``((((x``, ``abs(abs(``, ``--!-x``): real scripts
#: nest a handful of levels; a script nesting deeper is refused before it costs any parsing
MAX_NESTING = 256
#: how deep the syntax tree may be: a pipeline of 5000 nodes and properties, or an expression of
#: 5000 terms, compiles; the compiler's walks are recursive (under errors.guard_depth), so this
#: bounds them (a lambda has its own, lower, limit: lambda_ast.MAX_DEPTH)
MAX_TREE_DEPTH = 5000


class ParseError(Exception):
    """Raised inside parser callbacks; carries the token index at fault."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def _describe(tok: Token) -> str:
    if tok.typ is T.EOF:
        return "end of script"
    if tok.typ in (T.IDENT, T.NUMBER, T.DURATION, T.STRING, T.REFERENCE, T.REGEX):
        val = tok.val if len(tok.val) <= 30 else tok.val[:27] + "..."
        return f"{tok.typ.value} {val}"
    return f'"{tok.typ.text()}"'


def _unescape(s: str, quote: str) -> str:
    return s.replace("\\" + quote, quote)


def _comment_text(raw: str) -> str:
    """``// text`` → ``text``: the leading ``//`` and one space stripped (Kapacitor's rule)."""
    body = raw.strip()
    body = body[2:] if body.startswith("//") else body
    return body[1:] if body.startswith(" ") else body


# -- building nodes from tokens --------------------------------------------------------------------
# Each lark token carries the index of our token in ``start_pos``, its line and column, and its
# character offset in ``end_pos``; the callbacks below are stateless so one lark parser (built
# once) serves every parse.


def _lark_token(tok: Token, index: int) -> LarkToken:
    return LarkToken(tok.typ.name, tok.val, start_pos=index, line=tok.line, column=tok.col, end_pos=tok.pos)


def _tok(lt: LarkToken) -> Token:
    return Token(T[lt.type], int(lt.end_pos or 0), str(lt), int(lt.line or 0), int(lt.column or 0))


def _idx(lt: LarkToken) -> int:
    return int(lt.start_pos or 0)


def _at(cls: type[Any], lt: LarkToken, *args: Any) -> Any:
    tok = _tok(lt)
    return cls(tok.pos, tok.line, tok.col, *args, anchors=[_idx(lt)])


def _number(lt: LarkToken) -> ast.Number:
    tok = _tok(lt)
    text = tok.val
    if "." in text:
        return _at(ast.Number, lt, text, False, float(text))  # type: ignore[no-any-return]
    octal = len(text) > 1 and text[0] == "0"
    if octal and any(ch in "89" for ch in text):
        raise ParseError(f"invalid octal number {text} (a leading 0 makes a number octal)", _idx(lt))
    value = int(text, 8 if octal else 10)
    if value >= 1 << 63:
        raise ParseError(f"integer {text} is out of range (max 9223372036854775807)", _idx(lt))
    return _at(ast.Number, lt, text, True, value, octal)  # type: ignore[no-any-return]


class _Build(Transformer[LarkToken, Any]):
    """LALR callbacks: one per grammar rule, each returns an AST node."""

    def start(self, items: list[Any]) -> list[Any]:
        return items

    def declaration(self, items: list[Any]) -> ast.Declaration:
        var, name, _asgn, value = items
        return _at(ast.Declaration, var, _at(ast.Identifier, name, str(name)), value)  # type: ignore[no-any-return]

    def type_declaration(self, items: list[Any]) -> ast.TypeDeclaration:
        var, name, typ = items
        if _tok(typ).line != _tok(name).line:
            raise ParseError(
                f"var {name} needs a value or a type: 'var {name} = ...' or 'var {name} float'", _idx(name)
            )
        return _at(  # type: ignore[no-any-return]
            ast.TypeDeclaration, var, _at(ast.Identifier, name, str(name)), _at(ast.Identifier, typ, str(typ))
        )

    def dbrp(self, items: list[Any]) -> ast.DBRP:
        kw, db, _dot, rp = items
        return _at(ast.DBRP, kw, self.reference([db]), self.reference([rp]))  # type: ignore[no-any-return]

    def lambda_(self, items: list[Any]) -> ast.Lambda:
        kw, expr = items
        return _at(ast.Lambda, kw, expr)  # type: ignore[no-any-return]

    def chain(self, items: list[Any]) -> ast.Expr:
        node: ast.Expr = items[0]
        for op, rhs in items[1:]:
            node = _at(ast.Chain, op, str(op), node, rhs)
        return node

    def _call(self, kind: str, name: LarkToken, args: list[ast.Expr]) -> ast.Function:
        tok = _tok(name)
        multiline = bool(args) and args[-1].line != tok.line
        return _at(ast.Function, name, kind, str(name), args, multiline)  # type: ignore[no-any-return]

    def pipe_link(self, items: list[Any]) -> tuple[LarkToken, ast.Function]:
        op, name, _lp, args, _rp = items
        return op, self._call("chain", name, args)

    def dot_call_link(self, items: list[Any]) -> tuple[LarkToken, ast.Function]:
        op, name, _lp, args, _rp = items
        return op, self._call("property", name, args)

    def dot_read_link(self, items: list[Any]) -> tuple[LarkToken, ast.Identifier]:
        op, name = items
        return op, _at(ast.Identifier, name, str(name))

    def at_link(self, items: list[Any]) -> tuple[LarkToken, ast.Function]:
        op, name, _lp, args, _rp = items
        return op, self._call("dynamic", name, args)

    def call(self, items: list[Any]) -> ast.Function:
        name, _lp, args, _rp = items
        return self._call("global", name, args)

    def args(self, items: list[Any]) -> list[ast.Expr]:
        return [i for i in items if not isinstance(i, LarkToken)]

    def string_list(self, items: list[Any]) -> ast.ListNode:
        values = [i for i in items if not isinstance(i, LarkToken)]
        return _at(ast.ListNode, items[0], values)  # type: ignore[no-any-return]

    def binary(self, items: list[Any]) -> ast.Binary:
        left, op, right = items
        multiline = left.line != right.line
        kw = {"MULT": "*"}.get(op.type, str(op))
        return _at(ast.Binary, op, kw, left, right, False, multiline)  # type: ignore[no-any-return]

    def unary_op(self, items: list[Any]) -> ast.Unary:
        op, operand = items
        return _at(ast.Unary, op, str(op), operand)  # type: ignore[no-any-return]

    def paren(self, items: list[Any]) -> ast.Expr:
        lp, inner, _rp = items
        if isinstance(inner, ast.Binary):
            inner.parens = True
        inner.anchors.insert(0, _idx(lp))
        return inner  # type: ignore[no-any-return]

    def number(self, items: list[Any]) -> ast.Number:
        return _number(items[0])

    def duration(self, items: list[Any]) -> ast.Duration:
        lt = items[0]
        try:
            ns = parse_duration(str(lt))
        except ValueError as exc:
            raise ParseError(str(exc), _idx(lt)) from None
        return _at(ast.Duration, lt, str(lt), ns)  # type: ignore[no-any-return]

    def string(self, items: list[Any]) -> ast.String:
        lt = items[0]
        text = str(lt)
        triple = len(text) >= 6 and text.startswith("'''")
        value = text[3:-3] if triple else _unescape(text[1:-1], "'")
        return _at(ast.String, lt, value, triple)  # type: ignore[no-any-return]

    def bool_(self, items: list[Any]) -> ast.Bool:
        return _at(ast.Bool, items[0], items[0].type == "TRUE")  # type: ignore[no-any-return]

    def regex(self, items: list[Any]) -> ast.Regex:
        literal = str(items[0])[1:-1]
        pattern = _unescape(literal, "/")
        # Kapacitor compiles a regex literal while parsing: a bad one fails the definition, with
        # its position, not the task's start.
        why = regex_error(pattern)
        if why is not None:
            raise ParseError(f"invalid regex /{literal}/: {why}", _idx(items[0]))
        return _at(ast.Regex, items[0], literal, pattern)  # type: ignore[no-any-return]

    def star(self, items: list[Any]) -> ast.Star:
        return _at(ast.Star, items[0])  # type: ignore[no-any-return]

    def reference(self, items: list[Any]) -> ast.Reference:
        return _at(ast.Reference, items[0], _unescape(str(items[0])[1:-1], '"'))  # type: ignore[no-any-return]

    def ident(self, items: list[Any]) -> ast.Identifier:
        return _at(ast.Identifier, items[0], str(items[0]))  # type: ignore[no-any-return]


_BUILD = _Build()


class Parser:
    """One parse of one script."""

    def __init__(self, text: str, source: str = "") -> None:
        self.text = text
        self.source = source
        self.toks: list[Token] = []
        # comment block written just before token i
        self.comments: dict[int, list[str]] = {}
        block: list[str] = []
        last_line = -10
        for tok in tokenize(text, source):
            if tok.typ is T.COMMENT:
                if block and tok.line > last_line + 1:
                    block.append("\n")  # a blank line separates comment blocks
                block.append(_comment_text(tok.val))
                last_line = tok.line
                continue
            if block:
                self.comments[len(self.toks)] = block
                block = []
            self.toks.append(tok)
        self._check_nesting()

    def _check_nesting(self) -> None:
        """Refuse brackets or prefix operators nested deeper than :data:`MAX_NESTING`, at the token
        that goes one level too deep (no stack is needed to find it)."""
        brackets = prefix = 0
        for tok in self.toks:
            if tok.typ in (T.LPAREN, T.LSBRACKET):
                brackets += 1
            elif tok.typ in (T.RPAREN, T.RSBRACKET):
                brackets = max(brackets - 1, 0)
            if tok.typ in (T.MINUS, T.NOT):
                prefix += 1
            else:
                prefix = 0
            if brackets + prefix > MAX_NESTING:
                self.fail(
                    f"the script nests brackets and '-'/'!' more than {MAX_NESTING} levels deep "
                    f"(the nesting limit is {MAX_NESTING})",
                    tok,
                )

    def _check_depth(self, roots: list[Any]) -> None:
        """Refuse a syntax tree deeper than :data:`MAX_TREE_DEPTH` (long ``|``/``.`` chains, long
        operator chains), at the node that goes one level too deep; iterative, like the check."""
        stack: list[tuple[Any, int]] = [(r, 1) for r in roots]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_TREE_DEPTH:
                self.fail(
                    f"the script is nested more than {MAX_TREE_DEPTH} levels deep (a chain of nodes "
                    f"and properties or an expression that long; the depth limit is {MAX_TREE_DEPTH})",
                    node,
                )
            for f in dataclasses.fields(node):
                if f.name in ("comment", "anchors"):
                    continue
                value = getattr(node, f.name)
                if isinstance(value, ast.Base):
                    stack.append((value, depth + 1))
                elif isinstance(value, list):
                    stack.extend((v, depth + 1) for v in value if isinstance(v, ast.Base))

    def fail(self, message: str, at: Token | ast.Base) -> NoReturn:
        raise error_at(message, self.text, at.line, at.col, self.source)

    def _feed(self, toks: list[Token], offset: int = 0) -> Any:
        interactive = lark_parser(_BUILD).parse_interactive("")
        try:
            for i, tok in enumerate(toks):
                if tok.typ is T.EOF:
                    break
                interactive.feed_token(_lark_token(tok, offset + i))
            return interactive.feed_eof()  # type: ignore[no-untyped-call]
        except ParseError as exc:
            self.fail(exc.message, self.toks[exc.index])
        except UnexpectedToken as exc:
            index = offset + len(toks) - 1 if exc.token.type == "$END" else int(exc.token.start_pos or 0)
            self._syntax_error(index, set(exc.expected))

    def program(self) -> ast.Program:
        statements: list[ast.Statement] = self._feed(self.toks)
        self._check_depth(statements)
        trailing = self._attach_comments(statements)
        if trailing:
            eof = self.toks[-1]
            statements.append(ast.CommentOnly(eof.pos, eof.line, eof.col, comment=trailing))
        return ast.Program(0, 1, 1, statements)

    # -- comments ---------------------------------------------------------------------------------
    def _attach_comments(self, roots: list[Any]) -> list[str] | None:
        """Give each comment block to the node starting at the next anchor token; return leftovers."""
        if not self.comments:
            return None
        anchors: dict[int, ast.Base] = {}

        def walk(n: Any) -> None:
            if isinstance(n, list):
                for item in n:
                    walk(item)
            elif isinstance(n, ast.Base):
                for a in n.anchors:
                    anchors.setdefault(a, n)
                for f in dataclasses.fields(n):
                    if f.name not in ("comment", "anchors"):
                        walk(getattr(n, f.name))

        walk(roots)
        order = sorted(anchors)
        pending = sorted(self.comments.items())
        leftovers: list[str] = []
        j = 0
        for index, lines in pending:
            while j < len(order) and order[j] < index:
                j += 1
            if j == len(order):
                leftovers = [*leftovers, "\n", *lines] if leftovers else list(lines)
                continue
            node = anchors[order[j]]
            node.comment = [*node.comment, "\n", *lines] if node.comment else list(lines)
        return leftovers or None

    # -- errors -----------------------------------------------------------------------------------
    def _syntax_error(self, index: int, expected: set[str]) -> NoReturn:
        toks = self.toks
        tok = toks[index]
        prev = [toks[index - k] if index - k >= 0 else None for k in (1, 2, 3)]
        ptyp = [p.typ if p else None for p in prev]

        before = prev[0]
        if (
            tok.typ is T.IDENT
            and before is not None
            and before.typ is T.NUMBER
            and before.pos + len(before.val) == tok.pos
            and tok.val in ("u", "µ", "ms", "s", "m", "h", "d", "w")
        ):
            self.fail(
                f"durations cannot have a decimal point: {before.val}{tok.val} must be written with "
                "a smaller unit (e.g. 1500ms for 1.5s)",
                before,
            )
        if tok.typ is T.ASGN and (expected & (_OPERATORS | {"RPAREN", "COMMA"})):
            self.fail("unexpected '=': use '==' to compare", tok)
        if tok.typ is T.STRING and (
            ptyp[0] is T.DBRP or (ptyp[0] is T.DOT and ptyp[1] is T.REFERENCE and ptyp[2] is T.DBRP)
        ):
            self.fail('dbrp names are written with double quotes: dbrp "db"."rp"', tok)
        if tok.typ is T.REFERENCE and "RSBRACKET" in expected and "STAR" in expected:
            self.fail(f"list items are strings in single quotes: write '{tok.val[1:-1]}', not {tok.val}", tok)
        if ptyp[0] in (T.PIPE, T.DOT, T.AT) and tok.typ is not T.IDENT and prev[0] is not None:
            what = {T.PIPE: "a node name", T.DOT: "a property name", T.AT: "a UDF name"}[prev[0].typ]
            self.fail(f"unexpected {_describe(tok)}, expected {what} after '{prev[0].typ.text()}'", tok)
        if ptyp[0] is T.IDENT and ptyp[1] in (T.PIPE, T.AT) and prev[0] is not None:
            kind = "chaining" if ptyp[1] is T.PIPE else "UDF"
            self.fail(f"unexpected {_describe(tok)}, expected '(' after {kind} method {prev[0].val}", tok)
        if ptyp[0] is T.IDENT and ptyp[1] is T.IDENT and ptyp[2] is T.VAR and prev[0] and prev[1]:
            name = prev[1].val
            self.fail(
                f"var {name} needs a value or a type: 'var {name} = ...' or 'var {name} float'", prev[1]
            )
        if {"STAR", "RSBRACKET", "STRING", "IDENT"} <= expected:
            self.fail(f"unexpected {_describe(tok)}, expected a string, identifier or '*' in the list", tok)
        if tok.typ is T.LAMBDA:
            self.fail("a lambda cannot appear inside an expression; 'lambda:' starts an argument", tok)
        if tok.typ in (T.PIPE, T.DOT, T.AT, T.VAR, T.DBRP):
            opener = self._unclosed(index)
            if (
                opener is not None
                and toks[opener].typ is T.LPAREN
                and opener
                and toks[opener - 1].typ is T.IDENT
            ):
                self.fail(
                    f"unexpected {_describe(tok)}: is a ')' missing to close {toks[opener - 1].val}( "
                    f"on line {toks[opener].line}?",
                    tok,
                )
        if tok.typ is T.EOF:
            opener = self._unclosed(index)
            if opener is not None:
                name = toks[opener - 1].val if opener and toks[opener - 1].typ is T.IDENT else ""
                closer = ")" if toks[opener].typ is T.LPAREN else "]"
                self.fail(
                    f"unexpected end of script, expected '{closer}' to close {name}{toks[opener].val}", tok
                )
        self.fail(f"unexpected {_describe(tok)}, expected {self._words(expected)}", tok)

    def _unclosed(self, end: int) -> int | None:
        stack: list[int] = []
        for i in range(end):
            typ = self.toks[i].typ
            if typ in (T.LPAREN, T.LSBRACKET):
                stack.append(i)
            elif typ in (T.RPAREN, T.RSBRACKET) and stack:
                stack.pop()
        return stack[-1] if stack else None

    def _words(self, expected: set[str]) -> str:
        if expected >= _PRIMARY_START:
            return _PRIMARY_WORDS
        words = sorted(
            {T[e].text() for e in expected if e in T.__members__ and e not in _OPERATORS},
            key=lambda w: (not w.isalpha(), w),
        )
        parts = [w if w.isalpha() else f"'{w}'" for w in words]
        if expected & _OPERATORS:
            parts.append("an operator")
        if "$END" in expected:
            parts.append("end of script")
        return " or ".join(parts) if parts else "something else"


def parse(text: str, source: str = "") -> ast.Program:
    """Parse a whole script."""
    return Parser(text, source).program()


def parse_lambda(text: str, source: str = "") -> ast.Expr:
    """Parse a bare lambda expression (the text after ``lambda:``), as template vars carry it."""
    parser = Parser(text, source)
    # parse it as `lambda: TEXT` without moving any position: a synthetic LAMBDA token first
    parser.toks.insert(0, Token(T.LAMBDA, 0, "lambda:", 1, 1))
    parser.comments = {i + 1: c for i, c in parser.comments.items()}
    program = parser.program()
    stmt = program.statements[0] if program.statements else None
    if len(program.statements) != 1 or not isinstance(stmt, ast.Lambda):
        raise error_at("expected a single lambda expression", text, 1, 1, source)
    return stmt.expr
