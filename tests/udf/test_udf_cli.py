"""``kapfast test -config``: the config file's UDF agents run the script offline."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from kapfast.cli.main import main

AGENT = str(Path(__file__).with_name("agentlib.py"))
BASE = 1_600_000_000 * 10**9


def config(tmp_path: Path) -> Path:
    path = tmp_path / "kapacitor.conf"
    path.write_text(
        "[udf]\n[udf.functions]\n"
        "  [udf.functions.mirror]\n"
        f'    prog = "{sys.executable}"\n'
        f'    args = ["-u", "{AGENT}", "mirror"]\n'
        '    timeout = "10s"\n'
    )
    return path


def recording(tmp_path: Path) -> Path:
    path = tmp_path / "d.srpl.gz"
    lines = "".join(f"db\nrp\ncpu,host=a value={i} {BASE + i * 10**9}\n" for i in range(4))
    path.write_bytes(gzip.compress(lines.encode()))
    return path


def test_kapfast_test_runs_udf_agents_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.tick"
    script.write_text("stream|from().measurement('cpu')@mirror().tag('t')|httpOut('out')\n")
    args = ["test", str(script), "-config", str(config(tmp_path)), "--data", str(recording(tmp_path))]
    assert main(args) == 0
    (series,) = json.loads(capsys.readouterr().out)["http_out"]["out"]["series"]
    assert series["tags"] == {"host": "a", "udf": "t"}
    assert series["columns"] == ["time", "seen", "value"]
    assert series["values"] == [["2020-09-13T12:26:43Z", 4, 3.0]]


def test_kapfast_test_checks_options_against_the_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "s.tick"
    script.write_text("stream|from().measurement('cpu')@mirror().tag(1)|httpOut('out')\n")
    assert (
        main(["test", str(script), "-config", str(config(tmp_path)), "--data", str(recording(tmp_path))]) != 0
    )
    assert "s.tick:1:43: unexpected arg to tag, got INT expected STRING" in capsys.readouterr().err


def test_kapfast_check_checks_udf_options_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#15: ``kapfast check -config`` asks the config's agents for their Info, so a wrong UDF
    option fails in CI as it would at define time."""
    conf = str(config(tmp_path))
    good, bad = tmp_path / "good.tick", tmp_path / "bad.tick"
    good.write_text("stream|from().measurement('cpu')@mirror().tag('t')|httpOut('out')\n")
    bad.write_text("stream|from().measurement('cpu')@mirror().tag(1)|httpOut('out')\n")
    assert main(["check", str(good), "-config", conf]) == 0
    assert "mirror2" in capsys.readouterr().out  # the UDF node in the DOT
    assert main(["check", str(bad), "-config", conf]) == 1
    assert "bad.tick:1:43: unexpected arg to tag, got INT expected STRING" in capsys.readouterr().err
    unknown = tmp_path / "unknown.tick"
    unknown.write_text("stream|from().measurement('cpu')@mirror().nope('x')|httpOut('out')\n")
    assert main(["check", str(unknown), "-config", conf]) == 1
    assert "nope" in capsys.readouterr().err
    missing = tmp_path / "missing.conf"
    assert main(["check", str(good), "-config", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
