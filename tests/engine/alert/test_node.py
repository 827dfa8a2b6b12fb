"""AlertNode: level rules, emission, templates, forwarding, stats, topics, inhibition."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from tests.engine.alert.harness import Run, build
from tests.engine.alert.util import S, batch, chunk, group, values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert import TopicRegistry
from kapfast.engine.messages import DeleteGroup, StreamChunk
from kapfast.errors import TaskError

HEAD = "stream|from().measurement('cpu')|alert()"
BATCH = "batch|query('select value from cpu').period(10s).every(10s)|alert()"
GROUPED = "stream|from().measurement('cpu').groupBy('host')|alert()"


def _events(tmp_path: Path, name: str = "a.log") -> list[dict[str, Any]]:
    p = tmp_path / name
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines()]


def _run(tmp_path: Path, props: str, services: dict[str, Any] | None = None, task: str = "t") -> Run:
    return build(f"{HEAD}{props}.log('{tmp_path / 'a.log'}')", task, services)


def _levels(tmp_path: Path) -> list[str]:
    return [e["level"] for e in _events(tmp_path)]


LEVELS3 = '.info(lambda: "value" > 10).warn(lambda: "value" > 20).crit(lambda: "value" > 30)'


def test_levels_highest_match_wins(tmp_path: Path) -> None:
    r = _run(tmp_path, LEVELS3)
    r.node.push(values_chunk([5, 15, 25, 35, 25, 15, 5]))
    assert _levels(tmp_path) == ["INFO", "WARNING", "CRITICAL", "WARNING", "INFO", "OK"]
    ev = _events(tmp_path)
    assert [e["previousLevel"] for e in ev] == ["OK", "INFO", "WARNING", "CRITICAL", "WARNING", "INFO"]
    extra = r.node.stats.extra
    assert extra["alerts_triggered"] == 6
    assert (
        extra["oks_triggered"],
        extra["infos_triggered"],
        extra["warns_triggered"],
        extra["crits_triggered"],
    ) == (
        1,
        2,
        2,
        1,
    )


def test_unset_level_is_skipped(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 30)')
    r.node.push(values_chunk([25, 35]))
    assert _levels(tmp_path) == ["CRITICAL"]


def test_reset_lambdas_hold_the_level(tmp_path: Path) -> None:
    props = (
        '.warn(lambda: "value" > 60).warnReset(lambda: "value" < 20)'
        '.crit(lambda: "value" > 80).critReset(lambda: "value" < 30)'
    )
    r = _run(tmp_path, props)
    # 50 and 70 hold CRITICAL (critReset false); 25 resets it and nothing lower matches → OK;
    # 40 holds WARNING (warnReset false); 10 resets it
    r.node.push(values_chunk([85, 50, 70, 25, 65, 40, 10]))
    assert _levels(tmp_path) == ["CRITICAL", "CRITICAL", "CRITICAL", "OK", "WARNING", "WARNING", "OK"]


def test_lambda_error_skips_level(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    r = _run(tmp_path, '.warn(lambda: "value" > 10).crit(lambda: "other" > 10)')
    rows = [("cpu", {}, {"value": 50.0}, 0), ("cpu", {}, {"value": 50.0, "other": 50.0}, S)]
    with caplog.at_level(logging.ERROR):
        r.node.push(chunk(rows))
    assert _levels(tmp_path) == ["WARNING", "CRITICAL"]
    assert r.node.stats.errors == 1
    assert "other" in caplog.text


def test_default_templates(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 1)')
    r.node.push(values_chunk([5], start=10 * S))
    (e,) = _events(tmp_path)
    assert e["id"] == "cpu:nil"
    assert e["message"] == "cpu:nil is CRITICAL"
    details = json.loads(e["details"].replace("&#34;", '"'))
    assert details["Name"] == "cpu" and details["Level"] == "CRITICAL" and details["Group"] == "nil"
    assert details["TaskName"] == "t" and details["Fields"] == {"value": 5}
    assert "&#34;" in e["details"]  # html/template escaping, as Kapacitor
    assert e["time"] == "1970-01-01T00:00:10Z"
    assert e["data"]["series"] == [
        {"name": "cpu", "columns": ["time", "value"], "values": [["1970-01-01T00:00:10Z", 5]]}
    ]


def test_grouped_templates_and_duration(tmp_path: Path) -> None:
    props = (
        ".id('{{ .TaskName }}/{{ .Group }}/{{ index .Tags \"host\" }}')"
        ".message('{{ .ID }} {{ .Level }} {{ index .Fields \"value\" }} {{ .Duration }}')"
        ".details('')"
        '.crit(lambda: "value" > 1)'
    )
    r = build(
        f"stream|from().measurement('cpu').groupBy('host')|alert(){props}.log('{tmp_path / 'a.log'}')", "task"
    )
    rows = [
        ("cpu", {"host": "a"}, {"value": 5.0}, 0),
        ("cpu", {"host": "b"}, {"value": 5.0}, S),
        ("cpu", {"host": "a"}, {"value": 6.0}, 3 * S),
        ("cpu", {"host": "a"}, {"value": 0.0}, 4 * S),
    ]
    r.node.push(chunk(rows, dims=["host"]))
    ev = _events(tmp_path)
    assert [e["id"] for e in ev] == ["task/host=a/a", "task/host=b/b", "task/host=a/a", "task/host=a/a"]
    assert [e["message"] for e in ev] == [
        "task/host=a/a CRITICAL 5 0s",
        "task/host=b/b CRITICAL 5 0s",
        "task/host=a/a CRITICAL 6 3s",
        "task/host=a/a OK 0 4s",
    ]
    assert [e["duration"] for e in ev] == [0, 0, 3 * S, 4 * S]
    assert r.node.working_cardinality() == 2


def test_forwarded_only_event_points_augmented(tmp_path: Path) -> None:
    props = (
        '.crit(lambda: "value" > 1).stateChangesOnly()'
        ".levelTag('lvl').idTag('aid').levelField('lf').messageField('mf').idField('idf').durationField('df')"
    )
    r = _run(tmp_path, props)
    r.node.push(values_chunk([5, 6, 0, 7]))
    rows = r.out.rows()
    assert [row[3] for row in rows] == [0, 2 * S, 3 * S]
    assert rows[0][1] == {"lvl": "CRITICAL", "aid": "cpu:nil"}
    assert rows[1][2] == {"value": 0.0, "lf": "OK", "mf": "cpu:nil is OK", "idf": "cpu:nil", "df": 2 * S}
    out = r.out.messages[0]
    assert isinstance(out, StreamChunk) and out.batch.field_kinds()["df"] == "integer"


def test_forwarded_without_augment_keeps_points(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 1)')
    r.node.push(values_chunk([5, 0, 0, 0]))
    assert [row[2] for row in r.out.rows()] == [{"value": 5.0}, {"value": 0.0}]
    assert r.node.stats.emitted == 2


def test_state_changes_only_and_max_interval(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 1).stateChangesOnly(3s)')
    r.node.push(values_chunk([5, 5, 5, 5, 5, 0, 0, 5]))
    ev = _events(tmp_path)
    assert [(e["level"], e["time"][-3:]) for e in ev] == [
        ("CRITICAL", "00Z"),
        ("CRITICAL", "03Z"),
        ("OK", "05Z"),
        ("CRITICAL", "07Z"),
    ]


def test_no_recoveries(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 1).noRecoveries()')
    r.node.push(values_chunk([5, 0, 5]))
    ev = _events(tmp_path)
    assert [e["level"] for e in ev] == ["CRITICAL", "CRITICAL"]
    assert all(e["recoverable"] is False for e in ev)
    assert [e["previousLevel"] for e in ev] == ["OK", "CRITICAL"]  # the OK never reached the topic
    assert r.node.stats.extra["oks_triggered"] == 0


def test_flapping_suppresses_events(tmp_path: Path) -> None:
    r = _run(tmp_path, '.crit(lambda: "value" > 1).flapping(0.25, 0.5)')
    seq = [5.0] * 3 + [5.0, 0.0] * 10 + [5.0] * 30
    r.node.push(values_chunk(seq))
    secs = [int(e["time"][17:19]) + 60 * int(e["time"][14:16]) for e in _events(tmp_path)]
    assert secs[:3] == [0, 1, 2]  # steady: every point alerts
    flapping_part = [t for t in secs if 3 <= t < 23]
    assert 0 < len(flapping_part) < 20  # alerts until the changes weigh over 0.5, then quiet
    assert secs[-1] == len(seq) - 1  # steady again: under 0.25 the alerts come back
    assert [t for t in secs if t >= 23] == list(
        range(secs[-1] - len([t for t in secs if t >= 23]) + 1, secs[-1] + 1)
    )


def test_history_length_changes_flapping(tmp_path: Path) -> None:
    seq = [5, 0, 5, 0, 5, 5, 5, 5, 5, 5, 5, 5]
    counts = []
    for n in (3, 10):
        d = tmp_path / str(n)
        d.mkdir()
        r = build(
            f"{HEAD}.crit(lambda: \"value\" > 1).flapping(0.3, 0.6).history({n}).log('{d / 'a.log'}')", "t"
        )
        r.node.push(values_chunk(seq))
        counts.append(r.node.stats.extra["alerts_triggered"])
    assert counts[0] != counts[1]


def test_batch_highest_level_and_all(tmp_path: Path) -> None:
    b = '.crit(lambda: "value" > 90).warn(lambda: "value" > 50)'
    r = build(
        f"{BATCH}{b}.log('{tmp_path / 'a.log'}')",
        "t",
    )
    r.node.push(batch([60, 95, 99, 70], tmax=10 * S))
    (e,) = _events(tmp_path)
    assert e["level"] == "CRITICAL" and e["time"] == "1970-01-01T00:00:07Z"  # the first highest point
    assert e["data"]["series"][0]["values"][0] == ["1970-01-01T00:00:06Z", 60]
    assert len(e["data"]["series"][0]["values"]) == 4
    (tmp_path / "all").mkdir()
    ra = build(
        f"{BATCH}{b}.all().log('{tmp_path / 'all' / 'a.log'}')",
        "t",
    )
    ra.node.push(batch([60, 95, 99, 70], tmax=10 * S))
    ra.node.push(batch([95, 96], tmax=20 * S))
    ev = _events(tmp_path / "all")
    assert [(x["level"], x["time"]) for x in ev] == [
        ("WARNING", "1970-01-01T00:00:10Z"),
        ("CRITICAL", "1970-01-01T00:00:20Z"),
    ]


def test_batch_ok_uses_tmax_and_forwards_whole_batch(tmp_path: Path) -> None:
    r = build(
        f"{BATCH}.crit(lambda: \"value\" > 90).levelField('l').log('{tmp_path / 'a.log'}')",
        "t",
    )
    r.node.push(batch([95, 10], tmax=10 * S, host="a"))
    r.node.push(batch([10, 10], tmax=20 * S, host="a"))
    r.node.push(batch([10, 10], tmax=30 * S, host="a"))
    ev = _events(tmp_path)
    assert [(x["level"], x["time"]) for x in ev] == [
        ("CRITICAL", "1970-01-01T00:00:08Z"),
        ("OK", "1970-01-01T00:00:20Z"),
    ]
    assert ev[0]["id"] == "cpu:host=a"
    assert len(r.out.messages) == 2
    assert [row[2]["l"] for row in r.out.rows()] == ["CRITICAL", "CRITICAL", "OK", "OK"]


def test_delete_group_forgets_state() -> None:
    r = build(f'{HEAD}.crit(lambda: "value" > 1).stateChangesOnly()', "t")  # no topic
    r.node.push(values_chunk([5]))
    r.node.push(values_chunk([5], start=S))
    assert r.node.working_cardinality() == 1 and len(r.out.rows()) == 1
    r.node.push(DeleteGroup(group()))
    assert r.node.working_cardinality() == 0
    r.node.push(values_chunk([5], start=2 * S))
    assert len(r.out.rows()) == 2  # a fresh state: the level changed from OK again
    assert any(isinstance(m, DeleteGroup) for m in r.out.messages)


def test_deleted_group_restored_from_its_topic(tmp_path: Path) -> None:
    # as in Kapacitor, a group that comes back finds its last level on its topic: no re-fire
    r = _run(tmp_path, '.crit(lambda: "value" > 1).stateChangesOnly()')
    r.node.push(values_chunk([5]))
    r.node.push(DeleteGroup(group()))
    r.node.push(values_chunk([5, 0], start=S))
    assert _levels(tmp_path) == ["CRITICAL", "OK"]


def test_template_error_is_counted_not_fatal(tmp_path: Path) -> None:
    r = _run(tmp_path, ".message('{{ .Nope }}').crit(lambda: \"value\" > 1)")
    r.node.push(values_chunk([5, 6]))
    assert _events(tmp_path) == []
    assert r.node.stats.errors == 2
    assert r.out.messages == []


def test_bad_template_fails_task_start(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="alert"):
        _run(tmp_path, ".id('{{ .Name ').crit(lambda: TRUE)")


def test_stateful_lambda_per_group(tmp_path: Path) -> None:
    # count() counts per group: the third point of each host is critical
    r = build(
        f"{GROUPED}.crit(lambda: count() >= 3).log('{tmp_path / 'a.log'}')",
        "t",
    )
    rows = [("cpu", {"host": h}, {"value": 1.0}, i * S) for i, h in enumerate("abababa")]
    r.node.push(chunk(rows[:3], dims=["host"]))
    r.node.push(chunk(rows[3:], dims=["host"]))
    ev = _events(tmp_path)
    assert [(e["id"], e["time"][-3:]) for e in ev] == [
        ("cpu:host=a", "04Z"),
        ("cpu:host=b", "05Z"),
        ("cpu:host=a", "06Z"),
    ]


def test_anonymous_and_named_topics(tmp_path: Path) -> None:
    reg = TopicRegistry()
    seen: list[AlertEvent] = []
    reg.add_handler("ops", seen.append)
    r = _run(
        tmp_path,
        ".crit(lambda: \"value\" > 1).topic('ops')",
        services={"alert_topics": reg},
        task="cpu_alert",
    )
    r.node.push(values_chunk([5, 0]))
    assert r.node.anon_topic == "main:cpu_alert:alert2"
    assert set(reg.topics()) == {"main:cpu_alert:alert2", "ops"}
    assert [e.level for e in seen] == ["CRITICAL", "OK"]
    state = reg.event_state("ops", "cpu:nil")
    assert state is not None and state.level == "OK"


def test_topic_only_node_has_no_anonymous_topic() -> None:
    reg = TopicRegistry()
    r = build(f"{HEAD}.crit(lambda: TRUE).topic('only')", "t", {"alert_topics": reg})
    r.node.push(values_chunk([1]))
    assert reg.topics() == ["only"]


def test_failing_topic_handler_is_counted(tmp_path: Path) -> None:
    reg = TopicRegistry()

    def boom(e: AlertEvent) -> None:
        raise RuntimeError("boom")

    reg.add_handler("ops", boom)
    r = _run(tmp_path, ".crit(lambda: TRUE).topic('ops')", services={"alert_topics": reg})
    r.node.push(values_chunk([1, 2]))
    assert r.node.stats.extra["events_dropped"] == 2
    assert len(_events(tmp_path)) == 2


def test_inhibit_by_category(tmp_path: Path) -> None:
    reg = TopicRegistry()
    (tmp_path / "x").mkdir()
    inhibitor = build(
        f"stream|from().measurement('node').groupBy('host')|alert().crit(lambda: \"value\" > 1)"
        f".inhibit('system', 'host').log('{tmp_path / 'x' / 'a.log'}')",
        "down",
        {"alert_topics": reg},
    )
    inhibited = build(
        f"stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"value\" > 1)"
        f".category('system').levelField('l').log('{tmp_path / 'a.log'}')",
        "cpu",
        {"alert_topics": reg},
    )
    inhibitor.node.push(chunk([("node", {"host": "a"}, {"value": 5.0}, 0)], dims=["host"]))
    inhibited.node.push(
        chunk(
            [("cpu", {"host": "a"}, {"value": 5.0}, S), ("cpu", {"host": "b"}, {"value": 5.0}, S)],
            dims=["host"],
        )
    )
    assert [e["id"] for e in _events(tmp_path)] == ["cpu:host=b"]
    assert inhibited.node.stats.extra["alerts_inhibited"] == 1
    assert len(inhibited.out.rows()) == 2  # the data still goes on
    inhibitor.node.push(chunk([("node", {"host": "a"}, {"value": 0.0}, 2 * S)], dims=["host"]))
    inhibited.node.push(chunk([("cpu", {"host": "a"}, {"value": 5.0}, 3 * S)], dims=["host"]))
    assert [e["id"] for e in _events(tmp_path)] == ["cpu:host=b", "cpu:host=a"]


def test_a_handler_kapfast_cannot_deliver_is_refused_at_compile() -> None:
    from kapfast.errors import TickScriptError
    from kapfast.handler_table import INLINE

    unsupported = next(r for r in INLINE.values() if not r.supported)
    with pytest.raises(
        TickScriptError, match=rf"\.{unsupported.inline_name}\(\) is not supported by kapfast"
    ):
        build(f"{HEAD}.crit(lambda: TRUE).{unsupported.inline_name}()", "t")


def test_stats_listed_for_dot(tmp_path: Path) -> None:
    r = _run(tmp_path, ".crit(lambda: TRUE)")
    # exactly Kapacitor's set (alert.go's statMap); events_dropped is kapfast's own, apart
    assert set(r.node.stat_values()) == {
        "alerts_triggered",
        "alerts_inhibited",
        "oks_triggered",
        "infos_triggered",
        "warns_triggered",
        "crits_triggered",
        "avg_exec_time_ns",
        "errors",
        "working_cardinality",
    }
    assert r.node.extra_values() == {"events_dropped": 0}


def test_without_handlers_fields_still_rendered() -> None:
    r = build(f"{GROUPED}.crit(lambda: \"value\" > 1).messageField('m').idTag('i')", "t")
    rows = [("cpu", {"host": "a"}, {"value": 5.0}, 0), ("cpu", {"host": "b", "x": "y"}, {"value": 5.0}, S)]
    r.node.push(chunk(rows, dims=["host"]))
    out = r.out.rows()
    assert [row[2]["m"] for row in out] == ["cpu:host=a is CRITICAL", "cpu:host=b is CRITICAL"]
    assert [row[1]["i"] for row in out] == ["cpu:host=a", "cpu:host=b"]
    assert r.node.stats.extra["crits_triggered"] == 2


def test_id_depends_on_point_tags(tmp_path: Path) -> None:
    r = _run(tmp_path, ".id('{{ index .Tags \"dc\" }}').crit(lambda: TRUE)")
    rows = [("cpu", {"dc": d}, {"value": 1.0}, i * S) for i, d in enumerate(["x", "y", "x"])]
    r.node.push(chunk(rows))
    assert [e["id"] for e in _events(tmp_path)] == ["x", "y", "x"]


def test_group_listed_without_rows_keeps_no_state() -> None:
    from kapfast._native import PointBatch

    r = build(f"{GROUPED}.crit(lambda: TRUE)", "t")
    rows = [("cpu", {"host": "a"}, {"value": 1.0}, 0)]
    r.node.push(StreamChunk(PointBatch.from_rows(rows), [1], [group(host="zz"), group(host="a")]))
    assert r.node.working_cardinality() == 1
    assert r.node.stats.extra["crits_triggered"] == 1


def test_shared_services_share_topics() -> None:
    services: dict[str, Any] = {}
    a = build(f"{HEAD}.crit(lambda: TRUE).topic('ops')", "a", services)
    b = build(f"{HEAD}.crit(lambda: TRUE).topic('ops')", "b", services)
    assert isinstance(services["alert_topics"], TopicRegistry)
    assert a.node.registry is b.node.registry


@pytest.mark.parametrize("kind", ["list", "ndarray", "memoryview"])
def test_codes_as_list_ndarray_or_buffer(tmp_path: Path, kind: str) -> None:
    import array

    import numpy as np

    rows = [("cpu", {"host": h}, {"value": 5.0}, i * S) for i, h in enumerate("abab")]
    c = chunk(rows, dims=["host"])
    codes: Any = list(c.codes)
    if kind == "ndarray":
        codes = np.asarray(codes, dtype=np.uint32)
    elif kind == "memoryview":
        codes = memoryview(array.array("I", codes))
    r = build(f"{GROUPED}.crit(lambda: \"value\" > 1).idField('i').log('{tmp_path / 'a.log'}')", "t")
    r.node.push(StreamChunk(c.batch, codes, c.groups))
    assert [e["id"] for e in _events(tmp_path)] == ["cpu:host=a", "cpu:host=b"] * 2
    out = r.out.messages[0]
    assert isinstance(out, StreamChunk) and list(out.codes) == [0, 1, 0, 1]
