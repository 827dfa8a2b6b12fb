"""Parse tokens into a tree of :mod:`kapfast.gotemplate.nodes` (Go's ``text/template/parse``)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Container
from typing import Any

from kapfast.gofmt import GoInt
from kapfast.gotemplate.errors import TemplateError
from kapfast.gotemplate.lexer import Tok, Token, lex
from kapfast.gotemplate.nodes import (
    ActionNode,
    ArgNode,
    BreakNode,
    ChainNode,
    CommandNode,
    CommentNode,
    ConstNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    PipeArgNode,
    PipeNode,
    RangeNode,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
)


def position_finder(text: str) -> Callable[[int], tuple[int, int]]:
    """Map a character offset of ``text`` to (line, column), both 1-based."""
    starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            starts.append(i + 1)

    def find(pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, pos)
        return line, pos - starts[line - 1] + 1

    return find


_GO_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def unquote(s: str) -> str:
    """``strconv.Unquote`` of a Go interpreted string or rune literal (quotes included)."""
    quote = s[0]
    body = s[1:-1]
    out: list[str] = []
    i = 0
    n = len(body)
    pending = bytearray()  # \x and octal escapes are bytes that may form UTF-8 sequences

    def flush() -> None:
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()

    while i < n:
        c = body[i]
        if c != "\\":
            flush()
            if c == quote:
                raise ValueError("invalid syntax")
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise ValueError("invalid syntax")
        e = body[i]
        if e in _GO_ESCAPES:
            if (e == "'" and quote == '"') or (e == '"' and quote == "'"):
                raise ValueError("invalid syntax")
            flush()
            out.append(_GO_ESCAPES[e])
            i += 1
        elif e == "x":
            pending.append(int(body[i + 1 : i + 3], 16))
            if len(body[i + 1 : i + 3]) != 2:
                raise ValueError("invalid syntax")
            i += 3
        elif e in "uU":
            width = 4 if e == "u" else 8
            hexd = body[i + 1 : i + 1 + width]
            if len(hexd) != width:
                raise ValueError("invalid syntax")
            flush()
            cp = int(hexd, 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ValueError("invalid syntax")
            out.append(chr(cp))
            i += 1 + width
        elif e in "01234567":
            octd = body[i : i + 3]
            if len(octd) != 3 or any(ch not in "01234567" for ch in octd) or int(octd, 8) > 255:
                raise ValueError("invalid syntax")
            pending.append(int(octd, 8))
            i += 3
        else:
            raise ValueError("invalid syntax")
    flush()
    return "".join(out)


def parse_number(text: str) -> Any:
    """A Go number literal as the value a template passes on: int, float or complex."""
    t = text.replace("_", "")
    if t.endswith("i"):
        return complex(0, float(parse_number(t[:-1])))
    sign = 1
    body = t
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    lower = body.lower()
    if lower.startswith("0x"):
        if "p" in lower or "." in lower:
            return sign * float.fromhex(body)
        return GoInt(sign * int(body[2:], 16))
    if lower.startswith("0o"):
        return GoInt(sign * int(body[2:], 8))
    if lower.startswith("0b"):
        return GoInt(sign * int(body[2:], 2))
    if any(c in lower for c in ".e"):
        return sign * float(body)
    if len(body) > 1 and body[0] == "0":
        return GoInt(sign * int(body, 8))  # a leading 0 means octal, as in Go
    return GoInt(sign * int(body))


class Parser:
    """Recursive descent over the token list, with Go's checks (functions, variables)."""

    def __init__(self, text: str, name: str, funcs: Container[str]) -> None:
        self.text = text
        self.name = name
        self.funcs = funcs
        self.tokens: list[Token] = []
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.position = position_finder(text)
        self.defines: dict[str, ListNode] = {}
        self.lex_error = TemplateError("", name)

    # --- token helpers ------------------------------------------------------------------------

    def error(self, msg: str, tok: Token | None = None) -> TemplateError:
        t = tok if tok is not None else self.tokens[min(self.i, len(self.tokens) - 1)]
        line, col = self.position(t.pos)
        return TemplateError(msg, self.name, line, col)

    def next(self) -> Token:
        t = self.tokens[self.i]
        if t.typ is Tok.ERROR:
            raise self.lex_error
        self.i += 1
        return t

    def peek(self) -> Token:
        t = self.tokens[self.i]
        if t.typ is Tok.ERROR:
            raise self.lex_error
        return t

    def next_non_space(self) -> Token:
        t = self.next()
        while t.typ is Tok.SPACE:
            t = self.next()
        return t

    def peek_non_space(self) -> Token:
        j = self._skip_from(self.i)
        if self.tokens[j].typ is Tok.ERROR:
            raise self.lex_error
        return self.tokens[j]

    def expect(self, typ: Tok, context: str) -> Token:
        t = self.next_non_space()
        if t.typ is not typ:
            raise self.unexpected(t, context)
        return t

    def unexpected(self, t: Token, context: str) -> TemplateError:
        if t.typ is Tok.EOF:
            return self.error(f"unexpected EOF in {context}", t)
        return self.error(f"unexpected {t} in {context}", t)

    # --- top level ----------------------------------------------------------------------------

    def parse(self) -> tuple[ListNode, dict[str, ListNode]]:
        self.tokens, self.lex_error = lex(self.text, self.name)
        root = ListNode(0)
        while self.peek().typ is not Tok.EOF:
            if self.peek().typ is Tok.LEFT:
                j = self.i + 1
                while self.tokens[j].typ is Tok.SPACE:
                    j += 1
                if self.tokens[j].typ is Tok.KEYWORD and self.tokens[j].val == "define":
                    self.i = j + 1
                    self.parse_definition(self.tokens[j])
                    continue
            node, stop = self.text_or_action()
            if stop is not None:
                raise self.error(f"unexpected {{{{{stop}}}}}", self.tokens[self.i - 1])
            if node is not None:
                root.nodes.append(node)
        return root, self.defines

    def parse_definition(self, tok: Token) -> None:
        name_tok = self.next_non_space()
        if name_tok.typ not in (Tok.STRING, Tok.RAWSTRING):
            raise self.unexpected(name_tok, "define clause")
        name = self._string(name_tok)
        self.expect(Tok.RIGHT, "define clause")
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end != "end":
            raise self.error("unexpected {{else}} in define clause", tok)
        self.add_define(name, body, tok)

    def add_define(self, name: str, body: ListNode, tok: Token) -> None:
        old = self.defines.get(name)
        if old is not None and _has_content(old) and _has_content(body):
            raise self.error(f"template: multiple definition of template {name!r}", tok)
        if old is None or _has_content(body):
            self.defines[name] = body

    def item_list(self) -> tuple[ListNode, str]:
        """Nodes up to ``{{end}}`` or ``{{else}}``; returns which one ended the list."""
        lst = ListNode(self.peek().pos)
        while True:
            if self.peek().typ is Tok.EOF:
                raise self.error("unexpected EOF")
            node, stop = self.text_or_action()
            if stop is not None:
                return lst, stop
            if node is not None:
                lst.nodes.append(node)

    def text_or_action(self) -> tuple[Node | None, str | None]:
        t = self.next()
        if t.typ is Tok.TEXT:
            return TextNode(t.pos, t.val), None
        if t.typ is Tok.COMMENT:
            return CommentNode(t.pos, t.val), None
        if t.typ is Tok.LEFT:
            return self.action(t)
        raise self.unexpected(t, "input")

    # --- actions ------------------------------------------------------------------------------

    def action(self, left: Token) -> tuple[Node | None, str | None]:
        t = self.peek_non_space()
        if t.typ is Tok.KEYWORD:
            self.next_non_space()
            kw = t.val
            if kw == "end":
                self.expect(Tok.RIGHT, "end")
                return None, "end"
            if kw == "else":
                return None, self.else_control(t)
            if kw == "if":
                return self.branch(IfNode, t, "if"), None
            if kw == "with":
                return self.branch(WithNode, t, "with"), None
            if kw == "range":
                self.range_depth += 1
                try:
                    return self.branch(RangeNode, t, "range"), None
                finally:
                    self.range_depth -= 1
            if kw == "template":
                return self.template_control(t), None
            if kw == "block":
                return self.block_control(t), None
            if kw in ("break", "continue"):
                if self.range_depth == 0:
                    raise self.error(f"{{{{{kw}}}}} outside {{{{range}}}}", t)
                self.expect(Tok.RIGHT, kw)
                return (BreakNode(t.pos) if kw == "break" else ContinueNode(t.pos)), None
            if kw == "define":
                raise self.error("unexpected <define> in command", t)
            if kw == "nil":
                pass
        pipe = self.pipeline("command", Tok.RIGHT)
        return ActionNode(left.pos, pipe), None

    def else_control(self, tok: Token) -> str:
        nxt = self.peek_non_space()
        if nxt.typ is Tok.KEYWORD and nxt.val in ("if", "with"):
            # "{{else if ...}}" is "{{else}}{{if ...}}...{{end}}{{end}}": leave the keyword for
            # the caller, which parses a nested branch.
            return "else " + nxt.val
        self.expect(Tok.RIGHT, "else")
        return "else"

    def branch(self, cls: type[IfNode | WithNode | RangeNode], tok: Token, context: str) -> Node:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, Tok.RIGHT)
            if cls is RangeNode:
                if len(pipe.decl) > 2:
                    raise self.error("too many declarations in range", tok)
            elif len(pipe.decl) > 1:
                raise self.error(f"too many declarations in {context}", tok)
            lst, stop = self.item_list()
            else_list: ListNode | None = None
            if stop.startswith("else"):
                if stop in ("else if", "else with"):
                    if stop == "else with" and cls is not WithNode:
                        raise self.error("expected end; found {{else with}}", tok)
                    if stop == "else if" and cls is not IfNode:
                        raise self.error("expected end; found {{else if}}", tok)
                    kw_tok = self.next_non_space()
                    nested_cls = IfNode if kw_tok.val == "if" else WithNode
                    nested = self.branch(nested_cls, kw_tok, kw_tok.val)
                    else_list = ListNode(kw_tok.pos, [nested])
                    # The nested branch consumed the single {{end}} that closes both.
                    return cls(tok.pos, pipe, lst, else_list)
                else_list, stop = self.item_list()
                if stop != "end":
                    raise self.error(f"expected end; found {{{{{stop}}}}}", tok)
            return cls(tok.pos, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def template_control(self, tok: Token) -> Node:
        name_tok = self.next_non_space()
        if name_tok.typ not in (Tok.STRING, Tok.RAWSTRING):
            raise self.unexpected(name_tok, "template clause")
        name = self._string(name_tok)
        pipe: PipeNode | None = None
        if self.peek_non_space().typ is not Tok.RIGHT:
            pipe = self.pipeline("template clause", Tok.RIGHT)
        else:
            self.next_non_space()
        return TemplateNode(tok.pos, name, pipe)

    def block_control(self, tok: Token) -> Node:
        name_tok = self.next_non_space()
        if name_tok.typ not in (Tok.STRING, Tok.RAWSTRING):
            raise self.unexpected(name_tok, "block clause")
        name = self._string(name_tok)
        pipe = self.pipeline("block clause", Tok.RIGHT)
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end != "end":
            raise self.error("unexpected {{else}} in block clause", tok)
        self.add_define(name, body, tok)
        return TemplateNode(tok.pos, name, pipe)

    # --- pipelines ----------------------------------------------------------------------------

    def pipeline(self, context: str, end: Tok) -> PipeNode:
        start = self.peek_non_space()
        decl: list[str] = []
        is_assign = False
        # Declarations: "$x :=", "$x =", "$k, $v :=".
        j = self.i
        while self.tokens[j].typ is Tok.SPACE:
            j += 1
        if self.tokens[j].typ is Tok.VARIABLE:
            names = [self.tokens[j].val]
            k = self._skip_from(j + 1)
            if self.tokens[k].typ is Tok.COMMA:
                if context != "range":
                    raise self.error(f"too many declarations in {context}", self.tokens[k])
                k = self._skip_from(k + 1)
                if self.tokens[k].typ is not Tok.VARIABLE:
                    raise self.error("range can only initialize variables", self.tokens[k])
                names.append(self.tokens[k].val)
                k = self._skip_from(k + 1)
                if self.tokens[k].typ is Tok.COMMA:
                    raise self.error("too many declarations in range", self.tokens[k])
                if self.tokens[k].typ not in (Tok.DECLARE, Tok.ASSIGN):
                    raise self.unexpected(self.tokens[k], "range")
            if self.tokens[k].typ in (Tok.DECLARE, Tok.ASSIGN):
                is_assign = self.tokens[k].typ is Tok.ASSIGN
                if is_assign:
                    # Go finds this only when executing; finding it now is kinder.
                    for nm in names:
                        if nm not in self.vars:
                            raise self.error(f'undefined variable "{nm}"', self.tokens[j])
                decl = names
                self.i = k + 1
        cmds: list[CommandNode] = []
        while True:
            t = self.peek_non_space()
            if t.typ is end:
                self.next_non_space()
                break
            if t.typ in (
                Tok.BOOL,
                Tok.CHAR,
                Tok.DOT,
                Tok.FIELD,
                Tok.IDENT,
                Tok.NUMBER,
                Tok.NIL,
                Tok.RAWSTRING,
                Tok.STRING,
                Tok.VARIABLE,
                Tok.LPAREN,
            ) or (t.typ is Tok.KEYWORD and t.val == "nil"):
                cmds.append(self.command(end))
            else:
                raise self.unexpected(t, context)
        if not cmds:
            raise self.error(f"missing value for {context}", start)
        for idx, c in enumerate(cmds[1:], start=2):
            first = c.args[0]
            if isinstance(first, ConstNode | DotNode | NilNode):
                raise self.error(f"non executable command in pipeline stage {idx}", self.tokens[self.i - 1])
        # Declared variables become visible after the pipeline.
        if not is_assign:
            self.vars.extend(decl)
        return PipeNode(start.pos, decl, is_assign, cmds)

    def command(self, end: Tok) -> CommandNode:
        start = self.peek_non_space()
        args: list[ArgNode] = []
        while True:
            self._skip_space()
            t = self.peek()
            if t.typ is end:
                break
            if t.typ is Tok.RPAREN:
                raise self.error("unexpected right paren", t)
            if t.typ is Tok.PIPE:
                self.next()
                if not args:
                    raise self.error("missing command", t)
                if self.peek_non_space().typ in (end, Tok.RPAREN):
                    raise self.error("missing command", self.peek_non_space())
                break
            op = self.operand()
            if op is None:
                raise self.unexpected(t, "operand")
            args.append(op)
            # Operands must be separated by spaces.
            nt = self.peek()
            if nt.typ not in (Tok.SPACE, end, Tok.RPAREN, Tok.PIPE):
                raise self.unexpected(nt, "operand")
        if not args:
            raise self.error("empty command", start)
        return CommandNode(start.pos, args)

    def _skip_from(self, k: int) -> int:
        while self.tokens[k].typ is Tok.SPACE:
            k += 1
        return k

    def _skip_space(self) -> None:
        while self.peek().typ is Tok.SPACE:
            self.next()

    def operand(self) -> ArgNode | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ is Tok.FIELD:
            fields: list[str] = []
            while self.peek().typ is Tok.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(node.pos, node.idents + fields)
            if isinstance(node, VariableNode):
                return VariableNode(node.pos, node.idents + fields)
            if isinstance(node, ConstNode | NilNode | DotNode):
                raise self.error(f"unexpected . after term {str(node)!r}".replace("'", '"'))
            return ChainNode(node.pos, node, fields)
        return node

    def term(self) -> ArgNode | None:
        t = self.next()
        typ = t.typ
        if typ is Tok.IDENT:
            if t.val not in self.funcs:
                raise self.error(f'function "{t.val}" not defined', t)
            return IdentifierNode(t.pos, t.val)
        if typ is Tok.DOT:
            return DotNode(t.pos)
        if typ is Tok.NIL:
            return NilNode(t.pos)
        if typ is Tok.VARIABLE:
            if t.val not in self.vars:
                raise self.error(f'undefined variable "{t.val}"', t)
            return VariableNode(t.pos, [t.val])
        if typ is Tok.FIELD:
            return FieldNode(t.pos, [t.val[1:]])
        if typ is Tok.BOOL:
            return ConstNode(t.pos, t.val == "true", t.val)
        if typ is Tok.NUMBER:
            try:
                return ConstNode(t.pos, parse_number(t.val), t.val)
            except ValueError:
                raise self.error(f"illegal number syntax: {t.val!r}".replace("'", '"'), t) from None
        if typ is Tok.CHAR:
            try:
                s = unquote(t.val)
            except ValueError:
                raise self.error(f"malformed character constant: {t.val}", t) from None
            if len(s) != 1:
                raise self.error(f"malformed character constant: {t.val}", t)
            return ConstNode(t.pos, GoInt(ord(s)), t.val)
        if typ in (Tok.STRING, Tok.RAWSTRING):
            return ConstNode(t.pos, self._string(t), t.val)
        if typ is Tok.LPAREN:
            pipe = self.pipeline("parenthesized pipeline", Tok.RPAREN)
            return PipeArgNode(t.pos, pipe)
        self.i -= 1
        return None

    def _string(self, t: Token) -> str:
        if t.typ is Tok.RAWSTRING:
            return t.val[1:-1].replace("\r", "")
        try:
            return unquote(t.val)
        except ValueError:
            raise self.error(f"invalid syntax: {t.val}", t) from None


def _has_content(lst: ListNode) -> bool:
    for n in lst.nodes:
        if isinstance(n, TextNode):
            if n.text.strip():
                return True
        elif not isinstance(n, CommentNode):
            return True
    return False


def parse(text: str, name: str, funcs: Container[str]) -> tuple[ListNode, dict[str, ListNode]]:
    """Parse ``text``; returns the main tree and the templates it defines."""
    return Parser(text, name, funcs).parse()


__all__ = ["Parser", "parse", "parse_number", "position_finder", "unquote"]
