"""TICKscript parser: tokens → :mod:`kapfast.tick.ast`.

A recursive-descent parser with an operator-precedence loop for binary expressions, shaped after
Kapacitor's grammar so the same scripts parse to the same trees (including where comments attach,
which the formatter depends on, and the ``multiline`` flags of calls and binary expressions).
Errors name the line and column of the offending token.
"""

from __future__ import annotations

from typing import NoReturn

from kapfast.tick import ast
from kapfast.tick.durations import parse_duration
from kapfast.tick.errors import error_at
from kapfast.tick.lexer import OPERATOR_TEXT, PRECEDENCE, T, Token, tokenize

_PRIMARY_START = "a number, string, duration, reference, identifier, TRUE, FALSE, regex, '(', '-' or '!'"


def _describe(tok: Token) -> str:
    if tok.typ is T.EOF:
        return "end of script"
    if tok.typ in (T.IDENT, T.NUMBER, T.DURATION, T.STRING, T.REFERENCE, T.REGEX):
        val = tok.val if len(tok.val) <= 30 else tok.val[:27] + "..."
        return f"{tok.typ.value} {val}"
    return f'"{tok.typ.text()}"'


class Parser:
    def __init__(self, text: str, source: str = "") -> None:
        self.text = text
        self.source = source
        raw = tokenize(text, source)
        self.toks: list[Token] = []
        # comment block written just before token i (taken at most once)
        self.comments: dict[int, list[str]] = {}
        block: list[str] = []
        last_line = -10
        for tok in raw:
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
        self.i = 0

    # -- token helpers ----------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        if tok.typ is not T.EOF:
            self.i += 1
        return tok

    def take_comment(self, index: int) -> list[str] | None:
        """The comment block before token ``index``, plus any earlier block no node took.

        Kapacitor drops comments written where no node can carry them (before ``,`` or ``)``);
        kapfast moves them to the next node instead, so formatting never loses a comment.
        """
        if not self.comments:
            return None
        earlier = [i for i in self.comments if i <= index]
        if not earlier:
            return None
        lines: list[str] = []
        for i in sorted(earlier):
            if lines:
                lines.append("\n")
            lines.extend(self.comments.pop(i))
        return lines

    def fail(self, message: str, at: Token | ast.Base) -> NoReturn:
        raise error_at(message, self.text, at.line, at.col, self.source)

    def unexpected(self, tok: Token, expected: str) -> NoReturn:
        self.fail(f"unexpected {_describe(tok)}, expected {expected}", tok)

    def expect(self, typ: T, what: str | None = None) -> Token:
        tok = self.peek()
        if tok.typ is not typ:
            self.unexpected(tok, what or f'"{typ.text()}"')
        return self.next()

    def has_newline(self, start: int, end: int) -> bool:
        return "\n" in self.text[start:end]

    # -- grammar ----------------------------------------------------------------------------------
    def program(self) -> ast.Program:
        stmts: list[ast.Statement] = []
        while self.peek().typ is not T.EOF:
            stmts.append(self.statement())
        trailing = self.take_comment(len(self.toks))
        if trailing:
            eof = self.peek()
            stmts.append(ast.CommentOnly(eof.pos, eof.line, eof.col, comment=trailing))
        return ast.Program(0, 1, 1, stmts)

    def statement(self) -> ast.Statement:
        tok = self.peek()
        if tok.typ is T.VAR:
            return self.declaration()
        if tok.typ is T.DBRP:
            return self.dbrp()
        return self.expression()

    def declaration(self) -> ast.Statement:
        idx = self.i
        var_tok = self.next()
        comment = self.take_comment(idx)
        name = self.identifier("a variable name after 'var'")
        if self.peek().typ is T.ASGN:
            self.next()
            value = self.expression()
            return ast.Declaration(var_tok.pos, var_tok.line, var_tok.col, name, value, comment=comment)
        if self.peek().typ is T.IDENT and self.peek().line == name.line:
            type_name = self.identifier("a type")
            return ast.TypeDeclaration(
                var_tok.pos, var_tok.line, var_tok.col, name, type_name, comment=comment
            )
        self.fail(
            f"var {name.name} needs a value or a type: 'var {name.name} = ...' or 'var {name.name} float'",
            name,
        )
        raise AssertionError("unreachable")

    def dbrp(self) -> ast.DBRP:
        idx = self.i
        tok = self.next()
        comment = self.take_comment(idx)
        db_tok = self.peek()
        if db_tok.typ is T.STRING:
            self.fail(
                'dbrp names are written with double quotes: dbrp "db"."rp"',
                db_tok,
            )
        db = self.reference('a database in double quotes, as in dbrp "db"."rp"')
        self.expect(T.DOT, '"." between database and retention policy, as in dbrp "db"."rp"')
        rp_tok = self.peek()
        if rp_tok.typ is T.STRING:
            self.fail('dbrp names are written with double quotes: dbrp "db"."rp"', rp_tok)
        rp = self.reference('a retention policy in double quotes, as in dbrp "db"."rp"')
        return ast.DBRP(tok.pos, tok.line, tok.col, db, rp, comment=comment)

    def expression(self) -> ast.Expr:
        tok = self.peek()
        if tok.typ is T.IDENT:
            nxt = self.peek(1).typ
            if nxt is T.LPAREN:
                term: ast.Expr = self.function("global")
                if self.peek().typ in (T.DOT, T.PIPE, T.AT, T.VAR, T.IDENT, T.DBRP):
                    return self.chain(term)
                return self.precedence(term, 0)
            if nxt in (T.DOT, T.PIPE, T.AT):
                return self.chain(self.identifier())
            return self.primary_expr()
        if tok.typ is T.LAMBDA:
            return self.lambda_()
        if tok.typ is T.LSBRACKET:
            return self.string_list()
        return self.primary_expr()

    def chain(self, lhs: ast.Expr) -> ast.Expr:
        while self.peek().typ in (T.DOT, T.PIPE, T.AT):
            idx = self.i
            op = self.next()
            comment = self.take_comment(idx)
            name_tok = self.peek()
            if name_tok.typ is not T.IDENT:
                what = {T.DOT: "a property name", T.PIPE: "a node name", T.AT: "a UDF name"}[op.typ]
                self.unexpected(name_tok, f"{what} after '{op.typ.text()}'")
            rhs: ast.Function | ast.Identifier
            if op.typ is T.PIPE:
                kind = "chain"
            elif op.typ is T.AT:
                kind = "dynamic"
            else:
                kind = "property"
            if op.typ is T.DOT and self.peek(1).typ is not T.LPAREN:
                rhs = self.identifier()
            else:
                if self.peek(1).typ is not T.LPAREN:
                    self.unexpected(self.peek(1), f"'(' after {kind} method {name_tok.val}")
                rhs = self.function(kind)
            lhs = ast.Chain(op.pos, op.line, op.col, op.typ.text(), lhs, rhs, comment=comment)
        return lhs

    def identifier(self, what: str = "an identifier") -> ast.Identifier:
        idx = self.i
        tok = self.expect(T.IDENT, what)
        return ast.Identifier(tok.pos, tok.line, tok.col, tok.val, comment=self.take_comment(idx))

    def reference(self, what: str) -> ast.Reference:
        idx = self.i
        tok = self.expect(T.REFERENCE, what)
        return ast.Reference(
            tok.pos, tok.line, tok.col, _unescape(tok.val[1:-1], '"'), comment=self.take_comment(idx)
        )

    def function(self, kind: str, in_lambda: bool = False) -> ast.Function:
        idx = self.i
        ident = self.expect(T.IDENT)
        comment = self.take_comment(idx)
        self.expect(T.LPAREN)
        args: list[ast.Expr] = []
        while self.peek().typ is not T.RPAREN:
            if self.peek().typ is T.EOF:
                self.unexpected(self.peek(), f"')' to close {ident.val}(")
            if in_lambda:
                arg = self.primary()
                if self.peek().typ in PRECEDENCE:
                    arg = self.precedence(arg, 0)
            else:
                arg = self.expression()
            args.append(arg)
            if self.peek().typ is T.COMMA:
                self.next()
                continue
            if self.peek().typ is T.ASGN:
                self.fail("unexpected '=': use '==' to compare", self.peek())
            if self.peek().typ is not T.RPAREN:
                self.unexpected(self.peek(), f"',' or ')' in the arguments of {ident.val}()")
        self.next()
        multiline = bool(args) and self.has_newline(ident.pos, args[-1].pos)
        return ast.Function(
            ident.pos, ident.line, ident.col, kind, ident.val, args, multiline, comment=comment
        )

    def string_list(self) -> ast.ListNode:
        idx = self.i
        tok = self.next()
        comment = self.take_comment(idx)
        items: list[ast.Expr] = []
        while self.peek().typ is not T.RSBRACKET:
            item = self.peek()
            if item.typ is T.IDENT:
                items.append(self.identifier())
            elif item.typ is T.STRING or item.typ is T.STAR:
                items.append(self.primary())
            elif item.typ is T.REFERENCE:
                self.fail(
                    f"list items are strings in single quotes: write '{item.val[1:-1]}', not {item.val}",
                    item,
                )
            else:
                self.unexpected(item, "a string, identifier or '*' in the list")
            if self.peek().typ is T.COMMA:
                self.next()
                continue
            if self.peek().typ is not T.RSBRACKET:
                self.unexpected(self.peek(), "',' or ']' in the list")
        self.next()
        return ast.ListNode(tok.pos, tok.line, tok.col, items, comment=comment)

    def lambda_(self) -> ast.Lambda:
        idx = self.i
        tok = self.next()
        comment = self.take_comment(idx)
        expr = self.primary_expr()
        return ast.Lambda(tok.pos, tok.line, tok.col, expr, comment=comment)

    def primary_expr(self) -> ast.Expr:
        return self.precedence(self.primary(), 0)

    def precedence(self, lhs: ast.Expr, min_prec: int) -> ast.Expr:
        look = self.peek()
        while look.typ in PRECEDENCE and PRECEDENCE[look.typ] >= min_prec:
            idx = self.i
            op = self.next()
            comment = self.take_comment(idx)
            rhs = self.primary()
            look = self.peek()
            while look.typ in PRECEDENCE and PRECEDENCE[look.typ] > PRECEDENCE[op.typ]:
                rhs = self.precedence(rhs, PRECEDENCE[look.typ])
                look = self.peek()
            multiline = self.has_newline(lhs.pos, rhs.pos)
            lhs = ast.Binary(
                op.pos, op.line, op.col, OPERATOR_TEXT[op.typ], lhs, rhs, False, multiline, comment=comment
            )
        return lhs

    def primary(self) -> ast.Expr:
        idx = self.i
        tok = self.peek()
        typ = tok.typ
        if typ is T.LPAREN:
            self.next()
            comment = self.take_comment(idx)
            inner = self.primary_expr()
            if isinstance(inner, ast.Binary):
                inner.parens = True
            if comment is not None:
                inner.comment = comment
            self.expect(T.RPAREN, "')' or an operator")
            return inner
        if typ is T.NUMBER:
            self.next()
            return _number(self, tok, self.take_comment(idx))
        if typ is T.DURATION:
            self.next()
            try:
                ns = parse_duration(tok.val)
            except ValueError as exc:
                self.fail(str(exc), tok)
            return ast.Duration(tok.pos, tok.line, tok.col, tok.val, ns, comment=self.take_comment(idx))
        if typ is T.STRING:
            self.next()
            triple = len(tok.val) >= 6 and tok.val.startswith("'''")
            value = tok.val[3:-3] if triple else _unescape(tok.val[1:-1], "'")
            return ast.String(tok.pos, tok.line, tok.col, value, triple, comment=self.take_comment(idx))
        if typ in (T.TRUE, T.FALSE):
            self.next()
            return ast.Bool(tok.pos, tok.line, tok.col, typ is T.TRUE, comment=self.take_comment(idx))
        if typ is T.REGEX:
            self.next()
            literal = tok.val[1:-1]
            return ast.Regex(
                tok.pos, tok.line, tok.col, literal, _unescape(literal, "/"), comment=self.take_comment(idx)
            )
        if typ is T.STAR:
            self.next()
            return ast.Star(tok.pos, tok.line, tok.col, comment=self.take_comment(idx))
        if typ is T.REFERENCE:
            self.next()
            return ast.Reference(
                tok.pos, tok.line, tok.col, _unescape(tok.val[1:-1], '"'), comment=self.take_comment(idx)
            )
        if typ is T.IDENT:
            if self.peek(1).typ is T.LPAREN:
                return self.function("global", in_lambda=True)
            return self.identifier()
        if typ in (T.MINUS, T.NOT):
            self.next()
            comment = self.take_comment(idx)
            operand = self.primary()
            return ast.Unary(tok.pos, tok.line, tok.col, typ.text(), operand, comment=comment)
        if typ is T.LAMBDA:
            self.fail("a lambda cannot appear inside an expression; 'lambda:' starts an argument", tok)
        if typ is T.ASGN:
            self.fail("unexpected '=': use '==' to compare", tok)
        self.unexpected(tok, _PRIMARY_START)
        raise AssertionError("unreachable")


