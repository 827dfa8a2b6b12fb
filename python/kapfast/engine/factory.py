"""Kind → node class: builds the running node of each pipeline node."""

from __future__ import annotations

import importlib

from kapfast.engine.context import TaskContext
from kapfast.engine.node import Node
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Node as NodeSpec

_MODULES = (
    "kapfast.engine.nodes.basic",
    "kapfast.engine.nodes.window",
    "kapfast.engine.nodes.influxql",
    "kapfast.engine.nodes.outputs",
    "kapfast.engine.nodes.stateful",
    "kapfast.engine.nodes.join",
    "kapfast.engine.alert.node",
    "kapfast.engine.nodes.udf",
)

_REGISTRY: dict[str, type[Node]] = {}


def _load() -> dict[str, type[Node]]:
    if not _REGISTRY:
        for mod_name in _MODULES:
            mod = importlib.import_module(mod_name)
            for obj in vars(mod).values():
                if isinstance(obj, type) and issubclass(obj, Node) and obj.__module__ == mod_name:
                    for kind in obj.kinds:
                        _REGISTRY[kind] = obj
    return _REGISTRY


def build_node(spec: NodeSpec, ctx: TaskContext) -> Node:
    """The running node for ``spec``; a kind kapfast cannot run is a TaskError naming it."""
    cls = _load().get(spec.kind)
    if cls is None:
        raise TaskError(f"{spec.name}: node kind {spec.kind!r} is not supported by kapfast")
    return cls(spec, ctx)
