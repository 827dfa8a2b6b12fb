"""[deadman]: a global deadman on every task, with the configured id and message."""

from __future__ import annotations

from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for

from kapfast.storage import DBRP, TaskRecord
from kapfast.tasks.service import compile_task
from kapfast.tick.registry import DeadmanDefaults

CPU = """stream
    |from()
        .measurement('cpu')
    |httpOut('out')
"""
CONFIG = """[deadman]
  global = true
  threshold = 0.0
  interval = "1s"
  id = "dead:NODE_NAME:{{ .TaskName }}"
  message = "{{ .ID }} {{ .Level }} at INTERVAL"
"""


def test_global_deadman_watches_every_task_source() -> None:
    rec = TaskRecord(id="t", type="stream", dbrps=[DBRP("db", "rp")], script=CPU, status="enabled")
    plain = [n.name for n in compile_task(rec).nodes]
    assert plain == ["stream0", "from1", "http_out2"]
    watched = compile_task(rec, DeadmanDefaults(global_=True, threshold=2.5, interval_ns=60 * 10**9))
    assert [n.name for n in watched.nodes] == [*plain, "stats3", "derivative4", "alert5"]
    alert = watched.nodes[-1]
    assert alert.properties["crit"].text == '"emitted" <= 2.5'
    assert alert.properties["id"] == "{{ .Group }}:stream0"
    assert alert.properties["message"].endswith("points/1m0s.")
    custom = DeadmanDefaults(global_=True, interval_ns=10**9, id="dead:NODE_NAME", message="m INTERVAL")
    alert = compile_task(rec, custom).nodes[-1]
    assert (alert.properties["id"], alert.properties["message"]) == ("dead:stream0", "m 1s")


def test_kapfastd_global_deadman_fires_on_a_silent_task(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(CONFIG)
    body = {"id": "quiet", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": CPU, "status": "enabled"}
    assert k.api("POST", "/tasks", body).status == 200
    assert "alert5" in k.api("GET", "/tasks/quiet").json()["dot"]
    # as in Kapacitor, a deadman watches the groups it has seen: data first, then silence
    assert k.write("cpu,host=a v=1\n").status == 204

    def crits() -> int:
        return int(k.api("GET", "/tasks/quiet").json()["stats"]["node-stats"]["alert5"]["crits_triggered"])

    wait_for(crits, timeout_s=20, what="the deadman alert")
    # without handlers the alert has no anonymous topic (Kapacitor's hasAnonTopic), so there
    # is no event to read back: the id and message are checked at compile time above
