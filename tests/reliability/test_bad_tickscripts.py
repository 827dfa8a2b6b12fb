"""Hostile TICKscripts are refused with a 400 that names a line and column (and the limit, when
one is crossed), never a 500; scripts just under the limits compile, run and describe."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd

from kapfast.errors import TickScriptError
from kapfast.tick import compile_script, format_script
from kapfast.tick.lambda_ast import MAX_DEPTH as LAMBDA_DEPTH
from kapfast.tick.lexer import MAX_SCRIPT_BYTES
from kapfast.tick.lint import lint
from kapfast.tick.parser import MAX_NESTING, MAX_TREE_DEPTH

DBRP = 'dbrp "telegraf"."autogen"\n'
WHERE = DBRP + "stream|from().where(lambda: {})\n"

HOSTILE = {
    "unicode digit": (WHERE.format('"x" > ⁷.5'), "unexpected character '⁷'"),
    "unicode digit in a var": (DBRP + "var x = ⁷.5\nstream|from()\n", "unexpected character '⁷'"),
    "arabic-indic digit": (WHERE.format('"x" > ٣'), "unexpected character '٣'"),
    "10k nested -": (DBRP + "var x = " + "-" * 10_000 + "1\nstream|from()\n", f"limit is {MAX_NESTING}"),
    "10k nested !": (WHERE.format("!" * 10_000 + '"x"'), f"limit is {MAX_NESTING}"),
    "5k nested abs(": (WHERE.format("abs(" * 5000 + '"x"' + ")" * 5000 + " > 0"), f"limit is {MAX_NESTING}"),
    "100k nested (": (
        DBRP + "var x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\nstream|from()\n",
        f"limit is {MAX_NESTING}",
    ),
    "lone surrogate": (WHERE.format("\"x\" == '\ud800'"), "U+D800"),
    "lone surrogate outside a string": (DBRP + "var x = \udfff\nstream|from()\n", "U+DFFF"),
    "20k-node chain": (DBRP + "stream|from()" + "|log()" * 20_000 + "\n", f"limit is {MAX_TREE_DEPTH}"),
    "20k-term expression": (WHERE.format('"x"' + " + 1" * 20_000 + " > 0"), f"limit is {MAX_TREE_DEPTH}"),
    "a 300-term lambda": (
        WHERE.format(" OR ".join(f"\"h\" == '{i}'" for i in range(300))),
        f"lambda depth limit is {LAMBDA_DEPTH}",
    ),
    "a lambda var inlined too deep": (
        DBRP
        + "var a = lambda: "
        + " + ".join(['"x"'] * 200)
        + "\nstream|from().where(lambda: "
        + " + ".join(["a"] * 100)
        + " > 0)\n",
        f"lambda depth limit is {LAMBDA_DEPTH}",
    ),
    "too large": (DBRP + "stream|from()\n// " + "x" * MAX_SCRIPT_BYTES + "\n", f"{MAX_SCRIPT_BYTES} bytes"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_compile_refuses_with_a_position(name: str) -> None:
    script, reason = HOSTILE[name]
    with pytest.raises(TickScriptError) as err:
        compile_script(script)
    assert err.value.line >= 1 and err.value.column >= 1, err.value
    assert reason in err.value.message
    # the caret excerpt stays readable however long the line
    assert all(len(line) < 200 for line in err.value.excerpt.splitlines())


def test_the_api_answers_400_with_line_and_column(kapfastd: Kapfastd) -> None:
    for name, (script, reason) in sorted(HOSTILE.items()):
        ans = kapfastd.api("POST", "/tasks", {"id": "hostile", "script": script, "status": "enabled"})
        assert ans.status == 400, (name, ans)
        message = ans.json()["error"]
        assert re.match(r"invalid TICKscript: \d+:\d+: ", message), (name, message)
        assert reason in message, (name, message)
        # the same through a template and an update
        assert kapfastd.api("POST", "/templates", {"id": "hostile", "script": script}).status == 400, name
    assert kapfastd.api("POST", "/tasks", {"id": "ok", "script": WHERE.format('"x" > 1')}).status == 200
    upd = kapfastd.api("PATCH", "/tasks/ok", {"script": HOSTILE["5k nested abs("][0]})
    assert upd.status == 400 and f"limit is {MAX_NESTING}" in upd.json()["error"]
    assert kapfastd.request("GET", "/kapacitor/v1/ping").status == 204


AT_THE_LIMITS = {
    "nested parens": WHERE.format("(" * (MAX_NESTING - 2) + '"x"' + ")" * (MAX_NESTING - 2) + " > 0"),
    "nested abs(": WHERE.format("abs(" * (MAX_NESTING - 2) + '"x"' + ")" * (MAX_NESTING - 2) + " > 0"),
    "nested -": WHERE.format("-" * (MAX_NESTING - 2) + '"x" > 0'),
    "a long chain": DBRP + "stream|from()" + "|log()" * (MAX_TREE_DEPTH - 10) + "\n",
    "a long var expression": DBRP
    + "var x = 1"
    + " + 1" * (MAX_TREE_DEPTH - 10)
    + '\nstream|from().where(lambda: "x" > x)\n',
    "a long OR": WHERE.format(" OR ".join(f"\"h\" == '{i}'" for i in range(LAMBDA_DEPTH // 2 - 1))),
    "a long sum": WHERE.format('"x"' + " + 1" * (LAMBDA_DEPTH - 2) + " > 0"),
}


@pytest.mark.parametrize("name", sorted(AT_THE_LIMITS))
def test_scripts_under_the_limits_compile_and_format(name: str) -> None:
    script = AT_THE_LIMITS[name]
    pipeline = compile_script(script)
    lint(pipeline)
    pipeline.to_dot("t")
    compile_script(format_script(script))


def test_scripts_under_the_limits_run(kapfastd: Kapfastd) -> None:
    for i, script in enumerate(AT_THE_LIMITS.values()):
        ans = kapfastd.api("POST", "/tasks", {"id": f"deep{i}", "script": script, "status": "enabled"})
        assert ans.status == 200, ans
        assert ans.json()["executing"] is True
    assert kapfastd.write("cpu,h=1 x=1 1\n").status == 204
    for i in range(len(AT_THE_LIMITS)):
        assert kapfastd.api("GET", f"/tasks/deep{i}").status == 200


def _check(tmp_path: Path, content: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "t.tick"
    path.write_bytes(content)
    return subprocess.run(
        [str(Path(sys.executable).parent / "kapfast"), "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_kapfast_check_prints_an_error_never_a_traceback(tmp_path: Path, name: str) -> None:
    script = HOSTILE[name][0]
    got = _check(tmp_path, script.encode("utf-8", errors="surrogatepass"))
    assert got.returncode == 1, got
    assert "Traceback" not in got.stderr
    assert re.match(r"\S*t\.tick:\d+:\d+: ", got.stderr), got.stderr[:500]


def test_concurrent_compiles_keep_their_recursion_headroom() -> None:
    """Compiles run on executor threads at once: one finishing must not take the raised recursion
    limit from another still deep in a long chain, and the limit comes back afterwards."""
    before = sys.getrecursionlimit()
    script = AT_THE_LIMITS["a long chain"]
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: len(compile_script(script).nodes), range(12)))
    assert done == [MAX_TREE_DEPTH - 10 + 2] * 12
    assert sys.getrecursionlimit() == before
