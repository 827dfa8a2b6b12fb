"""Tokens of Go's template language (``text/template/parse`` lexer behaviour).

The template text alternates between plain text and actions delimited by ``{{`` and ``}}``.
``{{- `` and `` -}}`` trim the white space next to them; ``{{/* ... */}}`` is a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from kapfast.gotemplate.errors import TemplateError

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
_TRIM_SPACE = " \t\r\n"
_KEYWORDS = frozenset(
    ["block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"]
)


class Tok(Enum):
    TEXT = auto()
    LEFT = auto()
    RIGHT = auto()
    SPACE = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    DECLARE = auto()
    ASSIGN = auto()
    COMMA = auto()
    STRING = auto()
    RAWSTRING = auto()
    CHAR = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    DOT = auto()
    FIELD = auto()
    VARIABLE = auto()
    IDENT = auto()
    KEYWORD = auto()
    COMMENT = auto()
    ERROR = auto()  # the lexer failed here; the parser raises when it gets this far
    OTHER = auto()  # any other printable character: the parser reports it
    EOF = auto()


@dataclass(slots=True)
class Token:
    typ: Tok
    val: str
    pos: int
    line: int

    def __str__(self) -> str:
        if self.typ is Tok.EOF:
            return "EOF"
        if self.typ is Tok.KEYWORD:
            return f"<{self.val}>"
        return repr(self.val).replace("'", '"') if len(self.val) <= 10 else f'"{self.val[:10]}"...'


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


class Lexer:
    """Turns template text into a list of tokens; errors carry the line they were found on."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.tokens: list[Token] = []
        self.pos = 0
        self.line = 1
        self.paren_depth = 0

    def error(self, msg: str, line: int | None = None) -> TemplateError:
        return TemplateError(msg, self.name, self.line if line is None else line)

    def emit(self, typ: Tok, start: int, end: int, line: int | None = None) -> None:
        self.tokens.append(Token(typ, self.text[start:end], start, self.line if line is None else line))

    def col_of(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        while True:
            start = self.pos
            i = text.find(LEFT_DELIM, start)
            if i < 0:
                if start < n:
                    self.emit(Tok.TEXT, start, n)
                    self.line += text.count("\n", start, n)
                self.pos = n
                self.tokens.append(Token(Tok.EOF, "", n, self.line))
                return self.tokens
            # Left trim marker: "{{- " trims the white space before the action.
            trim_left = text.startswith("-", i + 2) and i + 3 < n and text[i + 3] in _TRIM_SPACE
            text_end = i
            if trim_left:
                text_end = len(text[start:i].rstrip(_TRIM_SPACE)) + start
            if text_end > start:
                self.emit(Tok.TEXT, start, text_end)
            self.line += text.count("\n", start, i)
            self.pos = i + (4 if trim_left else 2)
            self.lex_action(i)

    def _at_right_delim(self, p: int) -> tuple[bool, bool]:
        """Whether a right delimiter starts at ``p``, and whether it is a trimming `` -}}``."""
        text = self.text
        if text.startswith(" -" + RIGHT_DELIM, p) or (
            p < len(text) and text[p] in _TRIM_SPACE and text.startswith("-" + RIGHT_DELIM, p + 1)
        ):
            return True, True
        return text.startswith(RIGHT_DELIM, p), False

    def _finish_right(self, trimmed: bool, emit: bool = True) -> None:
        text = self.text
        p = self.pos
        if trimmed:
            p += 1 + 1  # the space and the '-'
        if emit:
            self.emit(Tok.RIGHT, p, p + 2)
        p += 2
        if trimmed:
            q = p
            while q < len(text) and text[q] in _TRIM_SPACE:
                q += 1
            self.line += text.count("\n", p, q)
            p = q
        self.pos = p

    def lex_action(self, left_pos: int) -> None:
        text = self.text
        n = len(text)
        # A comment must follow the delimiter directly.
        if text.startswith("/*", self.pos):
            end = text.find("*/", self.pos + 2)
            if end < 0:
                raise self.error("unclosed comment")
            start_line = self.line
            self.line += text.count("\n", self.pos, end)
            self.emit(Tok.COMMENT, self.pos, end + 2, start_line)
            self.pos = end + 2
            is_right, trimmed = self._at_right_delim(self.pos)
            if not is_right:
                raise self.error("comment ends before closing delimiter")
            self._finish_right(trimmed, emit=False)
            return
        self.emit(Tok.LEFT, left_pos, left_pos + 2)
        self.paren_depth = 0
        while True:
            is_right, trimmed = self._at_right_delim(self.pos)
            if is_right and self.paren_depth == 0:
                self._finish_right(trimmed)
                return
            if is_right:
                raise self.error("unclosed left paren")
            if self.pos >= n:
                raise self.error("unclosed action")
            c = text[self.pos]
            start = self.pos
            if c in " \t\r\n":
                while self.pos < n and text[self.pos] in " \t\r\n":
                    if self._at_right_delim(self.pos)[1]:
                        break
                    self.pos += 1
                self.emit(Tok.SPACE, start, self.pos)
                self.line += text.count("\n", start, self.pos)
            elif c == "=":
                self.pos += 1
                self.emit(Tok.ASSIGN, start, self.pos)
            elif c == ":":
                if not text.startswith(":=", self.pos):
                    raise self.error("expected :=")
                self.pos += 2
                self.emit(Tok.DECLARE, start, self.pos)
            elif c == "|":
                self.pos += 1
                self.emit(Tok.PIPE, start, self.pos)
            elif c == '"':
                self.lex_quote('"', Tok.STRING, "unterminated quoted string")
            elif c == "`":
                end = text.find("`", self.pos + 1)
                if end < 0:
                    raise self.error("unterminated raw quoted string")
                start_line = self.line
                self.line += text.count("\n", self.pos, end)
                self.pos = end + 1
                self.emit(Tok.RAWSTRING, start, self.pos, start_line)
            elif c == "'":
                self.lex_quote("'", Tok.CHAR, "unterminated character constant")
            elif c == "$":
                self.pos += 1
                self.lex_field_or_variable(Tok.VARIABLE, start)
            elif c == "." and not (self.pos + 1 < n and text[self.pos + 1].isdigit()):
                self.pos += 1
                self.lex_field_or_variable(Tok.FIELD, start)
            elif c in "+-." or c.isdigit():
                self.lex_number()
            elif c == "(":
                self.pos += 1
                self.paren_depth += 1
                self.emit(Tok.LPAREN, start, self.pos)
            elif c == ")":
                self.pos += 1
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    raise self.error("unexpected right paren")
                self.emit(Tok.RPAREN, start, self.pos)
            elif c == ",":
                self.pos += 1
                self.emit(Tok.COMMA, start, self.pos)
            elif _is_alnum(c):
                while self.pos < n and _is_alnum(text[self.pos]):
                    self.pos += 1
                word = text[start : self.pos]
                self.check_terminator(start)
                if word in _KEYWORDS:
                    self.emit(Tok.NIL if word == "nil" else Tok.KEYWORD, start, self.pos)
                elif word in ("true", "false"):
                    self.emit(Tok.BOOL, start, self.pos)
                else:
                    self.emit(Tok.IDENT, start, self.pos)
            elif c.isascii() and c.isprintable():
                self.pos += 1
                self.emit(Tok.OTHER, start, self.pos)
            else:
                raise self.error(f"unrecognized character in action: {_go_rune(c)}")

    def check_terminator(self, start: int) -> None:
        text = self.text
        p = self.pos
        if p >= len(text):
            return
        c = text[p]
        if c in " \t\r\n.,|:()" or c == RIGHT_DELIM[0]:
            return
        raise self.error(f"bad character {_go_rune(c)}")

    def lex_field_or_variable(self, typ: Tok, start: int) -> None:
        text = self.text
        n = len(text)
        if self.pos >= n or not _is_alnum(text[self.pos]):
            # A lone "." or "$".
            self.check_terminator(start)
            self.emit(Tok.DOT if typ is Tok.FIELD else Tok.VARIABLE, start, self.pos)
            return
        while self.pos < n and _is_alnum(text[self.pos]):
            self.pos += 1
        self.check_terminator(start)
        self.emit(typ, start, self.pos)

    def lex_quote(self, quote: str, typ: Tok, msg: str) -> None:
        text = self.text
        n = len(text)
        start = self.pos
        p = self.pos + 1
        while True:
            if p >= n or text[p] == "\n":
                raise self.error(msg)
            c = text[p]
            if c == "\\":
                p += 2
                continue
            if c == quote:
                break
            p += 1
        self.pos = p + 1
        self.emit(typ, start, self.pos)

    def lex_number(self) -> None:
        text = self.text
        n = len(text)
        start = self.pos
        p = self.pos
        if p < n and text[p] in "+-":
            p += 1
        digits = "0123456789_"
        if text.startswith(("0x", "0X"), p):
            p += 2
            digits = "0123456789abcdefABCDEF_"
        elif text.startswith(("0o", "0O"), p):
            p += 2
            digits = "01234567_"
        elif text.startswith(("0b", "0B"), p):
            p += 2
            digits = "01_"
        while p < n and text[p] in digits:
            p += 1
        if p < n and text[p] == ".":
            p += 1
            while p < n and text[p] in digits:
                p += 1
        if len(digits) == 11 and p < n and text[p] in "eE":
            p += 1
            if p < n and text[p] in "+-":
                p += 1
            while p < n and text[p] in "0123456789_":
                p += 1
        if len(digits) == 23 and p < n and text[p] in "pP":
            p += 1
            if p < n and text[p] in "+-":
                p += 1
            while p < n and text[p] in "0123456789_":
                p += 1
        if p < n and text[p] == "i":
            p += 1
        if p < n and _is_alnum(text[p]):
            raise self.error(f'bad number syntax: "{text[start : p + 1]}"')
        self.pos = p
        self.emit(Tok.NUMBER, start, p)


def _go_rune(c: str) -> str:
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def lex(text: str, name: str) -> tuple[list[Token], TemplateError]:
    """All tokens of ``text`` (a template named ``name``), ending with an EOF or ERROR token.

    Like Go's lexer, a lexical error only surfaces when the parser reaches it, so a parse error
    earlier in the text is the one reported. The error is returned alongside the tokens.
    """
    lx = Lexer(text, name)
    try:
        return lx.run(), TemplateError("", name)
    except TemplateError as e:
        lx.tokens.append(Token(Tok.ERROR, "", lx.pos, lx.line))
        return lx.tokens, e
