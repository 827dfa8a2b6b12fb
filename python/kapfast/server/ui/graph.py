"""A task's pipeline as SVG: a layered DAG layout (longest path from a source gives the layer, the
parents' mean position orders a layer), drawn top to bottom as ``kapacitor show``'s DOT reads.

Every node is a ``<g class="node" data-node="NAME">`` whose ``<text data-stat=...>`` lines the
page's script rewrites from the task JSON; every edge label is ``<text data-edge="a->b">``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from kapfast.gofmt import duration_string

NODE_W, NODE_H = 190, 74
GAP_X, GAP_Y = 36, 46
PAD = 16


@dataclass(frozen=True)
class GraphNode:
    name: str
    kind: str
    parents: tuple[str, ...]


def layers(nodes: Sequence[GraphNode]) -> list[list[str]]:
    """The nodes by layer (a node one below its deepest parent), each layer ordered by the mean
    position of its parents in the layer above (ties: definition order). ``nodes`` in topological
    order, as a compiled pipeline lists them."""
    depth: dict[str, int] = {}
    for n in nodes:
        depth[n.name] = 1 + max((depth[p] for p in n.parents if p in depth), default=-1)
    out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        out[depth[n.name]].append(n.name)
    for i in range(1, len(out)):
        above = {name: k for k, name in enumerate(out[i - 1])}
        order = {name: k for k, name in enumerate(out[i])}

        def key(name: str, above: dict[str, int] = above, order: dict[str, int] = order) -> tuple[float, int]:
            ps = [above[p] for p in by_name[name].parents if p in above]
            return (sum(ps) / len(ps) if ps else float(order[name]), order[name])

        out[i].sort(key=key)
    return out


def stat_lines(stats: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """The three lines of figures a node box shows (the page's script writes the same), from a
    node's Kapacitor statistics merged with kapfast's own."""
    s = stats or {}
    groups = s.get("working_cardinality", 0)
    avg = s.get("avg_exec_time_ns", 0)
    avg_text = duration_string(avg) if isinstance(avg, int) else str(avg)
    # kapfast's own statistic (kapfast-node-stats), of the kinds that hold points
    buffered = s.get("buffered_points")
    third = f"avg {avg_text}" + (f" · buffered {buffered}" if buffered is not None else "")
    return (
        f"in {s.get('collected', 0)} · out {s.get('emitted', 0)}",
        f"errors {s.get('errors', 0)} · groups {groups}",
        third,
    )


def render_svg(
    nodes: Sequence[GraphNode],
    node_stats: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The pipeline drawn as an inline SVG element (no script, no external reference)."""
    rows = layers(nodes)
    width = max((len(r) for r in rows), default=1) * (NODE_W + GAP_X) - GAP_X + 2 * PAD
    height = len(rows) * (NODE_H + GAP_Y) - GAP_Y + 2 * PAD
    pos: dict[str, tuple[float, float]] = {}
    for i, row in enumerate(rows):
        row_w = len(row) * (NODE_W + GAP_X) - GAP_X
        x0 = (width - row_w) / 2
        for k, name in enumerate(row):
            pos[name] = (x0 + k * (NODE_W + GAP_X), PAD + i * (NODE_H + GAP_Y))
    out = [
        f'<svg class="pipeline" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{max(height, 0):.0f}" viewBox="0 0 {width:.0f} {max(height, 0):.0f}" role="img" '
        f'aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for n in nodes:
        for p in n.parents:
            if p in pos and n.name in pos:
                out.append(_edge(p, n.name, pos[p], pos[n.name]))
    stats = node_stats or {}
    for n in nodes:
        x, y = pos[n.name]
        lines = stat_lines(stats.get(n.name))
        out.append(
            f'<g class="node kind-{escape(n.kind)}" data-node="{escape(n.name)}" '
            f'transform="translate({x:.0f},{y:.0f})">'
            f'<rect width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text class="name" x="10" y="18">{escape(n.name)}</text>'
            + "".join(
                f'<text class="stat" data-stat="{k}" x="10" y="{36 + 16 * k}">{escape(line)}</text>'
                for k, line in enumerate(lines)
            )
            + "</g>"
        )
    out.append("</svg>")
    return "".join(out)


def _edge(a: str, b: str, pa: tuple[float, float], pb: tuple[float, float]) -> str:
    x1, y1 = pa[0] + NODE_W / 2, pa[1] + NODE_H
    x2, y2 = pb[0] + NODE_W / 2, pb[1]
    mid = (y1 + y2) / 2
    key = escape(f"{a}->{b}")
    return (
        f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} '
        f'{x2:.0f},{y2:.0f}" marker-end="url(#arrow)"/>'
        f'<text class="edge-label" data-edge="{key}" x="{(x1 + x2) / 2 + 6:.0f}" y="{mid + 4:.0f}"></text>'
    )
