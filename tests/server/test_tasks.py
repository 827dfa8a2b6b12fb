"""Task and template definitions over HTTP: CRUD, validation errors, pagination, restarts."""

from __future__ import annotations

from collections.abc import Callable

from kapfastd_proc import Kapfastd

CPU = """stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: "usage_idle" < 10)
        .log('/tmp/kapfast-test-alerts.log')
"""
DBRPS = [{"db": "telegraf", "rp": "autogen"}]


def test_task_crud(kapfastd: Kapfastd) -> None:
    created = kapfastd.api("POST", "/tasks", {"id": "cpu_alert", "dbrps": DBRPS, "script": CPU})
    assert created.status == 200, created
    task = created.json()
    assert task["link"] == {"rel": "self", "href": "/kapacitor/v1/tasks/cpu_alert"}
    assert task["type"] == "stream"
    assert task["status"] == "disabled"
    assert task["executing"] is False
    assert task["dbrps"] == DBRPS
    assert task["last-enabled"] == "0001-01-01T00:00:00Z"
    assert task["dot"].startswith("digraph cpu_alert {")
    assert created.text.startswith('{\n    "link"')  # pretty-printed with 4 spaces
    # The formatted script is the canonical one; raw is as written.
    raw = kapfastd.api("GET", "/tasks/cpu_alert?script-format=raw").json()
    assert raw["script"] == CPU
    again = kapfastd.api("POST", "/tasks", {"id": "cpu_alert", "dbrps": DBRPS, "script": CPU})
    assert again.status == 400
    assert again.json()["error"] == "task cpu_alert already exists"
    # PATCH replaces dbrps; the type follows the script.
    patched = kapfastd.api("PATCH", "/tasks/cpu_alert", {"dbrps": [{"db": "other", "rp": "rp1"}]})
    assert patched.status == 200
    assert patched.json()["dbrps"] == [{"db": "other", "rp": "rp1"}]
    renamed = kapfastd.api("PATCH", "/tasks/cpu_alert", {"id": "cpu2"})
    assert renamed.json()["id"] == "cpu2"
    assert kapfastd.api("GET", "/tasks/cpu_alert").status == 404
    assert kapfastd.api("DELETE", "/tasks/cpu2").status == 204
    assert kapfastd.api("DELETE", "/tasks/cpu2").status == 204  # idempotent, as Kapacitor
    gone = kapfastd.api("GET", "/tasks/cpu2")
    assert gone.status == 404
    assert gone.json() == {"error": 'no task exists with id "cpu2"'}
    assert gone.headers["Content-Type"] == "application/json; charset=utf-8"


def test_validation_errors_name_line_and_column(kapfastd: Kapfastd) -> None:
    bad = kapfastd.api(
        "POST",
        "/tasks",
        {"id": "bad", "dbrps": DBRPS, "script": "stream\n    |from()\n        .measurment('cpu')\n"},
    )
    assert bad.status == 400
    err = bad.json()["error"]
    assert err.startswith('invalid TICKscript: 3:10: no method or property "measurment"'), err
    assert kapfastd.api("GET", "/tasks/bad").status == 404  # nothing stored
    no_dbrp = kapfastd.api("POST", "/tasks", {"id": "x", "script": CPU})
    assert no_dbrp.json()["error"] == "must provide at least one database and retention policy."
    both = kapfastd.api("POST", "/tasks", {"id": "x", "dbrps": DBRPS, "script": 'dbrp "a"."b"\n' + CPU})
    assert "cannot specify dbrp in both implicitly and explicitly" in both.json()["error"]
    bad_id = kapfastd.api("POST", "/tasks", {"id": "a b", "dbrps": DBRPS, "script": CPU})
    assert bad_id.status == 400
    assert "task ID must contain only letters, numbers, '-', '.' and '_'" in bad_id.json()["error"]
    assert kapfastd.api("POST", "/tasks", {"dbrps": DBRPS}).json()["error"] == "must provide TICKscript"
    not_json = kapfastd.request("POST", "/kapacitor/v1/tasks", raw=b"{nope")
    assert not_json.status == 400 and not_json.json()["error"].startswith("invalid JSON")
    status = kapfastd.api("POST", "/tasks", {"id": "s", "dbrps": DBRPS, "script": CPU, "status": "on"})
    assert status.status == 400 and "invalid status" in status.json()["error"]
    # A script with its own dbrp statement needs no dbrps; unicode ids are fine (\p{L}).
    own = kapfastd.api("POST", "/tasks", {"id": "tâche_1.x-y", "script": 'dbrp "telegraf"."autogen"\n' + CPU})
    assert own.status == 200, own
    assert own.json()["dbrps"] == [{"db": "telegraf", "rp": "autogen"}]  # listed, as Kapacitor does


