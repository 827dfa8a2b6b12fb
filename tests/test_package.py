"""The package's foundation: the extension imports, console scripts answer, errors locate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kapfast
from kapfast import _native
from kapfast.clock import VirtualClock, WallClock
from kapfast.errors import InputError, KapfastError, LineProtocolError, TickScriptError


def test_extension_version_matches_package() -> None:
    assert _native.__version__ == kapfast.__version__


@pytest.mark.parametrize("argv", [["--help"], ["version"], ["help"], ["help", "version"]])
def test_kapfast_cli_answers(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kapfast.cli.main", *argv], capture_output=True, text=True, check=True
    )
    assert "kapfast" in out.stdout


def test_version_prints_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kapfast.cli.main", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"kapfast {kapfast.__version__}"


def test_unknown_verb_is_an_error() -> None:
    out = subprocess.run([sys.executable, "-m", "kapfast.cli.main", "nope"], capture_output=True, text=True)
    assert out.returncode != 0
    assert "invalid choice" in out.stderr


def test_input_errors_name_their_location() -> None:
    err = TickScriptError("unknown node foo", line=3, column=7, source="cpu.tick")
    assert str(err) == "cpu.tick:3:7: unknown node foo"
    assert isinstance(err, InputError) and isinstance(err, KapfastError)
    assert str(LineProtocolError("bad field", line=2)) == "2: bad field"
    assert str(LineProtocolError("bad")) == "bad"


def test_virtual_clock_only_moves_forward() -> None:
    clock = VirtualClock(10)
    clock.set(5)
    assert clock.now_ns() == 10
    clock.advance(5)
    clock.set(20)
    assert clock.now_ns() == 20
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert WallClock().now_ns() > 1_600_000_000 * 10**9


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    script = tmp_path / "t.tick"
    script.write_text("stream\n    |from()\n        .measurement('cpu')\n" + "    |log()\n" * 4000)
    proc = subprocess.run(
        f"{sys.executable} -m kapfast.cli.main check {script} | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert proc.stdout == "Type: stream\n"
    assert "Traceback" not in proc.stderr
