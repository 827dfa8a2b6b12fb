"""httpPost against a real HTTP server on 127.0.0.1, as Kapacitor's http_post.go behaves: one
POST per point (stream) or per batch, ``{"series":[row]}`` JSON or the endpoint's row template,
the URL a template too, headers, status code field, 0 when no answer came."""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import pytest
from tests.engine.helpers import S, feed, series
from tests.engine.recorder import Recorder, Request

from kapfast.clock import VirtualClock
from kapfast.config import from_mapping
from kapfast.engine.alert.services import SERVICE_KEY as ALERT_SERVICES
from kapfast.engine.alert.services import AlertServices
from kapfast.engine.context import TaskContext
from kapfast.engine.task import Task
from kapfast.errors import TaskError
from kapfast.tick import compile_script


def _task(script: str, services: dict[str, Any] | None = None) -> tuple[Task, VirtualClock]:
    clock = VirtualClock(0)
    ctx = TaskContext(task_id="t", clock=clock, services=dict(services or {}))
    return Task("t", compile_script(script), ctx), clock


def test_stream_points_posted_one_by_one_as_kapacitor_rows() -> None:
    with Recorder() as srv:
        task, clock = _task(f"""
stream|from().measurement('cpu')
  |httpPost('{srv.url}/hook').header('X-Team', 'ops').codeField('code')
  |httpOut('out')
""")
        feed(
            task,
            clock,
            [
                ("cpu", {"host": "a<b", "type": "idle"}, {"value": 97.1}, 31536000 * S),
                ("cpu", {"host": "b"}, {"value": 3, "ok": True, "s": "x"}, 31536001 * S + 5),
            ],
        )
        assert [r.method for r in srv.requests] == ["POST", "POST"]
        assert srv.requests[0].path == "/hook"
        # Go's json.Encoder: struct field order, HTML escaping, float 97.1, trailing newline
        assert srv.requests[0].body == (
            b'{"series":[{"name":"cpu","tags":{"host":"a\\u003cb","type":"idle"},'
            b'"columns":["time","value"],"values":[["1971-01-01T00:00:00Z",97.1]]}]}\n'
        )
        assert json.loads(srv.requests[1].body) == {
            "series": [
                {
                    "name": "cpu",
                    "tags": {"host": "b"},
                    "columns": ["time", "ok", "s", "value"],
                    "values": [["1971-01-01T00:00:01.000000005Z", True, "x", 3]],
                }
            ]
        }
        h = srv.requests[0].headers
        assert h["Content-Type"] == "application/json"
        assert h["X-Team"] == "ops"
    # the points go on, each with its status code as an int field
    out = series(task)
    assert out[0]["columns"] == ["time", "code", "ok", "s", "value"]
    assert out[0]["values"][0][1] == 200


def test_batch_posted_once_with_code_on_every_point() -> None:
    with Recorder(lambda r: (201, "text/plain", b"")) as srv:
        task, clock = _task(f"""
stream|from().measurement('cpu').groupBy('host')
  |window().period(10s).every(10s)
  |httpPost('{srv.url}').codeField('status')
  |httpOut('out')
""")
        feed(
            task,
            clock,
            [
                ("cpu", {"host": "a"}, {"value": 1.0}, 1 * S),
                ("cpu", {"host": "a"}, {"value": 2.0}, 2 * S),
                ("cpu", {"host": "a"}, {"value": 3.0}, 11 * S),
            ],
            chunk=1,
        )
        assert len(srv.requests) == 1
        body = json.loads(srv.requests[0].body)
        assert body == {
            "series": [
                {
                    "name": "cpu",
                    "tags": {"host": "a"},
                    "columns": ["time", "value"],
                    "values": [["1970-01-01T00:00:01Z", 1.0], ["1970-01-01T00:00:02Z", 2.0]],
                }
            ]
        }
    out = series(task)
    assert out[0]["columns"] == ["time", "status", "value"]
    assert [v[1] for v in out[0]["values"]] == [201, 201]


def test_endpoint_row_template_url_template_and_headers() -> None:
    with Recorder() as srv:
        cfg, _ = from_mapping(
            {
                "httppost": [
                    {
                        "endpoint": "ex",
                        "url": srv.url + '/{{.Name}}/{{index .Tags "host"}}',
                        "headers": {"X-Team": "endpoint"},
                        "basic-auth": {"username": "u", "password": "p"},
                        "row-template": (
                            '{{.Name}}{{range .Values}} {{index . "value"}}@{{index . "time"}}{{end}}'
                        ),
                    }
                ]
            }
        )
        task, clock = _task(
            """
stream|from().measurement('cpu')
  |httpPost().endpoint('ex').header('X-Team', 'node')
""",
            {ALERT_SERVICES: AlertServices.from_config(cfg)},
        )
        feed(task, clock, [("cpu", {"host": "srv1"}, {"value": 2.5}, 0)])
        (req,) = srv.requests
        assert req.path == "/cpu/srv1"
        assert req.body == b"cpu 2.5@1970-01-01 00:00:00 +0000 UTC"
        assert req.headers["Authorization"] == "Basic dTpw"
        assert req.headers["X-Team"] == "node"  # the node's .header() wins
        assert "Content-Type" not in req.headers  # a row template sets none


def test_unknown_endpoint_is_refused_when_the_task_starts() -> None:
    with pytest.raises(TaskError, match="endpoint 'nope' does not exist"):
        _task("stream|from()|httpPost().endpoint('nope')")


def test_error_answer_logged_with_captured_body_and_code_kept(caplog: pytest.LogCaptureFixture) -> None:
    with Recorder(lambda r: (503, "text/plain", b"overloaded")) as srv:
        task, clock = _task(f"""
stream|from()|httpPost('{srv.url}').captureResponse().codeField('code')|httpOut('out')
""")
        with caplog.at_level(logging.ERROR):
            feed(task, clock, [("cpu", {}, {"value": 1}, 0)])
    assert "overloaded" in caplog.text and "503" in caplog.text
    assert series(task)[0]["values"][0][1] == 503
    assert task.node_stats()["http_post2"]["errors"] == 1


def test_no_answer_is_code_zero_and_timeout_bounds_the_wait() -> None:
    # a port nobody listens on: refused at once
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    task, clock = _task(f"stream|from()|httpPost('http://127.0.0.1:{port}/').codeField('c')|httpOut('out')")
    feed(task, clock, [("cpu", {}, {"value": 1}, 0)])
    assert series(task)[0]["values"][0][1] == 0

    def slow(_: Request) -> tuple[int, str, bytes]:
        time.sleep(1.0)
        return 200, "text/plain", b""

    with Recorder(slow) as srv:
        task, clock = _task(
            f"stream|from()|httpPost('{srv.url}').timeout(100ms).codeField('c')|httpOut('out')"
        )
        start = time.monotonic()
        feed(task, clock, [("cpu", {}, {"value": 1}, 0)])
        assert time.monotonic() - start < 0.9
    assert series(task)[0]["values"][0][1] == 0
