"""Reads that answer for the whole cluster from any node: a task's httpOut endpoint.

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