def test_list_pagination_and_fields(kapfastd: Kapfastd) -> None:
    for name in ("a1", "a2", "a3", "b1"):
        assert kapfastd.api("POST", "/tasks", {"id": name, "dbrps": DBRPS, "script": CPU}).status == 200
    ids = [t["id"] for t in kapfastd.api("GET", "/tasks").json()["tasks"]]
    assert ids == ["a1", "a2", "a3", "b1"]
    page = kapfastd.api("GET", "/tasks?pattern=a*&offset=1&limit=1").json()["tasks"]
    assert [t["id"] for t in page] == ["a2"]
    fields = kapfastd.api("GET", "/tasks?pattern=b*&fields=status&fields=type").json()["tasks"]
    assert fields == [
        {
            "link": {"rel": "self", "href": "/kapacitor/v1/tasks/b1"},
            "id": "b1",
            "status": "disabled",
            "type": "stream",
        }
    ]
    assert kapfastd.api("GET", "/tasks?limit=x").status == 400
    assert kapfastd.api("GET", "/tasks?fields=nope").status == 400
    assert kapfastd.api("GET", "/tasks?dot-view=pretty").status == 400
    # The preview prefix serves the same API.
    prev = kapfastd.request("GET", "/kapacitor/v1preview/tasks?pattern=b*").json()["tasks"]
    assert [t["id"] for t in prev] == ["b1"]


def test_enable_starts_through_the_engine(kapfastd: Kapfastd) -> None:
    assert kapfastd.api("POST", "/tasks", {"id": "t", "dbrps": DBRPS, "script": CPU}).status == 200
    enabled = kapfastd.api("PATCH", "/tasks/t", {"status": "enabled"})
    task = kapfastd.api("GET", "/tasks/t").json()
    assert task["status"] == "enabled"
    assert task["last-enabled"] != "0001-01-01T00:00:00Z"
    assert enabled.status == 200, enabled
    assert task["executing"] is True
    disabled = kapfastd.api("PATCH", "/tasks/t", {"status": "disabled"}).json()
    assert disabled["status"] == "disabled" and disabled["executing"] is False and disabled["error"] == ""


def test_http_out_of_unknown_task_or_endpoint(kapfastd: Kapfastd) -> None:
    assert kapfastd.api("GET", "/tasks/nope/top10").status == 404
    assert kapfastd.api("POST", "/tasks", {"id": "t", "dbrps": DBRPS, "script": CPU}).status == 200
    ans = kapfastd.api("GET", "/tasks/t/top10")
    assert ans.status == 404 and 'no httpOut endpoint "top10"' in ans.json()["error"]


TEMPLATE = """var measurement string
var crit = 10.0
stream
    |from()
        .measurement(measurement)
    |alert()
        .crit(lambda: "usage_idle" < crit)
"""


