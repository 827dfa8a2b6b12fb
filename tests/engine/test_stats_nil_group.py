"""Kapacitor's ``nodeStatsByGroup``: a node that has emitted to no group yet is reported as the nil
group with ``emitted=0``, so ``stats`` emits and ``deadman`` fires for a source silent from the
start (a host already down when the daemon starts)."""

from __future__ import annotations

from kapfast.testing import TaskHarness


def test_deadman_fires_for_a_source_that_never_emitted() -> None:
    script = "stream\n    |from()\n        .measurement('cpu')\n    |deadman(1.0, 10s)\n"
    with TaskHarness(script, dbrp="telegraf.autogen") as t:
        t.advance("15s")  # one stats point (emitted=0 at 10s): the derivative needs two
        assert t.alerts() == []
        t.advance(to="25s")
        alerts = t.alerts()
        assert [a["level"] for a in alerts] == ["CRITICAL"]
        assert alerts[0]["data"]["series"][0]["values"][0][1] == 0
        assert "is dead: 0.000 points/10s" in alerts[0]["message"]
        # once points flow, the group's own count replaces the nil group: it recovers
        for s in range(26, 50):
            t.write(f"cpu v=1 {s}s")
        t.advance(to="55s")
        assert [a["level"] for a in t.alerts()][-1] == "OK"


def test_stats_emits_zero_for_the_nil_group() -> None:
    script = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |stats(10s)
    |httpOut('out')
"""
    with TaskHarness(script, dbrp="telegraf.autogen") as t:
        t.advance("10s")
        out = t.http_out("out")
        assert len(out) == 1
        assert out[0]["name"] == "stats" and "tags" not in out[0]
        assert out[0]["columns"] == ["time", "emitted"] and out[0]["values"][0][1] == 0
        t.write("cpu,host=a v=1 12s")
        t.advance(to="20s")
        # the nil group's last point stays in httpOut (it keeps every group's last)
        series = [(s.get("tags"), s["values"][0][1]) for s in t.http_out("out")]
        assert series == [(None, 0), ({"host": "a"}, 1)]
