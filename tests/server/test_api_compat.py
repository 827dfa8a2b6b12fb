"""Kapacitor's HTTP API byte for byte where its clients compare bytes: ported from Kapacitor's
server tests (server/server_test.go) and its API's documented bodies (services/httpd, client/v1).

Kapacitor writes JSON as Go's ``httpd.MarshalJSON``: a 4-space indent and no trailing newline,
except httpOut (compact); errors are ``httpd.HttpError``'s ``{"error": ...}``, pretty.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for
from tests.engine.alert.servers import HttpReceiver

from kapfast.gofmt import json_marshal

JSON = "application/json; charset=utf-8"
DBRPS = [{"db": "mydb", "rp": "myrp"}]

# TestServer_StreamTask: its script, its points and the body it expects, byte for byte.
STREAM_TASK = """stream
    |from()
        .measurement('test')
    |window()
        .period(10s)
        .every(10s)
    |count('value')
    |httpOut('count')
"""
STREAM_POINTS = "".join(
    f"test value=1 00000000{s:02d}\n"
    for s in (0, 1, 1, 2, 2, 3, 4, 5, 5, 5, 5, 6, 7, 8, 9, 10, 11)  # 15 points before 10s
)
STREAM_EXP = '{"series":[{"name":"test","columns":["time","count"],"values":[["1970-01-01T00:00:10Z",15]]}]}'


def test_http_out_is_compact_json_as_kapacitor_writes_it(kapfastd: Kapfastd) -> None:
    task = {"id": "testStreamTask", "type": "stream", "dbrps": DBRPS, "script": STREAM_TASK}
    assert kapfastd.api("POST", "/tasks", {**task, "status": "enabled"}).status == 200
    endpoint = "/tasks/testStreamTask/count"
    empty = kapfastd.api("GET", endpoint)
    assert (empty.status, empty.body, empty.headers["Content-Type"]) == (200, b'{"series":null}', JSON)
    assert kapfastd.write(STREAM_POINTS, "db=mydb&rp=myrp&precision=s").status == 204
    body = wait_for(
        lambda: (b := kapfastd.api("GET", endpoint).body) != b'{"series":null}' and b,
        what="the window's count",
    )
    assert body.decode() == STREAM_EXP


def test_bodies_are_go_marshal_indent_without_newline(kapfastd: Kapfastd) -> None:
    script = "stream\n    |from()\n        .measurement('test')\n"
    made = kapfastd.api("POST", "/tasks", {"id": "t", "type": "stream", "dbrps": DBRPS, "script": script})
    assert made.status == 200 and made.headers["Content-Type"] == JSON
    text = made.text
    assert text.startswith(
        '{\n    "link": {\n        "rel": "self",\n        "href": "/kapacitor/v1/tasks/t"\n    },'
    )
    assert not text.endswith("\n")
    assert json.loads(text)["dot"] == "digraph t {\nstream0 -> from1;\n}"
    # Go's encoder escapes <, > and & in strings
    with_html = kapfastd.api("POST", "/tasks", {"id": "h", "dbrps": DBRPS, "script": script + "// a<b&c\n"})
    assert "// a\\u003cb\\u0026c" in with_html.text


def test_errors_are_kapacitor_json_errors(kapfastd: Kapfastd) -> None:
    for method, path in [
        ("GET", "/kapacitor/v1/nope"),
        ("GET", "/kapacitor/v1/logs"),  # the log stream lives only under v1preview
        ("GET", "/elsewhere"),  # Kapacitor's catch-all answers JSON for any path
        # a method Kapacitor has no route for on a known path: its method's catch-all 404
        ("POST", "/kapacitor/v1/tasks/x/y"),
        ("PUT", "/kapacitor/v1/tasks"),
        ("PATCH", "/kapacitor/v1/ping"),
        ("DELETE", "/kapacitor/v1/config"),
    ]:
        ans = kapfastd.request(method, path)
        assert (ans.status, ans.headers["Content-Type"]) == (404, JSON), path
        assert ans.body == b'{\n    "error": "Not Found"\n}'
        assert "Allow" not in ans.headers
    gone = kapfastd.api("GET", "/tasks/nope")
    assert gone.status == 404 and gone.body == b'{\n    "error": "no task exists with id \\"nope\\""\n}'
    bad = kapfastd.api("GET", "/tasks?dot-view=x")
    assert (bad.status, bad.headers["Content-Type"]) == (400, JSON)
    # IDs are quoted with Go's %q, as Kapacitor quotes them
    assert kapfastd.api("GET", "/alerts/topics/t/handlers/h").json() == {"error": 'unknown handler: "h"'}
    assert kapfastd.api("GET", "/alerts/topics/t").json() == {"error": 'unknown topic: "t"'}


def test_template_var_errors_keep_kapacitor_text_and_add_the_position(kapfastd: Kapfastd) -> None:
    tpl = (
        "var w duration\nstream\n    |from()\n        .measurement('m')\n    |window()\n        .period(w)\n"
    )
    assert kapfastd.api("POST", "/templates", {"id": "tpl", "type": "stream", "script": tpl}).status == 200
    task = {"id": "t1", "template-id": "tpl", "dbrps": DBRPS}
    wrong = kapfastd.api("POST", "/tasks", {**task, "vars": {"w": {"type": "string", "value": "x"}}})
    assert wrong.status == 400
    assert wrong.body == (
        b'{\n    "error": "invalid TICKscript: invalid type supplied for w, got string exp duration",'
        b'\n    "line": 1,\n    "column": 5\n}'
    )
    missing = kapfastd.api("POST", "/tasks", task)
    assert missing.json() == {
        "error": 'invalid TICKscript: missing value for var "w".',
        "line": 1,
        "column": 5,
    }


ALERT = """stream
    |from()
        .measurement('cpu')
    |alert()
        .id('cpu')
        .crit(lambda: "value" > 90)
        .log('LOG')
