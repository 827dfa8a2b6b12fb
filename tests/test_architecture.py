"""The package's shape, checked (issue #13): the private extension ``kapfast._native`` is reached
through a few named facades only; kapfast's modules form no import circle; and no module hides a
circle (or anything else) behind an import of a kapfast module inside a function.

Read statically with :mod:`ast` (nothing is imported), so the test is fast and its failures name
the file and line to fix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "python"

#: The modules that may import ``kapfast._native``: each is the one Python face of a Rust part.
FACADES = {
    "kapfast.batch": "PointBatch and the whole-chunk edits (rust/src/batch, py/batch.rs, py/ops.rs)",
    "kapfast.lineproto": "line protocol parsing (rust/src/lineproto)",
    "kapfast.lambdas": "lambda programs evaluated over a batch (rust/src/eval)",
    "kapfast.influxql": "InfluxQL functions over a batch (rust/src/influxql)",
    "kapfast.stateops": "per-group state kernels of the stateful nodes (rust/src/stateops)",
    "kapfast.udf.wire": "the UDF wire codec (rust/src/udf)",
}

#: Imports of a kapfast module inside a function that must stay there: (importer, imported) -> why.
LAZY_ALLOWED = {
    (
        "kapfast.server.app",
        "kapfast.cluster.service",
    ): "the NATS client is loaded only when [cluster] is enabled",
    (
        "kapfast.server.app",
        "kapfast.cluster.worker",
    ): "the NATS client is loaded only when [cluster] is enabled",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    top_level: bool


def _modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "kapfast").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The kapfast module ``name`` is, or is in (``kapfast.tick.Pipeline`` -> ``kapfast.tick``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*pkg, base] if base else pkg)
    # ``from pkg import submodule`` depends on the submodule, not on the package's __init__
    return [
        f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES or a.name == "_native" else base
        for a in node.names
    ]


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(stmts: list[ast.stmt], top: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for target in _targets(stmt, package):
                    if target.startswith("kapfast"):
                        found.append(Import(module, target, stmt.lineno, top))
            elif top and isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                continue  # annotations only: never runs
            elif top and isinstance(stmt, (ast.If, ast.Try)):
                visit(stmt.body, True)
                visit(stmt.orelse, True)
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body, True)
                visit(getattr(stmt, "finalbody", []), True)
            else:
                nested = [
                    n for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom)) and n is not stmt
                ]
                for n in nested:
                    for target in _targets(n, package):
                        if target.startswith("kapfast"):
                            found.append(Import(module, target, n.lineno, False))

    visit(tree.body, True)
    return found


ALL_IMPORTS = [imp for module, path in sorted(MODULES.items()) for imp in _imports(module, path)]


def test_only_the_facades_import_the_extension() -> None:
    importers = {i.importer for i in ALL_IMPORTS if i.imported == "kapfast._native"}
    assert importers, "the scan found no import of kapfast._native at all: the test is broken"
    stray = sorted(
        f"{MODULES[i.importer]}:{i.line}"
        for i in ALL_IMPORTS
        if i.imported == "kapfast._native" and i.importer not in FACADES
    )
    assert not stray, (
        "kapfast._native is private: import from its facade instead "
        f"({', '.join(sorted(FACADES))}), or add a facade here with its reason: {stray}"
    )


def test_no_function_local_import_of_a_kapfast_module() -> None:
    local = sorted(
        f"{MODULES[i.importer]}:{i.line} imports {i.imported}"
        for i in ALL_IMPORTS
        if not i.top_level and (i.importer, _resolve(i.imported)) not in LAZY_ALLOWED
    )
    assert not local, (
        "import kapfast modules at the top of the module; a circle means something lives in the "
        f"wrong module (move it down), not that the import should hide in a function: {local}"
    )


def test_no_import_circle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in ALL_IMPORTS:  # lazy imports count too: a circle hidden in a function is still one
        target = _resolve(i.imported)
        if target is not None and target != i.importer:
            graph[i.importer].add(target)
    assert _circles(graph) == []


def test_the_checks_see_a_circle_and_a_local_import() -> None:
    """The scan itself works: a made-up circle is found, and a lazy import is told from a top one."""
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert any(not i.top_level for i in ALL_IMPORTS if i.importer == "kapfast.server.app")


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out
