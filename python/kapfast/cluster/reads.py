"""Reads that answer for the whole cluster from any node: a task's httpOut endpoint, and the
task itself (``kapfast show``: executing, statistics, DOT).

A partitioned task's groups are spread over the workers (each has the groups of its partitions),
a placed task's are on its owner. The node asked gathers: it asks the owners (over their HTTP
API, with :data:`LOCAL_HEADER` so that they answer with their own part only) and keeps of each
worker's series only those of the partitions that worker owns now (a worker a partition moved
away from still holds the last result of its groups).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from kapfast.cluster.partition import partition_of
from kapfast.errors import KapfastError
from kapfast.gofmt import go_map
from kapfast.tick import Pipeline

#: a request carrying it is answered by the node asked alone (a gathering node's own requests)
LOCAL_HEADER = "X-Kapfast-Cluster-Local"
#: request headers passed on to the owners (their API checks the same credentials)
FORWARDED = ("Authorization",)


def base_url(member: Mapping[str, Any]) -> str:
    """How to reach a member's HTTP API from its member entry (``http``: its bind address)."""
    bind = str(member.get("http") or "")
    host, _, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = str(member.get("hostname") or "127.0.0.1")
    scheme = "https" if member.get("https") else "http"
    return f"{scheme}://{host}:{port}"


async def fetch(
    session: aiohttp.ClientSession,
    member_id: str,
    member: Mapping[str, Any],
    path: str,
    headers: dict[str, str],
) -> dict[str, Any] | None:
    """A member's own answer to ``GET path`` (None: it has no such endpoint, a 404)."""
    url = base_url(member) + path
    try:
        async with session.get(url, headers={**headers, LOCAL_HEADER: "1"}, ssl=False) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise KapfastError(f"cluster worker {member_id} ({url}) answered {resp.status}")
            body: dict[str, Any] = await resp.json(content_type=None)
            return body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise KapfastError(f"cluster worker {member_id} ({url}) did not answer: {exc}") from None


async def gather_http_out(
    *,
    node_id: str,
    partitioned: bool,
    key: list[str],
    partitions: int,
    owners: Mapping[int, str],
    task_owner: str,
    members: Mapping[str, Mapping[str, Any]],
    local: Callable[[], Awaitable[dict[str, Any] | None]],
    remote: Callable[[str, Mapping[str, Any]], Awaitable[dict[str, Any] | None]],
) -> dict[str, Any] | None:
    """The whole cluster's answer of a task's httpOut endpoint (None: nobody has it)."""

    def ask(member_id: str) -> Awaitable[dict[str, Any] | None]:
        if member_id == node_id:
            return local()
        return remote(member_id, members[member_id])

    if not partitioned:
        if not task_owner or task_owner == node_id:
            return await local()
        if task_owner not in members:  # its lease outlived its member key: not this node's part
            raise KapfastError(f"cluster worker {task_owner} owns the task but is not a member now")
        return await ask(task_owner)
    missing = sorted({o for o in owners.values() if o not in members and o != node_id})
    if missing:
        raise KapfastError(f"cluster workers {', '.join(missing)} own partitions but are not members now")
    holders = sorted(set(owners.values()))
    answers = await asyncio.gather(*(ask(m) for m in holders))
    found = [a for a in answers if a is not None]
    if not found:
        return None
    series: list[Any] = []
    for member_id, answer in zip(holders, answers, strict=True):
        mine = {p for p, o in owners.items() if o == member_id}
        for s in (answer or {}).get("series") or []:
            tags = s.get("tags") or {}
            if partition_of([str(tags.get(k, "")) for k in key], partitions) in mine:
                series.append(s)
    return {**found[0], "series": series or None}


def merge_task_json(
    local: dict[str, Any],
    answers: list[dict[str, Any]],
    pipeline: Pipeline | None,
) -> dict[str, Any]:
    """``GET /tasks/<id>`` for the whole cluster: ``local`` (the node asked: definition, status)
    with ``executing``, ``stats`` and ``dot`` from the owners' own ``answers`` (a placed task:
    its owner's; a partitioned task: every partition owner's, the statistics summed, as one node
    running every partition would count them; ``avg_exec_time_ns`` their mean weighted by the
    points each collected)."""
    running = [a for a in answers if a.get("executing")]
    if not running:
        return local
    if len(running) == 1 or pipeline is None:
        owner = running[0]
        return {**local, "executing": True, "stats": owner["stats"], "dot": owner["dot"]}
    nodes: dict[str, dict[str, Any]] = {}
    weights: dict[str, list[tuple[int, int]]] = {}
    extra: dict[str, dict[str, int]] = {}
    throughput = 0.0
    for a in running:
        stats = a.get("stats") or {}
        throughput += float((stats.get("task-stats") or {}).get("throughput") or 0.0)
        for name, values in (stats.get("node-stats") or {}).items():
            into = nodes.setdefault(name, {})
            for k, v in values.items():
                if k != "avg_exec_time_ns":
                    into[k] = into.get(k, 0) + v
            weights.setdefault(name, []).append(
                (int(values.get("avg_exec_time_ns", 0)), int(values.get("collected", 0)))
            )
        for name, values in (stats.get("kapfast-node-stats") or {}).items():
            into = extra.setdefault(name, {})
            for k, v in values.items():
                into[k] = into.get(k, 0) + v
    for name, ws in weights.items():
        total = sum(c for _, c in ws)
        mean = sum(t * c for t, c in ws) // total if total else max(t for t, _ in ws)
        nodes[name]["avg_exec_time_ns"] = mean
    edges: dict[str, int] = {}
    for spec in pipeline.nodes:
        children = [pipeline.node(c).name for c in spec.children]
        for child in children:  # a node emits each message to every child: emitted / children
            edges[f"{spec.name}->{child}"] = int(nodes.get(spec.name, {}).get("emitted", 0)) // len(children)
    shown = {n: {k: v for k, v in vs.items() if k not in ("collected", "emitted")} for n, vs in nodes.items()}
    dot = pipeline.to_dot(
        str(local.get("id", "")), {"throughput": throughput, "nodes": shown, "edges": edges}
    )
    stats = {
        "task-stats": {"throughput": throughput},
        "node-stats": go_map(nodes),
        "kapfast-node-stats": go_map(extra),
    }
    return {**local, "executing": True, "stats": stats, "dot": dot}
