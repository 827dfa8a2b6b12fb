"""The invalid-script corpus: each file's first line says where the error is and what it says.

``// expect: LINE:COL: message`` — the error must be at LINE:COL and its message must start with
``message``. The caret excerpt must show that line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kapfast.errors import TickScriptError
from kapfast.tick import compile_script, format_script

CORPUS = sorted((Path(__file__).parent / "invalid").glob("*.tick"))


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_script(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = text.split("\n", 1)[0]
    assert header.startswith("// expect: "), "first line must be // expect: LINE:COL: message"
    where, message = header[len("// expect: ") :].split(": ", 1)
    line, col = (int(x) for x in where.split(":"))
    with pytest.raises(TickScriptError) as info:
        compile_script(text, source=path.name)
    err = info.value
    assert err.message.startswith(message), err.message
    assert (err.line, err.column) == (line, col), f"{err.line}:{err.column} {err.message}"
    if line:
        assert str(err).startswith(f"{path.name}:{line}:{col}: ")
        src_line = text.split("\n")[line - 1]
        assert err.excerpt.split("\n")[0] == src_line
        assert err.excerpt.split("\n")[1] == " " * (col - 1) + "^"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_script_formats_stably(path: Path) -> None:
    """Scripts that parse but do not compile still format stably and keep their error."""
    text = path.read_text(encoding="utf-8")
    try:
        once = format_script(text)
    except TickScriptError:
        return  # a syntax error: nothing to format
    assert format_script(once) == once
    with pytest.raises(TickScriptError) as before:
        compile_script(text)
    with pytest.raises(TickScriptError) as after:
        compile_script(once)
    assert after.value.message == before.value.message