"""


def test_anonymous_topics_close_and_go_with_their_task(kapfastd: Kapfastd) -> None:
    script = ALERT.replace("LOG", str(kapfastd.data_dir / "alerts.log"))
    task = {"id": "a", "type": "stream", "dbrps": DBRPS, "script": script, "status": "enabled"}
    assert kapfastd.api("POST", "/tasks", task).status == 200
    assert kapfastd.write("cpu value=99", "db=mydb&rp=myrp").status == 204
    topic = "/alerts/topics/main:a:alert2"
    wait_for(lambda: kapfastd.api("GET", topic).status == 200, what="the anonymous topic")
    assert kapfastd.api("GET", topic).json()["level"] == "CRITICAL"
    # disabled: the topic disappears; enabled again: it is back with its state
    assert kapfastd.api("PATCH", "/tasks/a", {"status": "disabled"}).status == 200
    assert kapfastd.api("GET", topic).status == 404
    assert kapfastd.api("GET", "/alerts/topics").json()["topics"] == []
    assert kapfastd.api("PATCH", "/tasks/a", {"status": "enabled"}).status == 200
    assert kapfastd.api("GET", topic).json()["level"] == "CRITICAL"
    # deleted: gone for good, saved states included
    assert kapfastd.api("DELETE", "/tasks/a").status == 204
    assert kapfastd.api("GET", topic).json() == {"error": 'unknown topic: "main:a:alert2"'}
    assert kapfastd.api("POST", "/tasks", task).status == 200
    assert kapfastd.api("GET", topic).status == 404


def test_deleted_topic_is_unknown_to_its_events(kapfastd: Kapfastd) -> None:
    log_path = str(kapfastd.data_dir / "alerts.log")
    handler = {"id": "log", "kind": "log", "options": {"path": log_path}}
    assert kapfastd.api("POST", "/alerts/topics/T/handlers", handler).status == 200
    assert kapfastd.api("GET", "/alerts/topics/T/events").status == 200
    assert kapfastd.api("DELETE", "/alerts/topics/T").status == 204
    events = kapfastd.api("GET", "/alerts/topics/T/events")
    assert events.status == 404
    assert events.json() == {"error": 'failed to get topic events: unknown topic "T"'}
    assert kapfastd.api("GET", "/alerts/topics/T").status == 404
    # the handler is still defined, and defining one again brings the topic back
    assert kapfastd.api("GET", "/alerts/topics/T/handlers/log").status == 200
    handler2 = {**handler, "id": "log2"}
    assert kapfastd.api("POST", "/alerts/topics/T/handlers", handler2).status == 200
    assert kapfastd.api("GET", "/alerts/topics/T").status == 200


def test_list_links_sort_query_keys_as_go(kapfastd: Kapfastd) -> None:
    topics = kapfastd.api("GET", "/alerts/topics?pattern=&min-level=OK").json()
    assert topics["link"] == {"rel": "self", "href": "/kapacitor/v1/alerts/topics?min-level=OK&pattern="}
    handlers = kapfastd.api("GET", "/alerts/topics/x/handlers?pattern=a%20b").json()
    assert handlers["link"]["href"] == "/kapacitor/v1/alerts/topics/x/handlers?pattern=a+b"
    assert kapfastd.api("GET", "/alerts/topics").json()["link"]["href"] == "/kapacitor/v1/alerts/topics"


def test_debug_vars_is_expvar_with_memstats(kapfastd: Kapfastd) -> None:
    ans = kapfastd.api("GET", "/debug/vars")
    assert ans.headers["Content-Type"] == JSON
    text = ans.text
    lines = text.split("\n")
    assert lines[0] == "{" and lines[-2:] == ["}", ""]
    keys = [json.loads("{" + ln.rstrip(",") + "}").popitem()[0] for ln in lines[1:-2]]
    assert keys == sorted(keys) and "memstats" in keys  # expvar writes one variable a line, sorted
    mem = json.loads(text)["memstats"]
    # the keys Telegraf's inputs.kapacitor reads, with this process's figures
    for key in ("Alloc", "TotalAlloc", "Sys", "Mallocs", "Frees", "HeapAlloc", "HeapSys", "HeapIdle"):
        assert isinstance(mem[key], int), key
    for key in ("HeapInuse", "HeapObjects", "NumGC", "PauseTotalNs", "LastGC", "StackSys", "NextGC"):
        assert isinstance(mem[key], int), key
    assert mem["Sys"] > 10 << 20 and mem["HeapObjects"] > 1000 and mem["HeapAlloc"] > 0
    assert len(mem["PauseNs"]) == len(mem["PauseEnd"]) == 256


def test_storage_stores_and_rebuild(kapfastd: Kapfastd) -> None:
    stores = kapfastd.api("GET", "/storage/stores").json()
    names = ["handlers", "recordings", "replays", "tasks", "templates", "topics"]
    assert stores == {
        "link": {"rel": "self", "href": "/kapacitor/v1/storage/stores"},
        "storage": [
            {"link": {"rel": "self", "href": f"/kapacitor/v1/storage/stores/{n}"}, "name": n} for n in names
        ],
    }
    script = "stream\n    |from()\n        .measurement('test')\n"
    assert kapfastd.api("POST", "/tasks", {"id": "t", "dbrps": DBRPS, "script": script}).status == 200
    for name in names:
        assert kapfastd.api("POST", f"/storage/stores/{name}", {"action": "rebuild"}).status == 204
    assert kapfastd.api("GET", "/tasks/t").status == 200
    assert kapfastd.api("POST", "/storage/stores/nope", {"action": "rebuild"}).json() == {
        "error": 'unknown storage "nope"'
    }
    bad = kapfastd.api("POST", "/storage/stores/tasks", {"action": "shrink"})
    assert (bad.status, bad.json()) == (400, {"error": 'unkown storage action "shrink"'})


def test_pprof_says_why_there_is_no_go_profile(kapfastd: Kapfastd) -> None:
    for path in ("/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile"):
        ans = kapfastd.api("GET", path)
        assert (ans.status, ans.headers["Content-Type"]) == (501, JSON)
        assert "py-spy" in ans.json()["error"]


TEMPLATE = """dbrp "mydb"."myrp"

