"""Go's formatting of values, as Kapacitor's templates and handlers print them.

Kapacitor renders alert ids, messages and details with Go's ``text/template``, which prints values
with Go's ``fmt`` package, and writes alert events with ``encoding/json``. A drop-in replacement
must print the very same bytes, so this module re-implements the parts of ``fmt`` (verbs, flags,
width, precision), ``strconv`` float formatting, ``time.Time.String``, ``time.Duration.String``
and RFC 3339 timestamps that those outputs depend on.

Python values stand for Go values: ``None`` is ``nil``, ``bool``/``int``/``float``/``str`` the
basic kinds (ints are ``int64``, floats ``float64``), ``dict`` a ``map`` (printed with sorted
keys), ``list``/``tuple`` a slice. :class:`GoTime` and :class:`GoDuration` wrap nanoseconds and
print like ``time.Time`` and ``time.Duration``; :class:`GoStruct` is a ``dict`` that prints like a
Go struct (``{v1 v2}``) and whose missing keys are errors in templates.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Self

from kapfast.timefmt import format_rfc3339_ns as rfc3339nano

__all__ = [
    "GoDuration",
    "GoInt",
    "GoMap",
    "GoRawJSON",
    "GoStringMap",
    "GoStruct",
    "GoTime",
    "duration_string",
    "format_float",
    "go_map",
    "go_quote",
    "go_syntax",
    "go_type_name",
    "json_encode",
    "json_float",
    "json_float_strconv",
    "json_marshal",
    "json_string",
    "rfc3339nano",
    "sprint",
    "sprintf",
    "sprintln",
    "time_format",
    "time_string",
]

_EPOCH = _dt.datetime(1970, 1, 1)
_NS_PER_S = 1_000_000_000


# --------------------------------------------------------------------------------------------
# Wrapper types for Go values that print specially
# --------------------------------------------------------------------------------------------


class GoTime:
    """A Go ``time.Time`` in UTC, as nanoseconds since the Unix epoch."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = int(ns)

    def __str__(self) -> str:
        return time_string(self.ns)

    def __repr__(self) -> str:
        return f"GoTime({self.ns})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("GoTime", self.ns))

    def rfc3339nano(self) -> str:
        """The JSON form: ``2015-12-30T13:50:40.5Z`` (fraction trimmed of trailing zeros)."""
        return rfc3339nano(self.ns)


class GoDuration:
    """A Go ``time.Duration``: integer nanoseconds that print like ``1m30s``."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = int(ns)

    def __str__(self) -> str:
        return duration_string(self.ns)

    def __repr__(self) -> str:
        return f"GoDuration({self.ns})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoDuration) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("GoDuration", self.ns))


class GoMap(dict[str, Any]):
    """A Go ``map[string]interface{}``: a missing key's zero value is ``nil``.

    ``GoMap.nil_map()`` is Go's nil map: empty, printed ``map[]``, but JSON ``null``.
    """

    zero: Any = None
    go_type = "map[string]interface {}"
    is_nil = False

    @classmethod
    def nil_map(cls) -> Self:
        m = cls()
        m.is_nil = True
        return m


class GoStringMap(GoMap):
    """A Go ``map[string]string`` (tags): a missing key's zero value is ``""``."""

    zero: Any = ""
    go_type = "map[string]string"


class GoRawJSON(str):
    """Already encoded JSON (Go's ``json.RawMessage``, or a value whose encoding we hold, such as an
    alert event's ``models.Result``): :func:`json_encode` writes it as it is."""


class GoStruct(dict[str, Any]):
    """A Go struct: fields in declaration order; prints as ``{v1 v2 ...}``.

    ``type_name`` is what Go names the type in error messages (``kapacitor.detailsInfo``).
    ``json`` is its JSON encoding when it is not its fields by their Go names (a struct with
    ``json`` tags, or a ``MarshalJSON`` method): templates see the fields, :func:`json_encode`
    (the templates' ``json`` function) writes this.
    """

    def __init__(self, type_name: str, fields: dict[str, Any], json: str | None = None) -> None:
        super().__init__(fields)
        self.type_name = type_name
        self.json = json


