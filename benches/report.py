"""The one table `make bench` prints: every benchmark adds its rows here.

A row is one line of issue #20's table: the work measured, kapfast's figure, the peer's figure
measured in the same run, their ratio and the target. Benchmarks call :func:`row`; the pytest
hook in ``benches/conftest.py`` prints every row at the end of the session (and writes them as
JSON to ``$KAPFAST_BENCH_JSON`` when that is set), so one ``make bench`` gives one table.

Ratios are what we quote (the machines are noisy): ``ratio`` is kapfast ÷ peer when higher is
better (throughput), peer ÷ kapfast when lower is better (latency, bytes), so a ratio above 1
always means kapfast wins.

:data:`EXPECTED` lists every row the table must hold, by the bench test that owns it; the conftest
hook fails the session when a bench test passed without adding one of its rows, so a refactor
cannot drop a row silently. Issue #20's rows come first in the table, in the issue's order.
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


@dataclass(frozen=True)
class Expected:
    """A row the table must hold: ``test`` (``module::function``) adds a row whose work starts
    with ``work`` and whose peer is ``peer``."""

    test: str
    work: str
    peer: str

    def matches(self, r: Row) -> bool:
        return r.work.startswith(self.work) and r.peer_name == self.peer


_LP, _SRV = "bench_lineproto::test_bench_lineproto", "bench_server::test_bench_server"
_EVAL, _MEM = "bench_eval::test_bench_eval", "bench_memory::test_bench_memory"
_E2E = "kapfastd e2e from|where|window|mean|alert"

# Issue #20's table, row by row, in its order (docs/benchmarks.md says how each is measured).
ISSUE_20: tuple[Expected, ...] = (
    Expected(_LP, "parse Telegraf cpu, full-precision floats", "polars CSV"),
    Expected(_LP, "parse Telegraf cpu, 2-decimal floats", "polars CSV"),
    Expected(_LP, "parse cost, 5,000-line bodies: 5,000 series vs 8", "kapfast, 8 series"),
    Expected(_SRV, _E2E, "target 3 M"),
    Expected(_SRV, _E2E, "parse-only same bodies"),
    Expected(_SRV, _E2E, "parse one large body"),
    Expected(_SRV, "replay (kapfast test)", "live ingest"),
    Expected(_SRV, "ingest while record stream runs", "ingest, no recording"),
    Expected(_EVAL, 'lambda "usage_idle" < 90', "numpy"),
    Expected(_EVAL, 'lambda "host" =~ /re/ (tag)', "numpy"),
    Expected(_EVAL, 'lambda eval "a" + "b" * 2.0', "numpy"),
    Expected(_LP, "parse on 2 threads vs 1", "kapfast, 1 thread"),
    Expected(_SRV, "write → alert p99", "target 2 ms"),
    Expected(_MEM, "memory per buffered point, window -> mean", "Python dict per point"),
)

_NODES = "bench_nodes::test_bench_nodes"
_ENGINE = "bench_engine::test_bench_engine"
_STEADY = "same alert, level steady (OK)"
_BQ, _IDLE = "bench_batch_query::test_bench_batch_query", "bench_idle_series::test_bench_idle_series"

# The other benches' rows (earlier issues' claims), so that none of them is dropped either.
OTHERS: tuple[Expected, ...] = (
    Expected(_LP, "parse Telegraf-like cpu (4 tags, 5 fields", "polars CSV"),
    Expected(_EVAL, 'where "usage_idle" < 90, all columns', "numpy"),
    Expected(_MEM, "memory per added buffered point", "Python dict per point"),
    Expected(_ENGINE, "engine from|where|window|mean|sink", "kapfast parse only"),
    Expected(_ENGINE, "engine from|groupBy|", "steady path (from|groupBy|httpOut)"),
    Expected(_ENGINE, "union of two streams", "steady path (from|where|httpOut)"),
    Expected(_ENGINE, "union of two streams", "same union fed a timestamp at a time (before)"),
    *(
        Expected(_NODES, f"node from|{name}, columnar vs row path", "row path")
        for name in ("default", "delete", "shift", "eval.tags", "groupBy", "sample", "httpOut", "influxDBOut")
    ),
    Expected("bench_alert::test_bench_alert", "alert, level change", _STEADY),
    Expected("bench_alert::test_bench_alert", "alert.stateChangesOnly()", _STEADY),
    Expected("bench_alert::test_bench_alert", "alert.topic()", _STEADY),
    Expected(_BQ, "batch query answer", "msgspec + per-point Python"),
    Expected(_BQ, "batch query answer", "json.loads alone (no batch)"),
    Expected("bench_cluster::test_bench_cluster", "cluster from|groupBy(host)", "one kapfastd"),
    Expected("bench_cluster::test_bench_cluster", "NATS overhead", "one kapfastd"),
    Expected(_IDLE, "memory per idle series", "a Python dict per series"),
    Expected(_IDLE, "memory per churned series", "kapfast without expiry"),
    Expected(
        "bench_responsive::test_reads_of_a_task_while_its_large_window_is_checkpointed",
        "max API read",
        "checkpoint encoded on the engine thread",
    ),
    Expected("bench_responsive::test_ping_under_saturation", "/ping p99", "pipelines on the event loop"),
    Expected("bench_responsive::test_ping_under_saturation", "points/s taken", "pipelines on the event loop"),
    Expected("bench_udf::test_bench_udf", "stream through a mirror UDF", "kapfast, no UDF"),
)

EXPECTED: tuple[Expected, ...] = ISSUE_20 + OTHERS


def missing(rows: list[Row], tests: set[str]) -> list[Expected]:
    """The expected rows of the bench tests in ``tests`` that no row in ``rows`` matches."""
    return [e for e in EXPECTED if e.test in tests and not any(e.matches(r) for r in rows)]


def ordered(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """(issue #20's rows in the issue's order, the other rows in the order they ran)."""
    issue: list[Row] = []
    taken: set[int] = set()  # by identity: two runs may give equal rows
    for e in ISSUE_20:
        for r in rows:
            if id(r) not in taken and e.matches(r):
                issue.append(r)
                taken.add(id(r))
    return issue, [r for r in rows if id(r) not in taken]


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
    """The table: issue #20's rows first (in the issue's order), a rule, then the others."""
    issue, others = ordered(rows)
    head = ("work", "kapfast", "peer", "peer is", "unit", "ratio", "target")

    def cells(r: Row) -> tuple[str, ...]:
        ratio = f"{r.ratio:.2f}x" if r.ratio >= 0.1 else f"{r.ratio:.2g}x"  # 0.0035x, not 0.00x
        return (r.work, _fmt(r.kapfast), _fmt(r.peer), r.peer_name, r.unit, ratio, r.target)

    body = [cells(r) for r in issue + others]
    widths = [max(len(str(c[i])) for c in [head, *body]) for i in range(len(head))]

    def line(cs: tuple[str, ...]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cs, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(head), rule, *(line(cells(r)) for r in issue)]
    if issue and others:
        lines.append(rule)
    lines += [line(cells(r)) for r in others]
    return "\n".join(lines)


def dump(rows: list[Row]) -> None:
    path = os.environ.get("KAPFAST_BENCH_JSON")
    if path:
        with open(path, "w") as f:
            json.dump([{**asdict(r), "ratio": r.ratio} for r in rows], f, indent=1)
