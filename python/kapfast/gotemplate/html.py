"""Go ``html/template``: contextual auto-escaping of a parsed template.

After parsing, :func:`escape_tree` walks the template in output order, tracking the HTML context
(:mod:`kapfast.gotemplate.htmlcontext`). Every action that prints gets the escaper functions its
context needs appended to its pipeline, exactly as Go rewrites the tree; HTML, JS and CSS
comments in the template text are removed. Values of the typed-content classes
(:class:`HTML`, :class:`JS`, ...) are trusted in the matching context, as in Go.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kapfast.gofmt import GoDuration, json_encode, sprint
from kapfast.gotemplate.errors import TemplateError
from kapfast.gotemplate.htmlcontext import (
    Attr,
    Context,
    Delim,
    JsCtx,
    S,
    UrlPart,
    attr_type,
    context_after_text,
    is_comment,
    join,
    nudge,
)
from kapfast.gotemplate.nodes import (
    ActionNode,
    BreakNode,
    CommandNode,
    CommentNode,
    ContinueNode,
    IdentifierNode,
    IfNode,
    ListNode,
    Node,
    RangeNode,
    TemplateNode,
    TextNode,
    WithNode,
)

FILTER_FAILSAFE = "ZgotmplZ"


# --------------------------------------------------------------------------------------------
# Typed content (Go's template.HTML, template.JS, ...)
# --------------------------------------------------------------------------------------------


class _Content(str):
    __slots__ = ()
    kind = ""


class HTML(_Content):
    """Known-safe HTML (not escaped in text)."""

    __slots__ = ()
    kind = "html"


class HTMLAttr(_Content):
    __slots__ = ()
    kind = "htmlattr"


class JS(_Content):
    """A known-safe JavaScript expression (what Kapacitor's ``json`` function returns)."""

    __slots__ = ()
    kind = "js"


class JSStr(_Content):
    __slots__ = ()
    kind = "jsstr"


class CSS(_Content):
    __slots__ = ()
    kind = "css"


class URL(_Content):
    __slots__ = ()
    kind = "url"


class Srcset(_Content):
    __slots__ = ()
    kind = "srcset"


def _stringify(args: tuple[Any, ...]) -> tuple[str, str]:
    """The text an escaper works on and its content kind (Go's ``stringify``)."""
    if len(args) == 1:
        a = args[0]
        if isinstance(a, _Content):
            return str.__str__(a), a.kind
        if isinstance(a, str):
            return str.__str__(a), ""
    # Untyped nils are skipped (a missing value prints as nothing).
    kept = [a for a in args if a is not None]
    return sprint(*kept), ""


# --------------------------------------------------------------------------------------------
# Escapers
# --------------------------------------------------------------------------------------------

_HTML_TABLE = {
    "\0": "\ufffd",
    '"': "&#34;",
    "&": "&amp;",
    "'": "&#39;",
    "+": "&#43;",
    "<": "&lt;",
    ">": "&gt;",
}
_HTML_NORM_TABLE = {k: v for k, v in _HTML_TABLE.items() if k != "&"}
_HTML_NOSPACE_TABLE = {
    "\0": "&#xfffd;",
    "\t": "&#9;",
    "\n": "&#10;",
    "\v": "&#11;",
    "\f": "&#12;",
    "\r": "&#13;",
    " ": "&#32;",
    '"': "&#34;",
    "&": "&amp;",
    "'": "&#39;",
    "+": "&#43;",
    "<": "&lt;",
    "=": "&#61;",
    ">": "&gt;",
    "`": "&#96;",
}
_HTML_NOSPACE_NORM_TABLE = {k: v for k, v in _HTML_NOSPACE_TABLE.items() if k != "&"}


_NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufff0-\uffff]")


