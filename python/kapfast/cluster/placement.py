"""Where a task runs in the cluster (docs/scaleout.md, "Placement").

A stream task is **partitioned** (every worker runs it on the points of its own partitions) only
when no group of it can ever hold points of two partitions and nothing in it depends on seeing
the whole stream. Following the pipeline from each ``from()``, a stream is *keyed* once a
``from().groupBy(...)`` or ``|groupBy(...)`` names every partition-key tag (or ``*`` without
excluding one; a lambda dimension is not keyed), and stays keyed through the nodes after it until
a ``|groupBy`` that drops a key tag. The task is partitioned when:

- every node that keeps state or emits per group (windows, aggregates, alerts, httpOut, joins,
  ...: anything but the row-wise nodes ``where eval default delete shift log influxDBOut
  httpPost groupBy``) is reached only by keyed streams;
- every ``|join()`` with ``.on()`` joins on all the key tags;
- no node whose state or clock spans groups or the whole task: ``stats`` (and so
  ``.deadman()``), ``barrier``, ``kapacitorLoopback``, ``udf``, the autoscale nodes.

Every other task (batch tasks included) is **placed**: one worker, the holder of the task's
lease, runs it on every partition, reading the stream in its stored order. Either way each group
is processed by exactly one worker, as on one node.
"""

from __future__ import annotations

from collections.abc import Sequence

from kapfast.tick.pipeline import Pipeline, Star

PARTITIONED = "partitioned"
PLACED = "placed"

#: node kinds whose state or clock spans groups (or the whole task)
WHOLE_STREAM_KINDS = frozenset(
    {"stats", "barrier", "kapacitorLoopback", "udf", "k8sAutoscale", "swarmAutoscale", "ec2Autoscale"}
)


def _dims_cover(args: Sequence[object], key: Sequence[str], exclude: Sequence[object]) -> bool:
    if any(isinstance(a, Star) for a in args):
        return not any(k in exclude for k in key)
    names = {a for a in args if isinstance(a, str)}
    if any(not isinstance(a, str | Star) for a in args):  # a lambda dimension
        return False
    return all(k in names for k in key)


#: row-wise nodes: what they do to a point does not depend on other points
ROW_WISE_KINDS = frozenset(
    {
        "stream",
        "from",
        "where",
        "eval",
        "default",
        "delete",
        "shift",
        "log",
        "influxDBOut",
        "httpPost",
        "groupBy",
        "noop",
    }
)


def _list(v: object) -> list[object]:
    return v if isinstance(v, list) else ([] if v is None else [v])


def placement(pipeline: Pipeline, key: Sequence[str]) -> tuple[str, str]:
    """(PARTITIONED or PLACED, why it is placed)."""
    if pipeline.task_type != "stream":
        return PLACED, "a batch task"
    what = ", ".join(key)
    keyed: dict[int, bool] = {}
    for n in pipeline.nodes:  # in topological order: parents first
        if n.kind in WHOLE_STREAM_KINDS:
            return PLACED, f"{n.name}: a {n.kind} node sees the whole task"
        parents = all(keyed.get(p, False) for p in n.parents) if n.parents else False
        if n.kind not in ROW_WISE_KINDS and not parents:
            return PLACED, f"{n.name}: its groups are not by {what}"
        if n.kind == "join" and not all(k in _list(n.properties.get("on", key)) for k in key):
            return PLACED, f"{n.name}: joins on fewer tags than {what}"
        if n.kind == "from":
            keyed[n.id] = _dims_cover(_list(n.properties.get("groupBy")), key, [])
        elif n.kind == "groupBy":
            keyed[n.id] = _dims_cover(n.args, key, _list(n.properties.get("exclude")))
        else:
            keyed[n.id] = parents
    return PARTITIONED, ""
