"""Print the one benchmark table (benches/report.py) at the end of `make bench`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not report.ROWS:
        return
    terminalreporter.write_sep("=", "kapfast benchmarks (ratio > 1: kapfast wins)")
    terminalreporter.write_line(report.render(report.ROWS))
    report.dump(report.ROWS)