def _replace(s: str, table: dict[str, str], bad_runes: bool = True) -> str:
    """Replace each character of ``s`` found in ``table`` (Go's ``htmlReplacer``).

    ``&`` goes first so that the entities written for the other characters stay intact; a
    chain of ``str.replace`` is much faster than a per-character loop for long JSON details.
    """
    amp = table.get("&")
    if amp is not None and "&" in s:
        s = s.replace("&", amp)
    for k, v in table.items():
        if k != "&" and k in s:
            s = s.replace(k, v)
    if not bad_runes and _NONCHARACTER.search(s):
        # Unquoted attribute values also escape the Unicode non-characters.
        s = _NONCHARACTER.sub(lambda m: f"&#x{ord(m.group()):x};", s)
    return s


def _strip_tags(html: str) -> str:
    """The text content of ``html`` (for HTML placed in an attribute value)."""
    out: list[str] = []
    i = 0
    n = len(html)
    in_tag = False
    while i < n:
        ch = html[i]
        if in_tag:
            if ch == ">":
                in_tag = False
        elif ch == "<" and i + 1 < n and (html[i + 1].isalpha() or html[i + 1] in "/!"):
            in_tag = True
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def html_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "html":
        return s
    return _replace(s, _HTML_TABLE)


def rcdata_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "html":
        return _replace(s, _HTML_NORM_TABLE)
    return _replace(s, _HTML_TABLE)


def attr_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "html":
        return _replace(_strip_tags(s), _HTML_NORM_TABLE)
    return _replace(s, _HTML_TABLE)


def nospace_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "html":
        return _replace(_strip_tags(s), _HTML_NOSPACE_NORM_TABLE, False)
    return _replace(s, _HTML_NOSPACE_TABLE, False)


def comment_escaper(*args: Any) -> str:
    return ""


