"""[load]: tasks and templates defined by files in the load directory, at start and on SIGHUP."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from kapfastd_proc import Kapfastd, wait_for

CPU = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
    |httpOut('out')
"""
TEMPLATE = """var measurement string
var limit = 10
dbrp "telegraf"."autogen"

stream
    |from()
        .measurement(measurement)
    |where(lambda: "v" > limit)
    |httpOut('out')
"""


def load_config(d: Path) -> str:
    return f'[load]\n  enabled = true\n  dir = "{d}"\n'


def ids(k: Kapfastd, kind: str) -> list[str]:
    return [t["id"] for t in k.api("GET", f"/{kind}").json()[kind]]


def test_load_directory_defines_updates_and_removes(
    tmp_path: Path, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    load = tmp_path / "load"
    (load / "tasks").mkdir(parents=True)
    (load / "templates").mkdir()
    (load / "tasks" / "cpu.tick").write_text(CPU)
    (load / "templates" / "above.tick").write_text(TEMPLATE)
    task_vars = {
        "template-id": "above",  # its dbrp comes from the template
        "vars": {"measurement": {"type": "string", "value": "mem"}, "limit": {"type": "int", "value": 50}},
    }
    (load / "tasks" / "mem_above.json").write_text(json.dumps(task_vars))
    (load / "tasks" / "broken.tick").write_text("stream\n    |from(\n")
    (load / "tasks" / "README.md").write_text("not a task")
    (load / "handlers").mkdir()
    log_path = tmp_path / "alerts.log"
    handler = {"topic": "cpu", "id": "to_log", "kind": "log", "options": {"path": str(log_path)}}
    (load / "handlers" / "to_log.json").write_text(json.dumps(handler))
    k = kapfastd_factory(load_config(load))

    assert ids(k, "tasks") == ["cpu", "mem_above"]  # the broken file is reported, the rest loads
    assert ids(k, "templates") == ["above"]
    cpu = k.api("GET", "/tasks/cpu").json()
    assert cpu["status"] == "enabled" and cpu["executing"] is True
    assert cpu["dbrps"] == [{"db": "telegraf", "rp": "autogen"}]
    assert "broken.tick" in k.log_tail(200)
    handlers = k.api("GET", "/alerts/topics/cpu/handlers").json()["handlers"]
    assert [(h["id"], h["kind"], h["options"]["path"]) for h in handlers] == [
        ("to_log", "log", str(log_path))
    ]
    assert k.write("mem v=60\nmem v=40\ncpu v=1\n").status == 204
    mem = k.api("GET", "/tasks/mem_above/out").json()["series"]
    assert [row[1] for row in mem[0]["values"]] == [60.0]

    # Change, add and remove files, then SIGHUP: the directory is loaded again.
    (load / "tasks" / "cpu.tick").write_text(CPU.replace("httpOut('out')", "httpOut('out2')"))
    (load / "tasks" / "mem_above.json").unlink()
    (load / "handlers" / "to_log.json").unlink()
    (load / "tasks" / "disk.tick").write_text(CPU.replace("'cpu'", "'disk'"))
    assert k.proc is not None
    k.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: ids(k, "tasks") == ["cpu", "disk"], what="the reloaded directory")
    assert "httpOut('out2')" in k.api("GET", "/tasks/cpu").json()["script"]
    assert k.api("GET", "/tasks/cpu").json()["executing"] is True
    assert k.api("GET", "/alerts/topics/cpu/handlers").json()["handlers"] == []
    # a task defined over the API is not the load directory's to remove
    assert k.api("POST", "/tasks", {"id": "mine", "script": CPU}).status == 200
    k.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "mine" in ids(k, "tasks"), what="the API task kept")
    # restart: the directory loads again, the items it owns are still known
    (load / "tasks" / "disk.tick").unlink()
    k.stop()
    k.start()
    assert ids(k, "tasks") == ["cpu", "mine"]
