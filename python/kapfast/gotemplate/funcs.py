"""The predefined functions of Go's ``text/template`` (``and``/``or`` are lazy: see nodes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapfast.gofmt import go_type_name, sprint, sprintf, sprintln
from kapfast.gotemplate.errors import ExecError
from kapfast.gotemplate.values import NO_VALUE, call_value, eq, lt, map_zero, truth

Func = Callable[..., Any]


def _len(item: Any) -> int:
    if item is None or item is NO_VALUE:
        raise ExecError("len of nil pointer" if item is None else "len of untyped nil")
    if isinstance(item, str):
        return len(item.encode("utf-8"))  # Go's len of a string counts bytes
    if isinstance(item, dict | list | tuple):
        return len(item)
    raise ExecError(f"len of type {go_type_name(item)}")


def _index_of(i: Any, length: int, cap: int | None = None) -> int:
    if isinstance(i, bool) or not isinstance(i, int):
        if i is None:
            raise ExecError("cannot index slice/array with nil")
        raise ExecError(f"cannot index slice/array with type {go_type_name(i)}")
    limit = length if cap is None else cap
    if i < 0 or i >= limit:
        raise ExecError(f"index out of range: {i}")
    return i


def _index(item: Any, *indexes: Any) -> Any:
    """``index x 1 2`` is ``x[1][2]``; a missing map key gives the zero value of the element."""
    if item is None or item is NO_VALUE:
        raise ExecError("index of untyped nil")
    for ix in indexes:
        if isinstance(item, dict):
            if ix is None or ix is NO_VALUE:
                raise ExecError("value is nil; should be of type string")
            if not isinstance(ix, str):
                raise ExecError(f"value has type {go_type_name(ix)}; should be string")
            item = item[ix] if ix in item else map_zero(item)
        elif isinstance(item, list | tuple):
            item = item[_index_of(ix, len(item))]
        elif isinstance(item, str):
            data = item.encode("utf-8")
            item = data[_index_of(ix, len(data))]  # a byte (uint8)
        elif item is None:
            raise ExecError("index of nil pointer")
        else:
            raise ExecError(f"can't index item of type {go_type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    """``slice x 1 2`` is ``x[1:2]`` (strings slice by bytes, like Go)."""
    if item is None or item is NO_VALUE:
        raise ExecError("slice of untyped nil")
    if len(indexes) > 3:
        raise ExecError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ExecError("cannot 3-index slice a string")
        data = item.encode("utf-8")
        length = len(data)
    elif isinstance(item, list | tuple):
        length = len(item)
    else:
        raise ExecError(f"can't slice item of type {go_type_name(item)}")
    idx = [0, length]
    for i, x in enumerate(indexes):
        v = _index_of(x, length + 1)
        if i < 2:
            idx[i] = v
    if idx[0] > idx[1]:
        raise ExecError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if isinstance(item, str):
        return data[idx[0] : idx[1]].decode("utf-8", errors="replace")
    return list(item[idx[0] : idx[1]])


def _not(arg: Any) -> bool:
    return not truth(arg)


def _eval_args(args: tuple[Any, ...]) -> str:
    """The string the escaping functions work on: the lone string, or fmt.Sprint of all."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return sprint(*args)


def html_escape_string(s: str) -> str:
    """``template.HTMLEscapeString``."""
    if not any(c in s for c in "<>&'\"\0"):
        return s
    return (
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\0", "\ufffd")
    )


_JS_ESC = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape_string(s: str) -> str:
    """``template.JSEscapeString``."""
    out = []
    for c in s:
        if c in _JS_ESC:
            out.append(_JS_ESC[c])
        elif ord(c) < 0x20 or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def query_escape(s: str) -> str:
    """``url.QueryEscape``: spaces become ``+``, everything but unreserved bytes ``%XX``."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in _URL_SAFE:
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _html(*args: Any) -> str:
    return html_escape_string(_eval_args(args))


def _js(*args: Any) -> str:
    return js_escape_string(_eval_args(args))


def _urlquery(*args: Any) -> str:
    return query_escape(_eval_args(args))


def _printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise ExecError(f"wrong type for value; expected string; got {go_type_name(fmt)}")
    return sprintf(fmt, args)


def _ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _le(a: Any, b: Any) -> bool:
    return lt(a, b) or eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not lt(a, b)


def _call(fn: Any, *args: Any) -> Any:
    return call_value(fn, list(args))


# (function, minimum args, maximum args or -1 for variadic)
BUILTINS: dict[str, tuple[Func, int, int]] = {
    "and": (lambda *a: a[-1], 1, -1),  # evaluated lazily by the executor
    "or": (lambda *a: a[-1], 1, -1),  # evaluated lazily by the executor
    "not": (_not, 1, 1),
    "len": (_len, 1, 1),
    "index": (_index, 1, -1),
    "slice": (_slice, 1, -1),
    "print": (sprint, 0, -1),
    "printf": (_printf, 1, -1),
    "println": (sprintln, 0, -1),
    "html": (_html, 0, -1),
    "js": (_js, 0, -1),
    "urlquery": (_urlquery, 0, -1),
    "eq": (eq, 1, -1),
    "ne": (_ne, 2, 2),
    "lt": (lt, 2, 2),
    "le": (_le, 2, 2),
    "gt": (_gt, 2, 2),
    "ge": (_ge, 2, 2),
    "call": (_call, 1, -1),
}
