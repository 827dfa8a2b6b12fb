"""Shared script collections for the TICKscript tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# Kapacitor's conformance cases live next to the repository (../shared/conformance), not in it.
CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"

PLACEHOLDERS = {
    "POST_URL": "http://127.0.0.1:9999/post",
    "TCP_ADDR": "127.0.0.1:9998",
    "LOG_PATH": "/tmp/kapfast-test/alert.log",
    "LOG_PATH_2": "/tmp/kapfast-test/alert2.log",
}


def fill(script: str) -> str:
    return re.sub(r"\{\{([A-Z][A-Z_0-9]*)\}\}", lambda m: PLACEHOLDERS.get(m.group(1), m.group(0)), script)


def conformance_cases() -> list[tuple[str, str, str]]:
    """(case name, script, expected task type) for every conformance case."""
    out = []
    for path in sorted([*CONFORMANCE.glob("cases/*.json"), *CONFORMANCE.glob("alert_cases/*.json")]):
        case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        out.append((path.stem, fill(case["script"]), case["kind"]))
    return out


def example_scripts() -> list[tuple[str, str, dict[str, Any] | None]]:
    """(name, script, vars) for every example under tests/tick/examples."""
    out = []
    for path in sorted((HERE / "examples").glob("*.tick")):
        vars_path = path.with_suffix(".vars.json")
        variables = json.loads(vars_path.read_text(encoding="utf-8")) if vars_path.exists() else None
        out.append((path.stem, path.read_text(encoding="utf-8"), variables))
    return out