# --------------------------------------------------------------------------------------------
# Time and duration
# --------------------------------------------------------------------------------------------


def _split_ns(ns: int) -> tuple[_dt.datetime, int]:
    secs, frac = divmod(ns, _NS_PER_S)
    return _EPOCH + _dt.timedelta(seconds=secs), frac


def _frac_digits(frac: int) -> str:
    """``.5`` for 500ms, ``""`` for 0: Go's ``.999999999`` layout element."""
    if frac == 0:
        return ""
    return "." + f"{frac:09d}".rstrip("0")


def time_string(ns: int) -> str:
    """Go's ``time.Time.String()`` of a UTC time: ``2016-01-01 00:00:00.5 +0000 UTC``."""
    t, frac = _split_ns(ns)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}" + (
        f"{_frac_digits(frac)} +0000 UTC"
    )


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Split ``v`` into its fractional part of ``prec`` digits (as ``.ddd`` trimmed) and the rest."""
    digits = v % (10**prec)
    frac = f"{digits:0{prec}d}".rstrip("0")
    return ("." + frac if frac else ""), v // (10**prec)


def duration_string(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``0s``, ``500ms``, ``1.5s``, ``1m0s``, ``2h3m4.005s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < _NS_PER_S:
        # Sub-second durations use the largest unit that keeps an integer part.
        if u < 1_000:
            out = f"{u}ns"
        elif u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            out = f"{whole}{frac}µs"
        else:
            frac, whole = _fmt_frac(u, 6)
            out = f"{whole}{frac}ms"
    else:
        frac, secs = _fmt_frac(u, 9)
        out = f"{secs % 60}{frac}s"
        mins = secs // 60
        if mins > 0:
            out = f"{mins % 60}m" + out
            hours = mins // 60
            if hours > 0:
                out = f"{hours}h" + out
    return "-" + out if neg else out


# --------------------------------------------------------------------------------------------
# Floats
# --------------------------------------------------------------------------------------------


def _shortest_digits(f: float) -> tuple[str, int]:
    """The shortest decimal digits that round-trip ``abs(f)`` and the decimal point position.

    ``123.45`` -> ``("12345", 3)``: the value is ``0.12345e3``. Python's ``repr`` is the same
    shortest round-trip algorithm Go's ``strconv`` uses, so the digits agree.
    """
    r = repr(abs(f))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    dp = len(ip) + e
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _exp_form(digits: str, dp: int, min_exp_digits: int = 2) -> str:
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{mant}e{sign}{abs(exp):0{min_exp_digits}d}"


def _fixed_form(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _nonfinite(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return None


def format_float(f: float, verb: str = "g", prec: int = -1) -> str:
    """``strconv.FormatFloat(f, verb, prec, 64)`` for verbs ``e E f F g G`` (prec -1: shortest)."""
    nf = _nonfinite(f)
    if nf is not None:
        return nf
    if prec >= 0:
        # Go's %g with a precision matches C's (trailing zeros removed); %.0g means %.1g.
        return f"{f:.{max(prec, 1)}{verb}}" if verb in "gG" else f"{f:.{prec}{verb}}"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    digits, dp = _shortest_digits(f)
    if f == 0:
        digits, dp = "0", 1
    if verb in "eE":
        out = _exp_form(digits, dp)
    elif verb in "fF":
        out = _fixed_form(digits, dp)
    else:
        exp = dp - 1
        # Shortest %g (Go's %v of a float) switches to exponent form below 1e-4 and from 1e+06
        # on: strconv uses precision 6 for that decision whatever the number of digits.
        out = _exp_form(digits, dp) if exp < -4 or exp >= 6 else _fixed_form(digits, dp)
    if verb in "EG":
        out = out.upper()
    return sign + out


def json_float(f: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it: ``10``, ``0.5``, ``1e+21``, ``1e-7``."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {format_float(f)}")
    r = repr(f)
    if "e" not in r:
        # repr's fixed form (1e-4 <= |f| < 1e16) is Go's shortest 'f' form plus a ".0" on
        # whole numbers: one C call instead of strconv's steps (alert details, #13)
        return r[:-2] if r.endswith(".0") else r
    return json_float_strconv(f)


def json_float_strconv(f: float) -> str:
    """:func:`json_float` of a finite float, step by step as ``encoding/json`` calls strconv."""
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        out = format_float(f, "e")
        # encoding/json cleans up e-09 to e-9 (but keeps e+21).
        if len(out) >= 4 and out[-4] == "e" and out[-3] == "-" and out[-2] == "0":
            out = out[:-2] + out[-1]
        return out
    return format_float(f, "f")


def _hex_float(f: float, upper: bool) -> str:
    """Go's ``%x`` of a float: ``0x1.8p+00``."""
    nf = _nonfinite(f)
    if nf is not None:
        return nf
    if f == 0:
        out = "0x0p+00"
        if math.copysign(1.0, f) < 0:
            out = "-" + out
    else:
        h = float.hex(f)  # '-0x1.8000000000000p+0'
        sign = "-" if h.startswith("-") else ""
        h = h.lstrip("-")[2:]
        mant, _, exp = h.partition("p")
        ip, _, fp = mant.partition(".")
        fp = fp.rstrip("0")
        e = int(exp)
        out = f"{sign}0x{ip}{'.' + fp if fp else ''}p{'-' if e < 0 else '+'}{abs(e):02d}"
    return out.upper() if upper else out


