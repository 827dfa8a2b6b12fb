"""``kapfast explain`` against a real kapfastd: the text layout, ``-json``, and its usage errors."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixtures' types, from this directory's conftest.py
    from conftest import Kapfastd, Result

pytestmark = pytest.mark.integration

TICK = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .warn(lambda: "idle" < 25)
        .crit(lambda: "idle" < 8)
        .stateChangesOnly()
"""


def test_explain_text_and_json(kapfastd: Kapfastd, cli: Callable[..., Result], tmp_path: Path) -> None:
    def k(*args: str) -> Result:
        return cli(*args, url=kapfastd.url)

    tick = tmp_path / "cpu.tick"
    tick.write_text(TICK)
    assert k("define", "cpu_alert", "-tick", str(tick), "-dbrp", "telegraf.autogen").code == 0
    assert k("enable", "cpu_alert").code == 0
    body = b"cpu,host=a idle=5 1\ncpu,host=a idle=4 2\n"
    req = urllib.request.Request(
        f"{kapfastd.url}/write?db=telegraf&rp=autogen&precision=s", data=body, method="POST"
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 204

    r = k("explain", "cpu_alert")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "Task cpu_alert",
        "alert node alert2:",
        "  group host=a  at 1970-01-01T00:00:02Z: CRITICAL -> CRITICAL",
        "    values:   idle=4",
        '    CRITICAL level  "idle" < 8  => true  <- decided',
        '    WARNING level   "idle" < 25  => true',
        "    sent:     no (stateChangesOnly): level unchanged (CRITICAL) and .stateChangesOnly() is set",
    ]
    r = k("explain", "-json", "cpu_alert")
    doc = json.loads(r.out)
    assert doc["nodes"][0]["groups"][0]["reason"] == "stateChangesOnly"

    assert k("explain", "-at", "1970-01-01T00:00:01Z", "cpu_alert").code == 2  # no -recording
    missing = k("explain", "nope")
    assert missing.code != 0 and "nope" in missing.err
