"""``kapfast explain`` on Kapacitor's alert conformance cases (harness.py feeds their data).

The oracle is the handler itself: after every chunk the alert node takes, each group the chunk
touched is explained, and "sent" must be true exactly when the HTTP receiver got an event for that
group at that time; an unsent group must name a reason, the deciding expression must be the
level's own lambda and it must be true. Then variations of the cases' scripts force each reason.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import conformance_dir
from tests.engine.alert.harness import Run, build, load_case, run_batch_case, run_stream_case, substitute
from tests.engine.alert.servers import HttpReceiver

from kapfast._native import PointBatch
from kapfast.engine.alert import explain
from kapfast.engine.alert.explain import MAX_CHUNKS, MAX_COMPACTS
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.messages import Group, StreamChunk
from kapfast.timefmt import format_rfc3339_ns

_DIR = conformance_dir()
_POST = (
    [p for p in sorted((_DIR / "alert_cases").glob("*.json")) if load_case(p)["handler"] == "post"]
    if _DIR
    else []
)
REASONS = {
    "stateChangesOnly",
    "flapping",
    "inhibited",
    "no_handler",
    "handler_failed",
    "noRecoveries",
    "ok_not_sent",
}
BLOCKER = "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: TRUE).inhibit('cpu', 'host')"
pytestmark = pytest.mark.skipif(_DIR is None, reason="no conformance corpus")


def _case(name: str) -> dict[str, Any]:
    assert _DIR is not None
    return load_case(_DIR / "alert_cases" / f"{name}.json")


def _data(case: dict[str, Any]) -> Path:
    assert _DIR is not None
    return _DIR / "data" / case["data"][0]


def _matches(event: dict[str, Any], g: dict[str, Any]) -> bool:
    series = (event.get("data") or {}).get("series") or [{}]
    tags = series[0].get("tags") or {}
    return bool(event["time"] == g["time"] and all(tags.get(k) == v for k, v in g["tags"].items()))


@contextmanager
def stepping(run: Run, srv: HttpReceiver | None) -> Iterator[list[dict[str, Any]]]:
    """Explain after every chunk pushed to the alert node: one record per group it touched,
    with the events the receiver got for that chunk."""
    steps: list[dict[str, Any]] = []
    push = run.node.push

    def wrapped(msg: Any, port: int = 0) -> None:
        if isinstance(msg, StreamChunk) and len(msg) > 1:
            # one point at a time: each point's explanation is checked against its own events
            codes = list(msg.codes)
            for i in range(len(msg)):
                wrapped(StreamChunk(msg.batch.take([i]), [codes[i]], msg.groups), port)
            return
        before = len(srv.bodies) if srv is not None else 0
        push(msg, port)
        new = [json.loads(b) for b in srv.bodies[before:]] if srv is not None else []
        touched = {msg.groups[msg.codes[0]].id} if isinstance(msg, StreamChunk) else {msg.group.id}
        for g in run.node.explain()["groups"]:
            if (g["group"] if g["group"] != "nil" else "") in touched:
                steps.append({**g, "events": [e for e in new if _matches(e, g)]})

    run.node.push = wrapped  # type: ignore[method-assign]
    yield steps


def _check(steps: list[dict[str, Any]], texts: dict[str, str]) -> set[str]:
    """Every step's invariants; returns the reasons seen."""
    assert steps
    prop = {"INFO": "info", "WARNING": "warn", "CRITICAL": "crit"}
    reasons = set()
    for g in steps:
        assert g["sent"] == bool(g["events"]), g
        if g["level"] != "OK":
            d = g["deciding"]
            assert d is not None and d["level"] == g["level"], g
            held = d.get("held_by_reset", False)
            assert d["expression"] == texts[prop[g["level"]] + ("Reset" if held else "")], g
            e = next(
                x for x in g["expressions"] if x["expression"] == d["expression"] and x["level"] == g["level"]
            )
            assert e["result"] is (not held), g
        else:
            assert g["deciding"] is None
        if not g["sent"]:
            assert g["reason"] in REASONS and g["reason_text"], g
            reasons.add(g["reason"])
        else:
            assert g["reason"] is None and g["reason_text"] is None
    return reasons


