"""The Python↔Rust boundary (rust/src/py/) turns every Rust error into ``kapfast.errors``, from
one place (``rust/src/py/errors.rs``), and a Rust panic into ``InternalError``: an ``Exception``
the router's and the task master's ``except Exception`` stop, where pyo3's own
``PanicException`` (a ``BaseException``) would have gone through them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kapfast import _native
from kapfast.batch import PointBatch
from kapfast.errors import InternalError, KapfastError, LineProtocolError
from kapfast.lineproto import parse
from kapfast.server.router import Router

PY_BOUNDARY = Path(__file__).resolve().parent.parent / "rust" / "src" / "py"
ERRORS_RS = PY_BOUNDARY / "errors.rs"


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(PY_BOUNDARY.rglob("*.rs"))}


def test_a_panic_becomes_an_internal_error() -> None:
    assert _native._boundary_selftest(False) == 0
    with pytest.raises(InternalError, match="internal error in kapfast's Rust core: boundary self-test"):
        _native._boundary_selftest(True)
    assert _native._boundary_selftest(False) == 0  # the extension goes on working


def test_the_router_survives_a_consumer_whose_rust_call_panics() -> None:
    class Panics:
        def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
            _native._boundary_selftest(True)

    class Counts:
        points = 0

        def write_points(self, db: str, rp: str, batch: PointBatch) -> None:
            self.points += len(batch)

    counted = Counts()
    router = Router(Panics(), counted)
    router.write_points("db", "rp", parse(b"cpu v=1 1\ncpu v=2 2\n", now_ns=0).batch)
    assert router.errors == [1, 0]
    assert counted.points == 2


def test_rust_errors_are_kapfast_errors() -> None:
    with pytest.raises(LineProtocolError):
        parse(b"cpu v=1", precision="fortnights", now_ns=0)
    assert issubclass(InternalError, KapfastError) and issubclass(InternalError, Exception)


def test_work_runs_only_through_the_guard() -> None:
    """Every binding releases the GIL through ``errors::detached`` (which catches panics), and
    only errors.rs names ``kapfast.errors``: one conversion point."""
    sources = _sources()
    assert ERRORS_RS in sources
    unguarded = [str(p) for p, text in sources.items() if p != ERRORS_RS and "allow_threads" in text]
    assert not unguarded, f"use crate::py::errors::detached, not py.allow_threads: {unguarded}"
    converters = [str(p) for p, text in sources.items() if p != ERRORS_RS and "kapfast.errors" in text]
    assert not converters, f"build kapfast errors with crate::py::errors: {converters}"
    guarded = sum(len(re.findall(r"\bdetached\(py,", t)) for p, t in sources.items() if p != ERRORS_RS)
    assert guarded >= 40  # the bindings' bulk work (49 calls when written)
