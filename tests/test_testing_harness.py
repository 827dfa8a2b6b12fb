"""kapfast.testing.TaskHarness: TICKscripts unit-tested from Python on a virtual clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kapfast.errors import InputError, LineProtocolError
from kapfast.testing import TaskHarness

S = 1_000_000_000
CPU_ALERT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .warn(lambda: "usage_idle" < 20)
        .crit(lambda: "usage_idle" < 10)
        .stateChangesOnly()
    |httpOut('out')
"""


def test_stream_alerts_and_http_out_with_durations_as_times() -> None:
    with TaskHarness(CPU_ALERT, start="2026-01-01T00:00:00Z") as t:
        assert t.write("cpu,host=a usage_idle=50 0s\ncpu,host=b usage_idle=15 1s") == 2
        t.write("cpu,host=a usage_idle=5 10s")
        t.write("cpu,host=a usage_idle=4 20s")  # still critical: stateChangesOnly keeps quiet
        t.write("cpu,host=a usage_idle=60 30s")
        got = [(a["id"], a["level"], a["previousLevel"], a["time"]) for a in t.alerts()]
        assert got == [
            ("cpu:host=b", "WARNING", "OK", "2026-01-01T00:00:01Z"),
            ("cpu:host=a", "CRITICAL", "OK", "2026-01-01T00:00:10Z"),
            ("cpu:host=a", "OK", "CRITICAL", "2026-01-01T00:00:30Z"),
        ]
        assert [a["id"] for a in t.alerts(level="CRITICAL")] == ["cpu:host=a"]
        assert t.alerts()[0]["data"]["series"][0]["tags"] == {"host": "b"}
        series = {s["tags"]["host"]: s["values"][-1][1] for s in t.http_out("out")}
        assert series == {"a": 60.0, "b": 15.0}
        assert t.stats()["alert2"]["crits_triggered"] == 1


def test_deadman_fires_when_the_clock_moves_on() -> None:
    script = "stream\n    |from()\n        .measurement('cpu')\n    |deadman(0.0, 10s)\n"
    with TaskHarness(script, dbrp="telegraf.autogen") as t:
        t.write("cpu v=1 1s")
        t.advance("5s")
        assert t.alerts() == []
        t.advance(to="40s")
        assert [a["level"] for a in t.alerts()] == ["CRITICAL"]
        assert "is dead: 0.000 points/10s" in t.alerts()[0]["message"]


def test_batch_tasks_take_batches_per_query_node() -> None:
    script = """dbrp "telegraf"."autogen"

batch
    |query('SELECT mean(usage_idle) AS idle FROM "telegraf"."autogen"."cpu"')
        .period(1m)
        .every(1m)
        .groupBy('host')
    |alert()
        .crit(lambda: "idle" < 10)
"""
    with TaskHarness(script) as t:
        t.write_batch("cpu", [("1m", {"idle": 5.0})], tags={"host": "a"})
        t.write_batch("cpu", [("1m", {"idle": 50.0})], tags={"host": "b"})
        assert [(a["id"], a["level"]) for a in t.alerts()] == [("cpu:host=a", "CRITICAL")]
        with pytest.raises(InputError, match="write_batch"):
            t.write("cpu v=1")


def test_handlers_run_for_real_and_bad_lines_are_named(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    script = CPU_ALERT.replace(".stateChangesOnly()", f".log('{log}')")
    with TaskHarness(script) as t:
        with pytest.raises(LineProtocolError) as err:
            t.write("cpu,host=a usage_idle=5 1s\ncpu,host=a usage_idle= 2s\n")
        assert (err.value.line, err.value.column) == (2, 23)
        # the good line went through and its alert reached the log file
        assert [json.loads(x)["level"] for x in log.read_text().splitlines()] == ["CRITICAL"]
        with pytest.raises(InputError, match="cannot go back"):
            t.advance(to=0)
        with pytest.raises(InputError, match="no httpOut"):
            t.http_out("nope")