@pytest.mark.parametrize("path", _POST, ids=[p.stem for p in _POST])
def test_explain_agrees_with_the_handler_on_every_case(path: Path) -> None:
    case = load_case(path)
    with HttpReceiver() as srv:
        run = build(substitute(case["script"], {"{{POST_URL}}": srv.url}), case["task_name"])
        with stepping(run, srv) as steps:
            run_stream_case(run, _data(case))
    reasons = _check(steps, run.node.level_texts())
    expected = {
        "TestStream_AlertFlapping": "flapping",
        "TestStream_AlertStateChangesOnlyExpired": "stateChangesOnly",
        "TestStream_Alert_NoRecoveries": "noRecoveries",
    }.get(path.stem)
    if expected is not None:
        assert expected in reasons, reasons
    assert sum(g["sent"] for g in steps) == len(srv.bodies)  # every event is some step's


def test_flapping_names_the_figures() -> None:
    case = _case("TestStream_AlertFlapping")
    with HttpReceiver() as srv:
        run = build(substitute(case["script"], {"{{POST_URL}}": srv.url}), case["task_name"])
        with stepping(run, srv) as steps:
            run_stream_case(run, _data(case))
    flap = next(g for g in steps if g["reason"] == "flapping")
    assert ".flapping(0.25, 0.5)" in flap["reason_text"] and flap["level"] != "OK"


def test_no_handler() -> None:
    case = _case("TestStream_Alert_NoRecoveries")
    script = case["script"].replace(".post('{{POST_URL}}')", "")
    run = build(script, case["task_name"])
    with stepping(run, None) as steps:
        run_stream_case(run, _data(case))
    no = [g for g in steps if g["reason"] == "no_handler"]
    assert no and all(g["level"] != "OK" for g in no)
    assert no[0]["reason_text"] == "the alert node has no handler (and no .topic())"
    assert not any(g["sent"] for g in steps)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # nothing listens there now: a connection is refused
    return port


def test_failed_handler() -> None:
    case = _case("TestStream_Alert_NoRecoveries")
    script = substitute(case["script"], {"{{POST_URL}}": f"http://127.0.0.1:{_closed_port()}/alert"})
    run = build(script, case["task_name"])
    with stepping(run, None) as steps:
        run_stream_case(run, _data(case))
    failed = [g for g in steps if g["reason"] == "handler_failed"]
    assert failed and not any(g["sent"] for g in steps)
    text = failed[0]["reason_text"]
    assert text.startswith("the post http://127.0.0.1:") and "Connection refused" in text, text
    assert run.node.stats.extra["handler_errors_post"] == len(failed)


def test_inhibited() -> None:
    """A second alert node inhibits the category of the case's node for every host."""
    case = _case("TestStream_Alert_NoRecoveries")
    services: dict[str, Any] = {"alert_topics": TopicRegistry()}
    with HttpReceiver() as srv:
        script = substitute(case["script"], {"{{POST_URL}}": srv.url}).replace(
            ".noRecoveries()", ".noRecoveries()\n\t\t.category('cpu')"
        )
        run = build(script, case["task_name"], services)
        blocker = build(BLOCKER, "blocker", services)
        inner = run.node.push

        def push_both(msg: Any, port: int = 0) -> None:
            blocker.node.push(msg, port)  # the same points: every host is critical there
            inner(msg, port)

        run.node.push = push_both  # type: ignore[method-assign]
        with stepping(run, srv) as steps:
            run_stream_case(run, _data(case))
    inhibited = [g for g in steps if g["reason"] == "inhibited"]
    assert inhibited and not srv.bodies
    assert inhibited[0]["reason_text"] == "category 'cpu' is inhibited by another alert"