var m string
stream
    |from()
        .measurement(m)
"""


def test_template_update_keeps_every_task_with_a_dbrp(kapfastd: Kapfastd) -> None:
    k = kapfastd
    assert k.api("POST", "/templates", {"id": "tpl", "script": TEMPLATE}).status == 200
    task = {"id": "t", "template-id": "tpl", "vars": {"m": {"type": "string", "value": "cpu"}}}
    made = k.api("POST", "/tasks", {**task, "status": "enabled"})
    assert made.status == 200 and made.json()["dbrps"] == DBRPS
    # the task's dbrp came from the template: a template without one would leave it none
    no_dbrp = TEMPLATE.split("\n", 2)[2]
    refused = k.api("PATCH", "/templates/tpl", {"script": no_dbrp})
    assert refused.status == 400
    assert refused.json()["error"] == (
        "error reloading associated task t: must provide at least one database and retention policy."
    )
    assert k.api("GET", "/templates/tpl?script-format=raw").json()["script"] == TEMPLATE
    # a new dbrp statement replaces the one that came from the old script
    moved = k.api("PATCH", "/templates/tpl", {"script": TEMPLATE.replace('"myrp"', '"other"')})
    assert moved.status == 200
    assert k.api("GET", "/tasks/t").json()["dbrps"] == [{"db": "mydb", "rp": "other"}]
    assert k.api("GET", "/tasks/t").json()["executing"] is True


THRESHOLD = (
    TEMPLATE.split("stream")[0]
    + """var crit = 90.0

