"""Idle-group expiry ([groups] expire-idle, kapfast.engine.expiry): the state of a group that sent
nothing for the expiry is dropped from every node, so churning tag sets cannot grow a task without
bound (Kapacitor keeps them forever: #1157, #1255, #2471). Off, a task is exactly Kapacitor's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kapfast.engine.expiry import GroupExpiry
from kapfast.engine.messages import Group
from kapfast.testing import TaskHarness

S = 10**9

WINDOW = """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('v')
    |httpOut('out')
"""


def _stats(t: TaskHarness) -> dict[str, dict[str, Any]]:
    """Kapacitor's node statistics with kapfast's own (``groups_expired``) merged in."""
    extra = t.task.extra_stats()
    return {name: {**st, **extra.get(name, {})} for name, st in t.task.node_stats().items()}


def _card(t: TaskHarness, node: str) -> int:
    return int(_stats(t)[node]["working_cardinality"])


def test_group_expiry_orders_groups_by_last_touch() -> None:
    ex = GroupExpiry(10)
    a, b, c = Group("a"), Group("b"), Group("c")
    ex.touch([a, b, c], 0)
    ex.touch_one(a, 5)
    assert ex.due(9) == []
    assert ex.due(10) == [b, c]  # idle for exactly the expiry: due
    assert len(ex) == 1 and ex.expired == 2
    ex.forget("a")
    assert ex.due(100) == [] and len(ex) == 0
    with pytest.raises(ValueError):
        GroupExpiry(0)


def test_off_by_default_every_group_stays_as_in_kapacitor() -> None:
    with TaskHarness(WINDOW) as t:
        t.write("cpu,host=a v=1 0s\ncpu,host=b v=2 0s")
        t.advance("1h")
        assert _card(t, "window2") == 2
        assert "groups_expired" not in _stats(t)["from1"]


def test_idle_group_state_is_dropped_everywhere_downstream() -> None:
    with TaskHarness(WINDOW, group_expiry="1m") as t:
        t.write("cpu,host=a v=1 0s\ncpu,host=b v=2 0s\ncpu,host=a v=3 10s\ncpu,host=b v=4 10s")
        assert _card(t, "window2") == 2 and _card(t, "http_out4") == 2
        # host=b goes quiet; host=a keeps sending
        for s in range(20, 80, 10):
            t.write(f"cpu,host=a v={s} {s}s")
        stats = _stats(t)
        assert stats["from1"]["groups_expired"] == 1
        assert _card(t, "window2") == 1
        assert _card(t, "http_out4") == 1
        assert [r["tags"]["host"] for r in t.http_out("out")] == ["a"]


def test_a_returning_group_starts_over() -> None:
    with TaskHarness(WINDOW, group_expiry="30s") as t:
        t.write("cpu,host=b v=100 0s\ncpu,host=b v=100 5s")  # an open window [0s, 10s)
        t.advance("40s")
        assert _card(t, "window2") == 0
        t.write("cpu,host=b v=1 50s\ncpu,host=b v=3 61s")
        # the window of before the expiry is gone, not emitted late with stale points
        rows = t.http_out("out")
        assert [r["values"] for r in rows] == [[["1970-01-01T00:01:00Z", 1.0]]]


def test_derivative_forgets_the_previous_point() -> None:
    script = """stream
    |from().measurement('c').groupBy('host')
    |derivative('v').unit(1s).as('d')
    |httpOut('out')
"""
    with TaskHarness(script, group_expiry="1m") as t:
        t.write("c,host=a v=0 0s\nc,host=a v=10 10s")
        assert t.http_out("out")[0]["values"][0][1] == 1.0
        t.advance("2m")
        assert _card(t, "derivative2") == 0
        t.write("c,host=a v=1000 200s")  # no previous point: nothing to derive from
        assert t.http_out("out") == []
        t.write("c,host=a v=1010 210s")
        assert t.http_out("out")[0]["values"][0][1] == 1.0


CRIT = """stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "v" > 90).id('{{ index .Tags "host" }}')
"""


def test_alert_state_of_an_expired_group_continues_from_its_topic() -> None:
    # an alert's events stay in its topic (as Kapacitor's do); a group that comes back continues
    # its alert from there, as after a restart: still critical, then a recovery when it is well
    with TaskHarness(CRIT.replace(".id(", ".stateChangesOnly().id("), group_expiry="1m") as t:
        t.write("cpu,host=a v=95 0s")
        assert [a["level"] for a in t.alerts()] == ["CRITICAL"]
        t.advance("5m")
        assert _card(t, "alert2") == 0
        t.write("cpu,host=a v=99 400s")
        assert [a["level"] for a in t.alerts()] == ["CRITICAL"]  # no change: no second event
        t.write("cpu,host=a v=5 410s")
        events = t.alerts()
        assert [(a["level"], a["previousLevel"]) for a in events] == [("CRITICAL", "OK"), ("OK", "CRITICAL")]


def test_churning_groups_stay_bounded() -> None:
    # 5,000 short-lived hosts, 50 alive at a time: without expiry every node keeps all of them
    script = """stream
    |from().measurement('cpu').groupBy('host')
    |derivative('v').as('d')
    |window().period(10s).every(10s)
    |mean('d')
    |httpOut('out')
