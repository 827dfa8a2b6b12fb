"""Levels survive a restart through the alert state store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.alert.harness import build
from tests.engine.alert.util import S, values_chunk

from kapfast.engine.alert import TopicRegistry
from kapfast.storage import Storage

SCRIPT = (
    "stream|from().measurement('cpu').groupBy('host')"
    "|alert().crit(lambda: \"value\" > 1).stateChangesOnly().log('{log}')"
)


def _events(p: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def test_restart_neither_refires_nor_forgets(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    storage = Storage(tmp_path / "kapfast.db")
    try:
        first = build(SCRIPT.format(log=log), "cpu", {"alert_states": storage.alert_states})
        first.node.push(values_chunk([5, 6], host="a"))
        first.node.push(values_chunk([5], start=0, host="b"))
        first.node.push(values_chunk([0], start=S, host="b"))
        assert [e["level"] for e in _events(log)] == ["CRITICAL", "CRITICAL", "OK"]
        saved = storage.alert_states.for_task("cpu")
        # every state is kept, a recovery as OK (Kapacitor persists EventStates(alert.OK))
        assert [(s.event_id, s.level, s.topic) for s in saved] == [
            ("cpu:host=a", "CRITICAL", "main:cpu:alert2"),
            ("cpu:host=b", "OK", "main:cpu:alert2"),
        ]

        # a new run of the task: fresh registry (new process), same store
        second = build(
            SCRIPT.format(log=log),
            "cpu",
            {"alert_states": storage.alert_states, "alert_topics": TopicRegistry()},
        )
        second.node.push(values_chunk([7], start=10 * S, host="a"))
        assert len(_events(log)) == 3  # still CRITICAL: no new event
        second.node.push(values_chunk([0], start=12 * S, host="a"))
        ev = _events(log)[-1]
        assert ev["level"] == "OK" and ev["previousLevel"] == "CRITICAL"
        assert ev["duration"] == 12 * S  # measured from the alert's start before the restart
        assert {s.level for s in storage.alert_states.for_task("cpu")} == {"OK"}
    finally:
        storage.close()


def test_without_store_state_is_per_run(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    build(SCRIPT.format(log=log), "cpu").node.push(values_chunk([5], host="a"))
    build(SCRIPT.format(log=log), "cpu").node.push(values_chunk([5], start=S, host="a"))
    assert len(_events(log)) == 2


def test_store_holds_latest_event_for_the_api(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "kapfast.db")
    try:
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 1)"
            f".message('{{{{ .Level }}}} {{{{ index .Fields \"value\" }}}}').log('{tmp_path / 'a.log'}')",
            "cpu",
            {"alert_states": storage.alert_states},
        )
        r.node.push(values_chunk([5, 6, 7]))
        (s,) = storage.alert_states.for_topic("main:cpu:alert2").values()
        assert (s.level, s.message, s.time, s.duration) == ("CRITICAL", "CRITICAL 7", 2 * S, 2 * S)
        r.node.push(values_chunk([8], start=3 * S))
        (s,) = storage.alert_states.for_topic("main:cpu:alert2").values()
        assert (s.message, s.time) == ("CRITICAL 8", 3 * S)
        r.node.push(values_chunk([0], start=4 * S))
        (s,) = storage.alert_states.for_topic("main:cpu:alert2").values()
        assert (s.level, s.time) == ("OK", 4 * S)  # the recovery is the event's state now
    finally:
        storage.close()