def _comment_text(raw: str) -> str:
    """``// text`` → ``text``: the leading ``//`` and one space stripped (Kapacitor's rule)."""
    body = raw.strip()
    body = body[2:] if body.startswith("//") else body
    return body[1:] if body.startswith(" ") else body


def _unescape(s: str, quote: str) -> str:
    return s.replace("\\" + quote, quote)


def _number(p: Parser, tok: Token, comment: list[str] | None) -> ast.Number:
    text = tok.val
    if "." in text:
        return ast.Number(tok.pos, tok.line, tok.col, text, False, float(text), comment=comment)
    if len(text) > 1 and text[0] == "0":
        if any(ch in "89" for ch in text):
            p.fail(f"invalid octal number {text} (a leading 0 makes a number octal)", tok)
        value = int(text, 8)
        octal = True
    else:
        value = int(text)
        octal = False
    if value >= 1 << 63:
        p.fail(f"integer {text} is out of range (max 9223372036854775807)", tok)
    return ast.Number(tok.pos, tok.line, tok.col, text, True, value, octal, comment=comment)


def parse(text: str, source: str = "") -> ast.Program:
    """Parse a whole script."""
    parser = Parser(text, source)
    return parser.program()


def parse_lambda(text: str, source: str = "") -> ast.Expr:
    """Parse a bare lambda expression (the text after ``lambda:``), as template vars carry it."""
    parser = Parser(text, source)
    expr = parser.primary_expr()
    parser.expect(T.EOF, "end of the lambda expression")
    return expr
