"""A TICKscript as highlighted HTML, from kapfast's own lexer (so the page colours exactly what the
compiler reads: a ``/`` after an operand is division, at the start of a token a regex)."""

from __future__ import annotations

from html import escape

from kapfast.errors import TickScriptError
from kapfast.tick.lexer import T, tokenize

_KEYWORDS = frozenset({T.VAR, T.DBRP, T.LAMBDA, T.TRUE, T.FALSE, T.AND, T.OR})
_CLASSES: dict[T, str] = {
    T.STRING: "str",
    T.REFERENCE: "ref",
    T.NUMBER: "num",
    T.DURATION: "num",
    T.REGEX: "re",
    T.COMMENT: "com",
    T.STAR: "op",
    T.PIPE: "pipe",
    T.AT: "pipe",
}


def highlight(script: str) -> str:
    """``script`` as HTML spans (classes ``kw``, ``node``, ``prop``, ``str``, ``ref``, ``num``,
    ``re``, ``com``, ``op``, ``pipe``); a script the lexer refuses is shown escaped, unhighlighted."""
    try:
        tokens = tokenize(script)
    except TickScriptError:
        return escape(script)
    out: list[str] = []
    pos = 0
    previous: T | None = None
    for tok in tokens:
        if tok.typ is T.EOF:
            break
        out.append(escape(script[pos : tok.pos]))
        out.append(_span(tok.typ, tok.val, previous))
        pos = tok.pos + len(tok.val)
        if tok.typ is not T.COMMENT:
            previous = tok.typ
    out.append(escape(script[pos:]))
    return "".join(out)


def _span(typ: T, text: str, previous: T | None) -> str:
    if typ in _KEYWORDS:
        cls = "kw"
    elif typ is T.IDENT:
        # `|from()` and `@udf()` make nodes, `.measurement()` sets a property
        cls = "node" if previous in (T.PIPE, T.AT) else "prop" if previous is T.DOT else ""
    else:
        cls = _CLASSES.get(typ, "op" if typ.value in _OPERATORS else "")
    return f'<span class="{cls}">{escape(text)}</span>' if cls else escape(text)


_OPERATORS = frozenset(
    t.value
    for t in (
        T.PLUS,
        T.MINUS,
        T.MULT,
        T.DIV,
        T.MOD,
        T.EQ,
        T.NEQ,
        T.LT,
        T.GT,
        T.LTE,
        T.GTE,
        T.REQ,
        T.RNEQ,
        T.NOT,
    )
)
