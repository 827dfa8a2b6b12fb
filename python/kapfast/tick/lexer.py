"""The TICKscript lexer.

Hand-written because two rules depend on what came before a character (as in Kapacitor's
lexer): after an operand (identifier, literal, reference, ``)``) a ``/`` is division and a ``*``
is multiplication, while at the start of a token ``/`` opens a regex and ``*`` is a star; after
``=``, ``=~`` and ``!~`` a ``/`` opens a regex again. Every token carries its byte-exact offset,
1-based line and column, so errors point at the right character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kapfast.tick.errors import error_at


class T(Enum):
    """Token types."""

    EOF = "EOF"
    VAR = "var"
    DBRP = "dbrp"
    ASGN = "="
    DOT = "."
    PIPE = "|"
    AT = "@"
    IDENT = "identifier"
    REFERENCE = "reference"
    LAMBDA = "lambda"
    NUMBER = "number"
    STRING = "string"
    DURATION = "duration"
    LPAREN = "("
    RPAREN = ")"
    LSBRACKET = "["
    RSBRACKET = "]"
    COMMA = ","
    NOT = "!"
    TRUE = "TRUE"
    FALSE = "FALSE"
    REGEX = "regex"
    COMMENT = "//"
    STAR = "*"
    # operators
    PLUS = "+"
    MINUS = "-"
    MULT = "*op"
    DIV = "/"
    MOD = "%"
    AND = "AND"
    OR = "OR"
    EQ = "=="
    NEQ = "!="
    LT = "<"
    GT = ">"
    LTE = "<="
    GTE = ">="
    REQ = "=~"
    RNEQ = "!~"

    def text(self) -> str:
        """How the token is written (operators) or named (other tokens) in messages."""
        return "*" if self is T.MULT else self.value


KEYWORDS: dict[str, T] = {
    "AND": T.AND,
    "OR": T.OR,
    "TRUE": T.TRUE,
    "FALSE": T.FALSE,
    "var": T.VAR,
    "dbrp": T.DBRP,
    "lambda": T.LAMBDA,
}

DURATION_UNITS = "uµsmhdw"
# Numbers are ASCII digits, as in Kapacitor: str.isdigit() is also true of "⁷" or "٣", which
# float()/int() then refuse (or read as another number).
DIGITS = frozenset("0123456789")

#: the largest script accepted (UTF-8 bytes): compiling costs ~40 µs a token, so this bounds a
#: define to seconds, and no real script comes near it
MAX_SCRIPT_BYTES = 1 << 20

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Token:
    typ: T
    pos: int  # offset in the text (characters)
    val: str
    line: int
    col: int


class Lexer:
    """Turns a script into tokens (comments included: the parser attaches them to nodes)."""

    def __init__(self, text: str, source: str = "") -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.tokens: list[Token] = []
        # line start offsets, to turn an offset into line:column quickly
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._check_text()

    def _check_text(self) -> None:
        """Refuse what cannot be stored or would take too long, before any token is made."""
        bad = _SURROGATE.search(self.text)
        if bad:
            # a JSON body can carry "\ud800": no UTF-8 encoding exists for it, so nothing could store it
            self._fail(
                f"invalid character U+{ord(bad.group()):04X} (a lone surrogate, not valid UTF-8)", bad.start()
            )
        if len(self.text) > MAX_SCRIPT_BYTES // 4 and len(self.text.encode()) > MAX_SCRIPT_BYTES:
            cut = len(self.text.encode()[:MAX_SCRIPT_BYTES].decode(errors="ignore"))
            self._fail(
                f"the script is larger than the limit of {MAX_SCRIPT_BYTES} bytes "
                f"({len(self.text.encode())} bytes)",
                cut,
            )

    # -- positions --------------------------------------------------------------------------------
    def line_col(self, pos: int) -> tuple[int, int]:
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - self._line_starts[lo] + 1

    def _emit(self, typ: T, start: int, end: int) -> None:
        line, col = self.line_col(start)
        self.tokens.append(Token(typ, start, self.text[start:end], line, col))

    def _fail(self, message: str, pos: int) -> None:
        line, col = self.line_col(pos)
        raise error_at(message, self.text, line, col, self.source)

    def _peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ""

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    # -- driver -----------------------------------------------------------------------------------
    def run(self) -> list[Token]:
        after_operand = False
        while True:
            if after_operand:
                after_operand = self._try_binary_operator()
                continue
            self._skip_space()
            if self.pos >= len(self.text):
                self._emit(T.EOF, self.pos, self.pos)
                return self.tokens
            after_operand = self._lex_token()

    def _lex_token(self) -> bool:
        """Lex one token at a token start; returns True when it was an operand."""
        ch = self._peek()
        start = self.pos
        if ch in "-!":
            self.pos += 1
            self._emit(T.MINUS if ch == "-" else T.NOT, start, self.pos)
            return False
        if ch in DIGITS or ch == ".":
            return self._lex_number_or_dot()
        if ch.isalpha():
            return self._lex_ident()
        if ch == '"':
            self._lex_reference()
            return True
        if ch == "'":
            self._lex_string()
            return True
        singles = {"(": T.LPAREN, "[": T.LSBRACKET, "]": T.RSBRACKET, "|": T.PIPE, "@": T.AT, ",": T.COMMA}
        if ch in singles:
            self.pos += 1
            self._emit(singles[ch], start, self.pos)
            return False
        if ch == ")":
            self.pos += 1
            self._emit(T.RPAREN, start, self.pos)
            return True
        if ch == "*":
            self.pos += 1
            self._emit(T.STAR, start, self.pos)
            return False
        if ch == "/":
            if self._peek(1) == "/":
                self._lex_comment()
                return False
            self._lex_regex()
            # Kapacitor lexes the token after a regex as a token start, so `/a/ * 2` fails with a
            # cryptic "unexpected *"; a regex is an operand like any literal here.
            return True
        if ch == "=":
            # `var x = ...` after a non-operand is unusual but an assignment all the same
            self.pos += 1
            self._emit(T.ASGN, start, self.pos)
            return self._regex_after_assign()
        self._fail(f"unexpected character {ch!r}", start)
        return False  # unreachable

    def _try_binary_operator(self) -> bool:
        """After an operand: an operator if one follows, else back to ordinary lexing."""
        self._skip_space()
        ch = self._peek()
        start = self.pos
        if not ch:
            return False
        if ch in "+-*%":
            self.pos += 1
            self._emit({"+": T.PLUS, "-": T.MINUS, "*": T.MULT, "%": T.MOD}[ch], start, self.pos)
            return False
        if ch == "/":
            if self._peek(1) == "/":
                self._lex_comment()
                return True  # a comment between an operand and an operator keeps the context
            self.pos += 1
            self._emit(T.DIV, start, self.pos)
            return False
        if ch == "!":
            nxt = self._peek(1)
            if nxt in ("=", "~"):
                self.pos += 2
                typ = T.NEQ if nxt == "=" else T.RNEQ
                self._emit(typ, start, self.pos)
                return typ is T.RNEQ and self._regex_after_assign()
            self.pos += 1
            self._emit(T.NOT, start, self.pos)
            return False
        if ch in "<>":
            if self._peek(1) == "=":
                self.pos += 2
                self._emit(T.LTE if ch == "<" else T.GTE, start, self.pos)
            else:
                self.pos += 1
                self._emit(T.LT if ch == "<" else T.GT, start, self.pos)
            return False
        if ch == "=":
            nxt = self._peek(1)
            if nxt in ("=", "~"):
                self.pos += 2
                typ = T.EQ if nxt == "=" else T.REQ
                self._emit(typ, start, self.pos)
                return typ is T.REQ and self._regex_after_assign()
            self.pos += 1
            self._emit(T.ASGN, start, self.pos)
            return self._regex_after_assign()
        return False

    def _regex_after_assign(self) -> bool:
        """After ``=``, ``=~``, ``!~`` a ``/`` opens a regex; True when one was lexed (an operand)."""
        self._skip_space()
        if self._peek() == "/" and self._peek(1) != "/":
            self._lex_regex()
            return True
        return False

    # -- token kinds ------------------------------------------------------------------------------
    def _lex_number_or_dot(self) -> bool:
        start = self.pos
        text = self.text
        if text[start] == "." and not (start + 1 < len(text) and text[start + 1] in DIGITS):
            self.pos += 1
            self._emit(T.DOT, start, self.pos)
            return False
        found_decimal = False
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == ".":
                if found_decimal:
                    self._fail("multiple decimals in number", start)
                found_decimal = True
                self.pos += 1
            elif ch in DIGITS:
                self.pos += 1
            elif not found_decimal and ch and ch in DURATION_UNITS:
                self.pos += 1
                if ch == "m" and self._peek() == "s":
                    self.pos += 1
                self._emit(T.DURATION, start, self.pos)
                return True
            else:
                break
        self._emit(T.NUMBER, start, self.pos)
        return True

    def _lex_ident(self) -> bool:
        start = self.pos
        text = self.text
        while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] == "_"):
            self.pos += 1
        word = text[start : self.pos]
        typ = KEYWORDS.get(word, T.IDENT)
        if typ is T.LAMBDA:
            if self._peek() == ":":
                self.pos += 1
                self._emit(T.LAMBDA, start, self.pos)
                return False
            typ = T.IDENT  # `lambda` not followed by ':' is an ordinary identifier
        self._emit(typ, start, self.pos)
        # keywords that introduce something are not operands; identifiers and TRUE/FALSE are
        return typ in (T.IDENT, T.TRUE, T.FALSE)

    def _lex_reference(self) -> None:
        start = self.pos
        self.pos += 1
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self._peek(1) == '"':
                self.pos += 2
                continue
            self.pos += 1
            if ch == '"':
                self._emit(T.REFERENCE, start, self.pos)
                return
        self._fail("unterminated field reference", start)

    def _lex_string(self) -> None:
        start = self.pos
        text = self.text
        if text.startswith("'''", start):
            end = text.find("'''", start + 3)
            if end < 0:
                self._fail("unterminated string", start)
            self.pos = end + 3
            self._emit(T.STRING, start, self.pos)
            return
        self.pos += 1
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self._peek(1) == "'":
                self.pos += 2
                continue
            self.pos += 1
            if ch == "'":
                self._emit(T.STRING, start, self.pos)
                return
        self._fail("unterminated string", start)

    def _lex_regex(self) -> None:
        start = self.pos
        self.pos += 1
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self._peek(1) == "/":
                self.pos += 2
                continue
            self.pos += 1
            if ch == "/":
                self._emit(T.REGEX, start, self.pos)
                return
            if ch == "\n":
                break
        self._fail("unterminated regex", start)

    def _lex_comment(self) -> None:
        start = self.pos
        end = self.text.find("\n", start)
        self.pos = len(self.text) if end < 0 else end
        self._emit(T.COMMENT, start, self.pos)


def tokenize(text: str, source: str = "") -> list[Token]:
    """All tokens of ``text`` (comments included), ending with EOF."""
    return Lexer(text, source).run()
