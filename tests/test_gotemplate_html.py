"""Go html/template: contextual escaping of actions, comment stripping and escaping errors."""

from __future__ import annotations

from typing import Any

import pytest

from kapfast.gofmt import GoDuration, GoTime
from kapfast.gotemplate import Template, TemplateError
from kapfast.gotemplate.html import (
    CSS,
    HTML,
    JS,
    URL,
    HTMLAttr,
    JSStr,
    attr_escaper,
    css_escaper,
    css_value_filter,
    html_escaper,
    html_name_filter,
    js_regexp_escaper,
    js_str_escaper,
    js_val_escaper,
    json_compact_func,
    json_func,
    nospace_escaper,
    rcdata_escaper,
    url_escaper,
    url_filter,
    url_normalizer,
)

DATA: dict[str, Any] = {
    "H": "<b>&'\"+</b>",
    "S": "x",
    "Q": "a&b c",
    "U": "http://example.com/a b?x=1&y=<2>",
    "Bad": "javascript:alert(1)",
    "N": 5,
    "F": 1.5,
    "M": {"a": 1, "b": "<x>"},
    "L": ["a", "b"],
    "T": True,
    "Safe": HTML("<i>ok</i>"),
    "SafeJS": JS("f()"),
    "SafeURL": URL("javascript:ok()"),
    "SafeCSS": CSS("color: red"),
    "SafeAttr": HTMLAttr("checked"),
    "SafeJSStr": JSStr("a\\nb"),
    "Color": "red",
    "Time": GoTime(0),
    "Dur": GoDuration(1_500_000_000),
    "Nil": None,
}
FUNCS = {"json": json_func, "jsonCompact": json_compact_func, "safe": HTML}


