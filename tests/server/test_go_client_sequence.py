"""kapfastd driven with the request sequence of Kapacitor's Go client (client/v1): define, enable,
record, replay and delete a task, a template and a topic handler, comparing each body byte for
byte with what Kapacitor writes (``httpd.MarshalJSON``: Go's encoding, the client structs' field
order, Go maps' sorted keys, a 4-space indent).

The requests are the client's: its paths, its query strings (``url.Values.Encode``: sorted keys),
its bodies (``json.Marshal`` of its option structs, ``omitempty`` fields left out) and the status
codes it accepts. Where a value cannot be known in advance (times, sizes, a running task's dot and
stats) the expected body takes it from the answer, after checking its form.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from kapfastd_proc import Kapfastd, wait_for

from kapfast.gofmt import json_marshal

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
BASE = "/kapacitor/v1"


class GoClient:
    """The Go client's requests, as client/v1/client.go builds them."""

    def __init__(self, k: Kapfastd) -> None:
        self.k = k

    def do(self, method: str, path: str, body: dict[str, Any] | None, *codes: int, **query: str) -> Any:
        url = path + ("?" + urlencode(sorted(query.items())) if query else "")
        raw = json_marshal(body).encode() if body is not None else None
        ans = self.k.request(method, url, raw=raw, headers={"User-Agent": "KapacitorClient"})
        assert ans.status in codes, (method, url, ans)
        return ans

    def link(self, kind: str, ident: str) -> str:
        return f"{BASE}/{kind}/{ident}"

    def task(self, ident: str) -> Any:
        # Task(link, nil): the default TaskOptions are always sent
        return self.do(
            "GET",
            self.link("tasks", ident),
            None,
            200,
            **{"dot-view": "attributes"},
            **{"script-format": "formatted"},
        )


def pretty(v: Any) -> bytes:
    return json_marshal(v, "    ").encode()


def expected_task(ans: Any, **fields: Any) -> dict[str, Any]:
    """client.Task in its field order; times, dot and stats from the answer (checked)."""
    got = ans.json()
    for key in ("created", "modified", "last-enabled"):
        assert RFC3339.match(got[key]), got[key]
    return {
        "link": {"rel": "self", "href": f"{BASE}/tasks/{fields['id']}"},
        "id": fields["id"],
        "template-id": fields.get("template-id", ""),
        "type": fields["type"],
        "dbrps": fields["dbrps"],
        "script": fields["script"],
        "vars": fields.get("vars", {}),
        "dot": got["dot"],
        "status": fields["status"],
        "executing": fields["status"] == "enabled",
        "error": "",
        "stats": got["stats"] if fields["status"] == "enabled" else {"task-stats": None, "node-stats": None},
        "created": got["created"],
        "modified": got["modified"],
        "last-enabled": got["last-enabled"],
    }


TEMPLATE = """// which measurement
var measurement string

stream
    |from()
        .measurement(measurement)
    |httpOut('out')
"""
DBRPS = [{"db": "mydb", "rp": "myrp"}]


