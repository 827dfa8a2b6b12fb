"""Unit-test TICKscripts from Python: feed points, move a virtual clock, assert alerts and outputs.

No server and no InfluxDB: the task runs in-process on a virtual clock, so a test is fast and
deterministic (Kapacitor users' second most requested feature, influxdata/kapacitor#1341)::

    from kapfast.testing import TaskHarness

    def test_cpu_alert():
        with TaskHarness(open("cpu_alert.tick").read(), dbrp="telegraf.autogen") as t:
            t.write("cpu,host=a usage_idle=50 0")
            t.write("cpu,host=a usage_idle=5 10s")      # a time may be a duration from zero
            assert [a["level"] for a in t.alerts()] == ["CRITICAL"]
            t.advance("1m")                             # let clock-driven nodes (deadman) run
            assert t.http_out("out")[0]["values"][-1][1] == 5.0

Every alert node's events are kept (handlers or not); the script's own handlers (``.log()``,
``.post()`` ...) run for real, as they do with ``kapfast test``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from kapfast import lineproto
from kapfast.clock import VirtualClock
from kapfast.config import parse_go_duration
from kapfast.engine.alert.topics import TopicRegistry
from kapfast.engine.context import TaskContext
from kapfast.engine.replay import batch_message
from kapfast.engine.task import Task
from kapfast.errors import InputError, LineProtocolError
from kapfast.recordings import RecordedBatch, RecordedPoint
from kapfast.tick import compile_script
from kapfast.timefmt import parse_rfc3339_ns

_TIME_SUFFIX = re.compile(r"^(?P<body>.*?)[ \t]+(?P<time>-?[0-9.]+(?:ns|us|µs|ms|s|m|h)+)$")
TimeLike = int | str


def _time_ns(value: TimeLike, zero: int) -> int:
    """An absolute time: ns since the epoch (int), RFC 3339, or a duration after ``zero``."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        return parse_rfc3339_ns(text)
    try:
        return zero + parse_go_duration(text)
    except Exception:
        raise InputError(f"invalid time {value!r}: expected ns, RFC 3339 or a duration like 10s") from None