stream
    |from()
        .measurement(m)
    |alert()
        .crit(lambda: "value" > crit)
"""
)


def test_template_update_that_breaks_a_task_changes_nothing(kapfastd: Kapfastd) -> None:
    k = kapfastd
    assert k.api("POST", "/templates", {"id": "tpl", "script": THRESHOLD}).status == 200
    crit = {"type": "float", "value": 95.0}
    task = {"id": "t", "template-id": "tpl", "vars": {"m": {"type": "string", "value": "cpu"}, "crit": crit}}
    assert k.api("POST", "/tasks", {**task, "status": "enabled"}).status == 200
    before = k.api("GET", "/tasks/t").json()
    # the task's crit is a float: a template wanting an int cannot reload it
    ans = k.api("PATCH", "/templates/tpl", {"script": THRESHOLD.replace("90.0", "90")})
    assert ans.status == 400
    assert ans.json()["error"] == (
        "error reloading associated task t: "
        "invalid TICKscript: invalid type supplied for crit, got float exp int"
    )
    assert (ans.json()["line"], ans.json()["column"]) == (4, 5)
    assert k.api("GET", "/templates/tpl?script-format=raw").json()["script"] == THRESHOLD
    after = k.api("GET", "/tasks/t").json()
    assert (after["executing"], after["script"], after["modified"]) == (
        True,
        before["script"],
        before["modified"],
    )


def test_config_options_are_a_go_map_with_nil_lists(kapfastd: Kapfastd) -> None:
    smtp = kapfastd.api("GET", "/config/smtp").json()["elements"][0]
    assert list(smtp["options"]) == sorted(smtp["options"])
    assert smtp["options"]["to"] is None  # nothing configured: a nil slice, as Kapacitor shows it
    assert (smtp["options"]["password"], smtp["redacted"]) == (False, ["password"])


# TestServer_StreamTemplateTask_AllTypes: a var of every type, set by a task of the template.
ALL_TYPES = """
var bool bool
var count_threshold int
var value_threshold float
var window duration
var field string
var tagMatch regex
var match lambda
var eval lambda
var groups list
var secondGroup list
stream
    |from()
        .measurement('test')
        .where(lambda: match AND "tag" =~ tagMatch AND bool AND "value" >= value_threshold)
        .groupBy(groups)
        |log().prefix('FROM')
    |window()
        .period(window)
        .every(window)
        |log().prefix('WINDOW')
    |count(field)
        |log().prefix('COUNT')
    |groupBy(secondGroup)
    |sum('count')
        .as('count')
        |log().prefix('SUM')
    |where(lambda: "count" >= count_threshold)
        |log().prefix('WHERE')
    |eval(eval)
        .as('count')
    |httpOut('count')
