"""Kapacitor's own integration cases through ``kapfast test`` (../shared/conformance/run.py).

The number required is the number kapfast reached; it may only go up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "run.py"
KAPFAST = Path(sys.executable).with_name("kapfast")


# All 100 cases pass; the floor may only go up.
REQUIRED = 100


@pytest.mark.skipif(not RUN.exists(), reason=f"conformance cases not found at {RUN} (../shared is absent)")
@pytest.mark.skipif(not KAPFAST.exists(), reason=f"{KAPFAST} not installed (make dev)")
def test_conformance_cases() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--kapfast", str(KAPFAST), "--require", str(REQUIRED)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
