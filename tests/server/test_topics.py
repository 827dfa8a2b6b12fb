"""/alerts/topics over HTTP, from alert states the engine saved (here written to the store the way
the engine does, while kapfastd is stopped)."""

from __future__ import annotations

from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for

from kapfast.storage import AlertState, Storage


def test_topics_and_events_from_saved_alert_states(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory()
    k.stop()
    store = Storage(k.data_dir / "kapfast.db")
    t0 = 1_700_000_000_000_000_000
    store.alert_states.save(
        AlertState("main:cpu:alert2", "cpu:host=a", "CRITICAL", t0, 90 * 10**9, "cpu high")
    )
    store.alert_states.save(AlertState("main:cpu:alert2", "cpu:host=b", "WARNING", t0, 0, "cpu warm"))
    store.alert_states.save(AlertState("ops", "disk", "INFO", t0, 0, "disk"))
    store.close()
    k.start()
    topics = k.api("GET", "/alerts/topics").json()["topics"]
    # `collected` is Kapacitor's counter of the events a topic collected since the server
    # started: restored states are not collected again
    assert [(t["id"], t["level"], t["collected"]) for t in topics] == [
        ("main:cpu:alert2", "CRITICAL", 0),
        ("ops", "INFO", 0),
    ]
    assert topics[0]["events-link"] == {
        "rel": "events",
        "href": "/kapacitor/v1/alerts/topics/main:cpu:alert2/events",
    }
    crit = k.api("GET", "/alerts/topics?min-level=WARNING").json()["topics"]
    assert [t["id"] for t in crit] == ["main:cpu:alert2"]
    assert [t["id"] for t in k.api("GET", "/alerts/topics?pattern=o*").json()["topics"]] == ["ops"]
    assert k.api("GET", "/alerts/topics?min-level=LOUD").status == 400
    events = k.api("GET", "/alerts/topics/main:cpu:alert2/events?min-level=CRITICAL").json()
    assert events["events"] == [
        {
            "link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/main:cpu:alert2/events/cpu:host=a"},
            "id": "cpu:host=a",
            "state": {
                "message": "cpu high",
                "details": "",
                "time": "2023-11-14T22:13:20Z",
                "duration": "1m30s",
                "level": "CRITICAL",
            },
        }
    ]
    one = k.api("GET", "/alerts/topics/main:cpu:alert2/events/cpu:host=b").json()
    assert one["state"]["level"] == "WARNING"
    assert k.api("GET", "/alerts/topics/main:cpu:alert2/events/nope").status == 404
    assert k.api("GET", "/alerts/topics/nope").status == 404
    assert k.api("DELETE", "/alerts/topics/ops").status == 204
    assert k.api("GET", "/alerts/topics/ops").status == 404


def test_a_recovery_keeps_the_topic_count_and_its_event(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """Kapacitor's topic counts every event it collects and keeps each event's last state, OK
    included (persisted with the topic): a recovery neither resets ``collected`` nor drops the
    event, and a restart keeps the event as OK."""
    k = kapfastd_factory()
    script = (
        "stream\n    |from()\n        .measurement('cpu')\n"
        "    |alert()\n        .crit(lambda: \"v\" > 10)\n        .topic('cpu')\n"
    )
    task = {"id": "t", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script, "status": "enabled"}
    assert k.api("POST", "/tasks", task).status == 200
    assert k.write("cpu v=50 1\ncpu v=60 2\ncpu v=1 3\n").status == 204

    def topic() -> dict[str, object]:
        return dict(k.api("GET", "/alerts/topics/cpu").json())

    # two crits (no .stateChangesOnly(): each is an event) and the recovery
    wait_for(lambda: topic().get("collected") == 3, what="the crits and the recovery")
    assert topic()["level"] == "OK"
    events = k.api("GET", "/alerts/topics/cpu/events").json()["events"]
    assert [(e["id"], e["state"]["level"]) for e in events] == [("cpu:nil", "OK")]
    assert [t["id"] for t in k.api("GET", "/alerts/topics").json()["topics"]] == ["cpu"]
    k.stop()
    k.start()
    events = k.api("GET", "/alerts/topics/cpu/events").json()["events"]
    assert [(e["id"], e["state"]["level"]) for e in events] == [("cpu:nil", "OK")]
