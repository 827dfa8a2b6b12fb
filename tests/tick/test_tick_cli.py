"""`kapfast check` and `kapfast fmt`, run as a user's CI would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kapfast.cli import main


def test_check_valid_prints_type_and_dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "cpu.tick"
    script.write_text(
        'dbrp "telegraf"."autogen"\nstream|from().measurement(\'cpu\')|alert().crit(lambda: TRUE)\n'
    )
    assert main(["check", str(script)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Type: stream\n")
    assert 'Databases Retention Policies: ["telegraf"."autogen"]' in out
    assert "digraph cpu {\nstream0 -> from1;\nfrom1 -> alert2;\n}" in out


def test_check_invalid_reports_position_and_caret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.tick"
    script.write_text("stream\n    |from()\n    |window()\n    |period(10s)\n")
    assert main(["check", str(script)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f'{script}:4:6: no chaining method "period" on *pipeline.WindowNode, but property does exist. '
        "Use '.' operator instead: 'node.period(..)'."
    )
    assert err[1:] == ["    |period(10s)", "     ^"]


def test_check_with_vars_and_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "t.tick"
    script.write_text("var m string\nvar x = 1\n")
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"m": {"type": "string", "value": "cpu"}}))
    assert main(["check", str(script), "--vars", str(variables), "--type", "batch"]) == 0
    assert capsys.readouterr().out.startswith("Type: batch\n")
    assert main(["check", str(script), "--type", "batch"]) == 1
    assert 'missing value for var "m".' in capsys.readouterr().err


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.tick")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_fmt_prints_and_rewrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "a.tick"
    script.write_text("var x=1.0\nstream|from().measurement('cpu')")
    assert main(["fmt", str(script)]) == 0
    expected = "var x = 1.0\n\nstream\n    |from()\n        .measurement('cpu')\n"
    assert capsys.readouterr().out == expected
    assert main(["fmt", "-w", str(script)]) == 0
    assert script.read_text() == expected


def test_fmt_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "b.tick"
    script.write_text("var x = 'oops")
    assert main(["fmt", str(script)]) == 1
    assert f"{script}:1:9: unterminated string" in capsys.readouterr().err


def test_check_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kapfast.cli.main", "check", "-"],
        input="batch|query('SELECT 1 FROM m')|log()",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Type: batch")


def test_check_template_lists_vars(capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(__file__).parent / "examples" / "docs_template_vars.tick"
    assert main(["check", "--template", str(script)]) == 0
    out = capsys.readouterr().out
    assert "window                        duration  5m0s\n" in out
    assert "groups                        list      [*]\n" in out
    assert "measurement                   string\n" in out
