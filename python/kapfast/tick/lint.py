"""Warnings about scripts that compile but cannot do what their author meant.

"Why didn't my alert fire?" is one of Kapacitor users' most common questions (influxdata/kapacitor
#583, #227, #1438). The usual causes are visible in the script itself:

* a string in single quotes where a field or tag was meant (``'host' == 'server01'`` compares two
  strings and is never true; ``'usage_idle' < 10`` fails on every point);
* a field read after a node that no longer carries it (``|mean('usage_idle')|alert().crit(lambda:
  "usage_idle" < 10)``: the mean is in the field ``mean``, so every point is an error);
* an alert whose events go nowhere, and windows that skip points.

:func:`lint` finds these without running anything. Field names are followed through the pipeline
only where they are known for sure (after aggregates, an ``eval`` without ``.keep()``, a join of
such nodes); anywhere else a name could be a field the data brings, so nothing is said. Kapacitor
says nothing either way; these are warnings, never errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kapfast.tick.pipeline import Duration, Lambda, Node, Pipeline, Star

#: aggregates whose output point has exactly one field (``.as()``, default the function's name)
#: and the group's tags
_AGGREGATES = frozenset({"count", "sum", "mean", "median", "spread", "stddev", "mode"})
#: nodes that pass points on with their fields and tags as they are
_PASS = frozenset(
    {
        "where",
        "window",
        "httpOut",
        "log",
        "sample",
        "shift",
        "changeDetect",
        "barrier",
        "influxDBOut",
        "noop",
        "trickle",
    }
)
_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ORDER = frozenset({"<", "<=", ">", ">="})
_ARITH = frozenset({"+", "-", "*", "/", "%"})
_NUMBER = frozenset({"int", "float", "duration"})


@dataclass(frozen=True)
class LintWarning:
    """One warning, at the node it is about."""

    node: str
    line: int
    column: int
    message: str

    def format(self, source: str = "") -> str:
        where = f"{source}:{self.line}:{self.column}" if source else f"{self.line}:{self.column}"
        return f"{where}: warning: {self.node}: {self.message}"


@dataclass(frozen=True)
class _Shape:
    """What is known of the points leaving a node: their field and tag names (None: not known)."""

    fields: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    #: the node that fixed the field names (named in the warnings)
    origin: str = ""


_UNKNOWN = _Shape()


def lint(pipeline: Pipeline) -> list[LintWarning]:
    """Every warning about ``pipeline``, in node order."""
    out: list[LintWarning] = []
    shapes: dict[int, _Shape] = {}
    dims: dict[int, frozenset[str] | None] = {}  # the group's tags after each node
    for node in pipeline.nodes:
        parents = [pipeline.node(p) for p in node.parents]
        before = _merge([shapes[p.id] for p in parents]) if parents else _UNKNOWN
        group = _merge_dims([dims[p.id] for p in parents]) if parents else frozenset()
        out += _check_lambdas(node, before)
        out += _check_node(node, pipeline)
        group = _dims_after(node, group)
        dims[node.id] = group
        shapes[node.id] = _shape_after(node, before, group, [shapes[p.id] for p in parents])
    return out


# --- shapes ------------------------------------------------------------------------------------


def _merge(shapes: list[_Shape]) -> _Shape:
    if len(shapes) == 1:
        return shapes[0]
    return _UNKNOWN


def _merge_dims(ds: list[frozenset[str] | None]) -> frozenset[str] | None:
    return ds[0] if len(ds) == 1 else None


def _names(values: Any) -> list[str]:
    if values is None:
        return []
    items = values if isinstance(values, list) else [values]
    return [str(v) for v in items if isinstance(v, str)]


def _dims_after(node: Node, group: frozenset[str] | None) -> frozenset[str] | None:
    """The tags a point keeps through an aggregate after ``node``: its group's dimensions."""
    if node.kind == "from":
        dims = node.properties.get("groupBy")
    elif node.kind == "groupBy":
        dims = list(node.args)
    elif node.kind in ("query", "join", "union", "combine", "flatten"):
        return None
    else:
        return group
    items = dims if isinstance(dims, list) else ([] if dims is None else [dims])
    if any(isinstance(d, Star) for d in items) or not all(isinstance(d, str) for d in items):
        return None
    exclude = set(_names(node.properties.get("exclude")))
    return frozenset(str(d) for d in items if d not in exclude)


