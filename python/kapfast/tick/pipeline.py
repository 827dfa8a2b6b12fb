"""The compiled pipeline: a plain, typed description of a task that the engine builds and runs.

See docs/pipeline.md for the contract. Values of arguments and properties are Python scalars
(``str int float bool``), lists of values, or the small typed wrappers below. ``to_json`` /
``from_json`` round-trip everything (the wrappers become one-key tagged objects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kapfast.tick import lambda_ast
from kapfast.tick.dot import to_dot
from kapfast.tick.literals import Duration as Duration
from kapfast.tick.literals import Lambda as Lambda
from kapfast.tick.literals import NodeRef as NodeRef
from kapfast.tick.literals import Regex as Regex
from kapfast.tick.literals import Star as Star
from kapfast.tick.literals import TimeDimension as TimeDimension
from kapfast.tick.literals import Value as Value
from kapfast.tick.literals import value_from_json as value_from_json
from kapfast.tick.literals import value_to_json as value_to_json
from kapfast.tick.registry import NODES

PIPELINE_VERSION = 1


@dataclass
class Handler:
    """An inline alert handler: ``.post(url).header('k', 'v')`` → kind ``post``."""

    kind: str
    args: list[Value]
    properties: dict[str, Value] = field(default_factory=dict)
    line: int = 0
    column: int = 0


@dataclass
class Node:
    """One node. ``name`` is Kapacitor's (``stream0``, ``from1``, ``http_out4``)."""

    id: int
    kind: str  # registry kind (``from``, ``mean``, ``httpOut``, ``udf``)
    name: str
    wants: str
    provides: str
    args: list[Value] = field(default_factory=list)
    properties: dict[str, Value] = field(default_factory=dict)
    handlers: list[Handler] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    udf: str = ""  # the UDF name for kind ``udf``
    stats_of: int | None = None  # for ``stats`` nodes: the id of the node observed
    line: int = 0
    column: int = 0

    def prop(self, name: str, default: Value = None) -> Value:
        """A property as set, else the registry default, else ``default``."""
        if name in self.properties:
            return self.properties[name]
        spec = NODES.get(self.kind)
        if spec is not None and name in spec.defaults:
            return spec.defaults[name]
        return default


@dataclass
class Pipeline:
    """A compiled task: its nodes in topological order, task type, dbrps and declared vars."""

    task_type: str  # "stream" | "batch"
    nodes: list[Node]
    dbrps: list[tuple[str, str]] = field(default_factory=list)
    vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # declared vars (templates)

    def node(self, ident: int | str) -> Node:
        """A node by id or name."""
        for n in self.nodes:
            if n.id == ident or n.name == ident:
                return n
        raise KeyError(ident)

    def to_dot(self, name: str, stats: Mapping[str, Any] | None = None) -> str:
        return to_dot(self, name, stats)

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PIPELINE_VERSION,
            "lambda_ast_version": lambda_ast.LAMBDA_AST_VERSION,
            "task_type": self.task_type,
            "dbrps": [{"db": db, "rp": rp} for db, rp in self.dbrps],
            "vars": self.vars,
            "nodes": [_node_to_dict(n) for n in self.nodes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pipeline:
        if data.get("version") != PIPELINE_VERSION:
            raise ValueError(f"unsupported pipeline version {data.get('version')!r}")
        return cls(
            task_type=data["task_type"],
            nodes=[_node_from_dict(n) for n in data["nodes"]],
            dbrps=[(d["db"], d["rp"]) for d in data["dbrps"]],
            vars=dict(data.get("vars", {})),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Pipeline:
        return cls.from_dict(json.loads(text))


def _props_to_json(props: Mapping[str, Value]) -> dict[str, Any]:
    return {k: value_to_json(v) for k, v in props.items()}


def _node_to_dict(n: Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "name": n.name,
        "wants": n.wants,
        "provides": n.provides,
        "args": [value_to_json(a) for a in n.args],
        "properties": _props_to_json(n.properties),
        "handlers": [
            {
                "kind": h.kind,
                "args": [value_to_json(a) for a in h.args],
                "properties": _props_to_json(h.properties),
                "line": h.line,
                "column": h.column,
            }
            for h in n.handlers
        ],
        "parents": list(n.parents),
        "children": list(n.children),
        "udf": n.udf,
        "stats_of": n.stats_of,
        "line": n.line,
        "column": n.column,
    }


def _node_from_dict(d: Mapping[str, Any]) -> Node:
    return Node(
        id=d["id"],
        kind=d["kind"],
        name=d["name"],
        wants=d["wants"],
        provides=d["provides"],
        args=[value_from_json(a) for a in d["args"]],
        properties={k: value_from_json(v) for k, v in d["properties"].items()},
        handlers=[
            Handler(
                h["kind"],
                [value_from_json(a) for a in h["args"]],
                {k: value_from_json(v) for k, v in h["properties"].items()},
                h.get("line", 0),
                h.get("column", 0),
            )
            for h in d["handlers"]
        ],
        parents=list(d["parents"]),
        children=list(d["children"]),
        udf=d.get("udf", ""),
        stats_of=d.get("stats_of"),
        line=d.get("line", 0),
        column=d.get("column", 0),
    )
