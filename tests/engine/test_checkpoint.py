"""Task checkpoints (#15): for every stateful node kind, points in → ``Task.snapshot()`` → a new
task ``restore()``s it → more points: the same output as one task that saw every point."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from kapfast.clock import VirtualClock
from kapfast.engine.checkpoint import SnapshotMismatch, pack_task, unpack_task
from kapfast.engine.context import TaskContext
from kapfast.engine.messages import Barrier, BatchMessage, BatchSet, Message, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.task import Task
from kapfast.tick import compile_script
from kapfast.tick.registry import NODES

from .helpers import Row, S, feed

# kinds whose round trip needs an orchestrator peer: test_node_autoscale.py tests it
TESTED_ELSEWHERE = {"k8sAutoscale", "swarmAutoscale", "ec2Autoscale"}

SRC = "stream|from().measurement('cpu').groupBy('host')"
TWO = (
    "var a = stream|from().measurement('a').groupBy('host')\n"
    "var b = stream|from().measurement('b').groupBy('host')\n"
)
SCRIPTS: dict[str, str] = {
    "window_every": SRC + "|window().period(10s).every(5s)|httpOut('out')",
    "window_each": SRC + "|window().period(10s)|httpOut('out')",
    "window_count": SRC + "|window().periodCount(4).everyCount(2)|httpOut('out')",
    "window_mean": SRC + "|window().period(10s).every(10s).align()|mean('value')|httpOut('out')",
    "window_max": SRC + "|window().period(10s).every(10s)|max('value')|httpOut('out')",
    "stream_mean": SRC + "|mean('value')|httpOut('out')",
    "derivative": SRC + "|derivative('value').unit(2s)|httpOut('out')",
    "difference": SRC + "|difference('value')|httpOut('out')",
    "movingAverage": SRC + "|movingAverage('value', 3)|httpOut('out')",
    "cumulativeSum": SRC + "|cumulativeSum('value')|httpOut('out')",
    "elapsed": SRC + "|elapsed('value', 1s)|httpOut('out')",
    "stateDuration": SRC + "|stateDuration(lambda: \"value\" > 4)|httpOut('out')",
    "stateCount": SRC + "|stateCount(lambda: \"value\" > 4)|httpOut('out')",
    "changeDetect": SRC + "|changeDetect('value')|httpOut('out')",
    "barrier": SRC + "|barrier().period(4s)|window().period(10s).every(3s)|httpOut('out')",
    "sample": SRC + "|sample(3)|httpOut('out')",
    "where_sigma": SRC + "|where(lambda: sigma(\"value\") < 1.2)|httpOut('out')",
    "eval_count": SRC + "|eval(lambda: count(), lambda: spread(\"value\")).as('n', 's')|httpOut('out')",
    "from_where": "stream|from().measurement('cpu').groupBy('host').where(lambda: count() % 4 != 1)"
    "|httpOut('out')",
    "join_stream": TWO + "a|join(b).as('a', 'b').tolerance(1s)|httpOut('out')",
    "join_fill": TWO + "a|join(b).as('a', 'b').fill(0.0)|httpOut('out')",
    "join_batches": (
        TWO
        + "a|window().period(4s).every(4s)|join(b|window().period(4s).every(4s)).as('a', 'b')|httpOut('out')"
    ),
    "combine": "stream|from().measurement('cpu')|combine(lambda: TRUE, lambda: TRUE)"
    ".as('x', 'y').tolerance(1s)|httpOut('out')",
    "flatten": "stream|from().measurement('cpu')|flatten().on('host')|httpOut('out')",
    "alert": (
        SRC + '|alert().warn(lambda: sigma("value") > 1.0).crit(lambda: "value" > 6)'
        ".history(4).stateChangesOnly().topic('cp')|httpOut('out')"
    ),
}


def rows(measurements: tuple[str, ...] = ("cpu",)) -> list[Row]:
    out: list[Row] = []
    values = [1, 5, 2, 7, 7, 3, 8, 1, 1, 9, 9, 6, 6, 2, 8, 5, 3, 7, 0, 6]
    for i, v in enumerate(values):
        for k, host in enumerate(("h1", "h2")):
            for m in measurements:
                out.append(
                    (m, {"host": host}, {"value": float(v + k)}, (i * 1_300_000_000) + k * 100_000_000)
                )
    return out


class Capture:
    """A child that records everything its parent emits, as comparable tuples."""

    name = "capture"

    def __init__(self) -> None:
        self.got: list[Any] = []

    def push(self, msg: Message, port: int = 0) -> None:
        if isinstance(msg, StreamChunk):
            for i, r in enumerate(msg.batch.rows()):
                self.got.append(("point", msg.groups[int(msg.codes[i])].id, r))
        elif isinstance(msg, BatchMessage):
            self.got.append(("batch", msg.group.id, msg.tmax, msg.points.rows()))
        elif isinstance(msg, BatchSet):
            for b in msg.batches:
                self.push(b)
        elif isinstance(msg, Barrier):
            self.got.append(("barrier", msg.group.id, msg.time))

    def finish(self, port: int = 0) -> None:
        pass


def new_task(script: str, clock: VirtualClock) -> tuple[Task, Capture]:
    task = Task("t", compile_script(script), TaskContext(task_id="t", clock=clock))
    last = next(n for n in task.nodes.values() if any(c.name.startswith("http_out") for c, _ in n.children))
    cap = Capture()
    last.children.append((cap, 0))  # type: ignore[arg-type]
    last.edge_emitted[cap.name] = 0
    return task, cap


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@pytest.mark.parametrize("chunk", [1, 7])
def test_restored_task_carries_on_as_the_uninterrupted_one(name: str, chunk: int) -> None:
    script = SCRIPTS[name]
    data = rows(("a", "b") if "join" in name else ("cpu",))
    cut = len(data) // 2 + 1
    whole, whole_out = new_task(script, VirtualClock(0))
    feed(whole, whole.ctx.clock, data, chunk=chunk)  # type: ignore[arg-type]

    first, first_out = new_task(script, VirtualClock(0))
    feed(first, first.ctx.clock, data[:cut], chunk=chunk)  # type: ignore[arg-type]
    blob = first.snapshot()
    second, second_out = new_task(script, VirtualClock(first.ctx.now_ns()))
    second.restore(blob)
    feed(second, second.ctx.clock, data[cut:], chunk=chunk)  # type: ignore[arg-type]

    assert whole_out.got, "the script emits nothing: the test would prove nothing"
    assert first_out.got + second_out.got == whole_out.got
    # a fresh task (no restore) differs: the state mattered
    fresh, fresh_out = new_task(script, VirtualClock(first.ctx.now_ns()))
    feed(fresh, fresh.ctx.clock, data[cut:], chunk=chunk)  # type: ignore[arg-type]
    if name not in ("sample",) or chunk == 1:
        assert first_out.got + fresh_out.got != whole_out.got


def test_every_stateful_kind_implements_checkpoints_and_is_tested() -> None:
    tested: set[str] = set()
    for script in SCRIPTS.values():
        tested |= {n.kind for n in compile_script(script).nodes}
    for kind, spec in NODES.items():
        if not spec.stateful:
            continue
        assert spec.impl is not None, kind
        module, cls_name = spec.impl.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        assert cls.snapshot_state is not Node.snapshot_state, f"{kind} has state but no snapshot_state"
        assert cls.restore_state is not Node.restore_state, f"{kind} has state but no restore_state"
        if kind not in TESTED_ELSEWHERE and kind not in tested:
            # one InfluxQL class serves every function: a few functions stand for the rest
            if spec.go_type == "InfluxQLNode":
                continue
            pytest.fail(f"stateful kind {kind} has no round-trip script in SCRIPTS")


def test_a_checkpoint_of_another_definition_is_refused() -> None:
    clock = VirtualClock(0)
    a, _ = new_task(SCRIPTS["window_every"], clock)
    feed(a, clock, rows()[:6])
    b, _ = new_task(SCRIPTS["window_each"], clock)
    with pytest.raises(SnapshotMismatch, match="another definition"):
        b.restore(a.snapshot())
    with pytest.raises(SnapshotMismatch, match="not a kapfast task checkpoint"):
        b.restore(b"garbage")
    nodes = unpack_task(a.snapshot(), a.definition)
    broken = pack_task(a.definition, {k: v[: len(v) // 2] for k, v in nodes.items()})
    c, _ = new_task(SCRIPTS["window_every"], clock)
    with pytest.raises(SnapshotMismatch):
        c.restore(broken)
    d, _ = new_task(SCRIPTS["window_every"], clock)
    with pytest.raises(SnapshotMismatch, match="format"):
        d.restore(a.snapshot()[:4] + b"\x63\x00" + a.snapshot()[6:])


def test_buffered_points_are_stored_as_compact_columns() -> None:
    """10,000 buffered points of 100 series: bytes per point stay small (no per-point object,
    dictionaries not repeated per group)."""
    clock = VirtualClock(0)
    task, _ = new_task(SRC + "|window().period(1h).every(1h)|httpOut('out')", clock)
    many: list[Row] = [
        ("cpu", {"host": f"h{i % 100}"}, {"value": float(i)}, i * 1_000_000) for i in range(10_000)
    ]
    feed(task, clock, many, chunk=1000)
    blob = task.snapshot()
    assert len(blob) < 10_000 * 40, len(blob)
    again, _ = new_task(SRC + "|window().period(1h).every(1h)|httpOut('out')", clock)
    again.restore(blob)
    assert again.nodes[2].working_cardinality() == 100  # type: ignore[union-attr]
    _ = S


@pytest.mark.parametrize(
    "name", ["window_every", "window_each", "window_count", "window_mean", "join_batches"]
)
def test_a_checkpoint_taken_while_points_keep_arriving_holds_exactly_the_points_before_it(name: str) -> None:
    """``take_snapshot`` copies the state at once and encodes it later (on the checkpoint
    thread, issue #19): points fed in between, windows they close and purge, are not in it. Its
    bytes are those of a twin task that never saw them, and a task restored from it carries on
    as the uninterrupted one."""
    script = SCRIPTS[name]
    data = rows(("a", "b") if "join" in name else ("cpu",))
    cut = len(data) // 2 + 1
    whole, whole_out = new_task(script, VirtualClock(0))
    feed(whole, whole.ctx.clock, data, chunk=3)  # type: ignore[arg-type]
    twin, _ = new_task(script, VirtualClock(0))
    feed(twin, twin.ctx.clock, data[:cut], chunk=3)  # type: ignore[arg-type]

    first, first_out = new_task(script, VirtualClock(0))
    feed(first, first.ctx.clock, data[:cut], chunk=3)  # type: ignore[arg-type]
    now = first.ctx.now_ns()
    encode = first.take_snapshot()
    feed(first, first.ctx.clock, data[cut:], chunk=3)  # type: ignore[arg-type]
    blob = encode()
    assert blob == twin.snapshot()

    second, second_out = new_task(script, VirtualClock(now))
    second.restore(blob)
    feed(second, second.ctx.clock, data[cut:], chunk=3)  # type: ignore[arg-type]
    assert second_out.got, "nothing after the cut: the test would prove nothing"
    assert second_out.got == whole_out.got[len(whole_out.got) - len(second_out.got) :]
    assert first_out.got == whole_out.got  # taking it changed nothing of the running task


def test_a_large_narrow_window_taken_while_points_keep_arriving() -> None:
    """A window of an aggregate (narrow: its points by column, [#20]) over many chunks: taken,
    then fed points that purge its oldest ones and close windows, then encoded: the checkpoint
    is the state at the time it was taken, byte for byte."""
    script = SRC + "|window().period(20s).every(5s)|mean('value')|httpOut('out')"
    many: list[Row] = [
        ("cpu", {"host": f"h{i % 3}"}, {"value": float(i % 17)}, i * 10_000_000) for i in range(6_000)
    ]
    a, _ = new_task(script, VirtualClock(0))
    twin, _ = new_task(script, VirtualClock(0))
    feed(a, a.ctx.clock, many[:4_000], chunk=7)  # type: ignore[arg-type]
    feed(twin, twin.ctx.clock, many[:4_000], chunk=7)  # type: ignore[arg-type]
    encode = a.take_snapshot()
    feed(a, a.ctx.clock, many[4_000:], chunk=7)  # type: ignore[arg-type]
    assert a.nodes[2].buffered_points() != twin.nodes[2].buffered_points()  # type: ignore[union-attr]
    assert encode() == twin.snapshot()
