"""Arbitrary template text never crashes the engine: it parses and renders or raises TemplateError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kapfast.gofmt import GoDuration, GoMap, GoStringMap, GoTime
from kapfast.gotemplate import Template, TemplateError

PIECES = st.sampled_from(
    [
        "{{",
        "}}",
        "{{-",
        " -}}",
        "{{ ",
        " }}",
        ".Name",
        ".Tags.host",
        ".Fields",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        '"s"',
        "`r`",
        "'c'",
        "1",
        "-2.5",
        "0x1F",
        "index",
        "printf",
        '"%d"',
        "len",
        "eq",
        "lt",
        "and",
        "or",
        "not",
        "html",
        "js",
        "urlquery",
        "print",
        "slice",
        "nil",
        "true",
        " ",
        "\n",
        '<a href="',
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "text",
        "/*",
        "*/",
        ",",
        ".",
        "<",
        ">",
        "'",
        '"',
    ]
)
DATA = {
    "Name": "cpu",
    "Tags": GoStringMap(host="a"),
    "Fields": GoMap(value=1.5, n=2),
    "Time": GoTime(0),
    "Duration": GoDuration(1),
    "List": [1, 2],
}


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=14), st.booleans())
def test_no_crash(pieces: list[str], html: bool) -> None:
    text = "".join(pieces)
    try:
        t = Template.parse(text, name="f", html=html)
    except TemplateError:
        return
    try:
        out = t.render(DATA)
    except TemplateError:
        return
    assert isinstance(out, str)
