"""Kapacitor's alert conformance cases, fed straight to the alert node (see harness.py)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import conformance_dir
from tests.engine.alert.compare import events_diff, series_diff
from tests.engine.alert.harness import build, load_case, run_batch_case, run_stream_case, substitute
from tests.engine.alert.servers import HttpReceiver, TcpReceiver

_DIR = conformance_dir()
_ALERT_CASES = sorted((_DIR / "alert_cases").glob("*.json")) if _DIR else []
_BATCH_CASES = sorted((_DIR / "cases").glob("TestBatch_Alert*.json")) if _DIR else []


def _wait(pred: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        time.sleep(0.01)


@pytest.mark.parametrize("path", _ALERT_CASES, ids=[p.stem for p in _ALERT_CASES])
def test_alert_case(path: Path, tmp_path: Path) -> None:
    assert _DIR is not None
    case = load_case(path)
    data = _DIR / "data" / case["data"][0]
    ignore = tuple(case.get("ignored_fields") or ())
    handler = case["handler"]
    if handler == "post":
        with HttpReceiver() as srv:
            run = build(substitute(case["script"], {"{{POST_URL}}": srv.url}), case["task_name"])
            run_stream_case(run, data)
            got = [json.loads(b) for b in srv.bodies]
    elif handler == "tcp":
        with TcpReceiver() as rcv:
            run = build(substitute(case["script"], {"{{TCP_ADDR}}": rcv.address}), case["task_name"])
            run_stream_case(run, data)
            _wait(lambda: len(rcv.payloads) >= case["expected_count"])
            for p in rcv.payloads:
                assert p.endswith(b"}\n\n"), p  # JSON, the encoder's newline, the handler's extra one
            got = [json.loads(p) for p in rcv.payloads]
    elif handler == "log":
        values = {f["placeholder"]: str(tmp_path / f"log{i}.log") for i, f in enumerate(case["log_files"])}
        run = build(substitute(case["script"], values), case["task_name"])
        run_stream_case(run, data)
        for f in case["log_files"]:
            p = values[f["placeholder"]]
            mode = stat.S_IMODE(os.stat(p).st_mode)
            umask = os.umask(0)
            os.umask(umask)
            assert mode == int(f["expected_file_mode"], 8) & ~umask
            lines = Path(p).read_bytes().splitlines()
            evs = [json.loads(line) for line in lines]
            assert events_diff(f["expected_events"], evs, ignore) is None, events_diff(
                f["expected_events"], evs, ignore
            )
        return
    else:
        pytest.fail(f"unknown handler {handler}")
    if case["expected_events"] is None:  # compare: count_only
        diff = None
    elif case.get("ordered", True):
        diff = events_diff(case["expected_events"], got, ignore)
    else:
        key = lambda e: (e["id"], e["time"], e["level"])  # noqa: E731
        diff = events_diff(sorted(case["expected_events"], key=key), sorted(got, key=key), ignore)
    assert diff is None, diff
    assert len(got) == case["expected_count"]
    http = case.get("http_out")
    if http:
        _check_http_out(run.out.rows(), http["expected"]["series"])


def _last_per_group(rows: list[Any]) -> list[dict[str, Any]]:
    last: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
    for r in rows:
        key = (r[0], (("host", r[1].get("host", "")),))  # httpOut keeps one point per group (by host)
        last.pop(key, None)
        last[key] = r
    out = []
    for (name, _), (_, tags, fields, t) in last.items():
        cols = sorted(fields)
        out.append(
            {
                "name": name,
                "tags": dict(tags),
                "columns": ["time", *cols],
                "values": [[t, *(fields[c] for c in cols)]],
            }
        )
    return out


def _check_http_out(rows: list[Any], expected: list[dict[str, Any]]) -> None:
    got = _last_per_group(rows)
    got.sort(key=lambda s: s["tags"].get("host", ""))
    exp = sorted(expected, key=lambda s: (s.get("tags") or {}).get("host", ""))
    # httpOut keeps one point per group; compare the last of each group
    assert series_diff(exp, got) is None, series_diff(exp, got)


@pytest.mark.parametrize("path", _BATCH_CASES, ids=[p.stem for p in _BATCH_CASES])
def test_batch_alert_case(path: Path) -> None:
    assert _DIR is not None
    case = load_case(path)
    run = build(case["script"], case.get("task_name") or path.stem)
    run_batch_case(run, _DIR / "data" / case["data"][0])
    batches = [m for m in run.out.messages if hasattr(m, "points")]
    assert batches
    last = batches[-1]
    rows = last.points.rows()  # type: ignore[union-attr]
    exp = case["steps"][-1]["expected"]["series"][0]
    cols = exp["columns"][1:]
    got = {
        "name": last.name,  # type: ignore[union-attr]
        "tags": dict(last.group.tags),  # type: ignore[union-attr]  # httpOut's batch tags
        "columns": ["time", *sorted(rows[0][2])],
        "values": [[r[3], *(r[2].get(c) for c in sorted(rows[0][2]))] for r in rows],
    }
    assert cols == sorted(cols)
    assert series_diff([exp], [got]) is None, series_diff([exp], [got])