def test_old_chunks_are_cut_to_a_row_per_group() -> None:
    """Past MAX_CHUNKS whole chunks, a group's last point is kept as one row of a compacted
    record (merged with the others past MAX_COMPACTS) and explained the same."""
    run = build("stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"v\" > 5)", "t")
    hosts = [f"h{i}" for i in range(MAX_CHUNKS + MAX_COMPACTS + 3)]
    groups = {h: Group(f"host={h}", ("host",), False, (("host", h),)) for h in hosts}
    for i, h in enumerate(hosts):
        # one group a chunk: every chunk stays the last one of its group
        rows = [("cpu", {"host": h}, {"v": float(i)}, i * 10), ("cpu", {"host": h}, {"v": 9.0}, i * 10 + 1)]
        run.node.push(StreamChunk(PointBatch.from_rows(rows), [0, 0], [groups[h]]))
    log = run.node.explain_log
    assert len(log._whole) <= MAX_CHUNKS
    assert 1 <= len(log._compacts) <= MAX_COMPACTS
    cut = log.last["host=h0"]
    # one row per group let go, the first groups' rows merged into one record
    assert cut.seqs is not None and len(cut.batch) == len(cut.groups) > 1
    assert sum(len(r.batch) for r in log._compacts) == len(hosts) - MAX_CHUNKS
    by = {g["group"]: g for g in run.node.explain()["groups"]}
    assert len(by) == len(hosts)
    for i, h in enumerate(hosts):
        g = by[f"host={h}"]
        assert g["values"] == {"v": 9.0} and g["level"] == "CRITICAL"
        assert g["time"] == format_rfc3339_ns(i * 10 + 1)
        assert g["deciding"] == {"level": "CRITICAL", "expression": '"v" > 5'}
        assert (g["sent"], g["reason"]) == (False, "no_handler")


def test_a_new_groups_chunk_does_not_merge_every_groups_row_and_memory_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many single-group chunks, new groups and returning ones: the compacted records are merged
    size-tiered (a new group's row is not merged with every other group's each few chunks), yet
    they never hold more than two rows a group, stay few, and every group is explained from its
    own last point."""
    run = build("stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"v\" > 5)", "t")
    n = 300
    hosts = [f"h{i}" for i in range(n)]
    groups = {h: Group(f"host={h}", ("host",), False, (("host", h),)) for h in hosts}
    last: dict[str, tuple[float, int]] = {}
    log = run.node.explain_log
    sizes: list[int] = []  # rows each compaction took
    compact = explain._compact

    def counted(parts: Any, refs: Any) -> Any:
        sizes.append(len(parts))
        return compact(parts, refs)

    monkeypatch.setattr(explain, "_compact", counted)
    order = hosts + hosts[::3] + hosts[::7]  # new groups, then some come back
    for i, h in enumerate(order):
        rows = [("cpu", {"host": h}, {"v": float(i)}, i * 10)]
        run.node.push(StreamChunk(PointBatch.from_rows(rows), [0], [groups[h]]))
        last[h] = (float(i), i * 10)
        held = sum(len(r.batch) for r in log._compacts)
        assert held <= 2 * len(last) + MAX_COMPACTS
        assert len(log._compacts) <= MAX_COMPACTS + n.bit_length() + 1
    # a merge of (nearly) every group's row is rare: sizes double from one tier to the next
    # (merging them all each MAX_COMPACTS chunks, as before, made 37 such merges here)
    assert sum(1 for k in sizes if k > n // 2) <= 4
    by = {g["group"]: g for g in run.node.explain()["groups"]}
    assert len(by) == n
    for h, (v, t) in last.items():
        g = by[f"host={h}"]
        assert g["values"] == {"v": v} and g["time"] == format_rfc3339_ns(t)
        assert g["level"] == ("CRITICAL" if v > 5 else "OK")


@pytest.mark.parametrize("name", ["TestBatch_AlertLevelField", "TestBatch_AlertAll_1"])
def test_explain_batch_cases(name: str) -> None:
    """Batch edges: each batch's deciding row, its event time, and a consistent explanation."""
    assert _DIR is not None
    case = load_case(_DIR / "cases" / f"{name}.json")
    run = build(case["script"], name)
    with stepping(run, None) as steps:
        run_batch_case(run, _DIR / "data" / case["data"][0])
    reasons = _check([{**g, "events": [{}] if g["sent"] else []} for g in steps], run.node.level_texts())
    assert reasons <= {"ok_not_sent", "no_handler"}
    assert any(g["level"] == "CRITICAL" for g in steps)
    assert all(g["reason"] == "no_handler" for g in steps if g["level"] != "OK")  # no handler, no topic
