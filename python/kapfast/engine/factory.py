"""Kind → running node: the class named by the kind's row of the node table
(:data:`kapfast.tick.registry.NODES`, column ``impl``)."""

from __future__ import annotations

import functools
import importlib

from kapfast.engine.context import TaskContext
from kapfast.engine.node import Node
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Node as NodeSpec
from kapfast.tick.registry import NODES

#: ``@name()`` (kind ``udf``) is no row of the table: its options are the agent's (kapfast.udf)
UDF_IMPL = "kapfast.engine.nodes.udf:UDFNode"


@functools.cache
def node_class(kind: str) -> type[Node] | None:
    """The class that runs ``kind``, or None when kapfast cannot run it."""
    row = NODES.get(kind)
    impl = UDF_IMPL if kind == "udf" else row.impl if row is not None else None
    if impl is None:
        return None
    module, _, name = impl.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise TypeError(f"node table: {kind}: {impl} is not a Node class")
    return cls


def build_node(spec: NodeSpec, ctx: TaskContext) -> Node:
    """The running node for ``spec``; a kind kapfast cannot run is a TaskError naming it (the
    compiler refuses such kinds first, so this is only reached by a hand-made pipeline)."""
    cls = node_class(spec.kind)
    if cls is None:
        raise TaskError(f"{spec.name}: node kind {spec.kind!r} is not supported by kapfast")
    return cls(spec, ctx)
