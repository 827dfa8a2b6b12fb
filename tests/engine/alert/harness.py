"""Feed a conformance case's recorded points to an AlertNode, as the engine's upstream nodes would.

Only what the alert cases use is here: ``from`` (measurement, where, groupBy), a time window
(period == every, not aligned: the first point opens it, a point at or past its end closes it) and
``count``. Windows still open when the data ends never emit (Kapacitor's replay behaviour).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapfast._native import EvalState, PointBatch, Program
from kapfast.alert_event import group_id
from kapfast.clock import VirtualClock
from kapfast.engine.alert import AlertNode
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import BatchMessage, Group, Message, StreamChunk
from kapfast.engine.node import Node
from kapfast.lineproto import parse
from kapfast.recordings import read_batch_recording, stream_chunks
from kapfast.tick import compile_script
from kapfast.tick.pipeline import Lambda, Pipeline
from kapfast.tick.pipeline import Node as NodeSpec

CLOCK_ZERO_NS = 31_536_000 * 1_000_000_000  # 1971-01-01T00:00:00Z
SECOND = 1_000_000_000


class Collector(Node):
    """A child that keeps every message it gets."""

    def __init__(self) -> None:
        spec = NodeSpec(id=99, kind="httpOut", name="collector", wants="stream", provides="stream")
        super().__init__(spec, TaskContext("collector", VirtualClock()))
        self.messages: list[Message] = []

    def push(self, msg: Message, port: int = 0) -> None:
        self.messages.append(msg)

    def rows(self) -> list[tuple[str, dict[str, str], dict[str, Any], int]]:
        out = []
        for m in self.messages:
            if isinstance(m, StreamChunk):
                out.extend(m.batch.rows())
            elif isinstance(m, BatchMessage):
                out.extend(m.points.rows())
        return out


def load_case(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def substitute(script: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        script = script.replace(k, v)
    return script


@dataclass
class Run:
    pipeline: Pipeline
    node: AlertNode
    out: Collector
    clock: VirtualClock
    ctx: TaskContext
    groups: dict[str, Group] = field(default_factory=dict)


def build(
    script: str, task: str, services: dict[str, Any] | None = None, clock_ns: int = CLOCK_ZERO_NS
) -> Run:
    p = compile_script(script)
    spec = next(n for n in p.nodes if n.kind == "alert")
    clock = VirtualClock(clock_ns)
    ctx = TaskContext(task, clock, services=services if services is not None else {})
    node = AlertNode(spec, ctx)
    out = Collector()
    node.link(out, 0)
    return Run(p, node, out, clock, ctx)


def _group(run: Run, dims: list[str], tags: dict[str, str]) -> Group:
    gid = group_id("", tags, dims)
    g = run.groups.get(gid)
    if g is None:
        g = run.groups[gid] = Group(
            gid, tuple(sorted(dims)), False, tuple((d, tags.get(d, "")) for d in sorted(dims))
        )
    return g


def stream_points(data: Path) -> Iterator[PointBatch]:
    for ch in stream_chunks(data, precision="s", clock_zero_ns=CLOCK_ZERO_NS, max_lines=7):
        yield parse(ch.body, precision="ns", now_ns=0).batch


def run_stream_case(run: Run, data: Path) -> None:
    """from → [window → count] → alert over the recording, chunk by chunk."""
    p = run.pipeline
    frm = next(n for n in p.nodes if n.kind == "from")
    window = next((n for n in p.nodes if n.kind == "window"), None)
    count = next((n for n in p.nodes if n.kind == "count"), None)
    measurement = frm.properties.get("measurement")
    where = frm.properties.get("where")
    where_prog = Program(where.ast) if isinstance(where, Lambda) else None
    dims = [str(d) for d in (frm.properties.get("groupBy") or [])]
    where_state = EvalState()  # sigma() and friends remember across chunks
    windows: dict[str, tuple[int, list[Any]]] = {}
    for batch in stream_points(data):
        if measurement:
            batch = batch.filter([r[0] == measurement for r in batch.rows()])
        if where_prog is not None and len(batch):
            batch, _, _ = where_prog.filter(batch, state=where_state)
        if not len(batch):
            continue
        if window is None:
            rows = batch.rows()
            groups: list[Group] = []
            index: dict[str, int] = {}
            codes = []
            for r in rows:
                g = _group(run, dims, r[1])
                if g.id not in index:
                    index[g.id] = len(groups)
                    groups.append(g)
                codes.append(index[g.id])
            t = max(r[3] for r in rows)
            run.clock.set(max(run.clock.now_ns(), t))
            run.node.push(StreamChunk(batch, codes, groups))
            continue
        every = window.properties["every"].ns
        assert count is not None
        field_name = count.args[0]
        for r in batch.rows():
            g = _group(run, dims, r[1])
            nxt, pts = windows.get(g.id, (r[3] + every, []))
            if r[3] >= nxt:
                n = sum(1 for q in pts if field_name in q[2])
                tags = dict(g.tags)
                out = PointBatch.from_rows([(r[0], tags, {"count": n}, nxt)])
                run.node.push(StreamChunk(out, [0], [g]))
                nxt, pts = nxt + every, []
            pts.append(r)
            windows[g.id] = (nxt, pts)
    run.node.finish()


def run_batch_case(run: Run, data: Path) -> None:
    q = next(n for n in run.pipeline.nodes if n.kind == "query")
    dims = [d for d in (q.properties.get("groupBy") or []) if isinstance(d, str)]
    for b in read_batch_recording(data, clock_zero_ns=CLOCK_ZERO_NS):
        rows = [(b.name, {**b.tags, **p.tags}, dict(p.fields), p.time_ns) for p in b.points]
        g = _group(run, dims, b.tags)
        run.clock.set(max(run.clock.now_ns(), b.time_ns))
        run.node.push(BatchMessage(b.name, g, b.time_ns, PointBatch.from_rows(rows)))
    run.node.finish()
