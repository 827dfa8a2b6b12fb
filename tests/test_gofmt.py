"""Go value formatting: fmt verbs, strconv floats, time and duration strings, encoding/json."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapfast.gofmt import (
    GoDuration,
    GoInt,
    GoMap,
    GoStringMap,
    GoStruct,
    GoTime,
    duration_string,
    format_float,
    go_quote,
    go_type_name,
    json_encode,
    json_float,
    json_string,
    rfc3339nano,
    sprint,
    sprintf,
    sprintln,
    time_string,
)

S = 1_000_000_000
MIN = 60 * S
H = 60 * MIN


@pytest.mark.parametrize(
    ("ns", "want"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_000, "1µs"),
        (1_500, "1.5µs"),
        (3_277, "3.277µs"),
        (1_000_000, "1ms"),
        (500_000_000, "500ms"),
        (1_234_567, "1.234567ms"),
        (S, "1s"),
        (1_500_000_000, "1.5s"),
        (59 * S, "59s"),
        (MIN, "1m0s"),
        (90 * S, "1m30s"),
        (H, "1h0m0s"),
        (2 * H + 3 * MIN + 4 * S + 5_000_000, "2h3m4.005s"),
        (100 * H, "100h0m0s"),
        (S + 1, "1.000000001s"),
        (-1, "-1ns"),
        (-MIN, "-1m0s"),
        (-1_500_000_000, "-1.5s"),
        (2**63 - 1, "2562047h47m16.854775807s"),
        (-(2**63), "-2562047h47m16.854775808s"),
        (10 * S, "10s"),
        (60 * H, "60h0m0s"),
    ],
)
def test_duration_string(ns: int, want: str) -> None:
    assert duration_string(ns) == want
    assert str(GoDuration(ns)) == want


@pytest.mark.parametrize(
    ("ns", "string", "rfc"),
    [
        (0, "1970-01-01 00:00:00 +0000 UTC", "1970-01-01T00:00:00Z"),
        (1451606400 * S, "2016-01-01 00:00:00 +0000 UTC", "2016-01-01T00:00:00Z"),
        (1451483440 * S, "2015-12-30 13:50:40 +0000 UTC", "2015-12-30T13:50:40Z"),
        (1451483440 * S + 500_000_000, "2015-12-30 13:50:40.5 +0000 UTC", "2015-12-30T13:50:40.5Z"),
        (1451483440 * S + 1, "2015-12-30 13:50:40.000000001 +0000 UTC", "2015-12-30T13:50:40.000000001Z"),
        (1474028808394131373, "2016-09-16 12:26:48.394131373 +0000 UTC", "2016-09-16T12:26:48.394131373Z"),
        (31536000 * S, "1971-01-01 00:00:00 +0000 UTC", "1971-01-01T00:00:00Z"),
        (31536010 * S, "1971-01-01 00:00:10 +0000 UTC", "1971-01-01T00:00:10Z"),
        (-S, "1969-12-31 23:59:59 +0000 UTC", "1969-12-31T23:59:59Z"),
        (-1, "1969-12-31 23:59:59.999999999 +0000 UTC", "1969-12-31T23:59:59.999999999Z"),
        (1455811173368443000, "2016-02-18 15:59:33.368443 +0000 UTC", "2016-02-18T15:59:33.368443Z"),
    ],
)
def test_time_string_and_rfc3339(ns: int, string: str, rfc: str) -> None:
    assert time_string(ns) == string
    assert str(GoTime(ns)) == string
    assert rfc3339nano(ns) == rfc
    assert GoTime(ns).rfc3339nano() == rfc


@pytest.mark.parametrize(
    ("f", "want"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (1.5, "1.5"),
        (10.0, "10"),
        (100000.0, "100000"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (123456789.0, "1.23456789e+08"),
        (1e20, "1e+20"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (8.797988, "8.797988"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (-2.5, "-2.5"),
        (1e100, "1e+100"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_float_v(f: float, want: str) -> None:
    assert format_float(f) == want
    assert sprintf("%v", [f]) == want
    assert sprint(f) == want


@pytest.mark.parametrize(
    ("f", "want"),
    [
        (10.0, "10"),
        (0.5, "0.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-9, "1.5e-9"),
        (1e-10, "1e-10"),
        (123456789.0, "123456789"),
        (-3.25, "-3.25"),
        (0.0, "0"),
        (-0.0, "-0"),
        (99.09, "99.09"),
        (1e-100, "1e-100"),
    ],
)
def test_json_float(f: float, want: str) -> None:
    assert json_float(f) == want


def test_json_float_rejects_nan() -> None:
    with pytest.raises(ValueError):
        json_float(math.nan)
    with pytest.raises(ValueError):
        json_encode({"a": math.inf})


@pytest.mark.parametrize(
    ("fmt", "args", "want"),
    [
        ("%0.3f", [1.23456], "1.235"),
        ("%.3f", [2.0], "2.000"),
        ("%0.3f", [0.0], "0.000"),
        ("%.2f", [2.675], "2.67"),  # the binary value is below 2.675
        ("%.0f", [0.5], "0"),
        ("%.0f", [1.5], "2"),
        ("%f", [3.14159], "3.141590"),
        ("%8.3f", [3.14159], "   3.142"),
        ("%-8.3f|", [3.14159], "3.142   |"),
        ("%08.3f", [-3.14159], "-003.142"),
        ("%+.1f", [2.0], "+2.0"),
        ("% .1f", [2.0], " 2.0"),
        ("%e", [1e6], "1.000000e+06"),
        ("%.2e", [123456.0], "1.23e+05"),
        ("%E", [1e-7], "1.000000E-07"),
        ("%g", [1e6], "1e+06"),
        ("%g", [100000.0], "100000"),
        ("%.3g", [3.14159], "3.14"),
        ("%.3g", [100000.0], "1e+05"),
        ("%G", [1e-7], "1E-07"),
        ("%v", [1.0], "1"),
        ("%5.1f", [math.inf], " +Inf"),
        ("%d", [42], "42"),
        ("%5d", [42], "   42"),
        ("%-5d|", [42], "42   |"),
        ("%05d", [-42], "-0042"),
        ("%+d", [42], "+42"),
        ("%x", [255], "ff"),
        ("%X", [255], "FF"),
        ("%#x", [255], "0xff"),
        ("%o", [8], "10"),
        ("%#o", [8], "010"),
        ("%b", [5], "101"),
        ("%c", [65], "A"),
        ("%q", [65], "'A'"),
        ("%U", [0x1F600], "U+1F600"),
        ("%.3d", [7], "007"),
        ("%s", ["hello"], "hello"),
        ("%10s|", ["hi"], "        hi|"),
        ("%-10s|", ["hi"], "hi        |"),
        ("%.2s", ["hello"], "he"),
        ("%q", ["hi\n"], '"hi\\n"'),
        ("%q", ['a"b'], '"a\\"b"'),
        ("%#q", ["abc"], "`abc`"),
        ("%x", ["hi"], "6869"),
        ("%X", ["hi"], "6869"),
        ("% x", ["hi"], "68 69"),
        ("%t", [True], "true"),
        ("%t", [False], "false"),
        ("%v", [True], "true"),
        ("%v", [None], "<nil>"),
        ("%s", [None], "%!s(<nil>)"),
        ("%d", [None], "%!d(<nil>)"),
        ("%%", [], "%"),
        ("100%%", [], "100%"),
        ("%d", ["x"], "%!d(string=x)"),
        ("%s", [5], "%!s(int64=5)"),
        ("%d", [1.5], "%!d(float64=1.5)"),
        ("%f", [5], "%!f(int64=5)"),
        ("%t", [1], "%!t(int64=1)"),
        ("%d", [], "%!d(MISSING)"),
        ("%d %d", [1], "1 %!d(MISSING)"),
        ("%d", [1, 2], "1%!(EXTRA int64=2)"),
        ("x", ["a"], "x%!(EXTRA string=a)"),
        ("%", [], "%!(NOVERB)"),
        ("%*d", [5, 42], "   42"),
        ("%-*d|", [5, 42], "42   |"),
        ("%.*f", [2, 3.14159], "3.14"),
        ("%v", [{"b": 2, "a": 1}], "map[a:1 b:2]"),
        ("%v", [[1, "a", 2.5]], "[1 a 2.5]"),
        ("%d", [[1, 2]], "[1 2]"),
        ("%s", [["a", "b"]], "[a b]"),
        ("%q", [["a", "b"]], '["a" "b"]'),
        ("%v", [GoDuration(90 * S)], "1m30s"),
        ("%s", [GoDuration(S)], "1s"),
        ("%d", [GoDuration(S)], "1000000000"),
        ("%v", [GoTime(0)], "1970-01-01 00:00:00 +0000 UTC"),
        ("%s", [GoTime(0)], "1970-01-01 00:00:00 +0000 UTC"),
        ("%T", ["x"], "string"),
        ("%T", [1.5], "float64"),
        ("%v|%v", ["a", 3], "a|3"),
        ("%x", [-255], "-ff"),
        ("%6.2f%%", [99.5], " 99.50%"),
        ("%v", [GoStruct("T", {"A": "x", "B": 1})], "{x 1}"),
        ("%+v", [5], "5"),
        ("%#v", ['a"b'], '"a\\"b"'),
        ("%#v", [{"x": 1, "y": [1, "s"]}], 'map[string]interface {}{"x":1, "y":[]interface {}{1, "s"}}'),
        ("%#v", [GoStringMap(a="b")], 'map[string]string{"a":"b"}'),
        ("%#v", [GoStruct("kapacitor.T", {"A": "x", "B": 2})], 'kapacitor.T{A:"x", B:2}'),
        ("%#v", [GoTime(0)], "time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC)"),
        ("%#v", [GoDuration(5)], "5"),
        ("%#v", [None], "<nil>"),
        ("%#v", [1.5], "1.5"),
        ("%#v", [True], "true"),
        ("%#v", [GoMap.nil_map()], "map[string]interface {}(nil)"),
        ("%f", [GoInt(1)], "%!f(int=1)"),
        ("%T", [GoInt(1)], "int"),
        ("%+d", [5], "+5"),
        ("%+v", [GoStruct("T", {"A": "x", "B": GoStruct("U", {"C": 2})})], "{A:x B:{C:2}}"),
    ],
)
def test_sprintf(fmt: str, args: list[Any], want: str) -> None:
    assert sprintf(fmt, args) == want


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ((), ""),
        (("a",), "a"),
        (("a", "b"), "ab"),
        ((1, 2), "1 2"),
        (("a", 1, 2, "b", 3.0, None), "a1 2b3 <nil>"),
        ((1, "a"), "1a"),
        ((True, False), "true false"),
        (({"k": "v"},), "map[k:v]"),
        ((GoMap(value=1.5),), "map[value:1.5]"),
        ((GoStringMap(b="2", a="1"),), "map[a:1 b:2]"),
        (({},), "map[]"),
        (([],), "[]"),
        (({"a": {"b": [1, 2]}},), "map[a:map[b:[1 2]]]"),
        (({"a": None},), "map[a:<nil>]"),
        ((GoStruct("T", {"A": "x", "B": 1, "C": None}),), "{x 1 <nil>}"),
        ((GoTime(0), GoDuration(0)), "1970-01-01 00:00:00 +0000 UTC 0s"),
    ],
)
def test_sprint(args: tuple[Any, ...], want: str) -> None:
    assert sprint(*args) == want


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ((), "\n"),
        (("a", "b"), "a b\n"),
        ((1, "x", 2.5), "1 x 2.5\n"),
    ],
)
def test_sprintln(args: tuple[Any, ...], want: str) -> None:
    assert sprintln(*args) == want


@pytest.mark.parametrize(
    ("s", "want"),
    [
        ("abc", '"abc"'),
        ("a\tb", '"a\\tb"'),
        ("\x00", '"\\x00"'),
        ("\x7f", '"\\x7f"'),
        ("é", '"é"'),
        ("\u2028", '"\\u2028"'),
        ("\\", '"\\\\"'),
        ("\U0001f600", '"\U0001f600"'),
    ],
)
def test_go_quote(s: str, want: str) -> None:
    assert go_quote(s) == want


def test_go_quote_ascii() -> None:
    assert go_quote("é", ascii_only=True) == '"\\u00e9"'
    assert sprintf("%+q", ["é"]) == '"\\u00e9"'


@pytest.mark.parametrize(
    ("s", "want"),
    [
        ("plain", '"plain"'),
        ('q"b\\s', '"q\\"b\\\\s"'),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ("line\nnext\r\t", '"line\\nnext\\r\\t"'),
        ("\x01", '"\\u0001"'),
        ("\x1f", '"\\u001f"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("é€", '"é€"'),
        ("&#34;", '"\\u0026#34;"'),
        ("\x08\x0c", '"\\b\\f"'),
    ],
)
def test_json_string(s: str, want: str) -> None:
    assert json_string(s) == want


def test_json_string_without_html_escaping() -> None:
    assert json_string("<&>", escape_html=False) == '"<&>"'


def _go_json_string(s: str, escape_html: bool) -> str:
    """encoding/json's string escaping written out one character at a time."""
    out = []
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\n\r\t\b\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[c])
        elif o < 0x20 or (escape_html and c in "<>&") or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