def _shape_after(node: Node, before: _Shape, group: frozenset[str] | None, parents: list[_Shape]) -> _Shape:
    kind = node.kind
    if kind in _PASS:
        return before
    if kind in _AGGREGATES:
        as_ = str(node.prop("as", kind))
        return _Shape(frozenset({as_}), group, node.name)
    if kind == "eval":
        names = frozenset(_names(node.properties.get("as")))
        tags = frozenset(_names(node.properties.get("tags")))
        new_tags = None if before.tags is None else before.tags | tags
        keep = node.properties.get("keep")
        if keep is None or keep is False:
            return _Shape(names - tags, new_tags, node.name)
        kept = _names(keep)
        if kept:
            return _Shape(frozenset(kept) - tags, new_tags, node.name)
        return _grow(before, names - tags, tags)
    if kind in ("derivative", "stateDuration", "stateCount"):
        return _grow(before, frozenset(_names(node.prop("as"))), frozenset())
    if kind == "default":
        return _grow(
            before,
            frozenset(_keys(node.properties.get("field"))),
            frozenset(_keys(node.properties.get("tag"))),
        )
    if kind == "alert":
        extra = {
            str(node.properties[k])
            for k in ("levelField", "messageField", "durationField", "idField")
            if isinstance(node.properties.get(k), str)
        }
        extra_tags = {
            str(node.properties[k]) for k in ("levelTag", "idTag") if isinstance(node.properties.get(k), str)
        }
        return _grow(before, frozenset(extra), frozenset(extra_tags))
    if kind == "join":
        prefixes = _names(node.properties.get("as"))
        if len(prefixes) != len(parents) or any(p.fields is None or p.tags is None for p in parents):
            return _UNKNOWN
        sep = node.prop("delimiter", ".")
        sep = sep if isinstance(sep, str) else "."
        fields = frozenset(
            f"{a}{sep}{f}" for a, p in zip(prefixes, parents, strict=True) for f in p.fields or ()
        )
        tags = frozenset(t for p in parents for t in p.tags or ())
        return _Shape(fields, tags, node.name)
    return _UNKNOWN


def _keys(v: Any) -> list[str]:
    """``.field('name', value)`` properties are stored as [name, value] or a list of them."""
    if not isinstance(v, list) or not v:
        return []
    if isinstance(v[0], list):
        return [str(x[0]) for x in v if isinstance(x, list) and x]
    return [str(v[0])]


def _grow(before: _Shape, fields: frozenset[str], tags: frozenset[str]) -> _Shape:
    return _Shape(
        None if before.fields is None else before.fields | fields,
        None if before.tags is None else before.tags | tags,
        before.origin,
    )


# --- lambdas -----------------------------------------------------------------------------------


def _lambdas(node: Node) -> Iterator[tuple[str, Lambda]]:
    """(where it is, lambda) of every lambda that reads the points entering ``node``."""
    for i, a in enumerate(node.args):
        if isinstance(a, Lambda):
            yield (f"{node.kind}() argument {i + 1}" if len(node.args) > 1 else f"{node.kind}()"), a
    for key, v in node.properties.items():
        if isinstance(v, Lambda):
            yield f".{key}()", v


def _nodes(ast: Any) -> Iterator[tuple[Any, ...]]:
    """Every node of a lambda AST, depth first (call arguments are a list of nodes)."""
    if not isinstance(ast, tuple | list) or not ast:
        return
    if isinstance(ast[0], str):
        yield tuple(ast)
        for part in ast[1:]:
            if isinstance(part, tuple | list):
                yield from _nodes(part)
    else:
        for p in ast:
            yield from _nodes(p)


def _refs(ast: Any) -> Iterator[str]:
    return (str(n[1]) for n in _nodes(ast) if n[0] == "ref")


def _literals(ast: Any) -> Iterator[tuple[str, Any, Any, Any]]:
    """(op, left, right, whole) of every binary node of ``ast``."""
    return ((str(n[1]), n[2], n[3], n) for n in _nodes(ast) if n[0] == "binary")


