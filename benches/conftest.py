"""Print the one benchmark table (benches/report.py) at the end of `make bench`, and fail the
session when a bench test passed without adding every row it owns (``report.EXPECTED``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import report as bench_report

# bench tests by outcome ("passed", "failed", "skipped"), as ``module::function``
_OUTCOMES: dict[str, str] = {}
_MISSING: list[tuple[bench_report.Expected, str]] = []


def _test_id(item: pytest.Item | pytest.TestReport) -> str:
    path, _, name = item.nodeid.partition("::")
    return f"{Path(path).stem}::{name}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tid = _test_id(report)
    # every phase that did not pass (a skip or failure in setup), and the call's outcome; a
    # failure is never overwritten by a later phase
    if (report.outcome != "passed" or report.when == "call") and _OUTCOMES.get(tid) != "failed":
        _OUTCOMES[tid] = report.outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ran = set(_OUTCOMES)
    _MISSING[:] = [(e, _OUTCOMES[e.test]) for e in bench_report.missing(bench_report.ROWS, ran)]
    if any(outcome == "passed" for _, outcome in _MISSING):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if bench_report.ROWS:
        terminalreporter.write_sep("=", "kapfast benchmarks (ratio > 1: kapfast wins)")
        terminalreporter.write_line(bench_report.render(bench_report.ROWS))
        bench_report.dump(bench_report.ROWS)
    if _MISSING:
        title = "benchmark rows MISSING from the table (benches/report.py EXPECTED)"
        terminalreporter.write_sep("=", title, red=True)
        for e, outcome in _MISSING:
            why = "the bench passed without adding it" if outcome == "passed" else f"its bench {outcome}"
            terminalreporter.write_line(f"{e.work!r} (peer {e.peer!r}) from {e.test}: {why}")