@given(
    st.text(alphabet=st.sampled_from(list('ab <>&"\\\n\r\t\b\f\x00\x1f\x0b\u2028\u2029\ud800é€'))),
    st.booleans(),
)
def test_json_string_escapes_every_character_as_go_does(s: str, escape_html: bool) -> None:
    assert json_string(s, escape_html=escape_html) == _go_json_string(s, escape_html)


@pytest.mark.parametrize(
    ("v", "want"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (10.0, "10"),
        ("s", '"s"'),
        ([], "[]"),
        ([1, "a", None], '[1,"a",null]'),
        ({}, "{}"),
        ({"b": 1, "a": 2}, '{"a":2,"b":1}'),
        (GoStruct("T", {"b": 1, "a": 2}), '{"b":1,"a":2}'),
        (GoTime(1451483440 * S + 500_000_000), '"2015-12-30T13:50:40.5Z"'),
        (GoDuration(5 * S), "5000000000"),
        ({"Z": {"y": [1.5, 2]}}, '{"Z":{"y":[1.5,2]}}'),
        ({"B": 1, "a": 2, "_": 3}, '{"B":1,"_":3,"a":2}'),
    ],
)
def test_json_encode(v: Any, want: str) -> None:
    assert json_encode(v) == want


@pytest.mark.parametrize(
    ("v", "want"),
    [
        ("x", "string"),
        (1, "int64"),
        (1.0, "float64"),
        (True, "bool"),
        (GoTime(0), "time.Time"),
        (GoDuration(0), "time.Duration"),
        ({}, "map[string]interface {}"),
        (GoStringMap(), "map[string]string"),
        ([], "[]interface {}"),
        (GoStruct("kapacitor.idInfo", {}), "kapacitor.idInfo"),
    ],
)
def test_go_type_name(v: Any, want: str) -> None:
    assert go_type_name(v) == want


def test_wrapper_equality() -> None:
    assert GoTime(5) == GoTime(5)
    assert GoTime(5) != GoTime(6)
    assert GoDuration(5) == GoDuration(5)
    assert hash(GoDuration(5)) == hash(GoDuration(5))
    assert repr(GoTime(5)) == "GoTime(5)"
    assert repr(GoDuration(5)) == "GoDuration(5)"
