"""httpOut's body in two steps (issue #19): a snapshot taken between two batches on the engine
thread, rendered later on another thread. The body is the state at the snapshot, whatever the
task did since, and the same body (so the same bytes) as the node renders at once."""

from __future__ import annotations

import threading

from kapfast.engine.nodes.outputs import HttpOutNode
from kapfast.gofmt import json_marshal
from kapfast.testing import TaskHarness

STREAM = """stream
    |from().measurement('cpu').groupBy('host')
    |httpOut('out')
"""

BATCHES = """stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |httpOut('out')
"""


def _compact(body: object) -> str:
    return json_marshal(body, "")


def test_a_snapshot_renders_the_state_it_was_taken_at() -> None:
    with TaskHarness(STREAM, dbrp="db.rp") as t:
        node = next(n for n in t.task.nodes.values() if isinstance(n, HttpOutNode))
        node.compact_slack = -(10**9)  # every chunk compacts the parts: the snapshot must not care
        t.write("\n".join(f"cpu,host=h{i} v={i} {i}s" for i in range(50)))
        before = _compact(t.task.http_out("out"))
        render = t.task.http_out_snapshot("out")
        assert render is not None
        # the task goes on: new groups, new values for old ones, a compaction of the parts
        for n in range(3):
            t.write("\n".join(f"cpu,host=h{i} v={100 * n + i} {60 + n}s" for i in range(0, 80, 3)))
        after = _compact(t.task.http_out("out"))
        assert after != before
        out: dict[str, str] = {}
        thread = threading.Thread(target=lambda: out.setdefault("body", _compact(render())))
        thread.start()
        thread.join(30)
        assert out["body"] == before  # byte for byte
        assert t.task.http_out_snapshot("nope") is None


def test_batches_render_the_same_from_a_snapshot() -> None:
    with TaskHarness(BATCHES, dbrp="db.rp") as t:
        t.write("\n".join(f'cpu,host=h{i % 7} v={i},w="s{i}" {i}s' for i in range(40)))
        body = t.task.http_out("out")
        assert body is not None and body["series"]
        render = t.task.http_out_snapshot("out")
        assert render is not None
        t.write("\n".join(f"cpu,host=h{i % 7} v={i} {100 + i}s" for i in range(40)))
        assert _compact(render()) == _compact(body)