"""
    bounded = TaskHarness(script, group_expiry="1m")
    unbounded = TaskHarness(script)
    for step in range(100):
        t0 = step * 10
        lines = "\n".join(f"cpu,host=h{step * 50 + i} v={j} {t0 + j}s" for i in range(50) for j in range(3))
        bounded.write(lines)
        unbounded.write(lines)
    for node in ("derivative2", "window3"):
        assert _card(unbounded, node) >= 4_000, node
        assert _card(bounded, node) <= 400, node
    assert _stats(bounded)["from1"]["groups_expired"] >= 4_500
    # nothing of a live group is lost: the last step's groups are all there
    assert _card(bounded, "derivative2") >= 50


def test_groupby_expires_its_own_groups() -> None:
    script = """stream
    |from().measurement('cpu')
    |groupBy('host')
    |sample(2)
    |window().period(10s).every(10s)
    |count('v')
    |httpOut('out')
"""
    with TaskHarness(script, group_expiry="1m") as t:
        t.write("cpu,host=a v=1 0s\ncpu,host=b v=1 0s")
        # (a groupBy on a stream edge holds nothing: Kapacitor's working_cardinality there is 0)
        assert _card(t, "groupby2") == 0 and _card(t, "sample3") == 2
        for s in range(10, 100, 10):
            t.write(f"cpu,host=a v=1 {s}s")
        st = _stats(t)
        assert st["groupby2"]["groups_expired"] == 1
        assert _card(t, "sample3") == 1 and _card(t, "window4") == 1
        # the ungrouped from() group is busy all along: it never expires
        assert st["from1"]["groups_expired"] == 0


def test_join_drops_the_buffers_of_an_expired_group() -> None:
    script = """var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b').tolerance(1s)|httpOut('out')
"""
    with TaskHarness(script, group_expiry="1m") as t:
        t.write("a,host=x v=1 0s\na,host=y v=1 0s")  # waiting for their b partners
        assert _card(t, "join4") >= 2
        for s in range(10, 200, 10):
            t.write(f"a,host=z v=1 {s}s\nb,host=z v=2 {s}s")
        assert t.http_out("out")[0]["tags"] == {"host": "z"}
        # only host=z is left: x and y expired at the from nodes, so the join forgot them
        assert _card(t, "join4") <= 2


def test_batch_task_groups_expire() -> None:
    script = """batch
    |query('SELECT mean(v) AS v FROM db.rp.cpu').period(10s).every(10s).groupBy('host')
    |httpOut('out')
"""
    with TaskHarness(script, group_expiry="1m") as t:
        t.write_batch("cpu", [(0, {"v": 1.0})], tags={"host": "a"}, tmax="10s")
        t.write_batch("cpu", [(0, {"v": 2.0})], tags={"host": "b"}, tmax="10s")
        for s in range(20, 120, 10):
            t.write_batch("cpu", [(f"{s - 10}s", {"v": 1.0})], tags={"host": "a"}, tmax=f"{s}s")
        assert [r["tags"]["host"] for r in t.http_out("out")] == ["a"]
        assert _stats(t)["query1"]["groups_expired"] == 1


def test_kapfast_test_group_expiry_flag(tmp_path: Path) -> None:
    tick = tmp_path / "t.tick"
    tick.write_text(WINDOW)
    data = tmp_path / "d.srpl"
    # a replay's clock moves a chunk (a 4 MiB read block of records) at a time: enough data for
    # several
    lines = ["cpu,host=b v=1 0", "cpu,host=b v=1 5000", "cpu,host=b v=1 12000"]
    lines += [f"cpu,host=a v=1 {ms}" for ms in range(20_000, 620_000)]
    data.write_text("".join(f"db\nrp\n{ln}\n" for ln in lines))

    def run(*extra: str) -> dict[str, Any]:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "kapfast.cli.main",
                "test",
                str(tick),
                "--data",
                str(data),
                "--precision",
                "ms",
                *extra,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    hosts = sorted(r["tags"]["host"] for r in run()["http_out"]["out"]["series"])
    assert hosts == ["a", "b"]  # Kapacitor's behaviour: b's last window is kept for ever
    hosts = [r["tags"]["host"] for r in run("--group-expiry", "1m")["http_out"]["out"]["series"]]
    assert hosts == ["a"]


def test_many_idle_groups_expire_a_bounded_slice_per_live_tick() -> None:
    """The server's tick has a time budget: 5 000 groups idle at once are deleted a slice at a
    time over several ticks (each at least one slice), never in one stop-the-world pass."""
    from kapfast.engine.expiry import EXPIRY_SLICE

    with TaskHarness(WINDOW, group_expiry="1m") as t:
        t.write("\n".join(f"cpu,host=h{i} v=1 0s" for i in range(5000)))
        assert _card(t, "window2") == 5000
        t.clock.set(2 * 60 * S)
        t.task.tick(t.clock.now_ns(), expiry_budget_ns=0)  # the budget is spent at once: one slice
        assert t.task.expiry_backlog is True
        assert _card(t, "window2") == 5000 - EXPIRY_SLICE
        ticks = 1
        while t.task.expiry_backlog:
            t.task.tick(t.clock.now_ns(), expiry_budget_ns=0)
            ticks += 1
        assert _card(t, "window2") == 0 and _stats(t)["from1"]["groups_expired"] == 5000
        assert ticks >= 5000 // EXPIRY_SLICE
        # without a budget (replays, tests) every due group goes at its time
        t.write("\n".join(f"cpu,host=h{i} v=1 200s" for i in range(3000)))
        t.advance("2m")
        assert _card(t, "window2") == 0 and t.task.expiry_backlog is False
