"""The one table `make bench` prints: every benchmark adds its rows here.

A row is one line of issue #20's table: the work measured, kapfast's figure, the peer's figure
measured in the same run, their ratio and the target. Benchmarks call :func:`row`; the pytest
hook in ``benches/conftest.py`` prints every row at the end of the session (and writes them as
JSON to ``$KAPFAST_BENCH_JSON`` when that is set), so one ``make bench`` gives one table.

Ratios are what we quote (the machines are noisy): ``ratio`` is kapfast ÷ peer when higher is
better (throughput), peer ÷ kapfast when lower is better (latency, bytes), so a ratio above 1
always means kapfast wins.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    work: str
    kapfast: float
    peer: float
    peer_name: str
    unit: str
    target: str
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.kapfast / self.peer if self.peer else float("inf")
        return self.peer / self.kapfast if self.kapfast else float("inf")


ROWS: list[Row] = []


def row(
    work: str,
    kapfast: float,
    peer: float,
    peer_name: str,
    unit: str,
    target: str,
    *,
    higher_is_better: bool = True,
) -> Row:
    """Record one row of the table (and return it, for the benchmark's own printout)."""
    r = Row(work, float(kapfast), float(peer), peer_name, unit, target, higher_is_better)
    ROWS.append(r)
    return r


def _fmt(v: float) -> str:
    if v == 0 or abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    return f"{v:.3g}"


def render(rows: list[Row]) -> str:
    head = ("work", "kapfast", "peer", "peer is", "unit", "ratio", "target")
    body = [
        (r.work, _fmt(r.kapfast), _fmt(r.peer), r.peer_name, r.unit, f"{r.ratio:.2f}x", r.target)
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def dump(rows: list[Row]) -> None:
    path = os.environ.get("KAPFAST_BENCH_JSON")
    if path:
        with open(path, "w") as f:
            json.dump([{**asdict(r), "ratio": r.ratio} for r in rows], f, indent=1)
