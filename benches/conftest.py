"""Collects the benchmark modules (``bench_*.py``) so that ``pytest benches -s`` (``make bench``)
runs them; pytest's default patterns only pick up ``test_*.py``."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Module | None:
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