def test_templates_and_their_tasks(kapfastd: Kapfastd) -> None:
    t = kapfastd.api("POST", "/templates", {"id": "tpl", "type": "stream", "script": TEMPLATE})
    assert t.status == 200, t
    body = t.json()
    assert body["vars"]["measurement"]["value"] is None
    assert body["vars"]["crit"]["value"] == 10.0
    task = kapfastd.api(
        "POST",
        "/tasks",
        {
            "id": "from_tpl",
            "template-id": "tpl",
            "dbrps": DBRPS,
            "vars": {"measurement": {"type": "string", "value": "cpu"}},
        },
    )
    assert task.status == 200, task
    assert task.json()["template-id"] == "tpl"
    missing = kapfastd.api("POST", "/tasks", {"id": "m", "template-id": "tpl", "dbrps": DBRPS})
    assert missing.status == 400 and "measurement" in missing.json()["error"]
    unknown = kapfastd.api("POST", "/tasks", {"id": "m", "template-id": "nope", "dbrps": DBRPS})
    assert unknown.status == 400 and 'unknown template "nope"' in unknown.json()["error"]
    # PATCH re-validates and gives the tasks the new script.
    new = TEMPLATE.replace('"usage_idle" < crit', '"usage_idle" < crit OR "usage_user" > 90.0')
    assert kapfastd.api("PATCH", "/templates/tpl", {"script": new}).status == 200
    assert "usage_user" in kapfastd.api("GET", "/tasks/from_tpl?script-format=raw").json()["script"]
    # A template change that breaks a task's vars is refused and changes nothing.
    breaking = new.replace("var crit = 10.0", "var crit = 10.0\nvar host string").replace(
        ".measurement(measurement)", '.measurement(measurement)\n        .where(lambda: "host" == host)'
    )
    refused = kapfastd.api("PATCH", "/templates/tpl", {"script": breaking})
    assert refused.status == 400
    assert "from_tpl" in refused.json()["error"]
    assert kapfastd.api("GET", "/templates/tpl?script-format=raw").json()["script"] == new
    bad = kapfastd.api("POST", "/templates", {"id": "bad", "script": "stream\n    |frm()\n"})
    assert bad.status == 400 and bad.json()["error"].startswith("invalid TICKscript: 2:")
    listed = kapfastd.api("GET", "/templates?fields=type").json()["templates"]
    assert listed == [
        {"link": {"rel": "self", "href": "/kapacitor/v1/templates/tpl"}, "id": "tpl", "type": "stream"}
    ]
    assert kapfastd.api("DELETE", "/templates/tpl").status == 204
    assert kapfastd.api("GET", "/templates/tpl").status == 404


def test_definitions_survive_a_crash(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    assert k.api("POST", "/templates", {"id": "tpl", "script": TEMPLATE}).status == 200
    for i in range(5):
        assert k.api("POST", "/tasks", {"id": f"t{i}", "dbrps": DBRPS, "script": CPU}).status == 200
    k.api("PATCH", "/tasks/t1", {"status": "enabled"})
    ids_before = {key: k.api("GET", "/debug/vars").json()[key] for key in ("cluster_id", "server_id")}
    k.kill()  # SIGKILL right after the answers: every acknowledged definition must be on disk
    k.start()
    assert [t["id"] for t in k.api("GET", "/tasks").json()["tasks"]] == [f"t{i}" for i in range(5)]
    assert k.api("GET", "/tasks/t1").json()["status"] == "enabled"
    assert k.api("GET", "/templates/tpl").status == 200
    vars_ = k.api("GET", "/debug/vars").json()
    assert {key: vars_[key] for key in ids_before} == ids_before
    assert vars_["num_tasks"] == 5 and vars_["num_enabled_tasks"] == 1
    assert k.api("GET", "/tasks/t1").json()["executing"] is True
    k.stop()


def test_unknown_type_and_bad_regex_fail_at_define(kapfastd: Kapfastd) -> None:
    """Kapacitor refuses a task type other than stream/batch and compiles regexes while parsing
    (tick/ast): both are 400s when the task is defined, nothing stored; the regex names its place."""
    typ = kapfastd.api("POST", "/tasks", {"id": "t", "type": "streem", "dbrps": DBRPS, "script": CPU})
    assert typ.status == 400 and "unknown type 'streem'" in typ.json()["error"]
    assert kapfastd.api("GET", "/tasks/t").status == 404
    script = 'stream\n    |from()\n        .where(lambda: "host" =~ /web(1/)\n'
    bad = kapfastd.api("POST", "/tasks", {"id": "r", "dbrps": DBRPS, "script": script, "status": "enabled"})
    assert bad.status == 400
    err = bad.json()["error"]
    assert err.startswith("invalid TICKscript: 3:34: invalid regex /web(1/: unclosed group"), err
    assert kapfastd.api("GET", "/tasks/r").status == 404
    # a regex var is checked when given, too
    tpl = 'var r regex\nstream\n    |from()\n        .where(lambda: "host" =~ r)\n'
    assert kapfastd.api("POST", "/templates", {"id": "tr", "type": "stream", "script": tpl}).status == 200
    bad_var = kapfastd.api(
        "POST",
        "/tasks",
        {"id": "v", "template-id": "tr", "dbrps": DBRPS, "vars": {"r": {"type": "regex", "value": "a("}}},
    )
    assert bad_var.status == 400 and 'var "r" of type regex' in bad_var.json()["error"]
    ok = kapfastd.api("POST", "/tasks", {"id": "ok", "type": "stream", "dbrps": DBRPS, "script": CPU})
    assert ok.status == 200
    assert kapfastd.api("PATCH", "/tasks/ok", {"type": "bogus"}).status == 400