# --------------------------------------------------------------------------------------------
# Strings
# --------------------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _is_printable(ch: str) -> bool:
    # Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and U+0020.
    return ch == " " or (ch.isprintable() and not ch.isspace())


def go_quote(value: object, quote: str = '"', ascii_only: bool = False) -> str:
    """``strconv.Quote`` (or ``QuoteToASCII``, or a rune literal with ``quote="'"``); a value
    that is not a string (a request's wrong-typed field) is quoted as it prints."""
    s = value if isinstance(value, str) else str(value)
    out = [quote]
    for ch in s:
        if ch == quote:
            out.append("\\" + ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ord(ch) < 0x80:
            out.append(ch if _is_printable(ch) else f"\\x{ord(ch):02x}")
        elif not ascii_only and _is_printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append(quote)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Type names for fmt's error forms (%!d(string=x))
# --------------------------------------------------------------------------------------------


class GoInt(int):
    """A Go ``int`` (a template's integer constant), as opposed to a field's ``int64``."""

    __slots__ = ()


def go_type_name(v: Any) -> str:
    """The Go type name Kapacitor's value would have (``string``, ``float64``, ...)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, GoInt):
        return "int"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoTime):
        return "time.Time"
    if isinstance(v, GoDuration):
        return "time.Duration"
    if isinstance(v, GoStruct):
        return v.type_name
    if isinstance(v, GoMap):
        return v.go_type
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    if v is None:
        return "<nil>"
    return type(v).__name__


# --------------------------------------------------------------------------------------------
# fmt: Sprint, Sprintln, Sprintf
# --------------------------------------------------------------------------------------------


class _Spec:
    """One parsed ``%`` directive: flags, width, precision and verb."""

    __slots__ = ("minus", "plus", "plus_v", "prec", "sharp", "space", "verb", "width", "zero")

    def __init__(self) -> None:
        self.minus = False
        self.plus = False
        self.plus_v = False
        self.sharp = False
        self.space = False
        self.zero = False
        self.width = -1
        self.prec = -1
        self.verb = "v"


_PLAIN = _Spec()


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    w = spec.width
    if w < 0 or len(s) >= w:
        return s
    n = w - len(s)
    if spec.minus:
        return s + " " * n
    if spec.zero:
        if numeric and s[:1] in "+- ":
            return s[0] + "0" * n + s[1:]
        return "0" * n + s
    return " " * n + s


def _bad_verb(v: Any, verb: str) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(v)}={_format(v, _PLAIN, 'v', 0)})"


def _fmt_integer(n: int, spec: _Spec, verb: str) -> str:
    neg = n < 0
    a = -n if neg else n
    if verb in "dv":
        body = str(a)
    elif verb == "b":
        body = format(a, "b")
    elif verb == "o":
        body = format(a, "o")
        if spec.sharp and body != "0":
            body = "0" + body
    elif verb == "O":
        body = "0o" + format(a, "o")
    elif verb == "x":
        body = format(a, "x")
        if spec.sharp:
            body = "0x" + body
    elif verb == "X":
        body = format(a, "X")
        if spec.sharp:
            body = "0X" + body
    elif verb == "c":
        return _pad(_rune(n), spec)
    elif verb == "q":
        return _pad(go_quote(_rune(n), "'"), spec)
    elif verb == "U":
        body = f"U+{a:04X}"
        if spec.sharp and 0 <= n <= 0x10FFFF and _is_printable(chr(n)):
            body += f" '{chr(n)}'"
        return _pad(("-" if neg else "") + body, spec)
    else:
        return _bad_verb(n, verb)
    if spec.prec >= 0:
        # Precision is the minimum number of digits; zero padding is then off.
        digits_start = 2 if body[:2] in ("0x", "0X", "0o") else 0
        prefix, digits = body[:digits_start], body[digits_start:]
        if spec.prec == 0 and a == 0:
            digits = ""
        digits = digits.rjust(spec.prec, "0")
        body = prefix + digits
    sign = "-" if neg else ("+" if spec.plus else (" " if spec.space else ""))
    s = sign + body
    if spec.zero and not spec.minus and spec.prec < 0 and spec.width > len(s):
        return sign + body.rjust(spec.width - len(sign), "0")
    return _pad(s, spec)


def _rune(n: int) -> str:
    if 0 <= n <= 0x10FFFF and not (0xD800 <= n <= 0xDFFF):
        return chr(n)
    return "\ufffd"


def _fmt_float(f: float, spec: _Spec, verb: str) -> str:
    if verb in "vgG":
        s = format_float(f, "G" if verb == "G" else "g", spec.prec)
        if spec.sharp and "." not in s and "e" not in s.lower() and _nonfinite(f) is None:
            s += "."
    elif verb in "eEfF":
        s = format_float(f, verb, 6 if spec.prec < 0 else spec.prec)
    elif verb in "xX":
        s = _hex_float(f, verb == "X")
    else:
        return _bad_verb(f, verb)
    if spec.plus and not s.startswith(("-", "+")):
        s = "+" + s
    elif spec.space and not s.startswith(("-", "+")):
        s = " " + s
    if _nonfinite(f) is not None:
        # Infinities and NaN are padded with spaces, never zeros.
        zero, spec.zero = spec.zero, False
        try:
            return _pad(s, spec)
        finally:
            spec.zero = zero
    return _pad(s, spec, numeric=True)


def _fmt_string(s: str, spec: _Spec, verb: str) -> str:
    if spec.prec >= 0 and verb in "vsq":
        s = s[: spec.prec]
    if verb in "vs":
        return _pad(s, spec)
    if verb == "q":
        if spec.sharp and "`" not in s and all(_is_printable(c) or c == "\t" for c in s):
            return _pad("`" + s + "`", spec)
        return _pad(go_quote(s, '"', ascii_only=spec.plus), spec)
    if verb in "xX":
        data = s.encode("utf-8")
        if spec.prec >= 0:
            data = data[: spec.prec]
        fmt = "%02x" if verb == "x" else "%02X"
        sep = " " if spec.space else ""
        parts = []
        for b in data:
            h = fmt % b
            if spec.sharp:
                h = ("0x" if verb == "x" else "0X") + h
            parts.append(h)
        if spec.sharp and not spec.space and parts:
            # Go's %#x of a string prefixes the whole string once.
            return _pad(("0x" if verb == "x" else "0X") + "".join(p[2:] for p in parts), spec)
        return _pad(sep.join(parts), spec)
    return _bad_verb(s, verb)


def _format(v: Any, spec: _Spec, verb: str, depth: int) -> str:
    """Format one operand ``v`` with ``verb`` (Go's ``printArg``/``printValue``)."""
    if v is None:
        # A nil operand prints as <nil> for %v; inside a map or slice for every verb.
        if verb in "vT" or depth > 0:
            return _pad("<nil>", spec)
        return _bad_verb(v, verb)
    if verb == "T":
        return _pad(go_type_name(v), spec)
    if verb == "v" and spec.sharp:
        return _pad(go_syntax(v), spec)
    if isinstance(v, bool):
        if verb in "vt":
            return _pad("true" if v else "false", spec)
        return _bad_verb(v, verb)
    if isinstance(v, int):
        return _fmt_integer(v, spec, verb)
    if isinstance(v, float):
        return _fmt_float(v, spec, verb)
    if isinstance(v, str):
        return _fmt_string(v, spec, verb)
    if isinstance(v, GoDuration):
        # time.Duration is an int64 with a String method: %v/%s use String, %d the nanoseconds.
        if verb in "vsq":
            return _fmt_string(str(v), spec, verb)
        return _fmt_integer(v.ns, spec, verb)
    if isinstance(v, GoTime):
        if verb in "vsq":
            return _fmt_string(str(v), spec, verb)
        return _bad_verb(v, verb)
    if isinstance(v, GoStruct):
        if spec.plus_v:
            # %+v names the fields.
            return "{" + " ".join(f"{k}:{_format(x, spec, verb, depth + 1)}" for k, x in v.items()) + "}"
        return "{" + " ".join(_format(x, spec, verb, depth + 1) for x in v.values()) + "}"
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return (
            "map["
            + " ".join(
                f"{_format(k, spec, verb, depth + 1)}:{_format(x, spec, verb, depth + 1)}" for k, x in items
            )
            + "]"
        )
    if isinstance(v, list | tuple):
        return "[" + " ".join(_format(x, spec, verb, depth + 1) for x in v) + "]"
    if verb in "vs":
        return _pad(str(v), spec)
    return _bad_verb(v, verb)


def go_syntax(v: Any) -> str:
    """Go's ``%#v``: the value as Go source text."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, GoDuration):
        return str(v.ns)
    if isinstance(v, GoTime):
        t, frac = _split_ns(v.ns)
        return (
            f"time.Date({t.year}, time.{_MONTHS[t.month - 1]}, {t.day}, {t.hour}, {t.minute}, "
            f"{t.second}, {frac}, time.UTC)"
        )
    if isinstance(v, GoStruct):
        return v.type_name + "{" + ", ".join(f"{k}:{go_syntax(x)}" for k, x in v.items()) + "}"
    if isinstance(v, dict):
        if getattr(v, "is_nil", False):
            return go_type_name(v) + "(nil)"
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return go_type_name(v) + "{" + ", ".join(f"{go_syntax(k)}:{go_syntax(x)}" for k, x in items) + "}"
    if isinstance(v, list | tuple):
        return go_type_name(v) + "{" + ", ".join(go_syntax(x) for x in v) + "}"
    return str(v)


def _sort_key(k: Any) -> tuple[int, Any]:
    # fmt sorts map keys: numbers numerically, strings lexically (UTF-8 byte order equals
    # code point order), nil first.
    if k is None:
        return (0, 0)
    if isinstance(k, bool):
        return (1, k)
    if isinstance(k, int | float):
        return (2, k)
    return (3, str(k))


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(_format(a, _PLAIN, "v", 0))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    """``fmt.Sprintln``: operands separated by spaces, then a newline."""
    return " ".join(_format(a, _PLAIN, "v", 0) for a in args) + "\n"


def _parse_num(fmt: str, i: int) -> tuple[int, int]:
    j = i
    while j < len(fmt) and fmt[j].isdigit():
        j += 1
    if j == i:
        return -1, i
    return int(fmt[i:j]), j


def sprintf(fmt: str, args: Sequence[Any]) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags, ``*`` widths and error forms."""
    out: list[str] = []
    argn = 0
    n = len(fmt)
    i = 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        # Flags.
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
                spec.zero = False
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            elif not spec.minus:
                spec.zero = True
            i += 1
        # Width.
        bad_width = False
        if i < n and fmt[i] == "*":
            i += 1
            if argn < len(args) and isinstance(args[argn], int) and not isinstance(args[argn], bool):
                spec.width = args[argn]
                if spec.width < 0:
                    spec.minus = True
                    spec.zero = False
                    spec.width = -spec.width
            else:
                bad_width = True
            argn += 1
        else:
            spec.width, i = _parse_num(fmt, i)
        # Precision.
        bad_prec = False
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argn < len(args) and isinstance(args[argn], int) and not isinstance(args[argn], bool):
                    spec.prec = args[argn]
                    if spec.prec < 0:
                        spec.prec = -1
                        bad_prec = True
                else:
                    bad_prec = True
                argn += 1
            else:
                p, i = _parse_num(fmt, i)
                spec.prec = max(p, 0)
        if bad_width:
            out.append("%!(BADWIDTH)")
        if bad_prec:
            out.append("%!(BADPREC)")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argn >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argn]
        argn += 1
        if verb == "w":
            verb = "v"
        if verb == "v" and spec.plus:
            # %+v is not a sign flag: it asks structs to name their fields.
            spec.plus = False
            spec.plus_v = True
        out.append(_format(arg, spec, verb, 0))
    if argn < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={_format(a, _PLAIN, 'v', 0)}" for a in args[argn:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# encoding/json
# --------------------------------------------------------------------------------------------

# \b and \f as short escapes: encoding/json does so since Go 1.22 (older Go wrote \u0008, \u000c),
# and Kapacitor's current releases build with a newer Go (its go.mod says go 1.25).
_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_JSON_HTML_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


_JSON_NEEDS_ESC = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_JSON_NEEDS_ESC_NO_HTML = re.compile('[\x00-\x1f"\\\\\u2028\u2029\ud800-\udfff]')


def _json_escape_char(m: re.Match[str]) -> str:
    c = m.group()
    r = _JSON_ESC.get(c) or _JSON_HTML_ESC.get(c)
    if r is not None:
        return r
    o = ord(c)
    if 0xD800 <= o <= 0xDFFF:
        return "\\ufffd"  # invalid UTF-8 is replaced, as Go does
    return f"\\u{o:04x}"


#: the escapes ``str.replace`` makes at C speed (the backslash first: the others add one); an
#: alert's default details (HTML, dozens of ``<``/``>``) cost a Python call per character through
#: ``re.sub`` (~30-40 us of each event's JSON)
_JSON_REPLACE = (("\\", "\\\\"), *((c, r) for c, r in _JSON_ESC.items() if c != "\\"))
_JSON_REPLACE_HTML = (*_JSON_REPLACE, *_JSON_HTML_ESC.items())
#: what only :func:`_json_escape_char` escapes (other control characters, U+2028/9, surrogates)
_JSON_RARE = re.compile("[\x00-\x07\x0b\x0e-\x1f\u2028\u2029\ud800-\udfff]")


def json_string(s: str, escape_html: bool = True) -> str:
    """A string as ``encoding/json`` writes it (HTML-safe by default, like ``json.Encoder``)."""
    pattern = _JSON_NEEDS_ESC if escape_html else _JSON_NEEDS_ESC_NO_HTML
    if pattern.search(s) is None:
        return '"' + s + '"'
    if _JSON_RARE.search(s) is not None:
        return '"' + pattern.sub(_json_escape_char, s) + '"'
    for c, r in _JSON_REPLACE_HTML if escape_html else _JSON_REPLACE:
        s = s.replace(c, r)
    return '"' + s + '"'


def json_encode(v: Any, escape_html: bool = True) -> str:
    """``json.Marshal`` of a Go value (maps with sorted keys, structs in field order).

    Raises ``ValueError`` for NaN and infinities, as Go's encoder fails on them.
    """
    parts: list[str] = []
    _json_into(v, parts, escape_html)
    return "".join(parts)


def _json_into(v: Any, out: list[str], esc: bool) -> None:
    t = type(v)
    if t is str:
        out.append(json_string(v, esc))
    elif t is float:
        out.append(json_float(v))
    elif t is int:
        out.append(str(v))
    elif v is None:
        out.append("null")
    elif t is bool:
        out.append("true" if v else "false")
    elif t is GoRawJSON:
        out.append(str.__str__(v))
    elif t is GoStruct:
        if v.json is not None:
            out.append(v.json)
        else:
            _object_into(list(v.items()), out, esc, "", "", _json_into)
    elif isinstance(v, GoTime):
        out.append('"' + v.rfc3339nano() + '"')
    elif isinstance(v, GoDuration):
        out.append(str(v.ns))
    elif isinstance(v, dict):
        if getattr(v, "is_nil", False):
            out.append("null")
            return
        keys = sorted(v, key=lambda k: str(k).encode("utf-8"))
        _object_into([(k, v[k]) for k in keys], out, esc, "", "", _json_into)
    elif isinstance(v, list | tuple):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _json_into(x, out, esc)
        out.append("]")
    elif isinstance(v, str):
        out.append(json_string(str.__str__(v), esc))
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(json_float(float(v)))
    else:
        raise ValueError(f"json: unsupported type: {go_type_name(v)}")


def go_map(v: Any, depth: int = -1) -> Any:
    """A dict ordered as Go encodes a map (sorted keys), nested dicts too down to ``depth``
    levels (-1: all); for :func:`json_marshal`, which keeps dicts in their (struct) order."""
    if not isinstance(v, dict) or depth == 0:
        return v
    return {k: go_map(v[k], depth - 1) for k in sorted(v, key=lambda k: str(k).encode("utf-8"))}


def json_marshal(v: Any, indent: str = "", escape_html: bool = True) -> str:
    """``json.Marshal`` (or ``json.MarshalIndent(v, "", indent)``) of a value whose dicts are
    Go structs: keys stay in the caller's (field) order. A Go map's keys are sorted by Go; a
    caller that encodes a map sorts it first. No trailing newline, as Go's ``Marshal``.

    Raises ``ValueError`` for NaN and infinities, as Go's encoder fails on them.
    """
    parts: list[str] = []
    _marshal_into(v, parts, escape_html, indent, "\n" if indent else "")
    return "".join(parts)


def _object_into(
    items: list[tuple[Any, Any]],
    out: list[str],
    esc: bool,
    indent: str,
    nl: str,
    value_into: Callable[[Any, list[str], bool], None],
) -> None:
    """A JSON object of ``items`` in their order (``nl`` + ``indent`` per member when indented)."""
    if not items:
        out.append("{}")
        return
    inner = nl + indent
    out.append("{")
    for i, (k, x) in enumerate(items):
        if i:
            out.append(",")
        out.append(inner)
        out.append(json_string(str(k), esc))
        out.append(": " if indent else ":")
        value_into(x, out, esc)
    out.append(nl + "}")


def _marshal_into(v: Any, out: list[str], esc: bool, indent: str, nl: str) -> None:
    t = type(v)
    if t is GoStruct and v.json is not None:
        _marshal_into(json.loads(v.json), out, esc, indent, nl)  # its encoding, indented as asked
    elif t is dict or t is GoStruct or (isinstance(v, dict) and not getattr(v, "is_nil", False)):
        _object_into(
            list(v.items()), out, esc, indent, nl, lambda x, o, e: _marshal_into(x, o, e, indent, nl + indent)
        )
    elif t is list or t is tuple:
        if not v:
            out.append("[]")
            return
        inner = nl + indent
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            out.append(inner)
            _marshal_into(x, out, esc, indent, inner)
        out.append(nl + "]")
    else:
        _json_into(v, out, esc)


# --------------------------------------------------------------------------------------------
# time.Time.Format
# --------------------------------------------------------------------------------------------

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Layout elements of Go's reference time, longest first where one is a prefix of another.
_STD_CHUNKS = (
    "January",
    "Jan",
    "Monday",
    "Mon",
    "MST",
    "2006",
    "002",
    "__2",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "1",
    "2",
    "3",
    "4",
    "5",
    "PM",
    "pm",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
)


def time_format(ns: int, layout: str) -> str:
    """Go's ``time.Time.Format(layout)`` of a UTC time (``2006-01-02T15:04:05Z07:00`` style)."""
    t, frac = _split_ns(ns)
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        c = layout[i]
        # Fractional seconds: .000 (fixed) or .999 (trailing zeros trimmed), also with ','.
        if c in ".," and i + 1 < n and layout[i + 1] in "09":
            d = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == d:
                j += 1
            if not (j < n and layout[j].isdigit()):
                digits = f"{frac:09d}"[: j - i - 1]
                if d == "9":
                    digits = digits.rstrip("0")
                    out.append(c + digits if digits else "")
                else:
                    out.append(c + digits)
                i = j
                continue
        if layout.startswith("_2006", i):
            out.append("_")  # "_2006" is a literal underscore and the year, as in Go
            i += 1
            continue
        for chunk in _STD_CHUNKS:
            if layout.startswith(chunk, i) and _chunk_ok(layout, i, chunk):
                out.append(_std_value(chunk, t))
                i += len(chunk)
                break
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _chunk_ok(layout: str, i: int, chunk: str) -> bool:
    # "Jan"/"Mon" must not be followed by a lower-case letter ("Janet" is literal), as in Go.
    if chunk in ("Jan", "Mon"):
        j = i + len(chunk)
        return not (j < len(layout) and layout[j].islower())
    return True


def _std_value(chunk: str, t: _dt.datetime) -> str:
    if chunk == "January":
        return _MONTHS[t.month - 1]
    if chunk == "Jan":
        return _MONTHS[t.month - 1][:3]
    if chunk == "Monday":
        return _WEEKDAYS[t.weekday()]
    if chunk == "Mon":
        return _WEEKDAYS[t.weekday()][:3]
    if chunk == "MST":
        return "UTC"
    if chunk == "2006":
        return f"{t.year:04d}"
    if chunk == "06":
        return f"{t.year % 100:02d}"
    if chunk == "002":
        return f"{t.timetuple().tm_yday:03d}"
    if chunk == "__2":
        return f"{t.timetuple().tm_yday:>3d}"
    if chunk == "_2":
        return f"{t.day:>2d}"
    if chunk == "01":
        return f"{t.month:02d}"
    if chunk == "1":
        return str(t.month)
    if chunk == "02":
        return f"{t.day:02d}"
    if chunk == "2":
        return str(t.day)
    if chunk == "15":
        return f"{t.hour:02d}"
    h12 = t.hour % 12 or 12
    if chunk == "03":
        return f"{h12:02d}"
    if chunk == "3":
        return str(h12)
    if chunk == "04":
        return f"{t.minute:02d}"
    if chunk == "4":
        return str(t.minute)
    if chunk == "05":
        return f"{t.second:02d}"
    if chunk == "5":
        return str(t.second)
    if chunk == "PM":
        return "PM" if t.hour >= 12 else "AM"
    if chunk == "pm":
        return "pm" if t.hour >= 12 else "am"
    if chunk.startswith("Z"):
        return "Z"  # UTC
    # Numeric zone offsets of UTC.
    return {
        "-07:00:00": "+00:00:00",
        "-070000": "+000000",
        "-07:00": "+00:00",
        "-0700": "+0000",
        "-07": "+00",
    }[chunk]
