"""The semantic pass: vars, folding, lambdas, node ids and DOT, the pipeline description."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapfast.errors import EvalError, TickScriptError
from kapfast.gofmt import duration_string
from kapfast.tick import Pipeline, compile_script, compile_template, lambda_ast
from kapfast.tick.pipeline import Duration, Lambda, NodeRef, Star, TimeDimension
from kapfast.tick.registry import ALERT_HANDLERS, NODES, describe

EXAMPLES = Path(__file__).parent / "examples"

GOLDEN_EXECUTING_DOT = (
    "digraph dutianze-t {\n"
    'graph [throughput="0.00 points/s"];\n'
    "\n"
    'stream0 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'stream0 -> from1 [processed="0"];\n'
    "\n"
    'from1 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'from1 -> eval2 [processed="0"];\n'
    "\n"
    'eval2 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'eval2 -> shift3 [processed="0"];\n'
    'eval2 -> join5 [processed="0"];\n'
    "\n"
    'shift3 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'shift3 -> join5 [processed="0"];\n'
    "\n"
    'join5 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'join5 -> eval6 [processed="0"];\n'
    "\n"
    'eval6 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'eval6 -> alert7 [processed="0"];\n'
    "\n"
    'alert7 [alerts_inhibited="0" alerts_triggered="0" avg_exec_time_ns="0s" crits_triggered="0" '
    'errors="0" infos_triggered="0" oks_triggered="0" warns_triggered="0" working_cardinality="0" ];\n'
    'alert7 -> http_out10 [processed="0"];\n'
    'alert7 -> eval8 [processed="0"];\n'
    "\n"
    'http_out10 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    "\n"
    'eval8 [avg_exec_time_ns="0s" errors="0" working_cardinality="0" ];\n'
    'eval8 -> influxdb_out9 [processed="0"];\n'
    "\n"
    'influxdb_out9 [avg_exec_time_ns="0s" errors="0" points_written="0" working_cardinality="0" '
    'write_errors="0" ];\n'
    "}"
)


def test_dot_matches_kapacitor_show_of_an_executing_task() -> None:
    # Golden text: `kapacitor show` of this script on Kapacitor 1.5 (node ids skip 4: join uses
    # one id per parent it is linked to).
    p = compile_script((EXAMPLES / "chronograf_relative_alert.tick").read_text())
    assert p.to_dot("dutianze-t", {}) == GOLDEN_EXECUTING_DOT


def test_dot_plain_and_with_stats() -> None:
    p = compile_script("stream|from().measurement('cpu')|alert().crit(lambda: TRUE)")
    assert p.to_dot("t") == "digraph t {\nstream0 -> from1;\nfrom1 -> alert2;\n}"
    dot = p.to_dot(
        "t",
        {
            "throughput": 12.345,
            "nodes": {"alert2": {"alerts_triggered": 3, "avg_exec_time_ns": "3.277µs"}},
            "edges": {"from1->alert2": 7},
        },
    )
    assert 'graph [throughput="12.35 points/s"];' in dot
    assert 'alerts_triggered="3"' in dot and 'avg_exec_time_ns="3.277µs"' in dot
    assert 'from1 -> alert2 [processed="7"];' in dot


def test_batch_source_is_left_out_of_dot() -> None:
    p = compile_script("batch|query('SELECT 1 FROM x').every(1m).period(1m)|log()")
    assert p.task_type == "batch"
    assert p.to_dot("b") == "digraph b {\nquery1 -> log2;\n}"
    assert 'batches/s"' in p.to_dot("b", {})


def test_union_parents_and_ids() -> None:
    p = compile_script(
        "var a = stream|from()\nvar b = stream|from()\nvar c = stream|from()\na|union(b, c).rename('x')"
    )
    union = p.node("union6")
    assert [p.node(i).name for i in union.parents] == ["from2", "from3", "from1"]
    assert union.properties == {"rename": "x"}


def test_var_folding_and_lambda_inlining() -> None:
    p = compile_script(
        "var name = 'cpu'\n"
        "var idVar = name + ':{{.Group}}'\n"
        "var t = 2 * 40\n"
        "var d = 1m + 30s\n"
        'var f = lambda: "usage" > t\n'
        "var neg = -5\n"
        "stream|from().measurement(name)|window().period(d).every(d)"
        '|alert().id(idVar).crit(lambda: f AND "x" != neg)'
    )
    alert = p.node("alert3")
    assert alert.properties["id"] == "cpu:{{.Group}}"
    crit = alert.properties["crit"]
    assert isinstance(crit, Lambda)
    assert crit.ast == (
        "binary",
        "AND",
        ("binary", ">", ("ref", "usage"), ("int", 80)),
        ("binary", "!=", ("ref", "x"), ("int", -5)),
    )
    assert p.node("window2").properties["period"] == Duration(90_000_000_000)
    assert p.vars["t"] == {"type": "int", "value": 80, "description": ""}


def test_list_spreading_and_star() -> None:
    p = compile_script("var g = ['host', 'cpu']\nstream|from().groupBy(g)|groupBy(*)")
    assert p.node("from1").properties["groupBy"] == ["host", "cpu"]
    assert p.node("groupby2").args == [Star()]


def test_query_group_by_time_and_fill() -> None:
    p = compile_script("batch|query('SELECT mean(v) FROM m').groupBy(time(1m, 10s), *).fill(0.0)")
    q = p.node("query1")
    assert q.properties["groupBy"] == [TimeDimension(60_000_000_000, 10_000_000_000), Star()]
    assert q.properties["fill"] == 0.0


def test_alert_handlers_and_properties() -> None:
    p = compile_script(
        "stream|from()|alert()"
        '.crit(lambda: "v" > 1.0)'
        ".post('http://a').header('k', 'v').header('k2', 'v2').captureResponse()"
        ".log('/tmp/x.log').mode(0644)"
        ".stateChangesOnly(5m).stateChangesOnly()"
        ".flapping(0.25, 0.5).inhibit('cat', 'host', 'dc')"
        "|httpOut('out')"
    )
    alert = p.node("alert2")
    post, log = alert.handlers
    assert (post.kind, post.args) == ("post", ["http://a"])
    assert post.properties == {"header": [["k", "v"], ["k2", "v2"]], "captureResponse": True}
    assert (log.kind, log.args, log.properties) == ("log", ["/tmp/x.log"], {"mode": 0o644})
    assert alert.properties["stateChangesOnly"] is True
    assert alert.properties["flapping"] == [0.25, 0.5]
    assert alert.properties["inhibit"] == [["cat", "host", "dc"]]
    assert alert.prop("history") == 21
    assert alert.prop("message") == "{{ .ID }} is {{ .Level }}"
    assert p.node("http_out3").args == ["out"]


def test_handler_context_ends_at_an_alert_property() -> None:
    with pytest.raises(TickScriptError, match='no method or property "header"'):
        compile_script("stream|from()|alert().post('http://a').crit(lambda: TRUE).header('k', 'v')")


def test_deadman_expands_like_kapacitor() -> None:
    p = compile_script("stream|from().measurement('cpu')|deadman(10.0, 1m)")
    assert [n.name for n in p.nodes] == ["stream0", "from1", "noop3", "stats2", "derivative4", "alert5"]
    stats = p.node("stats2")
    assert stats.stats_of == 1 and stats.args == [Duration(60_000_000_000, "1m")] and stats.parents == []
    deriv = p.node("derivative4")
    assert deriv.args == ["emitted"] and deriv.properties["nonNegative"] is True
    alert = p.node("alert5")
    assert alert.properties["id"] == "{{ .Group }}:from1"
    assert alert.properties["message"].endswith("points/1m0s.")
    assert alert.properties["crit"].ast == ("binary", "<=", ("ref", "emitted"), ("float", 10.0))


def test_template_vars_override_and_type_checks() -> None:
    script = 'var x = 1.0\nvar m string\nvar r = /a/\nstream|from().measurement(m)|where(lambda: "v" > x)'
    p = compile_script(
        script,
        vars={"x": {"type": "float", "value": 5}, "m": {"type": "string", "value": "mem"}},
    )
    assert p.node("from1").properties["measurement"] == "mem"
    assert p.node("where2").args[0].ast == ("binary", ">", ("ref", "v"), ("float", 5.0))
    assert p.vars["m"]["type"] == "string" and p.vars["r"]["value"] == "a"
    with pytest.raises(TickScriptError, match="invalid type supplied for x, got int exp float"):
        compile_script(script, vars={"x": {"type": "int", "value": 5}, "m": {"type": "string", "value": "a"}})
    with pytest.raises(TickScriptError, match=r'missing value for var "m"\.'):
        compile_script(script)
    with pytest.raises(TickScriptError, match='var "x" of type float: expected a number'):
        compile_script(script, vars={"x": {"type": "float", "value": "no"}})


@pytest.mark.parametrize(
    ("typ", "value", "use", "where", "expected"),
    [
        ("duration", "90s", "|window().period(v)", ("window2", "period"), Duration(90_000_000_000, "90s")),
        ("duration", 1000, "|window().period(v)", ("window2", "period"), Duration(1000)),
        ("list", ["a", {"type": "string", "value": "b"}], ".groupBy(v)", ("from1", "groupBy"), ["a", "b"]),
        ("star", None, ".groupBy(v)", ("from1", "groupBy"), [Star()]),
        ("string", "cpu", ".measurement(v)", ("from1", "measurement"), "cpu"),
        ("int", 3, "|stateCount(lambda: TRUE).as('x')|sample(v)", ("sample3", None), [3]),
        (
            "regex",
            "^a$",
            '|where(lambda: "h" =~ v)',
            ("where2", None),
            ("binary", "=~", ("ref", "h"), ("regex", "^a$")),
        ),
        ("bool", True, "|where(lambda: v)", ("where2", None), ("bool", True)),
    ],
)
def test_var_types(
    typ: str, value: object, use: str, where: tuple[str, str | None], expected: object
) -> None:
    p = compile_script(f"var v {typ}\nstream|from(){use}", vars={"v": {"type": typ, "value": value}})
    assert p.vars["v"]["type"] == typ
    node = p.node(where[0])
    if where[1] is not None:
        assert node.properties[where[1]] == expected
    elif isinstance(node.args[0], Lambda):
        assert node.args[0].ast == expected
    else:
        assert node.args == expected


def test_lambda_var_from_text() -> None:
    script = "var crit lambda\nstream|from()|alert().crit(crit)"
    p = compile_script(script, vars={"crit": {"type": "lambda", "value": '"v" > 3 AND "h" =~ /x/'}})
    assert p.node("alert2").properties["crit"].ast[0] == "binary"
    with pytest.raises(TickScriptError, match='var "crit": invalid lambda'):
        compile_script(script, vars={"crit": {"type": "lambda", "value": '"v" >'}})


def test_unknown_task_type_argument() -> None:
    with pytest.raises(TickScriptError, match="invalid task type"):
        compile_script("stream|from()", task_type="streams")


def test_task_type_from_argument_when_the_script_has_no_source() -> None:
    assert compile_script("var x = 1", task_type="batch").task_type == "batch"


def test_pipeline_json_round_trip_keeps_types() -> None:
    p = compile_script(
        'dbrp "db"."rp"\ndbrp "db"."rp2"\n'
        "var a = stream|from().measurement('a').where(lambda: \"h\" =~ /w.*/)\n"
        "var b = stream|from().measurement('b')\n"
        "a|join(b).as('a', 'b').tolerance(1s).fill(1.0)|eval(lambda: 1.0 * \"a.v\").as('x')"
    )
    assert p.dbrps == [("db", "rp"), ("db", "rp2")]
    back = Pipeline.from_json(p.to_json())
    assert back == p
    join = back.node("join4")
    assert join.properties["fill"] == 1.0 and isinstance(join.properties["fill"], float)
    assert [NodeRef(i) for i in join.parents] == [NodeRef(1), NodeRef(2)]


def test_lambda_ast_contract() -> None:
    tree = lambda_ast.binary("AND", lambda_ast.ref("a"), lambda_ast.call("isPresent", [lambda_ast.ref("b")]))
    assert lambda_ast.from_json(lambda_ast.to_json(tree)) == tree
    assert lambda_ast.validate(["int", 3]) == ("int", 3)
    for bad in (("nope", 1), ("int", 1.5), ("binary", "^", ("int", 1), ("int", 2)), ("unary", "-"), []):
        with pytest.raises(EvalError):
            lambda_ast.validate(bad)
    assert lambda_ast.LAMBDA_AST_VERSION == 1


def test_registry_covers_the_inventory() -> None:
    for kind in (
        "from",
        "query",
        "window",
        "alert",
        "eval",
        "join",
        "union",
        "influxDBOut",
        "httpOut",
        "derivative",
        "stateDuration",
        "sideload",
        "k8sAutoscale",
        "combine",
        "flatten",
        "mean",
        "percentile",
        "top",
        "holtWinters",
        "stats",
        "noop",
        "barrier",
        "trickle",
    ):
        assert kind in NODES
    for handler in ("log", "post", "tcp", "exec", "email", "slack", "pagerDuty2", "pushover", "zenoss"):
        assert handler in ALERT_HANDLERS
    data = describe()
    assert data["window"]["wants"] == "stream" and data["window"]["provides"] == "batch"
    assert data["alert"]["handlers"]["log"]["defaults"] == {"mode": 0o600}


def test_template_compiles_without_values_and_lists_its_vars() -> None:
    text = (EXAMPLES / "docs_template_vars.tick").read_text()
    with pytest.raises(TickScriptError, match="missing value"):
        compile_script(text)
    p = compile_template(text)
    assert p.task_type == "stream"
    assert p.vars["measurement"] == {
        "type": "string",
        "value": None,
        "description": "Which measurement to consume",
    }
    assert p.vars["window"]["type"] == "duration" and p.vars["window"]["value"] == 300_000_000_000
    assert p.vars["groups"] == {
        "type": "list",
        "value": [{"type": "star", "value": None}],
        "description": "Optional list of group by dimensions",
    }
    with pytest.raises(TickScriptError, match="no method or property"):
        compile_template("var m string\nstream|from().measurment(m)")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (10_000_000_000, "10s"),
        (60_000_000_000, "1m0s"),
        (5_400_000_000_000, "1h30m0s"),
        (1_500_000_000, "1.5s"),
        (1_500_000, "1.5ms"),
        (3_277, "3.277µs"),
        (7, "7ns"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_duration_string(ns: int, text: str) -> None:
    assert duration_string(ns) == text


def test_repeated_from_where_filters_are_anded() -> None:
    p = compile_script(
        """
stream
    |from()
        .where(lambda: "host" == 'a')
        .where(lambda: "cpu" == 'c')
"""
    )
    where = p.node("from1").properties["where"]
    assert where.ast == (
        "binary",
        "AND",
        ("binary", "==", ("ref", "host"), ("string", "a")),
        ("binary", "==", ("ref", "cpu"), ("string", "c")),
    )
    assert where.text == "(\"host\" == 'a') AND (\"cpu\" == 'c')"
