"""kapfast.tick.lint: scripts that compile but cannot work as written get a warning naming the node
and its line:column; working scripts (every Kapacitor conformance script) get none."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from kapfast.cli import main
from kapfast.tick import compile_script
from kapfast.tick.lint import lint

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"


def _warnings(script: str) -> list[str]:
    return [w.format() for w in lint(compile_script(script))]


def test_single_quoted_tag_in_from_where() -> None:
    (w,) = _warnings(
        "stream\n    |from().measurement('cpu').where(lambda: 'host' == 'server01')\n    |httpOut('x')"
    )
    assert w.startswith("2:6: warning: from1: .where() compares two strings ('host' == 'server01')")
    assert 'double quotes ("host")' in w


def test_single_quoted_field_compared_with_a_number() -> None:
    (w,) = _warnings("stream|from()|where(lambda: 'usage_idle' < 10)|httpOut('x')")
    assert "compares the string 'usage_idle' with a number" in w and "fails on every point" in w
    (w,) = _warnings("stream|from()|eval(lambda: 'v' * 2.0).as('x')|httpOut('x')")
    assert "arithmetic on the string 'v'" in w


def test_field_an_aggregate_no_longer_carries() -> None:
    script = """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(1m).every(1m)
    |mean('usage_idle')
    |alert()
        .crit(lambda: "usage_idle" < 10)
        .log('/tmp/a.log')
"""
    (w,) = _warnings(script)
    assert w == (
        '5:6: warning: alert4: .crit() reads "usage_idle", which the points here do not have (after '
        'mean3: fields "mean"; tags "host"), so it fails on every point; name it with '
        ".as('usage_idle') on mean3, or read \"mean\""
    )
    # the fixes are quiet: the aggregate's name, .as(), or a group tag
    assert _warnings(script.replace('"usage_idle" < 10', '"mean" < 10 AND "host" == \'a\'')) == []
    assert _warnings(script.replace("mean('usage_idle')", "mean('usage_idle').as('usage_idle')")) == []


def test_a_tag_outside_the_group_is_gone_after_an_aggregate() -> None:
    script = """stream|from().measurement('cpu').groupBy('host')|window().period(1m).every(1m)
    |max('v')|eval(lambda: "cpu" + 'x').as('c')|httpOut('x')"""
    assert _warnings(script) == []  # max is a selector: kapfast does not guess its fields
    script = script.replace("max('v')", "count('v')")
    (w,) = _warnings(script)
    assert 'reads "cpu"' in w and 'tags "host"' in w


def test_eval_without_keep_drops_the_other_fields() -> None:
    base = (
        "stream|from()|eval(lambda: \"a\" * 2.0).as('x'){keep}|alert().crit(lambda: \"a\" > 1).log('/tmp/a')"
    )
    (w,) = _warnings(base.format(keep=""))
    assert 'computes with "a", which is no field of the points here (after eval2: fields "x")' in w
    assert _warnings(base.format(keep=".keep()")) == []
    assert _warnings(base.format(keep=".keep('a')")) == []
    # a later expression of the same eval sees the earlier results
    assert (
        _warnings("stream|from()|eval(lambda: \"a\" * 2.0, lambda: \"x\" + 1.0).as('x', 'y')|httpOut('o')")
        == []
    )


def test_join_fields_are_prefixed_with_its_delimiter() -> None:
    script = """var a = stream|from().measurement('a').groupBy('h')|window().period(1m).every(1m)|sum('v')
var b = stream|from().measurement('b').groupBy('h')|window().period(1m).every(1m)|sum('v')
a|join(b).as('a', 'b'){delim}|eval(lambda: "a{sep}sum" / "b{sep}sum", lambda: "a.v").as('r', 'q')|httpOut('x')
"""
    (w,) = _warnings(script.format(delim="", sep="."))
    assert 'reads "a.v"' in w and 'fields "a.sum", "b.sum"; tags "h"' in w
    (w,) = _warnings(script.format(delim=".delimiter('#')", sep="#"))
    assert 'reads "a.v"' in w


def test_alert_whose_events_go_nowhere() -> None:
    (w,) = _warnings('stream|from()|alert().crit(lambda: "v" > 1)')
    assert "alert2: has no handler" in w
    assert _warnings("stream|from()|alert().crit(lambda: \"v\" > 1).topic('t')") == []
    assert _warnings("stream|from()|alert().crit(lambda: \"v\" > 1)|httpOut('x')") == []


def test_window_every_longer_than_period() -> None:
    (w,) = _warnings("stream|from()|window().period(1m).every(5m)|httpOut('x')")
    assert ".every(5m) is longer than .period(1m)" in w
    assert _warnings("stream|from()|window().period(5m).every(1m)|httpOut('x')") == []


def test_no_warning_on_any_conformance_script() -> None:
    cases = sorted((CONFORMANCE / "cases").glob("*.json")) + sorted(
        (CONFORMANCE / "alert_cases").glob("*.json")
    )
    if not cases:
        pytest.skip("../shared/conformance is not beside the repository")
    checked = 0
    for path in cases:
        script = json.loads(path.read_text()).get("script")
        if not script:
            continue
        try:
            pipeline = compile_script(script)
        except Exception:
            continue  # a few cases are templates or need vars
        assert [w.format() for w in lint(pipeline)] == [], path.name
        checked += 1
    assert checked >= 90


def test_check_prints_warnings_and_strict_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "q.tick"
    script.write_text("stream\n    |from().where(lambda: 'host' == 'a')\n    |httpOut('x')\n")
    assert main(["check", str(script)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{script}:2:6: warning: from1: .where() compares two strings")
    assert main(["check", "--strict", str(script)]) == 1


def test_defining_a_task_logs_the_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from kapfast.clock import VirtualClock
    from kapfast.storage import Storage
    from kapfast.tasks.service import TaskService

    class Runner:
        def is_executing(self, task_id: str) -> bool:
            return False

    svc = TaskService(Storage(tmp_path / "k.db"), Runner(), VirtualClock(0))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="kapfast.tasks"):
        svc.create(
            {
                "id": "q",
                "dbrps": [{"db": "d", "rp": "r"}],
                "script": "stream|from().where(lambda: 'host' == 'a')|httpOut('x')",
            }
        )
    (rec,) = [r for r in caplog.records if "warning" in r.getMessage()]
    assert "from1: .where() compares two strings" in rec.getMessage()
    assert rec.tags == {"task": "q", "node": "from1"}  # type: ignore[attr-defined]
