"""The `make bench` table's list of expected rows (benches/report.py) stays true to the benches.

The conftest hook in benches/ fails a bench session whose bench test passed without adding one of
its rows; that check is only as good as the list. Read statically (no bench is run): every listed
test exists in its module, and each listed peer is a string that module writes, so renaming a
bench test or a peer cannot silently switch the check off.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHES = Path(__file__).resolve().parent.parent / "benches"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kapfast_bench_report", BENCHES / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


report = _report()


def _tests_and_strings(module: str) -> tuple[set[str], set[str]]:
    tree = ast.parse((BENCHES / f"{module}.py").read_text())
    tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return tests, strings


def test_every_expected_row_names_a_bench_test_and_a_peer_it_writes() -> None:
    for e in report.EXPECTED:
        module, _, function = e.test.partition("::")
        tests, strings = _tests_and_strings(module)
        assert function in tests, f"{e.test}: no such bench test (renamed? update benches/report.py)"
        assert e.peer in strings or any(e.peer in s for s in strings), f"{e.test}: peer {e.peer!r}"


def test_every_bench_test_owns_a_row() -> None:
    owners = {e.test for e in report.EXPECTED}
    for path in sorted(BENCHES.glob("bench_*.py")):
        tests, _ = _tests_and_strings(path.stem)
        for t in tests:
            assert f"{path.stem}::{t}" in owners, f"{path.name}::{t} adds no expected row"


def test_issue_20_rows_are_all_listed() -> None:
    # issue #20's table: 10 lines; end to end and the lambda line are three rows each
    assert len(report.ISSUE_20) == 14
    assert len(set(report.EXPECTED)) == len(report.EXPECTED)


def _row(work: str, peer: str) -> object:
    return report.row(work, 2.0, 1.0, peer, "u", "t")


def test_missing_names_the_rows_a_test_that_ran_did_not_add() -> None:
    report.ROWS.clear()
    try:
        kept = _row("parse Telegraf cpu, full-precision floats (10 fields), 1 thread", "polars CSV")
        _row("parse Telegraf cpu, 2-decimal floats (10 fields), 1 thread", "not polars")
        lp = "bench_lineproto::test_bench_lineproto"
        missing = {(e.work, e.peer) for e in report.missing(report.ROWS, {lp})}
        assert ("parse Telegraf cpu, 2-decimal floats", "polars CSV") in missing
        assert all(e.test == lp for e in report.missing(report.ROWS, {lp}))
        assert ("parse Telegraf cpu, full-precision floats", "polars CSV") not in missing
        assert report.missing(report.ROWS, set()) == []  # benches that did not run owe nothing
        assert report.ordered(report.ROWS)[0] == [kept]
    finally:
        report.ROWS.clear()


def test_the_table_puts_issue_20_rows_first_in_the_issue_order() -> None:
    report.ROWS.clear()
    try:
        _row("node from|shift, columnar vs row path", "row path")
        _row("memory per buffered point, window -> mean", "Python dict per point")
        _row("parse Telegraf cpu, full-precision floats, 1 thread", "polars CSV")
        lines = report.render(report.ROWS).splitlines()
        assert lines[2].startswith("parse Telegraf cpu, full-precision")
        assert lines[3].startswith("memory per buffered point")
        assert set(lines[4]) <= {"-", " "}  # a rule before the other benches' rows
        assert lines[5].startswith("node from|shift")
    finally:
        report.ROWS.clear()