def test_go_client_task_template_recording_replay_handler(kapfastd: Kapfastd) -> None:
    c = GoClient(kapfastd)

    # CreateTemplate(CreateTemplateOptions{ID, Type, TICKscript})
    tpl = c.do("POST", f"{BASE}/templates", {"id": "tpl", "type": "stream", "script": TEMPLATE}, 200)
    got = tpl.json()
    assert tpl.body == pretty(
        {
            "link": {"rel": "self", "href": f"{BASE}/templates/tpl"},
            "id": "tpl",
            "type": "stream",
            "script": TEMPLATE,
            "vars": {"measurement": {"type": "string", "value": None, "description": "which measurement"}},
            "dot": got["dot"],
            "error": "",
            "created": got["created"],
            "modified": got["modified"],
        }
    ), tpl.text

    # CreateTask(CreateTaskOptions{ID, TemplateID, DBRPs, Status: Disabled, Vars})
    var = {"measurement": {"type": "string", "value": "cpu"}}
    opts = {"id": "t", "template-id": "tpl", "dbrps": DBRPS, "status": "disabled", "vars": var}
    made = c.do("POST", f"{BASE}/tasks", opts, 200)
    fields = {**opts, "type": "stream", "script": TEMPLATE, "status": "disabled"}
    assert made.body == pretty(expected_task(made, **fields)), made.text

    # UpdateTask(link, UpdateTaskOptions{Status: Enabled}), then Task(link, nil)
    enabled = c.do("PATCH", c.link("tasks", "t"), {"status": "enabled"}, 200)
    assert enabled.body == pretty(expected_task(enabled, **{**fields, "status": "enabled"})), enabled.text
    shown = c.task("t")
    assert shown.body == pretty(expected_task(shown, **{**fields, "status": "enabled"})), shown.text
    stats = shown.json()["stats"]
    # ExecutionStats' two fields first, in their order (kapfast may add its own after them)
    assert list(stats)[:2] == ["task-stats", "node-stats"]
    assert list(stats["node-stats"]) == sorted(stats["node-stats"])

    # RecordStream(RecordStreamOptions{ID, Task, Stop}) -> 201, Recording(link) until 200
    stop = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    rec = c.do("POST", f"{BASE}/recordings/stream", {"id": "rec", "task": "t", "stop": stop}, 201)
    assert list(rec.json()) == ["link", "id", "type", "size", "date", "error", "status", "progress"]
    for v in range(3):
        assert kapfastd.write(f"cpu value={v}", "db=mydb&rp=myrp").status == 204
    done = wait_for(
        lambda: (a := c.do("GET", c.link("recordings", "rec"), None, 200, 202)).status == 200 and a,
        what="the recording",
    )
    got = done.json()
    assert RFC3339.match(got["date"]) and got["size"] > 0
    assert done.body == pretty(
        {
            "link": {"rel": "self", "href": f"{BASE}/recordings/rec"},
            "id": "rec",
            "type": "stream",
            "size": got["size"],
            "date": got["date"],
            "error": "",
            "status": "finished",
            "progress": 1,
        }
    ), done.text

    # CreateReplay(CreateReplayOptions{ID, Task, Recording, RecordingTime, Clock}) -> 201
    replay = {"id": "rp", "task": "t", "recording": "rec", "recording-time": False, "clock": "fast"}
    c.do("POST", f"{BASE}/replays", replay, 201)
    done = wait_for(
        lambda: (a := c.do("GET", c.link("replays", "rp"), None, 200, 202)).status == 200 and a,
        what="the replay",
    )
    got = done.json()
    assert done.body == pretty(
        {
            "link": {"rel": "self", "href": f"{BASE}/replays/rp"},
            **replay,
            "date": got["date"],
            "error": "",
            "status": "finished",
            "progress": 1,
            "stats": got["stats"],
        }
    ), done.text
    assert list(got["stats"])[:2] == ["task-stats", "node-stats"]

    # CreateTopicHandler(link, TopicHandlerOptions{ID, Kind, Options, Match}), TopicHandler(link)
    log_path = str(kapfastd.data_dir / "alerts.log")
    handler = {"id": "h", "kind": "log", "options": {"path": log_path, "mode": 420}, "match": ""}
    hpath = f"{BASE}/alerts/topics/ops/handlers"
    exp_handler = pretty(
        {
            "link": {"rel": "self", "href": f"{hpath}/h"},
            "id": "h",
            "kind": "log",
            "options": {"mode": 420, "path": log_path},  # a Go map: sorted keys
            "match": "",
        }
    )
    assert c.do("POST", hpath, handler, 200).body == exp_handler
    assert c.do("GET", f"{hpath}/h", None, 200).body == exp_handler
    listed = c.do("GET", hpath, None, 200, pattern="").json()
    assert listed["link"] == {"rel": "self", "href": f"{hpath}?pattern="} and len(listed["handlers"]) == 1

    # the deletes: 204 each; then the client's errors are Kapacitor's
    c.do("DELETE", f"{hpath}/h", None, 204)
    c.do("DELETE", c.link("replays", "rp"), None, 204)
    c.do("DELETE", c.link("recordings", "rec"), None, 204)
    c.do("DELETE", c.link("tasks", "t"), None, 204)
    c.do("DELETE", c.link("templates", "tpl"), None, 204)
    gone = c.do(
        "GET", c.link("tasks", "t"), None, 404, **{"dot-view": "attributes", "script-format": "formatted"}
    )
    assert gone.body == b'{\n    "error": "no task exists with id \\"t\\""\n}'
    assert c.do("GET", f"{hpath}/h", None, 404).json() == {"error": 'unknown handler: "h"'}
