"""The web page's routes over plain HTTP (/ui): what each page shows, auth as the API's, HTML 404s,
and no route answering 500 whatever the path or the state of the task."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from kapfastd_proc import Kapfastd, alerts, wait_for

SCRIPT = """// a comment
var limit = 10
stream
    |from()
        .measurement('cpu')
        .where(lambda: "host" =~ /^web/)
    |alert()
        .id('cpu:{{ index .Tags "host" }}')
        .topic('cpu_topic')
        .crit(lambda: "usage_idle" < limit)
        .log('{log}')
"""


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def define(k: Kapfastd, ident: str, script: str, status: str = "enabled") -> None:
    body = {"id": ident, "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
    ans = k.api("POST", "/tasks", {**body, "script": script, "status": status})
    assert ans.status == 200, ans


def test_tasks_list_and_task_page(kapfastd: Kapfastd, tmp_path: object) -> None:
    k = kapfastd
    log = f"{tmp_path}/alerts.log"
    define(k, "cpu_alert", SCRIPT.replace("{log}", log))
    define(k, "idle.mem-1", "// <b>bold</b>\nstream\n    |from()\n        .measurement('mem')\n", "disabled")
    page = k.request("GET", "/ui/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'data-task="cpu_alert"' in page.text and 'href="/ui/tasks/cpu_alert"' in page.text
    assert 'href="/ui/tasks/idle.mem-1"' in page.text
    assert re.search(r'data-field="status">enabled<', page.text)
    assert re.search(r'data-field="status">disabled<', page.text)
    assert k.request("GET", "/ui").status == 200  # redirected to /ui/

    k.write(
        "cpu,host=web1 usage_idle=5 1\ncpu,host=web1 usage_idle=50 2\n", "db=telegraf&rp=autogen&precision=s"
    )
    wait_for(lambda: alerts(__import__("pathlib").Path(log)), what="the alert")
    task = k.request("GET", "/ui/tasks/cpu_alert")
    assert task.status == 200
    # the graph: one SVG node per pipeline node, an edge label per edge
    assert re.findall(r'<g class="node kind-(\w+)" data-node="(\w+)"', task.text) == [
        ("stream", "stream0"),
        ("from", "from1"),
        ("alert", "alert2"),
    ]
    assert 'data-edge="stream0-&gt;from1"' in task.text
    assert "in 2 · out 2" in task.text  # from1's figures at render time (both points passed)
    # the TICKscript highlighted with kapfast's lexer, every character kept
    assert '<span class="node">from</span>' in task.text
    assert '<span class="prop">measurement</span>' in task.text
    assert '<span class="com">// a comment</span>' in task.text
    assert '<span class="re">/^web/</span>' in task.text
    assert '<span class="ref">&quot;usage_idle&quot;</span>' in task.text
    assert '<span class="kw">lambda:</span>' in task.text
    # the panel exists hidden until the explain endpoint answers
    assert '<section id="explain" hidden>' in task.text
    # what the script says is shown, never run as HTML
    idle = k.request("GET", "/ui/tasks/idle.mem-1")
    assert idle.status == 200 and "&lt;b&gt;bold&lt;/b&gt;" in idle.text and "<b>bold" not in idle.text


def test_static_assets_are_served_from_the_package(kapfastd: Kapfastd) -> None:
    js = kapfastd.request("GET", "/ui/static/ui.js")
    assert js.status == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert "refreshTask" in js.text
    css = kapfastd.request("GET", "/ui/static/ui.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    for path in ("/ui/static/nope.js", "/ui/static/..%2Froutes.py", "/ui/static/routes.py"):
        assert kapfastd.request("GET", path).status == 404, path


def test_topics_and_recordings_pages(kapfastd: Kapfastd, tmp_path: object) -> None:
    k = kapfastd
    log = f"{tmp_path}/alerts.log"
    define(k, "cpu_alert", SCRIPT.replace("{log}", log))
    assert "No alert topics yet." in k.request("GET", "/ui/topics").text
    k.write("cpu,host=web1 usage_idle=5 1\n", "db=telegraf&rp=autogen&precision=s")
    wait_for(lambda: alerts(__import__("pathlib").Path(log)), what="the alert")
    topics = k.request("GET", "/ui/topics")
    assert topics.status == 200
    assert 'href="/ui/topics/cpu_topic"' in topics.text
    assert '<span class="level CRITICAL">CRITICAL</span>' in topics.text
    topic = k.request("GET", "/ui/topics/cpu_topic")
    assert topic.status == 200 and "cpu:web1" in topic.text and "CRITICAL" in topic.text
    assert k.request("GET", "/ui/topics/no_such_topic").status == 404

    rec = k.api("POST", "/recordings/stream", {"task": "cpu_alert", "stop": "2030-01-01T00:00:00Z"})
    assert rec.status == 201, rec
    page = k.request("GET", "/ui/recordings")
    assert page.status == 200 and rec.json()["id"] in page.text and "running" in page.text
    assert "No replays." in page.text


def test_unknown_pages_are_html_404s_never_500(kapfastd: Kapfastd) -> None:
    k = kapfastd
    define(k, "broken", "stream\n    |from()\n        .measurement('cpu')\n", status="disabled")
    for path in ("/ui/tasks/nope", "/ui/nothing/here", "/ui/tasks/", "/ui/topics/%00"):
        ans = k.request("GET", path)
        assert ans.status == 404, (path, ans)
        assert ans.headers["Content-Type"].startswith("text/html"), path
    ans = k.request("GET", "/ui/tasks/nope")
    assert "no task exists" in ans.text or "nope" in ans.text
    assert k.request("POST", "/ui/").status in (404, 405)  # the page takes GET only


AUTH = "[auth]\n  enabled = true\n  bcrypt-cost = 4\n"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapfastd]:
    """One server for the auth tests (users made with auth off, then restarted with it on)."""
    k = Kapfastd(tmp_path_factory.mktemp("ui_auth"), AUTH)
    k.start()
    try:
        for u in (
            {"name": "root", "password": "rootpw", "type": "admin"},
            {"name": "bob", "password": "bobpw", "type": "normal", "permissions": ["api"]},
            {"name": "cfg", "password": "cfgpw", "type": "normal", "permissions": ["config_api"]},
        ):
            assert k.api("POST", "/users", u).status == 200
        k.stop()
        k.http_options = "  auth-enabled = true\n"
        k.start()
        yield k
    finally:
        k.kill()


@pytest.mark.parametrize(
    "path", ["/ui", "/ui/", "/ui/tasks/x", "/ui/topics", "/ui/recordings", "/ui/static/ui.js", "/ui/x"]
)
def test_with_auth_every_page_needs_credentials(secured: Kapfastd, path: str) -> None:
    ans = secured.request("GET", path, headers={"Authorization": ""})
    assert ans.status == 401
    # a browser is asked for a user and password (the API itself answers without a challenge)
    assert ans.headers["WWW-Authenticate"].startswith('Basic realm="kapfast"')
    assert secured.request("GET", path, headers=basic("bob", "wrong")).status == 401


def test_with_auth_pages_need_the_api_privileges(secured: Kapfastd) -> None:
    k = secured
    assert k.request("GET", "/ui/", headers=basic("root", "rootpw")).status == 200
    assert k.request("GET", "/ui/", headers=basic("bob", "bobpw")).status == 200
    assert k.request("GET", "/ui/recordings", headers=basic("bob", "bobpw")).status == 200
    assert k.request("GET", "/ui/tasks/none", headers=basic("bob", "bobpw")).status == 404
    # config_api only: no task, topic or recording to read
    for path in ("/ui/", "/ui/tasks/x", "/ui/topics", "/ui/recordings"):
        ans = k.request("GET", path, headers=basic("cfg", "cfgpw"))
        assert ans.status == 403, path
        assert "does not have" in ans.json()["error"]
    assert k.request("GET", "/ui/static/ui.css", headers=basic("cfg", "cfgpw")).status == 200


def test_with_auth_the_api_challenges_only_the_page_script(secured: Kapfastd) -> None:
    k = secured
    plain = k.request("GET", "/kapacitor/v1/tasks", headers={"Authorization": ""})
    assert plain.status == 401 and "WWW-Authenticate" not in plain.headers  # as Kapacitor
    ui = k.request("GET", "/kapacitor/v1/tasks", headers={"Authorization": "", "X-Kapfast-UI": "1"})
    assert ui.status == 401 and ui.headers["WWW-Authenticate"].startswith("Basic")


def test_graph_layers_a_join_and_draws_every_edge() -> None:
    from kapfast.server.ui.graph import GraphNode, layers, render_svg

    nodes = [
        GraphNode("stream0", "stream", ()),
        GraphNode("from1", "from", ("stream0",)),
        GraphNode("from2", "from", ("stream0",)),
        GraphNode("window3", "window", ("from2",)),
        GraphNode("join4", "join", ("from1", "window3")),
        GraphNode("alert5", "alert", ("join4",)),
    ]
    # a node sits one layer below its deepest parent: the join waits for the window's branch
    assert layers(nodes) == [["stream0"], ["from1", "from2"], ["window3"], ["join4"], ["alert5"]]
    svg = render_svg(nodes, {"join4": {"collected": 7, "emitted": 3, "errors": 1, "working_cardinality": 2}})
    assert svg.count('<path class="edge"') == 6
    assert 'data-node="join4"' in svg and "in 7 · out 3" in svg and "errors 1 · groups 2" in svg
    assert render_svg([]).startswith("<svg")


def test_batch_task_page_leaves_out_the_batch_source(kapfastd: Kapfastd) -> None:
    script = (
        'batch\n    |query(\'SELECT mean(usage_idle) FROM "telegraf"."autogen".cpu\')\n'
        "        .period(1m)\n        .every(1m)\n    |log()\n"
    )
    body = {"id": "b", "type": "batch", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}
    assert kapfastd.api("POST", "/tasks", body).status == 200
    page = kapfastd.request("GET", "/ui/tasks/b")
    assert page.status == 200
    assert re.findall(r'data-node="(\w+)"', page.text) == ["query1", "log2"]


def test_lists_page_with_offset_and_limit(kapfastd: Kapfastd, tmp_path: object) -> None:
    """Every list pages (docs/ui.md): ``?offset=`` and ``?limit=``, links to the pages before and
    after that keep the other parameters, and a clear 400 for values that are not such numbers."""
    k = kapfastd
    for i in range(5):
        define(k, f"t{i}", "stream\n    |from()\n        .measurement('m')\n", "disabled")
    first = k.request("GET", "/ui/?limit=2")
    assert re.findall(r'<tr data-task="(t\d)"', first.text) == ["t0", "t1"]
    assert "Rows 1–2" in first.text and 'rel="prev"' not in first.text
    assert 'rel="next" class="next" href="/ui/?limit=2&amp;offset=2"' in first.text
    second = k.request("GET", "/ui/?limit=2&offset=2")
    assert re.findall(r'<tr data-task="(t\d)"', second.text) == ["t2", "t3"]
    assert 'href="/ui/?limit=2"' in second.text and 'href="/ui/?limit=2&amp;offset=4"' in second.text
    last = k.request("GET", "/ui/?limit=2&offset=4")
    assert re.findall(r'<tr data-task="(t\d)"', last.text) == ["t4"] and 'rel="next"' not in last.text
    assert "No tasks on this page." in k.request("GET", "/ui/?offset=50").text
    assert 'class="pager"' not in k.request("GET", "/ui/").text  # one page: no links
    for bad in ("offset=-1", "offset=x", "limit=0", "limit=100000"):
        ans = k.request("GET", f"/ui/?{bad}")
        assert ans.status == 400 and "Bad request" in ans.text, bad

    log = f"{tmp_path}/alerts.log"
    define(k, "cpu_alert", SCRIPT.replace("{log}", log))
    k.write(
        "".join(f"cpu,host=web{i} usage_idle=5 {i}\n" for i in range(3)), "db=telegraf&rp=autogen&precision=s"
    )
    wait_for(lambda: len(alerts(__import__("pathlib").Path(log))) >= 3, what="the alerts")
    events = k.request("GET", "/ui/topics/cpu_topic?limit=2")
    assert events.text.count("<tr><td>cpu:web") == 2 and "Rows 1–2 of 3" in events.text
    rest = k.request("GET", "/ui/topics/cpu_topic?limit=2&offset=2")
    assert rest.text.count("<tr><td>cpu:web") == 1 and "Rows 3–3 of 3" in rest.text
    assert "Rows 1–1 of 1" not in k.request("GET", "/ui/topics?limit=1").text  # a single topic

    for i in range(3):
        ans = k.api(
            "POST", "/recordings/stream", {"id": f"r{i}", "task": "cpu_alert", "stop": "2030-01-01T00:00:00Z"}
        )
        assert ans.status == 201, ans
    recs = k.request("GET", "/ui/recordings?limit=2&replay_offset=0")
    assert (
        recs.text.count("<tr><td>r") == 2
        and 'href="/ui/recordings?limit=2&amp;replay_offset=0&amp;offset=2"' in recs.text
    )
