"""Whole-pipeline checks (properties that must fit together) and Kapacitor's node order."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import NoReturn

from kapfast.tick.pipeline import Node


class NodeProblem(Exception):
    """A node whose properties do not fit together, at ``line``:``column`` of the script."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class _At:
    line: int
    col: int


def _fail(message: str, at: _At) -> NoReturn:
    raise NodeProblem(message, at.line, at.col)


def _check_fill(kind: str, fill: object, options: tuple[str, ...], at: _At) -> None:
    if isinstance(fill, str) and fill not in options:
        choices = ", ".join(f"'{o}'" for o in options)
        _fail(f"{kind}: unexpected fill option '{fill}': use {choices} or a number", at)


#: autoscale node kind -> the name of its resource property (and of its ...Tag variant)
_AUTOSCALE_NAMES = {
    "k8sAutoscale": "ResourceName",
    "swarmAutoscale": "ServiceName",
    "ec2Autoscale": "GroupName",
}


def repeated_pairs(value: object) -> list[list[object]]:
    """A repeatable two-argument property (``+header(k, v)``): its calls' argument lists."""
    if not isinstance(value, list) or not value:
        return []
    return value if isinstance(value[0], list) else [value]


def check_nodes(nodes: list[Node]) -> None:
    """Raise NodeProblem for the first node whose properties do not fit together."""
    for node in nodes:
        at = _At(node.line, node.column)
        p = node.properties
        if node.kind == "window":
            if "period" in p and "periodCount" in p:
                _fail("window: use either .period() or .periodCount(), not both", at)
            if "every" in p and "everyCount" in p:
                _fail("window: use either .every() or .everyCount(), not both", at)
            if "periodCount" in p and p.get("align"):
                _fail("window: count windows cannot be aligned", at)
            if "everyCount" in p and p["everyCount"] <= 0:
                _fail("window: everyCount must be greater than 0", at)
        elif node.kind == "eval":
            names = p.get("as")
            if names is None:
                _fail(
                    "eval: must provide one name per expression via the 'As' property: "
                    f"add .as() with {len(node.args)} name(s)",
                    at,
                )
            if len(names) != len(node.args):
                _fail(
                    f"eval: {len(node.args)} expression(s) but {len(names)} name(s) in .as(): "
                    "give one name per expression",
                    at,
                )
        elif node.kind == "join":
            _check_fill("join", p.get("fill"), ("null", "none"), at)
            names = p.get("as")
            if names is None:
                _fail(
                    "join: a call to join.as() is required to specify the output stream prefixes: "
                    f"add .as() with {len(node.parents)} name(s)",
                    at,
                )
            if len(names) != len(node.parents):
                _fail(
                    f"join: {len(node.parents)} parents but {len(names)} name(s) in .as(): "
                    "give one name per parent",
                    at,
                )
        elif node.kind == "query":
            if "every" in p and "cron" in p:
                _fail("query: use either .every() or .cron(), not both", at)
            _check_fill("query", p.get("fill"), ("null", "none", "previous", "linear"), at)
        elif node.kind == "alert":
            flap = p.get("flapping")
            if flap is not None:
                low, high = flap
                if not (0 <= low <= 1 and 0 <= high <= 1) or low > high:
                    _fail("alert: .flapping(low, high) thresholds must be in [0, 1] with low <= high", at)
            history = p.get("history")
            if history is not None and history < 2:
                _fail("alert: .history() must be at least 2", at)
            for h in node.handlers:
                if h.kind == "post" and not h.args and not h.properties.get("endpoint"):
                    where = _At(h.line, h.column)
                    _fail("alert: .post() needs a URL or an .endpoint('name')", where)
                if h.kind == "log" and h.args and not str(h.args[0]).startswith("/"):
                    where = _At(h.line, h.column)
                    _fail(f"alert: log path must be absolute, got '{h.args[0]}'", where)
        elif node.kind == "httpPost":
            if len(node.args) > 1:
                _fail("httpPost: give one URL (or none and an .endpoint())", at)
            if not node.args and not p.get("endpoint"):
                _fail("httpPost: give a URL, httpPost('http://...'), or an .endpoint('name')", at)
            # Kapacitor's HTTPPostNode.validate
            if len(p.get("endpoint") or []) > 1:
                _fail(f"httpPost expects 0 or 1 endpoints, got {len(p['endpoint'])}", at)
            if node.args and p.get("endpoint"):
                _fail("httpPost: only one endpoint and url may be specified", at)
            for pair in repeated_pairs(p.get("header")):
                if str(pair[0]).upper() == "AUTHENTICATE":
                    _fail("httpPost: cannot set 'authenticate' header", at)
        elif node.kind in _AUTOSCALE_NAMES:
            # Kapacitor's K8sAutoscaleNode/SwarmAutoscaleNode/Ec2AutoscaleNode.validate
            what = _AUTOSCALE_NAMES[node.kind]
            key = what[0].lower() + what[1:]
            if bool(p.get(key)) == bool(p.get(key + "Tag")):
                _fail(f"{node.kind}: must specify exactly one of {what} or {what}Tag", at)
            kind = p.get("kind", "deployments")
            if node.kind == "k8sAutoscale" and kind not in (
                "deployments",
                "replicasets",
                "replicationcontrollers",
            ):
                _fail(
                    f"{node.kind}: invalid Kind, must be 'deployments', 'replicasets' or "
                    f"'replicationcontrollers', got {kind}",
                    at,
                )
            if "min" in p and int(p["min"]) < 1:
                _fail(f"{node.kind}: min must be >= 1, got {p['min']}", at)
            if "replicas" not in p:
                _fail(f"{node.kind}: must provide a replicas lambda expression", at)
        elif node.kind == "sideload":
            # Kapacitor refuses these when the task starts; kapfast at define. Kapacitor's newer
            # http(s):// sources are not implemented: refused here rather than failing later.
            source = urllib.parse.urlsplit(str(p.get("source") or ""))
            if source.scheme != "file":
                _fail(f"sideload: unsupported source scheme {source.scheme!r}, must be 'file'", at)
            if not source.path.startswith("/"):
                _fail(f"sideload: sideload source path must be absolute {source.path!r}", at)
        elif node.kind == "kapacitorLoopback":
            if not p.get("database"):
                _fail("kapacitorLoopback: must specify a database", at)
            if not p.get("retentionPolicy"):
                _fail("kapacitorLoopback: must specify a retention policy", at)
        elif node.kind == "barrier" and "idle" in p and "period" in p:
            _fail("barrier: use either .idle() or .period(), not both", at)


def kapacitor_order(sources: list[Node], by_id: dict[int, Node]) -> list[Node]:
    """Kapacitor's topological order: DFS from the sources (last first), reversed postorder."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        stack: list[tuple[Node, int]] = [(node, 0)]
        while stack:
            n, i = stack.pop()
            if i == 0:
                if n.id in seen:
                    continue
                seen.add(n.id)
            if i < len(n.children):
                stack.append((n, i + 1))
                child = by_id[n.children[i]]
                if child.id not in seen:
                    stack.append((child, 0))
            else:
                order.append(n)

    for src in reversed(sources):
        visit(src)
    order.reverse()
    return order
