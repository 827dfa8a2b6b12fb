"""What each verb asks the server, checked against a scripted fake of the HTTP API: kapacitor's
define semantics, glob paging, delete draining, record/replay polling, and error reporting."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kapfast.cli.main import main
from kapfast.client import Client, ConnectError, ServerError
from kapfast.errors import NotFoundError, RequestError

if TYPE_CHECKING:  # the fixtures' types, from this directory's conftest.py
    from conftest import FakeAPI, Request


def run(capsys: pytest.CaptureFixture[str], api: FakeAPI, *argv: str) -> tuple[int, str, str]:
    code = main(["-url", api.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def task_json(task_id: str, status: str = "disabled", **extra: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "link": {"rel": "self", "href": f"/kapacitor/v1/tasks/{task_id}"},
        "type": "stream",
        "status": status,
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": "stream\n",
        "executing": status == "enabled",
        **extra,
    }


@pytest.fixture
def tick(tmp_path: Path) -> Path:
    path = tmp_path / "cpu.tick"
    path.write_text("stream\n    |from()\n        .measurement('cpu')\n")
    return path


def test_define_creates_a_disabled_task(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tick: Path
) -> None:
    fake_api.route("GET", "/tasks/cpu", (404, {"error": "no task exists"}))
    fake_api.route("POST", "/tasks", lambda r: (200, task_json("cpu")))
    code, out, err = run(
        capsys, fake_api, "define", "cpu", "-tick", str(tick), "-type", "stream", "-dbrp", "telegraf.autogen"
    )
    assert (code, out, err) == (0, "", "")
    assert fake_api.sent() == [("GET", "/kapacitor/v1/tasks/cpu"), ("POST", "/kapacitor/v1/tasks")]
    assert fake_api.requests[-1].json() == {
        "id": "cpu",
        "type": "stream",
        "script": tick.read_text(),
        "status": "disabled",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
    }


def test_define_patches_only_given_fields_and_reloads(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI
) -> None:
    fake_api.route("GET", "/tasks/cpu", (200, task_json("cpu", "enabled")))
    fake_api.route("PATCH", "/tasks/cpu", lambda r: (200, task_json("cpu", "enabled")))
    code, _, err = run(capsys, fake_api, "define", "cpu", "-dbrp", "db.rp", "-dbrp", '"db2"."rp2"')
    assert code == 0, err
    patches = [r.json() for r in fake_api.requests if r.method == "PATCH"]
    assert patches == [
        {"dbrps": [{"db": "db", "rp": "rp"}, {"db": "db2", "rp": "rp2"}]},
        {"status": "disabled"},
        {"status": "enabled"},
    ]


def test_define_no_reload_and_disabled_task_do_not_reload(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tick: Path
) -> None:
    fake_api.route("GET", "/tasks/cpu", (200, task_json("cpu", "enabled")))
    fake_api.route("PATCH", "/tasks/cpu", (204, None))  # older servers answer PATCH with 204
    assert run(capsys, fake_api, "define", "cpu", "-tick", str(tick), "-no-reload")[0] == 0
    assert [r.json() for r in fake_api.requests if r.method == "PATCH"] == [{"script": tick.read_text()}]
    fake_api.requests.clear()
    fake_api.route("GET", "/tasks/cpu", (200, task_json("cpu", "disabled")))
    assert run(capsys, fake_api, "-url", fake_api.url, "define", "-name", "cpu", "-type", "batch")[0] == 0
    assert [r.json() for r in fake_api.requests if r.method == "PATCH"] == [{"type": "batch"}]


def test_define_from_template_with_vars(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tmp_path: Path
) -> None:
    variables = {
        "crit": {"type": "lambda", "value": '"value" > 90'},
        "window": {"type": "duration", "value": "1m"},
    }
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(variables))
    fake_api.route("GET", "/tasks/t1", (404, {"error": "nope"}))
    fake_api.route("POST", "/tasks", lambda r: (200, task_json("t1")))
    code, _, err = run(
        capsys, fake_api, "define", "t1", "-template", "tpl", "-vars", str(vars_file), "-dbrp", "db.rp"
    )
    assert code == 0, err
    assert fake_api.requests[-1].json() == {
        "id": "t1",
        "template-id": "tpl",
        "status": "disabled",
        "dbrps": [{"db": "db", "rp": "rp"}],
        "vars": variables,
    }


def test_define_reports_bad_vars_file(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tmp_path: Path
) -> None:
    bad = tmp_path / "vars.json"
    bad.write_text("{nope")
    code, _, err = run(capsys, fake_api, "define", "t1", "-vars", str(bad))
    assert code == 3 and err.startswith(f"Error: invalid JSON in file {bad}")
    assert fake_api.requests == []


def test_define_server_error_is_printed(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tick: Path
) -> None:
    fake_api.route("GET", "/tasks/cpu", (404, {"error": "no task"}))
    fake_api.route(
        "POST", "/tasks", (400, {"error": "invalid TICKscript: line 1 char 1: bad", "message": "x"})
    )
    code, out, err = run(capsys, fake_api, "define", "cpu", "-tick", str(tick))
    assert (code, out, err) == (3, "", "Error: invalid TICKscript: line 1 char 1: bad\n")


def _task_pages(ids: list[str]) -> Any:
    def answer(r: Request) -> tuple[int, Any]:
        offset, limit = int(r.param("offset")), int(r.param("limit"))
        prefix = r.param("pattern").rstrip("*")
        matching = [i for i in ids if i.startswith(prefix)]
        return 200, {"tasks": [task_json(i) for i in matching[offset : offset + limit]]}

    return answer


def test_enable_glob_pages_by_100(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    ids = [f"t{i:03d}" for i in range(250)]
    fake_api.route("GET", "/tasks", _task_pages(ids))
    for i in ids:
        fake_api.route("PATCH", f"/tasks/{i}", lambda r: (200, task_json("x", "enabled")))
    assert run(capsys, fake_api, "enable", "t*")[0] == 0
    lists = [r for r in fake_api.requests if r.method == "GET"]
    assert [(r.param("offset"), r.param("limit")) for r in lists] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "100"),
    ]
    assert lists[0].param("fields") == "link"
    patched = [r for r in fake_api.requests if r.method == "PATCH"]
    assert len(patched) == 250 and all(r.json() == {"status": "enabled"} for r in patched)


def test_reload_disables_then_enables(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks", _task_pages(["a", "b"]))
    for i in ("a", "b"):
        fake_api.route("PATCH", f"/tasks/{i}", lambda r: (200, task_json("x")))
    assert run(capsys, fake_api, "reload", "*")[0] == 0
    assert [(r.path[-1], r.json()["status"]) for r in fake_api.requests if r.method == "PATCH"] == [
        ("a", "disabled"),
        ("b", "disabled"),
        ("a", "enabled"),
        ("b", "enabled"),
    ]


def test_enable_missing_task_is_an_error(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks", _task_pages([]))
    code, _, err = run(capsys, fake_api, "enable", "ghost")
    assert code == 3 and "no task with ID 'ghost'" in err
    assert run(capsys, fake_api, "disable", "ghost*")[0] == 0  # a glob may match nothing


def test_enable_reports_which_task_failed(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks", _task_pages(["cpu"]))
    fake_api.route("PATCH", "/tasks/cpu", (500, {"error": "cannot start task cpu: boom"}))
    code, _, err = run(capsys, fake_api, "enable", "cpu")
    assert (code, err) == (3, "Error: enabling task cpu: cannot start task cpu: boom\n")


def test_delete_drains_the_first_page(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    remaining = [f"r{i:03d}" for i in range(150)]

    def listing(r: Request) -> tuple[int, Any]:
        assert r.param("offset") == "0"
        return 200, {"recordings": [{"id": i} for i in remaining[: int(r.param("limit"))]]}

    def delete(r: Request) -> tuple[int, Any]:
        remaining.remove(r.path.rsplit("/", 1)[1])
        return 204, None

    fake_api.route("GET", "/recordings", listing)
    for i in list(remaining):
        fake_api.route("DELETE", f"/recordings/{i}", delete)
    assert run(capsys, fake_api, "delete", "recordings", "*")[0] == 0
    assert remaining == []


def test_delete_stops_when_the_server_keeps_items(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI
) -> None:
    fake_api.route("GET", "/tasks", (200, {"tasks": [task_json(f"t{i}") for i in range(100)]}))
    for i in range(100):
        fake_api.route("DELETE", f"/tasks/t{i}", (204, None))
    code, _, err = run(capsys, fake_api, "delete", "tasks", "*")
    assert code == 3 and "still lists 't0' after deleting it" in err


def test_list_tasks_dedupes_patterns(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks", _task_pages(["cpu", "cpu2", "mem"]))
    code, out, _ = run(capsys, fake_api, "list", "tasks", "cpu*", "cpu2")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["ID", "cpu", "cpu2"]
    fields = [v for k, v in fake_api.requests[0].query if k == "fields"]
    assert fields == ["type", "status", "executing", "dbrps"]


def _recording(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "rec1", "type": "stream", "status": status, "size": 0, **extra}


def test_record_stream_waits_and_prints_only_the_id(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI
) -> None:
    polls = iter([(202, _recording("running")), (202, _recording("running")), (200, _recording("finished"))])
    fake_api.route("POST", "/recordings/stream", (201, _recording("running")))
    fake_api.route("GET", "/recordings/rec1", lambda r: next(polls))
    code, out, err = run(capsys, fake_api, "record", "stream", "-task", "cpu", "-duration", "10s")
    assert (code, out, err) == (0, "rec1\n", "")
    body = fake_api.requests[0].json()
    assert body["task"] == "cpu" and body["stop"].endswith("Z") and "id" not in body
    assert fake_api.sent("GET") == [("GET", "/kapacitor/v1/recordings/rec1")] * 3


def test_record_no_wait_prints_the_id_without_polling(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI
) -> None:
    fake_api.route("POST", "/recordings/stream", (201, _recording("running")))
    code, out, _ = run(
        capsys,
        fake_api,
        "record",
        "stream",
        "-task",
        "c",
        "-duration",
        "1m",
        "-no-wait",
        "-recording-id",
        "rec1",
    )
    assert (code, out) == (0, "rec1\n")
    assert fake_api.requests[0].json()["id"] == "rec1"
    assert fake_api.sent("GET") == []


def test_record_failure_prints_id_and_error(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("POST", "/recordings/query", (201, _recording("running")))
    fake_api.route("GET", "/recordings/rec1", (200, _recording("failed", error="query failed: no database")))
    code, out, err = run(capsys, fake_api, "record", "query", "-query", "select 1", "-type", "stream")
    assert (code, out, err) == (3, "rec1\n", "Error: query failed: no database\n")
    assert fake_api.requests[0].json() == {"query": "select 1", "type": "stream"}


def test_record_batch_past(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("POST", "/recordings/batch", (201, _recording("finished")))
    code, out, _ = run(
        capsys, fake_api, "record", "batch", "-task", "b", "-stop", "2015-09-02T00:00:00Z", "-past", "1d"
    )
    assert (code, out) == (0, "rec1\n")
    body = fake_api.requests[0].json()
    assert (body["start"], body["stop"]) == ("2015-09-01T00:00:00Z", "2015-09-02T00:00:00Z")


def test_replay_fast_by_default(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    replay = {"id": "rp1", "task": "cpu", "recording": "rec1", "status": "finished", "clock": "fast"}
    fake_api.route("POST", "/replays", (201, replay))
    code, out, _ = run(capsys, fake_api, "replay", "-id", "rec1", "-name", "cpu", "-fast")
    assert (code, out) == (0, "rp1\n")
    assert fake_api.requests[0].json() == {
        "task": "cpu",
        "recording": "rec1",
        "recording-time": False,
        "clock": "fast",
    }
    run(capsys, fake_api, "replay", "-task", "cpu", "-recording", "rec1", "-real-clock", "-rec-time")
    assert fake_api.requests[-1].json()["clock"] == "real"
    assert fake_api.requests[-1].json()["recording-time"] is True


def test_show_passes_the_replay_id(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks/cpu", (200, task_json("cpu")))
    code, out, _ = run(capsys, fake_api, "show", "-replay", "rp1", "cpu")
    assert code == 0 and out.startswith("ID: cpu\nError: \n")
    assert ("replay-id", "rp1") in fake_api.requests[0].query
    assert ("dot-view", "attributes") in fake_api.requests[0].query


def test_vars_level_and_stats(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    raw = b'{"cluster_id": "c", "num_tasks": 2,\n "kapacitor": {}}\n'
    fake_api.route("GET", "/debug/vars", (200, raw))
    fake_api.route("POST", "/loglevel", (204, None))
    assert run(capsys, fake_api, "vars")[:2] == (0, raw.decode())
    assert run(capsys, fake_api, "level", "debug")[0] == 0
    assert fake_api.requests[-1].json() == {"level": "DEBUG"}
    code, out, _ = run(capsys, fake_api, "stats", "general")
    assert code == 0 and out.splitlines()[3] == "Tasks:".ljust(30) + "2".ljust(30)


def test_client_error_classes(fake_api: FakeAPI) -> None:
    fake_api.route("GET", "/tasks/a", (404, {"error": "no task a"}))
    fake_api.route("GET", "/tasks/b", (400, {"error": "bad"}))
    fake_api.route("GET", "/tasks/c", (500, b"<html>oops</html>"))
    fake_api.route("GET", "/tasks/d", (200, b"not json"))
    with Client(fake_api.url) as c:
        with pytest.raises(NotFoundError, match=r"^no task a$"):
            c.task("a")
        with pytest.raises(RequestError, match=r"^bad$"):
            c.task("b")
        with pytest.raises(ServerError, match=r"invalid response: code 500: body: <html>oops</html>") as exc:
            c.task("c")
        assert exc.value.status == 500
        with pytest.raises(ServerError, match="failed to decode JSON"):
            c.task("d")
    with pytest.raises(ConnectError, match="connection refused"):
        Client("http://127.0.0.1:9").task("a")


def test_client_quotes_ids_in_paths(fake_api: FakeAPI) -> None:
    fake_api.route("DELETE", "/tasks/a%2Fb", (204, None))
    with Client(fake_api.url + "/") as c:
        c.delete_task("a/b")
    assert fake_api.sent() == [("DELETE", "/kapacitor/v1/tasks/a%2Fb")]


def test_progress_bar_goes_to_stderr_on_a_terminal(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.delenv("TERM", raising=False)
    polls = iter([(202, _recording("running", progress=0.5)), (200, _recording("finished"))])
    fake_api.route("POST", "/recordings/stream", (201, _recording("running")))
    fake_api.route("GET", "/recordings/rec1", lambda r: next(polls))
    code, out, err = run(capsys, fake_api, "record", "stream", "-task", "cpu", "-duration", "1s")
    assert (code, out) == (0, "rec1\n")
    assert "recording rec1" in err


def test_replay_live_batch_and_query(capsys: pytest.CaptureFixture[str], fake_api: FakeAPI) -> None:
    replay = {"id": "rp1", "task": "b", "status": "finished", "clock": "real"}
    fake_api.route("POST", "/replays/batch", (201, replay))
    fake_api.route("POST", "/replays/query", (201, replay))
    code, out, _ = run(
        capsys,
        fake_api,
        "replay-live",
        "batch",
        "-task",
        "b",
        "-start",
        "2015-09-01T00:00:00Z",
        "-stop",
        "2015-09-02T00:00:00.5Z",
        "-real-clock",
    )
    assert (code, out) == (0, "rp1\n")
    assert fake_api.requests[-1].json() == {
        "task": "b",
        "start": "2015-09-01T00:00:00Z",
        "stop": "2015-09-02T00:00:00.5Z",
        "recording-time": False,
        "clock": "real",
    }
    code, out, _ = run(
        capsys, fake_api, "replay-live", "query", "-task", "b", "-query", "select 1", "-rec-time"
    )
    assert (code, out) == (0, "rp1\n")
    assert fake_api.requests[-1].json() == {
        "task": "b",
        "query": "select 1",
        "recording-time": True,
        "clock": "fast",
    }
    code, _, err = run(capsys, fake_api, "replay-live", "query", "-task", "b")
    assert code == 3 and "Error: both query and task are required" in err


def test_topic_verbs(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, tmp_path: Path, utc: None
) -> None:
    topic = {"id": "cpu", "level": "CRITICAL", "collected": 5}
    fake_api.route("GET", "/alerts/topics/cpu", (200, topic))
    fake_api.route("GET", "/alerts/topics", (200, {"topics": [topic]}))
    fake_api.route(
        "GET",
        "/alerts/topics/cpu/events",
        (
            200,
            {
                "events": [
                    {
                        "id": "cpu:host=b",
                        "state": {"message": "b is high", "time": "2017-01-01T10:05:00Z", "level": "WARNING"},
                    },
                    {
                        "id": "cpu:host=a",
                        "state": {
                            "message": "a is very high",
                            "time": "2017-01-01T10:00:00Z",
                            "level": "CRITICAL",
                        },
                    },
                ]
            },
        ),
    )
    handler = {
        "id": "slack",
        "kind": "slack",
        "options": {"channel": "#alerts", "url": "http://x/?a=1&b=<2>"},
    }
    fake_api.route("GET", "/alerts/topics/cpu/handlers", (200, {"handlers": [handler]}))
    fake_api.route("GET", "/alerts/topics/cpu/handlers/slack", (200, handler))
    code, out, _ = run(capsys, fake_api, "show-topic", "cpu")
    assert code == 0
    assert out == (
        "ID: cpu\nLevel: CRITICAL\nCollected: 5\nHandlers: [slack]\nEvents:\n"
        "Event      Level    Message        Date                   \n"
        "cpu:host=a CRITICAL a is very high 01 Jan 17 10:00 UTC    \n"
        "cpu:host=b WARNING  b is high      01 Jan 17 10:05 UTC    \n"
    )
    code, out, _ = run(capsys, fake_api, "show-topic-handler", "cpu", "slack")
    assert out == (
        "ID: slack\nTopic: cpu\nKind: slack\nMatch: \n"
        'Options: {"channel":"#alerts","url":"http://x/?a=1\\u0026b=\\u003c2\\u003e"}\n'
    )
    code, out, _ = run(capsys, fake_api, "list", "topic-handlers")
    assert out.splitlines()[1].split() == ["cpu", "slack", "slack"]
    code, out, _ = run(capsys, fake_api, "list", "topics")
    assert out.splitlines()[1] == "cpu CRITICAL          5"

    spec = tmp_path / "h.json"
    spec.write_text(json.dumps({"topic": "cpu", "id": "slack", "kind": "slack", "options": {}}))
    fake_api.route("PUT", "/alerts/topics/cpu/handlers/slack", (200, handler))
    assert run(capsys, fake_api, "define-topic-handler", str(spec))[0] == 0
    assert fake_api.requests[-1].method == "PUT"
    spec.write_text(json.dumps({"topic": "cpu", "id": "new", "kind": "log", "options": {"path": "/tmp/a"}}))
    fake_api.route("POST", "/alerts/topics/cpu/handlers", (200, {"id": "new", "kind": "log"}))
    assert run(capsys, fake_api, "define-topic-handler", str(spec))[0] == 0
    assert (fake_api.requests[-1].method, fake_api.requests[-1].json()["id"]) == ("POST", "new")
    fake_api.route("DELETE", "/alerts/topics/cpu/handlers/slack", (204, None))
    assert run(capsys, fake_api, "delete", "topic-handlers", "cpu", "sl*")[0] == 0
    assert fake_api.requests[-1].path == "/kapacitor/v1/alerts/topics/cpu/handlers/slack"


def test_client_reconnects_when_the_server_dropped_an_idle_connection() -> None:
    # A server that answers one request per connection while promising keep-alive, then hangs
    # up: the client's second request meets a dead socket and must resend on a fresh one.
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"tasks":[]}'
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    served: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                served.append(conn.recv(65536).split(b"\r\n", 1)[0])
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with Client(f"http://127.0.0.1:{listener.getsockname()[1]}") as c:
        assert c.list_tasks() == []
        time.sleep(0.05)  # let the server's close reach us
        assert c.list_tasks("a*") == []
    thread.join(5)
    listener.close()
    assert len(served) == 2 and all(line.startswith(b"GET /kapacitor/v1/tasks?") for line in served)


def test_interrupted_wait_says_where_the_recording_is(
    capsys: pytest.CaptureFixture[str], fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("kapfast.cli.session.time.sleep", interrupt)
    fake_api.route("POST", "/recordings/stream", (201, _recording("running")))
    code, out, err = run(capsys, fake_api, "record", "stream", "-task", "cpu", "-duration", "1h")
    assert (code, out) == (130, "")
    assert "interrupted: recording rec1 goes on in the server\n" in err