def html_name_filter(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "htmlattr":
        return s
    if not s:
        return FILTER_FAILSAFE
    s = s.lower()
    if attr_type(s) != Attr.NONE:
        return FILTER_FAILSAFE
    if not all(c.isascii() and c.isalnum() for c in s):
        return FILTER_FAILSAFE
    return s


def _is_safe_url(s: str) -> bool:
    protocol, sep, _ = s.partition(":")
    if sep and "/" not in protocol:
        return protocol.lower() in ("http", "https", "mailto")
    return True


def url_filter(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "url":
        return s
    if not _is_safe_url(s):
        return "#" + FILTER_FAILSAFE
    return s


_URL_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_URL_RESERVED = frozenset("!#$&*+,/:;=?@[]")
_HEX = frozenset("0123456789abcdefABCDEF")


def _url_process(norm: bool, args: tuple[Any, ...]) -> str:
    s, kind = _stringify(args)
    if kind == "url":
        norm = True
    data = s.encode("utf-8")
    out: list[str] = []
    n = len(data)
    for i, b in enumerate(data):
        c = chr(b)
        if (
            c in _URL_UNRESERVED
            or (c in _URL_RESERVED and norm)
            or (c == "%" and norm and i + 2 < n and chr(data[i + 1]) in _HEX and chr(data[i + 2]) in _HEX)
        ):
            out.append(c)
        else:
            out.append(f"%{b:02x}")
    return "".join(out)


def url_normalizer(*args: Any) -> str:
    return _url_process(True, args)


def url_escaper(*args: Any) -> str:
    return _url_process(False, args)


_JS_STR_TABLE = {
    "\0": "\\u0000",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\u000b",
    "\f": "\\f",
    "\r": "\\r",
    '"': "\\u0022",
    "`": "\\u0060",
    "&": "\\u0026",
    "'": "\\u0027",
    "+": "\\u002b",
    "/": "\\/",
    "<": "\\u003c",
    ">": "\\u003e",
    "\\": "\\\\",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JS_STR_NORM_TABLE = {k: v for k, v in _JS_STR_TABLE.items() if k != "\\"}
_JS_REGEXP_TABLE = dict(_JS_STR_TABLE)
_JS_REGEXP_TABLE.update(
    {
        "$": "\\$",
        "(": "\\(",
        ")": "\\)",
        "*": "\\*",
        "+": "\\u002b",
        "-": "\\-",
        ".": "\\.",
        "?": "\\?",
        "[": "\\[",
        "]": "\\]",
        "^": "\\^",
        "{": "\\{",
        "|": "\\|",
        "}": "\\}",
    }
)


def _js_replace(s: str, table: dict[str, str]) -> str:
    out: list[str] = []
    for ch in s:
        r = table.get(ch)
        if r is not None:
            out.append(r)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def js_str_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "jsstr":
        return _js_replace(s, _JS_STR_NORM_TABLE)
    return _js_replace(s, _JS_STR_TABLE)


def js_regexp_escaper(*args: Any) -> str:
    s, _ = _stringify(args)
    s = _js_replace(s, _JS_REGEXP_TABLE)
    return s or "(?:)"


def js_val_escaper(*args: Any) -> str:
    """A value as a JavaScript expression: JSON, padded when it could merge with identifiers."""
    a: Any
    if len(args) == 1:
        a = args[0]
        if isinstance(a, JS):
            return str.__str__(a)
        if isinstance(a, JSStr):
            return '"' + str.__str__(a) + '"'
        if isinstance(a, GoDuration):
            a = str(a)  # a Stringer that is not a json.Marshaler (time.Time is one)
    else:
        a = sprint(*[x for x in args if x is not None])
    try:
        b = json_encode(a)
    except ValueError as e:
        return f" /* {e} */null "
    if not b:
        return " null "
    b = b.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if _is_js_ident_part(b[0]) or _is_js_ident_part(b[-1]):
        return " " + b + " "
    return b


def _is_js_ident_part(ch: str) -> bool:
    return ch in "$_" or (ch.isascii() and ch.isalnum())


_CSS_TABLE = {
    "\0": "\\0",
    "\t": "\\9",
    "\n": "\\a",
    "\f": "\\c",
    "\r": "\\d",
    '"': "\\22",
    "&": "\\26",
    "'": "\\27",
    "(": "\\28",
    ")": "\\29",
    "+": "\\2b",
    "/": "\\2f",
    ":": "\\3a",
    ";": "\\3b",
    "<": "\\3c",
    ">": "\\3e",
    "\\": "\\\\",
    "{": "\\7b",
    "}": "\\7d",
}


def css_escaper(*args: Any) -> str:
    s, _ = _stringify(args)
    out: list[str] = []
    n = len(s)
    for i, ch in enumerate(s):
        r = _CSS_TABLE.get(ch)
        if r is None:
            out.append(ch)
            continue
        out.append(r)
        # A hex escape swallows a following hex digit or space: separate them.
        if r != "\\\\" and (i + 1 == n or s[i + 1] in _HEX or s[i + 1] in " \t\n\f\r"):
            out.append(" ")
    return "".join(out)


def css_value_filter(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "css":
        return s
    ident: list[str] = []
    for i, ch in enumerate(s):
        if ch in "\0\"'()/;@[\\]`{}<>":
            return FILTER_FAILSAFE
        if ch == "-":
            if i != 0 and s[i - 1] == "-":
                return FILTER_FAILSAFE  # "--" could open or close an HTML comment
            continue
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            ident.append(ch)
    low = "".join(ident).lower()
    if "expression" in low or "mozbinding" in low:
        return FILTER_FAILSAFE
    return s


def srcset_escaper(*args: Any) -> str:
    s, kind = _stringify(args)
    if kind == "srcset":
        return s
    parts = []
    for part in s.split(","):
        url = url_filter(part.strip())
        parts.append(url_normalizer(url) if not url.startswith("#" + FILTER_FAILSAFE) else url)
    return ",".join(parts)


ESCAPERS: dict[str, Callable[..., Any]] = {
    "_html_template_attrescaper": attr_escaper,
    "_html_template_commentescaper": comment_escaper,
    "_html_template_cssescaper": css_escaper,
    "_html_template_cssvaluefilter": css_value_filter,
    "_html_template_htmlnamefilter": html_name_filter,
    "_html_template_htmlescaper": html_escaper,
    "_html_template_jsregexpescaper": js_regexp_escaper,
    "_html_template_jsstrescaper": js_str_escaper,
    "_html_template_jsvalescaper": js_val_escaper,
    "_html_template_nospaceescaper": nospace_escaper,
    "_html_template_rcdataescaper": rcdata_escaper,
    "_html_template_srcsetescaper": srcset_escaper,
    "_html_template_urlescaper": url_escaper,
    "_html_template_urlfilter": url_filter,
    "_html_template_urlnormalizer": url_normalizer,
}

# Escapers the predefined html/urlquery functions stand in for (Go's equivEscapers).
_EQUIVALENT = {
    "_html_template_attrescaper": "html",
    "_html_template_htmlescaper": "html",
    "_html_template_rcdataescaper": "html",
    "_html_template_urlescaper": "urlquery",
    "_html_template_urlnormalizer": "urlquery",
}


# --------------------------------------------------------------------------------------------
# The escaping pass
# --------------------------------------------------------------------------------------------


class _Escaper:
    def __init__(self, templates: dict[str, ListNode], name: str, positions: Any) -> None:
        self.templates = templates
        self.name = name
        self.positions = positions
        self.derived: dict[tuple[str, Context], tuple[str, Context | None]] = {}
        self.error_node: Node | None = None

    def fail(self, c: Context, node: Node | None) -> TemplateError:
        n = node or self.error_node
        line, col = self.positions(n.pos) if n is not None else (0, 0)
        return TemplateError(c.err, self.name, line, col, package="html/template")

    def escape_list(self, c: Context, lst: ListNode | None, annotate: bool) -> Context:
        if lst is None:
            return c
        for n in lst.nodes:
            c = self.escape_node(c, n, annotate)
            if c.state == S.ERROR:
                self.error_node = self.error_node or n
                return c
        return c

    def escape_node(self, c: Context, n: Node, annotate: bool) -> Context:
        if isinstance(n, TextNode):
            return self.escape_text(c, n, annotate)
        if isinstance(n, ActionNode):
            return self.escape_action(c, n, annotate)
        if isinstance(n, IfNode | WithNode):
            return self.escape_branch(c, n, "if" if isinstance(n, IfNode) else "with", annotate)
        if isinstance(n, RangeNode):
            return self.escape_range(c, n, annotate)
        if isinstance(n, TemplateNode):
            return self.escape_template_call(c, n, annotate)
        if isinstance(n, CommentNode | BreakNode | ContinueNode):
            return c
        if isinstance(n, ListNode):
            return self.escape_list(c, n, annotate)
        return c

    def escape_text(self, c: Context, n: TextNode, annotate: bool) -> Context:
        """Move the context over template text; drop comments and escape stray ``<``."""
        s = n.text
        out: list[str] = []
        written = 0
        i = 0
        while i != len(s):
            c1, nread = context_after_text(c, s[i:])
            i1 = i + nread
            if c.state in (S.TEXT, S.RCDATA):
                end = i1
                if c1.state != c.state:
                    j = s.rfind("<", i, end)
                    if j >= 0:
                        end = j
                for j in range(i, end):
                    if s[j] == "<" and not s[j : j + 9].upper().startswith("<!DOCTYPE"):
                        out.append(s[written:j])
                        out.append("&lt;")
                        written = j + 1
            elif is_comment(c.state) and c.delim == Delim.NONE:
                if c.state == S.JS_BLOCK_CMT:
                    # A block comment that spans lines still separates statements.
                    out.append("\n" if any(ch in s[written:i1] for ch in "\n\r\u2028\u2029") else " ")
                elif c.state == S.CSS_BLOCK_CMT:
                    out.append(" ")
                written = i1
            if c.state != c1.state and is_comment(c1.state) and c1.delim == Delim.NONE:
                # Keep what precedes the comment opener; drop the opener.
                cs = i1 - (4 if c1.state == S.HTML_CMT else 2)
                out.append(s[written:cs])
                written = i1
            if i == i1 and c.state == c1.state:
                raise TemplateError(
                    f"infinite loop from {c} to {c1} on {s[i:]!r}", self.name, package="html/template"
                )
            c, i = c1, i1
            if c.state == S.ERROR:
                self.error_node = n
                return c
        if written != 0 and annotate:
            if not is_comment(c.state) or c.delim != Delim.NONE:
                out.append(s[written:])
            n.text = "".join(out)
        return c

    def escape_action(self, c: Context, n: ActionNode, annotate: bool) -> Context:
        if n.pipe.decl:
            # A declaration prints nothing.
            return c
        c = nudge(c)
        escapers: list[str] = []
        st = c.state
        if st in (S.URL, S.CSS_DQ_STR, S.CSS_SQ_STR, S.CSS_DQ_URL, S.CSS_SQ_URL, S.CSS_URL):
            if c.url_part == UrlPart.NONE:
                escapers.append("_html_template_urlfilter")
            if c.url_part in (UrlPart.NONE, UrlPart.PRE_QUERY):
                if st in (S.CSS_DQ_STR, S.CSS_SQ_STR):
                    escapers.append("_html_template_cssescaper")
                else:
                    escapers.append("_html_template_urlnormalizer")
            elif c.url_part == UrlPart.QUERY_OR_FRAG:
                escapers.append("_html_template_urlescaper")
            else:
                self.error_node = n
                return Context(state=S.ERROR, err=f"{n} appears in an ambiguous context within a URL")
        elif st == S.JS:
            escapers.append("_html_template_jsvalescaper")
            c = replace(c, js_ctx=JsCtx.DIV_OP)
        elif st in (S.JS_DQ_STR, S.JS_SQ_STR, S.JS_BQ_STR):
            escapers.append("_html_template_jsstrescaper")
        elif st == S.JS_REGEXP:
            escapers.append("_html_template_jsregexpescaper")
        elif st == S.CSS:
            escapers.append("_html_template_cssvaluefilter")
        elif st == S.TEXT:
            escapers.append("_html_template_htmlescaper")
        elif st == S.RCDATA:
            escapers.append("_html_template_rcdataescaper")
        elif st == S.ATTR:
            pass
        elif st in (S.ATTR_NAME, S.TAG):
            c = Context(state=S.ATTR_NAME, element=c.element)
            escapers.append("_html_template_htmlnamefilter")
        elif st == S.SRCSET:
            escapers.append("_html_template_srcsetescaper")
        elif is_comment(st):
            escapers.append("_html_template_commentescaper")
        else:
            self.error_node = n
            return Context(state=S.ERROR, err=f"unexpected state {st.name} for {n}")
        if c.delim == Delim.SPACE_OR_TAG_END:
            escapers.append("_html_template_nospaceescaper")
        elif c.delim != Delim.NONE:
            escapers.append("_html_template_attrescaper")
        if annotate:
            err = self.ensure_pipeline_contains(n, escapers)
            if err:
                self.error_node = n
                return Context(state=S.ERROR, err=err)
        return c

    def ensure_pipeline_contains(self, n: ActionNode, escapers: list[str]) -> str:
        cmds = n.pipe.cmds
        # The predefined escapers html and urlquery may only end a pipeline, where they stand
        # for the escapers they are equivalent to.
        for i, cmd in enumerate(cmds):
            first = cmd.args[0]
            if (
                isinstance(first, IdentifierNode)
                and first.name in ("html", "urlquery")
                and i != len(cmds) - 1
            ):
                return f'predefined escaper "{first.name}" disallowed in template'
        if cmds:
            first = cmds[-1].args[0]
            if isinstance(first, IdentifierNode) and first.name in ("html", "urlquery"):
                escapers = [e for e in escapers if _EQUIVALENT.get(e) != first.name]
        for e in escapers:
            cmds.append(CommandNode(n.pos, [IdentifierNode(n.pos, e)]))
        return ""

    def escape_branch(self, c: Context, n: IfNode | WithNode, what: str, annotate: bool) -> Context:
        c0 = self.escape_list(c, n.list, annotate)
        if c0.state == S.ERROR:
            return c0
        c1 = self.escape_list(c, n.else_list, annotate)
        if c1.state == S.ERROR:
            return c1
        out = join(c0, c1, what)
        if out.state == S.ERROR:
            self.error_node = n
        return out

    def escape_range(self, c: Context, n: RangeNode, annotate: bool) -> Context:
        c0 = self.escape_list(c, n.list, annotate)
        if c0.state == S.ERROR:
            return c0
        # The body may run again: running it from where it ended must end in the same context.
        c_again = self.escape_list(c0, n.list, False)
        joined = join(c0, c_again, "range")
        if joined.state == S.ERROR:
            self.error_node = n
            return Context(state=S.ERROR, err="on range loop re-entry: " + joined.err)
        c1 = self.escape_list(c, n.else_list, annotate)
        if c1.state == S.ERROR:
            return c1
        out = join(c0, c1, "range")
        if out.state == S.ERROR:
            self.error_node = n
        return out

    def escape_template_call(self, c: Context, n: TemplateNode, annotate: bool) -> Context:
        if n.name not in self.templates:
            # Go fails at execution time ("no such template"); keep the context.
            return c
        key = (n.name, c)
        if key in self.derived:
            derived_name, end = self.derived[key]
            if annotate:
                n.name = derived_name
            return c if end is None else end
        derived_name = n.name if c == Context() else f"{n.name}$htmltemplate_{_ctx_id(c)}"
        # Assume the callee ends where it starts while it is being escaped (recursion).
        self.derived[key] = (derived_name, None)
        tree = self.templates[n.name] if derived_name == n.name else copy.deepcopy(self.templates[n.name])
        end = self.escape_list(c, tree, True)
        if end.state == S.ERROR:
            return end
        self.templates[derived_name] = tree
        self.derived[key] = (derived_name, end)
        if annotate:
            n.name = derived_name
        return end


def _ctx_id(c: Context) -> str:
    return "_".join(str(int(v)) for v in (c.state, c.delim, c.url_part, c.js_ctx, c.attr, c.element))


def escape_tree(root: ListNode, templates: dict[str, ListNode], name: str, positions: Any) -> ListNode:
    """Add Go's contextual escapers to ``root`` (and the templates it calls), in place."""
    esc = _Escaper(templates, name, positions)
    # The main template's name maps to root; escape it as the entry point.
    esc.derived[(name, Context())] = (name, None)
    c = esc.escape_list(Context(), root, True)
    if c.state == S.ERROR:
        raise esc.fail(c, esc.error_node)
    esc.derived[(name, Context())] = (name, c)
    if c.state != S.TEXT:
        raise TemplateError(f"ends in a non-text context: {c}", name, package="html/template")
    return root


def json_func(v: Any) -> JS:
    """Kapacitor's ``json`` details function: ``json.Encoder`` output, trailing newline included."""
    try:
        return JS(json_encode(v) + "\n")
    except ValueError:
        return JS("")  # Kapacitor ignores the encoder's error: nothing is written


def json_compact_func(v: Any) -> JS:
    """Kapacitor's ``jsonCompact`` details function: the same JSON without the newline."""
    try:
        return JS(json_encode(v))
    except ValueError:
        return JS("")


__all__ = [
    "CSS",
    "ESCAPERS",
    "HTML",
    "JS",
    "URL",
    "HTMLAttr",
    "JSStr",
    "Srcset",
    "escape_tree",
    "json_compact_func",
    "json_func",
]