class TaskHarness:
    """One task compiled from ``script`` and run on a virtual clock starting at ``start``."""

    def __init__(
        self,
        script: str,
        *,
        dbrp: str | tuple[str, str] | None = None,
        vars: Mapping[str, Any] | None = None,
        task_id: str = "test",
        start: TimeLike = 0,
        group_expiry: str | int = 0,
    ) -> None:
        self.pipeline = compile_script(script, vars=dict(vars) if vars else None)
        if isinstance(dbrp, str):
            db, _, rp = dbrp.partition(".")
            dbrp = (db, rp or "autogen")
        dbrps = [dbrp] if dbrp else list(self.pipeline.dbrps)
        self.db, self.rp = dbrps[0] if dbrps else ("db", "autogen")
        self.zero = _time_ns(start, 0)
        self.clock = VirtualClock(self.zero)
        self.registry = TopicRegistry()
        expiry = parse_go_duration(group_expiry) if isinstance(group_expiry, str) else group_expiry
        ctx = TaskContext(task_id=task_id, clock=self.clock, task_master="test", group_expiry_ns=expiry)
        ctx.services["alert_topics"] = self.registry
        ctx.services["alert_tap"] = True
        self.task = Task(task_id, self.pipeline, ctx)
        self.task.dbrps = set(dbrps)

    # --- feeding -----------------------------------------------------------------------------

    def write(self, lines: str | bytes, *, db: str = "", rp: str = "", precision: str = "ns") -> int:
        """Write line protocol to a stream task; returns the points written. A point's time may be
        written as a duration after ``start`` (``cpu v=1 10s``); without one it gets the clock's
        now. The clock moves to the latest point. A bad line raises LineProtocolError naming its
        line and column (the good lines are still written)."""
        if self.pipeline.task_type != "stream":
            raise InputError("write() feeds stream tasks; use write_batch() for a batch task")
        body = self._resolve_times(lines if isinstance(lines, str) else lines.decode("utf-8"))
        res = lineproto.parse(body.encode(), precision=precision, now_ns=self.clock.now_ns())
        n = len(res.batch)
        if n:
            latest = int(np.asarray(res.batch.time()).max())
            if latest > self.clock.now_ns():
                self.clock.set(latest)
            self.task.tick(self.clock.now_ns())
            self.task.write_points(res.batch, db or self.db, rp or self.rp)
        if res.errors:
            first = res.errors[0]
            raise LineProtocolError(first.message, first.line, first.column)
        return n

    def _resolve_times(self, text: str) -> str:
        out = []
        for line in text.splitlines():
            m = _TIME_SUFFIX.match(line.rstrip())
            if m and not line.lstrip().startswith("#"):
                line = f"{m['body']} {self.zero + parse_go_duration(m['time'])}"
            out.append(line)
        return "\n".join(out)

    def write_batch(
        self,
        measurement: str,
        points: Sequence[tuple[TimeLike, Mapping[str, Any]]],
        *,
        tags: Mapping[str, str] | None = None,
        query: int = 0,
        tmax: TimeLike | None = None,
    ) -> None:
        """Feed one batch (what a ``query()`` returns for one group) to query node ``query``:
        ``points`` are ``(time, fields)``; ``tags`` the group's tags. The clock moves to tmax
        (default: the latest point)."""
        if self.pipeline.task_type != "batch":
            raise InputError("write_batch() feeds batch tasks; use write() for a stream task")
        group = dict(tags or {})
        recorded = [RecordedPoint(_time_ns(t, self.zero), dict(fields), dict(group)) for t, fields in points]
        latest = max((p.time_ns for p in recorded), default=self.clock.now_ns())
        t_max = _time_ns(tmax, self.zero) if tmax is not None else latest
        rb = RecordedBatch(measurement, group, recorded, tmax_ns=t_max, time_ns=max(t_max, latest))
        if rb.time_ns > self.clock.now_ns():
            self.clock.set(rb.time_ns)
        self.task.tick(self.clock.now_ns())
        self.task.write_batch(query, batch_message(rb))

    def advance(self, by: str | int = 0, *, to: TimeLike | None = None) -> None:
        """Move the clock forward (``"1m"`` or ns) or ``to`` a time, letting clock-driven nodes
        (deadman, stats, barrier) act."""
        target = (
            _time_ns(to, self.zero)
            if to is not None
            else self.clock.now_ns() + (by if isinstance(by, int) else parse_go_duration(by))
        )
        if target < self.clock.now_ns():
            raise InputError("the clock cannot go back")
        self.clock.set(target)
        self.task.tick(target)

    # --- reading -----------------------------------------------------------------------------

    def alerts(self, *, level: str | None = None, node: str | None = None) -> list[dict[str, Any]]:
        """Every alert event so far, in order, as the ``.log()`` handler writes it (``id``,
        ``message``, ``details``, ``time``, ``duration``, ``level``, ``previousLevel``, ``data``);
        optionally only those of one level or alert node (``alert2``)."""
        out: list[dict[str, Any]] = []
        for name in self.registry.topics():
            if node is not None and not name.endswith(":" + node):
                continue
            topic = self.registry.get(name)
            for event in topic.recent if topic is not None else ():
                doc = json.loads(event.to_json_bytes())
                if level is None or doc.get("level") == level:
                    out.append(doc)
        out.sort(key=lambda d: parse_rfc3339_ns(str(d["time"])))  # stable: topic order within a time
        return out

    def http_out(self, endpoint: str) -> list[dict[str, Any]]:
        """The series an ``httpOut(endpoint)`` node holds (``[]`` when it holds none)."""
        body = self.task.http_out(endpoint)
        if body is None:
            raise InputError(f"the script has no httpOut('{endpoint}')")
        return list(body.get("series") or [])

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-node statistics (``collected``, ``emitted``, ``errors``, alert counters ...)."""
        return self.task.node_stats()

    def dot(self) -> str:
        return self.task.dot()

    def finish(self) -> None:
        """End the task: nodes flush (influxDBOut buffers), handlers close."""
        self.task.finish()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


__all__ = ["TaskHarness"]
