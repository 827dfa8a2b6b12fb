"""The pipeline as Graphviz DOT, the way ``kapacitor show`` prints it.

Without ``stats`` the plain form of a defined task (``pipeline.Dot``): edges only, in link order,
batch source edges left out. With ``stats`` the form of an executing task (``task.EDot`` with the
default ``dot-view=attributes``): a throughput line, then per node in topological order its stats
sorted by name and one line per child edge with the ``processed`` count.

``stats`` mapping::

    {"throughput": 12.5,                                  # points/s (batches/s for batch tasks)
     "nodes": {"from1": {"errors": 0, "avg_exec_time_ns": 3277, ...}, ...},  # ns (or "3.277µs")
     "edges": {"stream0->from1": 42, ...}}                 # processed counts

Anything missing renders as Kapacitor's zero values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kapfast.gofmt import duration_string
from kapfast.tick.registry import NODES

if TYPE_CHECKING:
    from kapfast.tick.pipeline import Node, Pipeline

# Stats every node shows; a kind adds its own counters (the node table's ``counters``). Zero values
# stand in for any not given.
BASE_STATS: dict[str, Any] = {"avg_exec_time_ns": 0, "errors": 0, "working_cardinality": 0}


def kind_stats(kind: str) -> dict[str, Any]:
    """The zero statistics of a node of ``kind``: Kapacitor's common three and its counters."""
    spec = NODES.get(kind)
    return {**BASE_STATS, **dict.fromkeys(spec.counters if spec is not None else (), 0)}


def _shown(p: Pipeline, node: Node) -> bool:
    # Kapacitor never shows the batch source: its queries are the real sources of a batch task.
    return node.kind != "batch"


def to_dot(p: Pipeline, name: str, stats: Mapping[str, Any] | None = None) -> str:
    by_id = {n.id: n for n in p.nodes}
    if stats is None:
        out = [f"digraph {name} {{\n"]
        for node in p.nodes:
            if not _shown(p, node):
                continue
            for cid in node.children:
                out.append(f"{node.name} -> {by_id[cid].name};\n")
        out.append("}")
        return "".join(out)

    position = {n.id: i for i, n in enumerate(p.nodes)}
    unit = "batches/s" if p.task_type == "batch" else "points/s"
    throughput = float(stats.get("throughput", 0.0))
    node_stats: Mapping[str, Mapping[str, Any]] = stats.get("nodes", {})
    edges: Mapping[str, Any] = stats.get("edges", {})
    out = [f"digraph {name} {{\n", f'graph [throughput="{throughput:0.2f} {unit}"];\n']
    for node in p.nodes:
        if not _shown(p, node):
            continue
        values = kind_stats(node.kind)
        values.update(node_stats.get(node.name, {}))
        attrs = "".join(f'{k}="{_fmt(k, v)}" ' for k, v in sorted(values.items()))
        out.append(f"\n{node.name} [{attrs}];\n")
        # an executing task creates its edges as it instantiates children in topological order
        for cid in sorted(node.children, key=lambda c: position[c]):
            child = by_id[cid]
            processed = edges.get(f"{node.name}->{child.name}", 0)
            out.append(f'{node.name} -> {child.name} [processed="{_fmt("processed", processed)}"];\n')
    out.append("}")
    return "".join(out)


def _fmt(key: str, v: Any) -> str:
    if key == "avg_exec_time_ns" and isinstance(v, int):
        # an int of ns elsewhere; the DOT shows it as Kapacitor's MaxDuration prints it ("3.277µs")
        return duration_string(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
