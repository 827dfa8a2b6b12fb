"""Fixtures shared by the whole test-suite (keep this small)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


def conformance_dir() -> Path | None:
    """Kapacitor's conformance cases (``../shared/conformance`` or ``$KAPFAST_CONFORMANCE_DIR``)."""
    env = os.environ.get("KAPFAST_CONFORMANCE_DIR")
    for candidate in (Path(env) if env else None, _REPO.parent / "shared" / "conformance"):
        if candidate is not None and (candidate / "data").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def conformance_data() -> Path:
    """The directory of Kapacitor's recorded test data (``*.srpl``, ``*.brpl``)."""
    found = conformance_dir()
    if found is None:
        pytest.skip("conformance data not found (set KAPFAST_CONFORMANCE_DIR)")
    return found / "data"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``srpl_file`` / ``brpl_file`` arguments run once per conformance recording of that kind."""
    for arg, pattern in (("srpl_file", "*.srpl"), ("brpl_file", "*.brpl")):
        if arg in metafunc.fixturenames:
            found = conformance_dir()
            files = sorted((found / "data").glob(pattern)) if found else []
            if files:
                metafunc.parametrize(arg, files, ids=[f.name for f in files])
            else:
                metafunc.parametrize(
                    arg, [pytest.param(None, marks=pytest.mark.skip(reason="no conformance data"))]
                )