"""
ALL_TYPES_VARS = {  # as the Go client marshals client.Vars
    "bool": {"type": "bool", "value": True},
    "count_threshold": {"type": "int", "value": 1},
    "value_threshold": {"type": "float", "value": 1.0},
    "window": {"type": "duration", "value": 10_000_000_000},
    "field": {"type": "string", "value": "value"},
    "tagMatch": {"type": "regex", "value": "^a.*"},
    "match": {"type": "lambda", "value": '"value" == 1.0'},
    "eval": {"type": "lambda", "value": '"count" * 2'},
    "groups": {"type": "list", "value": [{"type": "star", "value": None}]},
    "secondGroup": {"type": "list", "value": [{"type": "string", "value": "tag"}]},
}
ALL_TYPES_POINTS = """test,tag=abc,other=a value=1 0000000000
test,tag=abc,other=b value=1 0000000000
test,tag=abc,other=a value=1 0000000001
test,tag=bbc,other=b value=1 0000000001
test,tag=abc,other=a value=1 0000000002
test,tag=abc,other=a value=0 0000000002
test,tag=abc,other=b value=1 0000000003
test,tag=abc,other=a value=1 0000000003
test,tag=abc,other=a value=1 0000000004
test,tag=abc,other=b value=1 0000000005
test,tag=abc,other=a value=1 0000000005
test,tag=bbc,other=a value=1 0000000005
test,tag=abc,other=b value=1 0000000006
test,tag=abc,other=a value=1 0000000007
test,tag=abc,other=b value=0 0000000008
test,tag=abc,other=a value=1 0000000009
test,tag=abc,other=a value=1 0000000010
test,tag=abc,other=a value=1 0000000011
test,tag=abc,other=b value=1 0000000011
test,tag=bbc,other=a value=1 0000000011
test,tag=bbc,other=b value=1 0000000011
test,tag=abc,other=a value=1 0000000021
"""


def test_stream_template_task_all_var_types(kapfastd: Kapfastd) -> None:
    tpl = {"id": "testStreamTemplate", "type": "stream", "script": ALL_TYPES}
    assert kapfastd.api("POST", "/templates", tpl).status == 200
    task = {
        "id": "testStreamTask",
        "template-id": "testStreamTemplate",
        "dbrps": DBRPS,
        "status": "enabled",
        "vars": ALL_TYPES_VARS,
    }
    made = kapfastd.api("POST", "/tasks", task)
    assert made.status == 200, made
    endpoint = "/tasks/testStreamTask/count"
    assert kapfastd.api("GET", endpoint).body == b'{"series":null}'
    assert kapfastd.write(ALL_TYPES_POINTS, "db=mydb&rp=myrp&precision=s").status == 204
    exp = (
        b'{"series":[{"name":"test","tags":{"tag":"abc"},"columns":["time","count"],'
        b'"values":[["1970-01-01T00:00:10Z",24]]}]}'
    )
    wait_for(lambda: kapfastd.api("GET", endpoint).body == exp, what="the template task's count")


def test_stream_template_task_missing_var(kapfastd: Kapfastd) -> None:
    """TestServer_StreamTemplateTask_MissingVar: the Go client's error text, exactly."""
    tpl = {"id": "testStreamTemplate", "type": "stream", "script": ALL_TYPES}
    assert kapfastd.api("POST", "/templates", tpl).status == 200
    vars_ = {k: v for k, v in ALL_TYPES_VARS.items() if k != "field"}
    task = {
        "id": "t",
        "template-id": "testStreamTemplate",
        "dbrps": DBRPS,
        "status": "enabled",
        "vars": vars_,
    }
    ans = kapfastd.api("POST", "/tasks", task)
    assert (ans.status, ans.json()["error"]) == (400, 'invalid TICKscript: missing value for var "field".')


ANON_ALERT = """
stream
	|from()
		.measurement('alert')
	|alert()
		.id('id')
		.message('message')
		.details('details')
		.warn(lambda: "value" <= 1.0)
		.crit(lambda: "value" > 1.0)
		.log('LOG')
"""


