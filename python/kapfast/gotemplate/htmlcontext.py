"""The HTML parsing context Go's ``html/template`` tracks through template text.

A context says where in an HTML document the output is at: in text, inside a tag, in a quoted
attribute value that is a URL, in a JavaScript string, ... Each action gets the escapers its
context needs; text moves the context on. This is a re-implementation of Go's transition rules
(``html/template/transition.go``) over Python strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import IntEnum


class S(IntEnum):
    """States (Go's ``state`` constants)."""

    TEXT = 0
    TAG = 1
    ATTR_NAME = 2
    AFTER_NAME = 3
    BEFORE_VALUE = 4
    HTML_CMT = 5
    RCDATA = 6
    ATTR = 7
    URL = 8
    SRCSET = 9
    JS = 10
    JS_DQ_STR = 11
    JS_SQ_STR = 12
    JS_BQ_STR = 13
    JS_REGEXP = 14
    JS_BLOCK_CMT = 15
    JS_LINE_CMT = 16
    CSS = 17
    CSS_DQ_STR = 18
    CSS_SQ_STR = 19
    CSS_DQ_URL = 20
    CSS_SQ_URL = 21
    CSS_URL = 22
    CSS_BLOCK_CMT = 23
    CSS_LINE_CMT = 24
    ERROR = 25


class Delim(IntEnum):
    NONE = 0
    DOUBLE_QUOTE = 1
    SINGLE_QUOTE = 2
    SPACE_OR_TAG_END = 3


class UrlPart(IntEnum):
    NONE = 0
    PRE_QUERY = 1
    QUERY_OR_FRAG = 2
    UNKNOWN = 3


class JsCtx(IntEnum):
    REGEXP = 0
    DIV_OP = 1
    UNKNOWN = 2


class Attr(IntEnum):
    NONE = 0
    SCRIPT = 1
    SCRIPT_TYPE = 2
    STYLE = 3
    URL = 4
    SRCSET = 5


class Element(IntEnum):
    NONE = 0
    SCRIPT = 1
    STYLE = 2
    TEXTAREA = 3
    TITLE = 4


@dataclass(frozen=True, slots=True)
class Context:
    state: S = S.TEXT
    delim: Delim = Delim.NONE
    url_part: UrlPart = UrlPart.NONE
    js_ctx: JsCtx = JsCtx.REGEXP
    attr: Attr = Attr.NONE
    element: Element = Element.NONE
    err: str = ""

    def __str__(self) -> str:
        parts = [f"state{self.state.name.title().replace('_', '')}"]
        if self.delim:
            parts.append(f"delim{self.delim.name.title().replace('_', '')}")
        if self.url_part:
            parts.append(f"urlPart{self.url_part.name.title().replace('_', '')}")
        if self.js_ctx:
            parts.append(f"jsCtx{self.js_ctx.name.title().replace('_', '')}")
        if self.attr:
            parts.append(f"attr{self.attr.name.title().replace('_', '')}")
        if self.element:
            parts.append(f"element{self.element.name.title()}")
        return "{" + " ".join(parts) + "}"


def error_ctx(msg: str) -> Context:
    return Context(state=S.ERROR, err=msg)


_ELEMENTS = {
    "script": Element.SCRIPT,
    "style": Element.STYLE,
    "textarea": Element.TEXTAREA,
    "title": Element.TITLE,
}
ELEMENT_CONTENT = {
    Element.NONE: S.TEXT,
    Element.SCRIPT: S.JS,
    Element.STYLE: S.CSS,
    Element.TEXTAREA: S.RCDATA,
    Element.TITLE: S.RCDATA,
}
_ATTR_START = {
    Attr.NONE: S.ATTR,
    Attr.SCRIPT: S.JS,
    Attr.SCRIPT_TYPE: S.ATTR,
    Attr.STYLE: S.CSS,
    Attr.URL: S.URL,
    Attr.SRCSET: S.SRCSET,
}
_SPACE = "\t\n\f\r "

# Attribute names whose values are URLs, scripts, styles (Go's attrTypeMap, abridged to the
# non-plain entries; every other known attribute is plain text).
_URL_ATTRS = frozenset(
    [
        "action",
        "archive",
        "background",
        "cite",
        "classid",
        "codebase",
        "data",
        "formaction",
        "href",
        "icon",
        "longdesc",
        "manifest",
        "poster",
        "profile",
        "src",
        "usemap",
        "xmlns",
    ]
)


def attr_type(name: str) -> Attr:
    """What an attribute's value holds (Go's ``attrType``)."""
    name = name.lower()
    if name.startswith("data-"):
        name = name[5:]
    elif ":" in name:
        prefix, _, rest = name.partition(":")
        if prefix == "xmlns":
            return Attr.URL
        name = rest
    if name in _URL_ATTRS:
        return Attr.URL
    if name == "style":
        return Attr.STYLE
    if name == "srcset":
        return Attr.SRCSET
    if name.startswith("on"):
        return Attr.SCRIPT
    if name in ("srcdoc", "srclang"):
        return Attr.NONE  # known attributes that only look like URLs (srcdoc is HTML)
    if "src" in name or "uri" in name or "url" in name:
        return Attr.URL
    return Attr.NONE


def is_comment(s: S) -> bool:
    return s in (S.HTML_CMT, S.JS_BLOCK_CMT, S.JS_LINE_CMT, S.CSS_BLOCK_CMT, S.CSS_LINE_CMT)


def _eat_space(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _SPACE:
        i += 1
    return i


def _t_text(c: Context, s: str) -> tuple[Context, int]:
    k = 0
    n = len(s)
    while True:
        i = s.find("<", k)
        if i < 0 or i + 1 == n:
            return c, n
        if s.startswith("<!--", i):
            return Context(state=S.HTML_CMT), i + 4
        i += 1
        end = False
        if s[i] == "/":
            if i + 1 == n:
                return c, n
            end = True
            i += 1
        j = i
        while j < n and (s[j].isascii() and (s[j].isalnum() or s[j] in ":-")):
            j += 1
        if j != i:
            el = Element.NONE if end else _ELEMENTS.get(s[i:j].lower(), Element.NONE)
            return Context(state=S.TAG, element=el), j
        k = j


def _eat_attr_name(s: str, i: int) -> tuple[int, str]:
    for j in range(i, len(s)):
        ch = s[j]
        if ch in " \t\n\f\r=>":
            return j, ""
        if ch in "'\"<":
            return -1, f"{ch!r} in attribute name: {s[:32]!r}"
    return len(s), ""


def _t_tag(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] == ">":
        return Context(state=ELEMENT_CONTENT[c.element], element=c.element), i + 1
    j, err = _eat_attr_name(s, i)
    if err:
        return error_ctx(err), len(s)
    if i == j:
        return error_ctx(f"expected space, attr name, or end of tag, but got {s[i:]!r}"), len(s)
    name = s[i:j].lower()
    attr = Attr.SCRIPT_TYPE if c.element == Element.SCRIPT and name == "type" else attr_type(name)
    state = S.ATTR_NAME if j == len(s) else S.AFTER_NAME
    return Context(state=state, element=c.element, attr=attr), j


def _t_attr_name(c: Context, s: str) -> tuple[Context, int]:
    i, err = _eat_attr_name(s, 0)
    if err:
        return error_ctx(err), len(s)
    if i != len(s):
        c = replace(c, state=S.AFTER_NAME)
    return c, i


def _t_after_name(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] != "=":
        # A valueless attribute, or the tag's end.
        return replace(c, state=S.TAG), i
    return replace(c, state=S.BEFORE_VALUE), i + 1


def _t_before_value(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    delim = Delim.SPACE_OR_TAG_END
    if s[i] == "'":
        delim = Delim.SINGLE_QUOTE
        i += 1
    elif s[i] == '"':
        delim = Delim.DOUBLE_QUOTE
        i += 1
    return replace(c, state=_ATTR_START[c.attr], delim=delim), i


def _t_html_cmt(c: Context, s: str) -> tuple[Context, int]:
    i = s.find("-->")
    if i >= 0:
        return Context(), i + 3
    return c, len(s)


def _t_url(c: Context, s: str) -> tuple[Context, int]:
    if "#" in s or "?" in s:
        c = replace(c, url_part=UrlPart.QUERY_OR_FRAG)
    elif len(s) != _eat_space(s, 0) and c.url_part == UrlPart.NONE:
        c = replace(c, url_part=UrlPart.PRE_QUERY)
    return c, len(s)


_REGEXP_PRECEDERS = frozenset(
    [
        "break",
        "case",
        "continue",
        "delete",
        "do",
        "else",
        "finally",
        "in",
        "instanceof",
        "return",
        "throw",
        "try",
        "typeof",
        "void",
    ]
)


def _is_js_ident_part(ch: str) -> bool:
    return ch == "$" or ch == "_" or (ch.isascii() and ch.isalnum())


def next_js_ctx(s: str, preceding: JsCtx) -> JsCtx:
    """Whether a ``/`` after ``s`` starts a regexp or is a division (Go's ``nextJSCtx``)."""
    s = s.rstrip("\t\n\f\r \u2028\u2029")
    if not s:
        return preceding
    ch = s[-1]
    n = len(s)
    if ch in "+-":
        start = n - 1
        while start > 0 and s[start - 1] == ch:
            start -= 1
        return JsCtx.REGEXP if (n - start) & 1 == 1 else JsCtx.DIV_OP
    if ch == ".":
        if n != 1 and s[n - 2].isdigit():
            return JsCtx.DIV_OP
        return JsCtx.REGEXP
    if ch in ",<>=*%&|^?!~([:;{}":
        return JsCtx.REGEXP
    j = n
    while j > 0 and _is_js_ident_part(s[j - 1]):
        j -= 1
    if s[j:] in _REGEXP_PRECEDERS:
        return JsCtx.REGEXP
    return JsCtx.DIV_OP


def _t_js(c: Context, s: str) -> tuple[Context, int]:
    m = re.search(r"[\"'`/]", s)
    if m is None:
        return replace(c, js_ctx=next_js_ctx(s, c.js_ctx)), len(s)
    i = m.start()
    c = replace(c, js_ctx=next_js_ctx(s[:i], c.js_ctx))
    ch = s[i]
    if ch == '"':
        c = replace(c, state=S.JS_DQ_STR, js_ctx=JsCtx.REGEXP)
    elif ch == "'":
        c = replace(c, state=S.JS_SQ_STR, js_ctx=JsCtx.REGEXP)
    elif ch == "`":
        c = replace(c, state=S.JS_BQ_STR, js_ctx=JsCtx.REGEXP)
    elif i + 1 < len(s) and s[i + 1] == "/":
        return replace(c, state=S.JS_LINE_CMT), i + 2
    elif i + 1 < len(s) and s[i + 1] == "*":
        return replace(c, state=S.JS_BLOCK_CMT), i + 2
    elif c.js_ctx == JsCtx.REGEXP:
        c = replace(c, state=S.JS_REGEXP)
    elif c.js_ctx == JsCtx.DIV_OP:
        c = replace(c, js_ctx=JsCtx.REGEXP)
    else:
        return error_ctx(f"'/' could start a division or regexp: {s[i : i + 32]!r}"), len(s)
    return c, i + 1


def _t_js_delimited(c: Context, s: str) -> tuple[Context, int]:
    specials = {S.JS_SQ_STR: "\\'", S.JS_DQ_STR: '\\"', S.JS_BQ_STR: "\\`", S.JS_REGEXP: "\\/[]"}[c.state]
    k = 0
    in_charset = False
    n = len(s)
    while True:
        i = next((j for j in range(k, n) if s[j] in specials), -1)
        if i < 0:
            break
        ch = s[i]
        if ch == "\\":
            i += 1
            if i == n:
                return error_ctx(f"unfinished escape sequence in JS string: {s!r}"), n
        elif ch == "[" and c.state == S.JS_REGEXP:
            in_charset = True
        elif ch == "]" and c.state == S.JS_REGEXP:
            in_charset = False
        elif not in_charset:
            return replace(c, state=S.JS, js_ctx=JsCtx.DIV_OP), i + 1
        k = i + 1
    if in_charset:
        return error_ctx(f"unfinished JS regexp charset: {s!r}"), n
    return c, n


def _t_block_cmt(c: Context, s: str) -> tuple[Context, int]:
    i = s.find("*/")
    if i < 0:
        return c, len(s)
    return replace(c, state=S.JS if c.state == S.JS_BLOCK_CMT else S.CSS), i + 2


def _t_line_cmt(c: Context, s: str) -> tuple[Context, int]:
    ends = "\n\r\u2028\u2029" if c.state == S.JS_LINE_CMT else "\n\f\r"
    i = next((j for j, ch in enumerate(s) if ch in ends), -1)
    if i < 0:
        return c, len(s)
    # The line ends at the newline, which is not part of the comment.
    return replace(c, state=S.JS if c.state == S.JS_LINE_CMT else S.CSS), i


def _t_css(c: Context, s: str) -> tuple[Context, int]:
    k = 0
    n = len(s)
    while True:
        m = re.compile(r"[(\"'/]").search(s, k)
        if m is None:
            return c, n
        i = m.start()
        ch = s[i]
        if ch == "(":
            p = s[:i].rstrip(_SPACE)
            if p.lower().endswith("url") and (len(p) == 3 or not _is_css_nmchar(p[-4])):
                j = n - len(s[i + 1 :].lstrip(_SPACE))
                if j != n and s[j] == '"':
                    return replace(c, state=S.CSS_DQ_URL), j + 1
                if j != n and s[j] == "'":
                    return replace(c, state=S.CSS_SQ_URL), j + 1
                return replace(c, state=S.CSS_URL), j
        elif ch == "/":
            if i + 1 < n and s[i + 1] == "/":
                return replace(c, state=S.CSS_LINE_CMT), i + 2
            if i + 1 < n and s[i + 1] == "*":
                return replace(c, state=S.CSS_BLOCK_CMT), i + 2
        elif ch == '"':
            return replace(c, state=S.CSS_DQ_STR), i + 1
        else:
            return replace(c, state=S.CSS_SQ_STR), i + 1
        k = i + 1


def _is_css_nmchar(ch: str) -> bool:
    return ch.isalnum() or ch in "-_" or ord(ch) >= 0x80


def _t_css_str(c: Context, s: str) -> tuple[Context, int]:
    if c.state in (S.CSS_DQ_STR, S.CSS_DQ_URL):
        ends = '\\"'
    elif c.state in (S.CSS_SQ_STR, S.CSS_SQ_URL):
        ends = "\\'"
    else:
        ends = "\\\t\n\f\r )"
    k = 0
    n = len(s)
    while True:
        i = next((j for j in range(k, n) if s[j] in ends), -1)
        if i < 0:
            c2, _ = _t_url(c, s[k:])
            return replace(c, url_part=c2.url_part), n
        if s[i] == "\\":
            i += 1
            if i == n:
                return error_ctx(f"unfinished escape sequence in CSS string: {s!r}"), n
        else:
            return replace(c, state=S.CSS, url_part=UrlPart.NONE), i + 1
        c2, _ = _t_url(c, s[: i + 1])
        c = replace(c, url_part=c2.url_part)
        k = i + 1


def _t_error(c: Context, s: str) -> tuple[Context, int]:
    return c, len(s)


_TRANSITIONS = {
    S.TEXT: _t_text,
    S.TAG: _t_tag,
    S.ATTR_NAME: _t_attr_name,
    S.AFTER_NAME: _t_after_name,
    S.BEFORE_VALUE: _t_before_value,
    S.HTML_CMT: _t_html_cmt,
    S.RCDATA: lambda c, s: (c, len(s)),
    S.ATTR: lambda c, s: (c, len(s)),
    S.URL: _t_url,
    S.SRCSET: _t_url,
    S.JS: _t_js,
    S.JS_DQ_STR: _t_js_delimited,
    S.JS_SQ_STR: _t_js_delimited,
    S.JS_BQ_STR: _t_js_delimited,
    S.JS_REGEXP: _t_js_delimited,
    S.JS_BLOCK_CMT: _t_block_cmt,
    S.JS_LINE_CMT: _t_line_cmt,
    S.CSS: _t_css,
    S.CSS_DQ_STR: _t_css_str,
    S.CSS_SQ_STR: _t_css_str,
    S.CSS_DQ_URL: _t_css_str,
    S.CSS_SQ_URL: _t_css_str,
    S.CSS_URL: _t_css_str,
    S.CSS_BLOCK_CMT: _t_block_cmt,
    S.CSS_LINE_CMT: _t_line_cmt,
    S.ERROR: _t_error,
}

_END_TAGS = {
    Element.SCRIPT: re.compile(r"</script(?=[\s/>]|$)", re.IGNORECASE),
    Element.STYLE: re.compile(r"</style(?=[\s/>]|$)", re.IGNORECASE),
    Element.TEXTAREA: re.compile(r"</textarea(?=[\s/>]|$)", re.IGNORECASE),
    Element.TITLE: re.compile(r"</title(?=[\s/>]|$)", re.IGNORECASE),
}
_DELIM_ENDS = {Delim.DOUBLE_QUOTE: '"', Delim.SINGLE_QUOTE: "'", Delim.SPACE_OR_TAG_END: " \t\n\f\r>"}


def _unescape_entities(s: str) -> str:
    import html

    return html.unescape(s)


def context_after_text(c: Context, s: str) -> tuple[Context, int]:
    """The context after a prefix of ``s``, and how many characters that prefix has."""
    if c.delim == Delim.NONE:
        i = len(s)
        if c.element != Element.NONE:
            m = _END_TAGS[c.element].search(s)
            if m is not None:
                if m.start() == 0:
                    # The special element ends here: back to text, which sees the end tag.
                    return Context(), 0
                i = m.start()
        return _TRANSITIONS[c.state](c, s[:i])
    ends = _DELIM_ENDS[c.delim]
    i = next((j for j, ch in enumerate(s) if ch in ends), len(s))
    if c.delim == Delim.SPACE_OR_TAG_END:
        bad = next((ch for ch in s[:i] if ch in "\"'<=`"), None)
        if bad is not None:
            return error_ctx(f"{bad!r} in unquoted attr: {s[:i]!r}"), len(s)
    if i == len(s):
        # Still inside the attribute value: run the value's own rules over its decoded text.
        u = _unescape_entities(s)
        while u:
            c1, i1 = _TRANSITIONS[c.state](c, u)
            c, u = c1, u[i1:]
            if c.state == S.ERROR:
                break
        return c, len(s)
    element = c.element
    if (
        c.state == S.ATTR
        and c.element == Element.SCRIPT
        and c.attr == Attr.SCRIPT_TYPE
        and not _is_js_type(s[:i])
    ):
        # <script type="text/template">: the element's content is not JavaScript.
        element = Element.NONE
    if c.delim != Delim.SPACE_OR_TAG_END:
        i += 1  # the closing quote
    return Context(state=S.TAG, element=element), i


def _is_js_type(mime: str) -> bool:
    mime = mime.split(";", 1)[0].strip().lower()
    return mime in (
        "application/ecmascript",
        "application/javascript",
        "application/json",
        "application/ld+json",
        "application/x-ecmascript",
        "application/x-javascript",
        "module",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    )


def nudge(c: Context) -> Context:
    """The context an action sees where a value may start (Go's ``nudge``)."""
    if c.state == S.TAG:
        return replace(c, state=S.ATTR_NAME)
    if c.state == S.BEFORE_VALUE:
        return replace(c, state=_ATTR_START[c.attr], delim=Delim.SPACE_OR_TAG_END, attr=Attr.NONE)
    if c.state == S.AFTER_NAME:
        return replace(c, state=S.ATTR_NAME, attr=Attr.NONE)
    return c


def join(a: Context, b: Context, what: str) -> Context:
    """The context after a branch whose arms end in ``a`` and ``b`` (or an error context)."""
    if a.state == S.ERROR:
        return a
    if b.state == S.ERROR:
        return b
    if a == b:
        return a
    c = replace(a, url_part=b.url_part)
    if c == b:
        return replace(c, url_part=UrlPart.UNKNOWN)
    c = replace(a, js_ctx=b.js_ctx)
    if c == b:
        return replace(c, js_ctx=JsCtx.UNKNOWN)
    na, nb = nudge(a), nudge(b)
    if not (na == a and nb == b):
        e = join(na, nb, what)
        if e.state != S.ERROR:
            return e
    return error_ctx(f"{{{{{what}}}}} branches end in different contexts: {a}, {b}")
