"""Explanations of a task's alert nodes: of the running task, or as of a past time from a recording.

``--at TIME`` replays a recording (stream or batch, ``kapfast record``) into an *offline copy* of
the task, on a virtual clock that follows the recorded times, up to and including ``TIME``, and
explains that copy's alert nodes; the copy is then dropped (never finished: windows still open
at ``TIME`` stay open, as they were in the live task at that moment). The copy has side effects
switched off: its alert handlers are not called (an event "sent" means it would have been sent
to them; whether a handler would have failed then cannot be known), nothing is written to
InfluxDB or looped back, alert levels are not saved, and its topics are its own (inhibitions
come from this task's alerts only). UDF agents and ``httpPost`` nodes still run, as they
compute the data the alerts see.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.clock import VirtualClock
from kapfast.engine.alert.handlers import AlertHandler
from kapfast.engine.alert.node import SERVICE_ALERT, SERVICE_STATES, SERVICE_TOPICS, AlertNode
from kapfast.engine.alert.services import NO_SERVICES
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.context import TaskContext
from kapfast.engine.replay import replay_batches, replay_stream
from kapfast.engine.sharded import ShardedTask
from kapfast.engine.task import Task
from kapfast.errors import NotFoundError, TaskError
from kapfast.tick import Pipeline
from kapfast.tick.pipeline import Handler

#: services an offline copy keeps (the rest act on the world: loopback, autoscale, alert states)
_KEPT_SERVICES = ("udf", "sideload", "storage")


def explain_nodes(task: Task, node: str = "") -> list[dict[str, Any]]:
    """Every alert node's explanation (only ``node`` when given; 404 when it is no alert node)."""
    if isinstance(task, ShardedTask):  # one instance per partition: their groups, in turn
        specs = sorted((s for s in task.pipeline.nodes if s.kind == "alert"), key=lambda s: s.id)
        if node:
            specs = [s for s in specs if s.name == node]
            if not specs:
                raise NotFoundError(f"task {task.id} has no alert node {node!r}")
        out = [{"node": s.name, "groups": []} for s in specs]
        for _shard, t in sorted(task.shards.items()):
            for mine, theirs in zip(out, explain_nodes(t, node), strict=True):
                mine["groups"] += theirs["groups"]
        return out
    alerts = [n for n in task.nodes.values() if isinstance(n, AlertNode)]
    if node:
        alerts = [n for n in alerts if n.name == node]
        if not alerts:
            raise NotFoundError(f"task {task.id} has no alert node {node!r}")
    return [n.explain() for n in sorted(alerts, key=lambda n: n.spec.id)]


class _NotCalled(AlertHandler):
    """An inline handler of an offline copy: takes the event and does nothing with it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def handle(self, event: AlertEvent) -> None:
        del event

    def describe(self) -> str:
        return f"{self.kind} (not called in an explain replay)"


class _DryRunServices:
    """The alert services of an offline copy: the same handlers by kind, none of them called."""

    def __init__(self, real: Any) -> None:
        self.real = real if real is not None else NO_SERVICES
        self.topic_buffer_length = self.real.topic_buffer_length

    def build_inline(self, h: Handler) -> AlertHandler:
        return _NotCalled(h.kind)

    def global_handlers(self, inline_kinds: set[str]) -> list[AlertHandler]:
        out: list[AlertHandler] = []
        for h in self.real.global_handlers(inline_kinds):
            out.append(_NotCalled(h.kind))
            h.close()
        return out

    def state_changes_only(self) -> bool:
        return bool(self.real.state_changes_only())


def offline_context(ctx: TaskContext, task_id: str, clock: VirtualClock) -> TaskContext:
    """A context like ``ctx`` (the live tasks') for an offline copy, its side effects off."""
    services: dict[str, Any] = {k: ctx.services[k] for k in _KEPT_SERVICES if k in ctx.services}
    services[SERVICE_ALERT] = _DryRunServices(ctx.services.get(SERVICE_ALERT))
    services[SERVICE_TOPICS] = TopicRegistry()
    services.pop(SERVICE_STATES, None)
    return TaskContext(
        task_id=task_id,
        clock=clock,
        task_master="explain",
        writer=None,
        hostname=ctx.hostname,
        cluster_id=ctx.cluster_id,
        server_id=ctx.server_id,
        group_expiry_ns=ctx.group_expiry_ns,
        services=services,
    )


def explain_replay(
    task_id: str,
    pipeline: Pipeline,
    recordings: Sequence[str | os.PathLike[str]],
    at_ns: int,
    base: TaskContext,
    node: str = "",
) -> list[dict[str, Any]]:
    """Replay ``recordings`` (recorded times kept) into an offline copy up to ``at_ns``, explain."""
    for p in recordings:
        if not Path(p).exists():
            raise TaskError(f"cannot explain: recording file {os.fspath(p)} does not exist")
    clock = VirtualClock(0)
    run = Task(task_id, pipeline, offline_context(base, task_id, clock))
    try:
        if pipeline.task_type == "stream":
            for p in recordings:
                replay_stream(run, p, clock, clock_zero_ns=None, until_ns=at_ns)
        else:
            replay_batches(run, list(recordings), clock, clock_zero_ns=None, until_ns=at_ns)
        clock.set(at_ns)
        return explain_nodes(run, node)
    finally:
        run.abort()  # UDF agents stop; nothing is finished or flushed


__all__ = ["explain_nodes", "explain_replay", "offline_context"]
