"""Topic handler and service-test verbs of the ``kapfast`` executable against a real kapfastd:
define-topic-handler (JSON or YAML), list topic-handlers, show-topic-handler,
show-topic, delete topic-handlers, delete topics, list service-tests, service-tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixtures' types, from this directory's conftest.py
    from conftest import Kapfastd, Result

pytestmark = pytest.mark.integration


@pytest.fixture
def k(kapfastd: Kapfastd, cli: Callable[..., Result]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return cli(*args, url=kapfastd.url)

    return run


def _spec(tmp_path: Path, name: str, doc: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_define_list_show_delete_topic_handlers(k: Callable[..., Result], tmp_path: Path) -> None:
    log_path = str(tmp_path / "alerts.log")
    first = _spec(
        tmp_path,
        "log.json",
        {"topic": "cpu", "id": "to-file", "kind": "log", "options": {"path": log_path}, "match": "changed()"},
    )
    r = k("define-topic-handler", first)
    assert (r.code, r.out, r.err) == (0, "", "")
    second = _spec(
        tmp_path,
        "pub.json",
        {"topic": "cpu", "id": "fanout", "kind": "publish", "options": {"topics": ["ops"]}},
    )
    assert k("define-topic-handler", second).code == 0
    other = _spec(
        tmp_path, "mem.json", {"topic": "mem", "id": "to-file", "kind": "log", "options": {"path": log_path}}
    )
    assert k("define-topic-handler", other).code == 0

    listing = k("list", "topic-handlers")
    assert listing.code == 0, listing.err
    assert listing.out.splitlines() == [
        "Topic      ID         Kind       ",
        "cpu        fanout     publish    ",
        "cpu        to-file    log        ",
        "mem        to-file    log        ",
    ]
    assert k("list", "topic-handlers", "cpu", "to-*").out.splitlines()[1:] == [
        "cpu        to-file    log        "
    ]

    shown = k("show-topic-handler", "cpu", "to-file")
    assert shown.out == (
        f'ID: to-file\nTopic: cpu\nKind: log\nMatch: changed()\nOptions: {{"path":"{log_path}"}}\n'
    )

    # defining again replaces (PUT): the match changes
    again = _spec(
        tmp_path,
        "log2.json",
        {
            "topic": "cpu",
            "id": "to-file",
            "kind": "log",
            "options": {"path": log_path, "mode": 420},
            "match": "",
        },
    )
    assert k("define-topic-handler", again).code == 0
    assert 'Match: \nOptions: {"mode":420,' in k("show-topic-handler", "cpu", "to-file").out

    topic = k("show-topic", "cpu")
    assert topic.code == 0, topic.err
    assert topic.out.splitlines()[:5] == [
        "ID: cpu",
        "Level: OK",
        "Collected: 0",
        "Handlers: [fanout, to-file]",
        "Events:",
    ]
    topics = k("list", "topics")
    assert [line.split()[0] for line in topics.out.splitlines()] == ["ID", "cpu", "mem"]

    assert k("delete", "topic-handlers", "cpu", "to-*").code == 0
    assert [line.split()[1] for line in k("list", "topic-handlers", "cpu").out.splitlines()[1:]] == ["fanout"]
    assert k("delete", "topic-handlers", "mem", "to-file").code == 0
    assert k("delete", "topics", "mem").code == 0
    assert [line.split()[0] for line in k("list", "topics").out.splitlines()] == ["ID", "cpu"]


def test_define_topic_handler_errors(k: Callable[..., Result], tmp_path: Path) -> None:
    bad = _spec(tmp_path, "bad.json", {"topic": "cpu", "id": "pd", "kind": "alertmanager"})
    r = k("define-topic-handler", bad)
    assert r.code == 3 and "'alertmanager' is not supported by kapfast" in r.err
    missing = _spec(tmp_path, "noid.json", {"topic": "cpu", "kind": "log"})
    r = k("define-topic-handler", missing)
    assert r.code == 3 and "missing 'id'" in r.err
    yaml_file = tmp_path / "h.yaml"
    yaml_file.write_text("topic: cpu\nid: y\nkind: publish\noptions:\n  topics: [ops]\n")
    r = k("define-topic-handler", str(yaml_file))
    assert r.code == 0 and "Kind: publish" in k("show-topic-handler", "cpu", "y").out


def test_service_tests_verbs(k: Callable[..., Result]) -> None:
    listed = k("list", "service-tests")
    assert listed.code == 0, listed.err
    names = [line.strip() for line in listed.out.splitlines()]
    assert names[0] == "Service" and {"influxdb", "smtp", "slack", "httppost"} <= set(names[1:])
    r = k("service-tests", "smtp", "sl*")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "Service             Success   Message",
        "smtp                false     smtp service is not enabled ([smtp] enabled = false)",
        "slack               false     no slack configuration found ([[slack]])",
    ]
    usage = k("service-tests")
    assert usage.code != 0 and "must provide at least one service name or pattern." in usage.err