def render(text: str, data: Any = None) -> str:
    return Template.parse(text, name="details", html=True, funcs=FUNCS).render(DATA if data is None else data)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # text
        ("plain", "plain"),
        ("{{.H}}", "&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;"),
        ("<p>{{.H}}</p>", "<p>&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;</p>"),
        ("{{.N}} {{.F}}", "5 1.5"),
        ("{{.M}}", "map[a:1 b:&lt;x&gt;]"),
        ("{{.L}}", "[a b]"),
        ("{{.Missing}}", ""),
        ("{{.Nil}}", ""),
        ("{{.Time}}", "1970-01-01 00:00:00 &#43;0000 UTC"),
        ("{{.Dur}}", "1.5s"),
        ("{{.Safe}}", "<i>ok</i>"),
        ("{{safe .H}}", "<b>&'\"+</b>"),
        # a pipeline ending in html uses text/template's html instead ('+' stays)
        ("{{.H | html}}", "&lt;b&gt;&amp;&#39;&#34;+&lt;/b&gt;"),
        ('<a title="{{.H | html}}">', '<a title="&lt;b&gt;&amp;&#39;&#34;+&lt;/b&gt;">'),
        ('<a href="/x?q={{.Q | urlquery}}">', '<a href="/x?q=a%26b&#43;c">'),
        ("{{html .S}}", "x"),
        ('{{print "a" "<"}}', "a&lt;"),
        ('{{printf "%d%%" 5}}', "5%"),
        ("1 < 2", "1 &lt; 2"),
        ("a < b <", "a &lt; b &lt;"),
        ("<!DOCTYPE html><p>", "<!DOCTYPE html><p>"),
        ("<!-- comment -->x", "x"),
        ("a<!-- c -->b<!-- d -->c", "abc"),
        ("<!-- {{.S}} -->after", "after"),
        ("<p>{{/* template comment */}}</p>", "<p></p>"),
        # json functions (Kapacitor's details)
        ("{{json .M}}", "{&#34;a&#34;:1,&#34;b&#34;:&#34;\\u003cx\\u003e&#34;}\n"),
        ("{{jsonCompact .M}}", "{&#34;a&#34;:1,&#34;b&#34;:&#34;\\u003cx\\u003e&#34;}"),
        ("{{json .S}}", "&#34;x&#34;\n"),
        ("{{json 1e21}}", "1e&#43;21\n"),
        ("{{json .Time}}", "&#34;1970-01-01T00:00:00Z&#34;\n"),
        ("{{json .Dur}}", "1500000000\n"),
        ("{{json .Nil}}", "null\n"),
        ("<pre>{{ json . }}</pre>", None),
        # RCDATA
        ("<textarea>{{.H}}</textarea>", "<textarea>&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;</textarea>"),
        ("<title>{{.Safe}}</title>", "<title>&lt;i&gt;ok&lt;/i&gt;</title>"),
        ("<TITLE>{{.S}}</TITLE>", "<TITLE>x</TITLE>"),
        # attributes
        ('<a title="{{.H}}">', '<a title="&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;">'),
        ("<a title='{{.H}}'>", "<a title='&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;'>"),
        ("<a title={{.Q}}>", "<a title=a&amp;b&#32;c>"),
        ('<a title="{{.Safe}}">', '<a title="ok">'),
        ('<a title="x{{.S}}y" class="{{.S}}">', '<a title="xxy" class="x">'),
        ("<input {{.SafeAttr}}>", "<input checked>"),
        ("<input {{.S}}>", "<input x>"),
        ("<input {{.H}}>", "<input ZgotmplZ>"),
        ('<input {{"onclick"}}="x">', '<input ZgotmplZ="x">'),
        ('<div data-x="{{.S}}">', '<div data-x="x">'),
        ('<div data-src="{{.Bad}}">', '<div data-src="#ZgotmplZ">'),
        ('<div my-url="{{.Bad}}">', '<div my-url="#ZgotmplZ">'),
        ('<use xlink:href="{{.Bad}}">', '<use xlink:href="#ZgotmplZ">'),
        ('<track srclang="{{.Bad}}">', '<track srclang="javascript:alert(1)">'),
        # URLs
        ('<a href="{{.U}}">', '<a href="http://example.com/a%20b?x=1&amp;y=%3c2%3e">'),
        ('<a href="{{.Bad}}">', '<a href="#ZgotmplZ">'),
        ('<a href="{{.SafeURL}}">', '<a href="javascript:ok%28%29">'),
        ('<a href="/search?q={{.Q}}">', '<a href="/search?q=a%26b%20c">'),
        ('<a href="/p/{{.Q}}">', '<a href="/p/a&amp;b%20c">'),
        ('<a href="/p#{{.Q}}">', '<a href="/p#a%26b%20c">'),
        ("<a href={{.S}}>", "<a href=x>"),
        ('<img src="{{.S}}">', '<img src="x">'),
        ('<form action="{{.Bad}}">', '<form action="#ZgotmplZ">'),
        ('<a href="{{.S}}?q={{.Q}}&r={{.N}}">', '<a href="x?q=a%26b%20c&r=5">'),
        ('<a href="mailto:{{.S}}">', '<a href="mailto:x">'),
        ('<a href="{{"MAILTO:x@y"}}">', '<a href="MAILTO:x@y">'),
        ('<a href="{{"%41%zz"}}">', '<a href="%41%25zz">'),
        # JavaScript
        ("<script>var a = {{.S}};</script>", '<script>var a = "x";</script>'),
        ("<script>var a = {{.N}};</script>", "<script>var a =  5 ;</script>"),
        ("<script>var a = {{.M}};</script>", '<script>var a = {"a":1,"b":"\\u003cx\\u003e"};</script>'),
        ("<script>var a = {{.L}};</script>", '<script>var a = ["a","b"];</script>'),
        ("<script>var a = {{.T}};</script>", "<script>var a =  true ;</script>"),
        ("<script>var a = {{.Nil}};</script>", "<script>var a =  null ;</script>"),
        ("<script>var a = {{.SafeJS}};</script>", "<script>var a = f();</script>"),
        ("<script>var a = {{.SafeJSStr}};</script>", '<script>var a = "a\\nb";</script>'),
        ("<script>var a = {{.Time}};</script>", '<script>var a = "1970-01-01T00:00:00Z";</script>'),
        ("<script>var a = {{.Dur}};</script>", '<script>var a = "1.5s";</script>'),
        (
            '<script>var a = "{{.H}}";</script>',
            '<script>var a = "\\u003cb\\u003e\\u0026\\u0027\\u0022\\u002b\\u003c\\/b\\u003e";</script>',
        ),
        ("<script>var a = '{{.S}}';</script>", "<script>var a = 'x';</script>"),
        ("<script>var a = `{{.S}}`;</script>", "<script>var a = `x`;</script>"),
        ('<script>var r = /{{"a.b"}}/;</script>', "<script>var r = /a\\.b/;</script>"),
        ('<script>var r = /{{""}}/;</script>', "<script>var r = /(?:)/;</script>"),
        ("<script>var x = 4 / {{.N}};</script>", "<script>var x = 4 /  5 ;</script>"),
        ("<script>/* c */ var x = 1; // line\n</script>", "<script>  var x = 1; \n</script>"),
        ("<script>/* a\nb */x</script>", "<script>\nx</script>"),
        ('<a onclick="f({{.S}})">', '<a onclick="f(&#34;x&#34;)">'),
        ("<a onclick='f({{.S}})'>", "<a onclick='f(&#34;x&#34;)'>"),
        ('<a onclick="f(&quot;{{.S}}&quot;)">', '<a onclick="f(&quot;x&quot;)">'),
        (
            '<script type="text/template">{{.H}}</script>',
            '<script type="text/template">&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;</script>',
        ),
        ('<script type="text/javascript">{{.S}}</script>', '<script type="text/javascript">"x"</script>'),
        # CSS
        ("<style>p { color: {{.Color}} }</style>", "<style>p { color: red }</style>"),
        ('<style>p { color: {{"expression(1)"}} }</style>', "<style>p { color: ZgotmplZ }</style>"),
        ("<style>p { color: {{.SafeCSS}} }</style>", "<style>p { color: color: red }</style>"),
        ('<p style="color: {{.Color}}">', '<p style="color: red">'),
        ('<p style="color: {{"a;b"}}">', '<p style="color: ZgotmplZ">'),
        ('<style>p { font-family: "{{"a\'b"}}" }</style>', '<style>p { font-family: "a\\27 b" }</style>'),
        ("<style>p { background: url({{.S}}) }</style>", "<style>p { background: url(x) }</style>"),
        (
            '<style>p { background: url("{{.Bad}}") }</style>',
            '<style>p { background: url("#ZgotmplZ") }</style>',
        ),
        ("<style>/* c */p{}</style>", "<style> p{}</style>"),
        # comments inside attributes are kept (only comments in element content go)
        ('<a title="<!-- x -->">', '<a title="<!-- x -->">'),
        # branches that agree
        ("{{if .T}}<b>{{else}}<i>{{end}}{{.S}}", "<b>x"),
        ('<a href="{{if .T}}/a{{else}}/b{{end}}">', '<a href="/a">'),
        ("{{range .L}}<li>{{.}}</li>{{end}}", "<li>a</li><li>b</li>"),
        ("{{range .L}}{{.}}{{else}}none{{end}}", "ab"),
        ("{{with .S}}<b>{{.}}</b>{{end}}", "<b>x</b>"),
        ('<p {{if .T}}id="a"{{end}}>', '<p id="a">'),
        # templates called in a context are escaped for it
        (
            '{{define "u"}}{{.}}{{end}}<a href="/x?q={{template "u" .Q}}">{{template "u" .H}}</a>',
            '<a href="/x?q=a%26b%20c">&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;</a>',
        ),
        (
            '{{define "p"}}<p>{{.}}</p>{{end}}{{template "p" .H}}{{template "p" .S}}',
            "<p>&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;</p><p>x</p>",
        ),
        ('{{block "b" .S}}<i>{{.}}</i>{{end}}', "<i>x</i>"),
        # declarations print nothing and are not escaped
        ("{{$x := .H}}{{$x}}", "&lt;b&gt;&amp;&#39;&#34;&#43;&lt;/b&gt;"),
    ],
)
def test_contextual_escaping(text: str, want: str | None) -> None:
    out = render(text)
    if want is None:
        assert out.startswith("<pre>{&#34;")
        assert out.endswith("}\n</pre>")
    else:
        assert out == want


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("{{if .T}}<a>{{else}}<b{{end}}", "{{if}} branches end in different contexts"),
        ("{{with .T}}<a{{end}}", "{{with}} branches end in different contexts"),
        ("{{range .L}}<a{{end}}", "range"),
        ("<script>var x", "ends in a non-text context"),
        ('<a href="', "ends in a non-text context"),
        ("<!-- open", "ends in a non-text context"),
        ("a<b", "ends in a non-text context"),
        ('<a href="{{if .T}}/x{{else}}/y?{{end}}{{.Q}}">', "appears in an ambiguous context within a URL"),
        ('{{.H | html | printf "%s"}}', 'predefined escaper "html" disallowed in template'),
        ('{{.H | urlquery | printf "%s"}}', 'predefined escaper "urlquery" disallowed in template'),
        ('<a b"c="d">', "in attribute name"),
        ("<a title=x{{.S}}'>", "in unquoted attr"),
        ("<script>var r = 1 {{if .T}}+{{end}} /x/</script>", "could start a division or regexp"),
        ('<script>"\\', "unfinished escape sequence in JS string"),
        ("<script>/[</script>", "unfinished JS regexp charset"),
    ],
)
def test_escaping_errors(text: str, msg: str) -> None:
    with pytest.raises(TemplateError) as exc:
        Template.parse(text, name="details", html=True, funcs=FUNCS)
    assert msg in str(exc.value)
    assert str(exc.value).startswith("html/template:details:")


