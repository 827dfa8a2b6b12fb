"""kapfast's ``buffered_points`` node statistic (#22): the points a window, join, combine, flatten
or influxDBOut holds now, counted from their Rust buffers (no look at each point). It is kapfast's
own: in ``kapfast-node-stats`` and never in Kapacitor's node-stats or the DOT, which stay as
Kapacitor has them."""

from __future__ import annotations

import importlib

from kapfast.engine.node import Node
from kapfast.engine.task import Task
from kapfast.tick.registry import NODES

from .helpers import S, feed, make_task

SRC = "stream|from().measurement('cpu').groupBy('host')"
TWO = (
    "var a = stream|from().measurement('a').groupBy('host')\n"
    "var b = stream|from().measurement('b').groupBy('host')\n"
)


def test_the_node_table_says_which_kinds_buffer() -> None:
    """A kind marked ``buffers`` reports its buffered points; no other kind's class does."""
    for kind, spec in NODES.items():
        if spec.impl is None:
            continue
        module, cls_name = spec.impl.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        overrides = cls.buffered_points is not Node.buffered_points
        assert overrides == spec.buffers, (
            f"{kind}: buffers={spec.buffers} but buffered_points overridden={overrides}"
        )


def node(task: Task, prefix: str) -> Node:
    return next(n for n in task.nodes.values() if n.name.startswith(prefix))


def held(task: Task, prefix: str) -> int:
    n = node(task, prefix)
    extra = task.extra_stats()[n.name]
    assert "buffered_points" not in task.node_stats()[n.name]  # Kapacitor's set stays exact
    return int(extra["buffered_points"])


def cpu(host: str, t: int, v: float = 1.0) -> tuple[str, dict[str, str], dict[str, float], int]:
    return ("cpu", {"host": host}, {"value": v}, t)


def test_time_window_counts_its_points_and_lets_them_go() -> None:
    task, clock = make_task(SRC + "|window().period(10s).every(10s)|httpOut('out')")
    feed(task, clock, [cpu("a", 1 * S), cpu("b", 2 * S), cpu("a", 3 * S)])
    assert held(task, "window") == 3
    # closes a's window (its 2 points go out): as in Kapacitor, they stay in the buffer until
    # the next emit purges what is older than its period
    feed(task, clock, [cpu("a", 12 * S)])
    assert held(task, "window") == 4
    feed(task, clock, [cpu("a", 25 * S)])  # the next emit of a: 1 s and 3 s purged
    assert held(task, "window") == 3  # a: 12 s and 25 s, b: 2 s
    assert "buffered" not in task.dot()


def test_count_and_narrowed_windows() -> None:
    task, clock = make_task(SRC + "|window().periodCount(3).everyCount(1)|httpOut('out')")
    feed(task, clock, [cpu("a", i * S) for i in range(1, 6)], chunk=2)
    assert held(task, "window") == 3  # the last 3 points of a
    # a window whose only child is an aggregate buffers narrow, merged pieces: still counted
    task, clock = make_task(SRC + "|window().period(100s).every(100s)|mean('value')|httpOut('out')")
    feed(task, clock, [cpu(h, i * S) for i in range(1, 40) for h in ("a", "b")], chunk=3)
    assert held(task, "window") == 78


def test_join_combine_and_flatten() -> None:
    task, clock = make_task(TWO + "a|join(b).as('a', 'b')|httpOut('out')")
    feed(task, clock, [("a", {"host": "h"}, {"v": 1.0}, 1 * S), ("a", {"host": "h"}, {"v": 2.0}, 2 * S)])
    assert held(task, "join") == 2  # waiting for b
    feed(task, clock, [("b", {"host": "h"}, {"v": 1.0}, 1 * S), ("b", {"host": "h"}, {"v": 2.0}, 2 * S)])
    assert held(task, "join") < 4  # joined sets went out

    task, clock = make_task("stream|from().measurement('cpu')|flatten().on('host')|httpOut('out')")
    feed(task, clock, [cpu("a", 1 * S), cpu("b", 1 * S)])
    assert held(task, "flatten") == 2  # the set of time 1 s is open until a later point
    feed(task, clock, [cpu("a", 2 * S)])
    assert held(task, "flatten") == 1

    script = (
        "stream|from().measurement('cpu')|combine(lambda: TRUE, lambda: TRUE).as('x', 'y')|httpOut('out')"
    )
    task, clock = make_task(script)
    feed(task, clock, [cpu("a", 1 * S), cpu("b", 1 * S), cpu("c", 1 * S)])
    assert held(task, "combine") == 3


def test_join_of_batches_counts_the_batches_points() -> None:
    script = TWO + (
        "a|window().period(4s).every(4s)|join(b|window().period(4s).every(4s)).as('a', 'b')|httpOut('out')"
    )
    task, clock = make_task(script)
    feed(task, clock, [("a", {"host": "h"}, {"v": 1.0}, t * S) for t in (1, 2, 3, 6)])
    assert held(task, "join") == 3  # a's first window, waiting for b's