def _topic_events(topic: str, level: str = "WARNING") -> bytes:
    """client.TopicEvents of the one event of TestServer_AlertAnonTopic, as Kapacitor writes it."""
    base = f"/kapacitor/v1/alerts/topics/{topic}/events"
    state = {"message": "message", "details": "details", "time": "1970-01-01T00:00:00Z", "duration": "0s"}
    event = {"link": {"rel": "self", "href": f"{base}/id"}, "id": "id", "state": {**state, "level": level}}
    return json_marshal(
        {"link": {"rel": "self", "href": base}, "topic": topic, "events": [event]}, "    "
    ).encode()


def test_alert_anon_topic(kapfastd: Kapfastd) -> None:
    """TestServer_AlertAnonTopic: the anonymous topic survives restarts, disappears while its task
    is disabled, comes back with it, and is unknown once the task is deleted."""
    script = ANON_ALERT.replace("LOG", str(kapfastd.data_dir / "alerts.log"))
    task = {
        "id": "testAlertHandlers",
        "type": "stream",
        "dbrps": DBRPS,
        "script": script,
        "status": "enabled",
    }
    assert kapfastd.api("POST", "/tasks", task).status == 200
    assert kapfastd.write("alert value=1 0000000000", "db=mydb&rp=myrp&precision=s").status == 204
    topic = "main:testAlertHandlers:alert2"
    events = f"/alerts/topics/{topic}/events"
    wait_for(lambda: kapfastd.api("GET", events).status == 200, what="the anonymous topic's event")
    kapfastd.stop()
    kapfastd.start()
    assert kapfastd.api("GET", events).body == _topic_events(topic)
    one = json.loads(_topic_events(topic))["events"][0]
    assert kapfastd.api("GET", f"{events}/id").body == json_marshal(one, "    ").encode()
    unknown = {"error": f'failed to get topic events: unknown topic "{topic}"'}
    assert kapfastd.api("PATCH", "/tasks/testAlertHandlers", {"status": "disabled"}).status == 200
    assert kapfastd.api("GET", events).json() == unknown
    assert kapfastd.api("PATCH", "/tasks/testAlertHandlers", {"status": "enabled"}).status == 200
    assert kapfastd.api("GET", events).body == _topic_events(topic)
    kapfastd.stop()
    kapfastd.start()
    assert kapfastd.api("GET", events).body == _topic_events(topic)
    assert kapfastd.api("DELETE", "/tasks/testAlertHandlers").status == 204
    assert kapfastd.api("GET", events).json() == unknown


JSON_TEMPLATES = """
[[httppost]]
  endpoint = "ep"
  url = "{url}"
  alert-template = "{{{{ json .Message }}}} {{{{ jsonCompact .Data.Series }}}}"
"""


def test_json_template_functions_in_a_config_kapfastd_starts_with(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    """Kapacitor's ``json``/``jsonCompact`` in an [[httppost]] alert-template (a config with them
    used to stop kapfastd from starting) and in ``.message()``, end to end."""
    with HttpReceiver() as rx:
        k = kapfastd_factory(JSON_TEMPLATES.format(url=rx.url))
        script = (
            "stream|from().measurement('cpu')|alert().id('cpu')"
            ".message('{{ json .Tags }} {{ jsonCompact .Level }}')"
            ".crit(lambda: \"value\" > 90).post().endpoint('ep')"
        )
        task = {"id": "t", "type": "stream", "dbrps": DBRPS, "script": script, "status": "enabled"}
        assert k.api("POST", "/tasks", task).status == 200
        assert k.write("cpu,host=a value=99 1000000000", "db=mydb&rp=myrp").status == 204
        wait_for(lambda: rx.bodies, what="the alert's POST")
    # json: json.Encoder's line (newline included); jsonCompact: the same without the newline;
    # a row with its JSON names and its times as RFC 3339, as Go encodes models.Row
    message = '{"host":"a"}\n "CRITICAL"'
    series = (
        '[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],'
        '"values":[["1970-01-01T00:00:01Z",99]]}]'
    )
    assert rx.bodies[0].decode() == json_marshal(message) + "\n " + series