def test_escaping_error_location() -> None:
    with pytest.raises(TemplateError) as exc:
        Template.parse("<p>\n{{if .T}}<a>{{else}}<b{{end}}", name="details", html=True)
    assert exc.value.line == 2
    assert str(exc.value).startswith("html/template:details:2:")


def test_text_templates_do_not_escape() -> None:
    t = Template.parse("<b>{{.H}}</b><!-- kept -->", name="message")
    assert t.render(DATA) == "<b><b>&'\"+</b></b><!-- kept -->"


def test_html_template_renders_many_times() -> None:
    t = Template.parse("<p>{{.}}</p>", html=True)
    assert t.render("<") == "<p>&lt;</p>"
    assert t.render("&") == "<p>&amp;</p>"
    assert t.html


@pytest.mark.parametrize(
    ("fn", "args", "want"),
    [
        (html_escaper, ("<>&'\"+\0",), "&lt;&gt;&amp;&#39;&#34;&#43;\ufffd"),
        (html_escaper, (HTML("<b>"),), "<b>"),
        (html_escaper, ("a", 1, None), "a1"),
        (html_escaper, (), ""),
        (rcdata_escaper, (HTML("<b>&amp;"),), "&lt;b&gt;&amp;"),
        (attr_escaper, (HTML("<b>x</b>&amp;"),), "x&amp;"),
        (attr_escaper, ("'",), "&#39;"),
        (nospace_escaper, ("a b=c`",), "a&#32;b&#61;c&#96;"),
        (nospace_escaper, ("\t\n",), "&#9;&#10;"),
        (nospace_escaper, ("\ufdd0",), "&#xfdd0;"),
        (html_name_filter, ("Title",), "title"),
        (html_name_filter, ("",), "ZgotmplZ"),
        (html_name_filter, ("href",), "ZgotmplZ"),
        (html_name_filter, ("style",), "ZgotmplZ"),
        (html_name_filter, ("a-b",), "ZgotmplZ"),
        (html_name_filter, (HTMLAttr('a="b"'),), 'a="b"'),
        (url_filter, ("https://x",), "https://x"),
        (url_filter, ("HTTP://x",), "HTTP://x"),
        (url_filter, ("/relative:colon",), "/relative:colon"),
        (url_filter, ("data:text/html,x",), "#ZgotmplZ"),
        (url_filter, ("vbscript:x",), "#ZgotmplZ"),
        (url_normalizer, ("a b%20(c)'",), "a%20b%20%28c%29%27"),
        (url_normalizer, ("é",), "%c3%a9"),
        (url_normalizer, ("/a?b=c&d#e",), "/a?b=c&d#e"),
        (url_escaper, ("/a?b=c&d#e",), "%2fa%3fb%3dc%26d%23e"),
        (url_escaper, ("-._~",), "-._~"),
        (js_str_escaper, ("a'b\"c\\d/e\n",), "a\\u0027b\\u0022c\\\\d\\/e\\n"),
        (js_str_escaper, ("\u2028\x01",), "\\u2028\\u0001"),
        (js_str_escaper, (JSStr("\\n"),), "\\n"),
        (js_regexp_escaper, ("a.b*c",), "a\\.b\\*c"),
        (js_val_escaper, ("x",), '"x"'),
        (js_val_escaper, (5,), " 5 "),
        (js_val_escaper, (None,), " null "),
        (js_val_escaper, ([1, "a"],), '[1,"a"]'),
        (js_val_escaper, ("\u2028",), '"\\u2028"'),
        (js_val_escaper, ("a", "b"), '"ab"'),
        (js_val_escaper, (float("nan"),), " /* json: unsupported value: NaN */null "),
        (css_escaper, ("a:b",), "a\\3a b"),
        (css_escaper, ("a;x",), "a\\3bx"),
        (css_escaper, ("\\",), "\\\\"),
        (css_escaper, ("(1)",), "\\28 1\\29 "),
        (css_value_filter, ("10px",), "10px"),
        (css_value_filter, ("#fff",), "#fff"),
        (css_value_filter, ("a--b",), "ZgotmplZ"),
        (css_value_filter, ("Expression(x",), "ZgotmplZ"),
        (css_value_filter, ("-moz-binding",), "ZgotmplZ"),
        (css_value_filter, (CSS("a;b"),), "a;b"),
    ],
)
def test_escaper_functions(fn: Any, args: tuple[Any, ...], want: str) -> None:
    assert fn(*args) == want


def test_json_funcs_on_unencodable_values() -> None:
    assert json_func(float("inf")) == ""
    assert json_compact_func({"a": float("nan")}) == ""
    assert isinstance(json_func(1), JS)