def _numeric_refs(ast: Any) -> Iterator[str]:
    """References used directly in arithmetic or an order comparison with a number."""
    for op, left, right, _ in _literals(ast):
        if op not in _ARITH and op not in _ORDER:
            continue
        kinds = (left[0] if left else "", right[0] if right else "")
        if kinds[0] == "ref" and kinds[1] in _NUMBER:
            yield str(left[1])
        elif kinds[1] == "ref" and kinds[0] in _NUMBER:
            yield str(right[1])


def _check_lambdas(node: Node, before: _Shape) -> list[LintWarning]:
    out: list[LintWarning] = []

    def warn(msg: str) -> None:
        out.append(LintWarning(node.name, node.line, node.column, msg))

    eval_names: list[str] = _names(node.properties.get("as")) if node.kind == "eval" else []
    for idx, (where, lam) in enumerate(_lambdas(node)):
        for op, left, right, _ in _literals(lam.ast):
            kinds = (left[0] if left else "", right[0] if right else "")
            if op in _COMPARE and "ref" not in kinds and "call" not in kinds and "string" in kinds:
                s = left[1] if kinds[0] == "string" else right[1]
                if kinds == ("string", "string"):
                    warn(
                        f"{where} compares two strings ({lam.text}), so its result is the same for "
                        f'every point: a field or tag is written in double quotes ("{s}")'
                    )
                elif (op in _ORDER or op in ("==", "!=")) and (kinds[0] in _NUMBER or kinds[1] in _NUMBER):
                    warn(
                        f"{where} compares the string '{s}' with a number ({lam.text}), which fails on "
                        f'every point: a field or tag is written in double quotes ("{s}")'
                    )
            elif op in _ARITH and "string" in kinds and (kinds[0] in _NUMBER or kinds[1] in _NUMBER):
                s = left[1] if kinds[0] == "string" else right[1]
                warn(
                    f"{where} does arithmetic on the string '{s}' ({lam.text}), which fails on every "
                    f'point: a field is written in double quotes ("{s}")'
                )
        if before.fields is None:
            continue
        if before.tags is None:
            # a name could still be a tag, but not where a number is needed
            numeric = [
                r for r in _numeric_refs(lam.ast) if r not in before.fields and r not in eval_names[:idx]
            ]
            for name in dict.fromkeys(numeric):
                fields = ", ".join(f'"{f}"' for f in sorted(before.fields)) or "none"
                warn(
                    f'{where} computes with "{name}", which is no field of the points here (after '
                    f"{before.origin}: fields {fields}), so it fails on every point"
                )
            continue
        known = before.fields | before.tags
        if node.kind == "eval":
            known = known | frozenset(eval_names[:idx])  # later expressions see earlier results
        for name in dict.fromkeys(_refs(lam.ast)):
            if name in known:
                continue
            fields = ", ".join(f'"{f}"' for f in sorted(before.fields)) or "none"
            tags = ", ".join(f'"{t}"' for t in sorted(before.tags)) or "none"
            hint = ""
            if len(before.fields) == 1 and before.origin:
                only = next(iter(before.fields))
                hint = f"; name it with .as('{name}') on {before.origin}, or read \"{only}\""
            warn(
                f'{where} reads "{name}", which the points here do not have (after {before.origin}: '
                f"fields {fields}; tags {tags}), so it fails on every point{hint}"
            )
    return out


# --- nodes -------------------------------------------------------------------------------------


def _check_node(node: Node, pipeline: Pipeline) -> list[LintWarning]:
    out: list[LintWarning] = []
    if node.kind == "alert" and not node.handlers and not node.properties.get("topic") and not node.children:
        out.append(
            LintWarning(
                node.name,
                node.line,
                node.column,
                "has no handler (.log(), .post(), ...), no .topic() and no child node: its events are "
                "not sent anywhere (kapfast show counts them)",
            )
        )
    if node.kind == "window":
        period, every = node.properties.get("period"), node.properties.get("every")
        if isinstance(period, Duration) and isinstance(every, Duration) and every.ns > period.ns > 0:
            out.append(
                LintWarning(
                    node.name,
                    node.line,
                    node.column,
                    f".every({every.literal}) is longer than .period({period.literal}): the points "
                    "between one window's end and the next one's start are in no window",
                )
            )
    return out


__all__ = ["LintWarning", "lint"]
