"""``GET /metrics``: kapfastd's statistics in Prometheus' text format, through ``prometheus_client``.

Nothing is counted twice: :class:`KapfastCollector` reads, at scrape time, the very counters that
``/kapacitor/v1/debug/vars`` and the ``[stats]`` points show (the nodes' stats, the ingress
counts, the alert topics, the InfluxDB writer), so a scrape costs the hot path nothing. The only
things observed as they happen are once per HTTP write request (its latency, in a histogram) and
the event loop's lag, measured by a timer (:class:`LoopLag`). Process figures (memory, CPU, open
files) are prometheus_client's own process collector. docs/operations.md lists every metric.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kapfast.clock import Clock
from kapfast.engine.alert.state import LEVEL_NAMES
from kapfast.jobs import cancel_and_wait
from kapfast.server.state import STATE_KEY, ServerState
from kapfast.tick.registry import NODES

NS = "kapfast"
#: an alert node's per-level counters (Kapacitor's names) -> the level label
_LEVEL_COUNTERS = dict(
    zip(("oks_triggered", "infos_triggered", "warns_triggered", "crits_triggered"), LEVEL_NAMES, strict=True)
)
_HANDLER_ERRORS = "handler_errors_"
#: node counters with a metric of their own (the rest go to kapfast_node_counter_total)
_OWN = {*_LEVEL_COUNTERS, "alerts_triggered", "alerts_inhibited", "events_dropped"}
#: write latencies: 0.5 ms .. 10 s
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LoopLag:
    """The event loop's lag: how late a timer of ``interval_s`` fires, by the server's Clock.

    A loop busy with work (a long parse, a slow handler) fires the timer late; the last lag and
    the highest since the last scrape are reported."""

    def __init__(self, clock: Clock, interval_s: float = 0.5) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.last_s = 0.0
        self.max_s = 0.0
        self._job: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._job is None:
            self._job = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def _run(self) -> None:
        interval_ns = int(self.interval_s * 1e9)
        while True:
            t0 = self.clock.now_ns()
            await asyncio.sleep(self.interval_s)
            self.observe(self.clock.now_ns() - t0 - interval_ns)

    def observe(self, late_ns: int) -> None:
        self.last_s = max(0, late_ns) / 1e9
        self.max_s = max(self.max_s, self.last_s)

    def take_max(self) -> float:
        out, self.max_s = self.max_s, self.last_s
        return out

    async def close(self) -> None:
        await cancel_and_wait(self._job)
        self._job = None


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"{NS}_{name}", doc, labels=labels)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{NS}_{name}", doc, labels=labels or [])


class KapfastCollector(Collector):
    """Tasks, nodes, alerts, ingest, topics and the InfluxDB writer, read when scraped."""

    def __init__(self, state: ServerState, lag: LoopLag) -> None:
        self.state = state
        self.lag = lag

    def collect(self) -> Iterable[Metric]:
        yield from self._tasks()
        yield from self._ingest()
        yield from self._outputs()
        lag = _gauge("event_loop_lag_seconds", "How late the event loop ran a timer, last measured")
        lag.add_metric([], self.lag.last_s)
        worst = _gauge("event_loop_lag_max_seconds", "The highest event loop lag since the last scrape")
        worst.add_metric([], self.lag.take_max())
        yield lag
        yield worst
        stalls = _counter("event_loop_stalls", "Times the event loop was blocked over 200 ms (watchdog)", [])
        stalls.add_metric([], float(self.state.watchdog.stalls))
        yield stalls

    def _tasks(self) -> Iterator[Metric]:
        master = self.state.master
        tl = ["task"]
        nl = ["task", "node", "kind"]
        m: dict[str, Any] = {
            "task_executing": _gauge("task_executing", "1 when the task is executing", tl),
            "task_points": _counter(
                "task_points_received", "Points (or batches) the task's sources took", tl
            ),
            "task_errors": _counter("task_errors", "Errors of all the task's nodes", tl),
            "collected": _counter("node_points_in", "Points (batches on a batch edge) into the node", nl),
            "emitted": _counter("node_points_out", "Points (batches on a batch edge) out of the node", nl),
            "errors": _counter("node_errors", "The node's errors", nl),
            "groups": _gauge("node_groups", "Groups the node holds (working_cardinality)", nl),
            "exec": _gauge("node_avg_exec_time_seconds", "The node's average time per message", nl),
            "buffered": _gauge("node_buffered_points", "Points the node holds, not yet sent on", nl),
            "other": _counter("node_counter", "The node kind's own counters", [*nl, "counter"]),
            "alerts": _counter(
                "alerts", "Alert events the node triggered, by level", ["task", "node", "level"]
            ),
            "inhibited": _counter("alerts_inhibited", "Alert events not sent: inhibited", ["task", "node"]),
            "dropped": _counter(
                "alert_events_dropped", "Alert events a handler failed on or dropped", ["task", "node"]
            ),
            "handler": _counter(
                "alert_handler_failures", "Failed deliveries per handler kind", ["task", "node", "kind"]
            ),
        }
        running = master.tasks
        for rec in self.state.storage.tasks.find():  # disabled tasks too: executing 0
            m["task_executing"].add_metric([rec.id], 1.0 if rec.id in running else 0.0)
        for task_id, task in sorted(running.items()):
            m["task_points"].add_metric([task_id], float(sum(s.stats.collected for s in task.sources)))
            m["task_errors"].add_metric([task_id], float(sum(n.stats.errors for n in task.nodes.values())))
            for node in task.nodes.values():
                self._node(m, task_id, node)
        yield from m.values()

    @staticmethod
    def _node(m: dict[str, Any], task_id: str, node: Any) -> None:
        spec = NODES.get(node.spec.kind)
        labels = [task_id, node.name, spec.desc if spec is not None else node.spec.kind]
        values = node.stat_values()
        m["collected"].add_metric(labels, float(node.stats.collected))
        m["emitted"].add_metric(labels, float(node.stats.emitted))
        m["errors"].add_metric(labels, float(values["errors"]))
        m["groups"].add_metric(labels, float(values["working_cardinality"]))
        m["exec"].add_metric(labels, values["avg_exec_time_ns"] / 1e9)
        buffered = node.buffered_points()
        if buffered is not None:
            m["buffered"].add_metric(labels, float(buffered))
        counters = {**values, **node.extra_values()}
        for k in ("avg_exec_time_ns", "errors", "working_cardinality", "buffered_points"):
            counters.pop(k, None)
        for k, v in sorted(counters.items()):
            if k in _LEVEL_COUNTERS:
                m["alerts"].add_metric([task_id, node.name, _LEVEL_COUNTERS[k]], float(v))
            elif k == "alerts_inhibited":
                m["inhibited"].add_metric([task_id, node.name], float(v))
            elif k == "events_dropped":
                m["dropped"].add_metric([task_id, node.name], float(v))
            elif k.startswith(_HANDLER_ERRORS):
                m["handler"].add_metric([task_id, node.name, k[len(_HANDLER_ERRORS) :]], float(v))
            elif k not in _OWN:
                m["other"].add_metric([*labels, k], float(v))

    def _ingest(self) -> Iterator[Metric]:
        ing = self.state.ingress
        points = _counter(
            "ingest_points",
            "Points accepted, by database, retention policy and measurement",
            ["database", "retention_policy", "measurement"],
        )
        for db, rp, measurement, n in ing.rows():
            points.add_metric([db, rp, measurement], float(n))
        yield points
        for name, doc, value in (
            ("ingest_bytes", "Bytes of write request bodies (after decompression)", ing.bytes_received),
            ("ingest_bad_lines", "Lines of write requests that did not parse (dropped)", ing.bad_lines),
            ("ingest_writes_rejected", "Writes answered 503 by the write backpressure", ing.writes_rejected),
        ):
            c = _counter(name, doc, [])
            c.add_metric([], float(value))
            yield c
        depth = _gauge("engine_queue_depth", "Items waiting for the engine thread (write batches, ticks)")
        depth.add_metric([], float(self.state.engine.depth()))
        yield depth

    def _outputs(self) -> Iterator[Metric]:
        w = self.state.writer
        for name, doc, value in (
            ("influxdb_out_points_written", "Points written to InfluxDB", w.points_written),
            ("influxdb_out_write_errors", "Failed writes to InfluxDB", w.write_errors),
            (
                "influxdb_out_points_dropped",
                "Points dropped (InfluxDB unreachable too long)",
                w.points_dropped,
            ),
        ):
            c = _counter(name, doc, [])
            c.add_metric([], float(value))
            yield c
        registry = self.state.master.services.get("alert_topics")
        topics = _counter("topic_events", "Alert events each topic collected", ["topic"])
        if registry is not None:
            for name in registry.topics():
                t = registry.get(name)
                if t is not None:
                    topics.add_metric([name], float(t.collected))
        yield topics


class Metrics:
    """The server's registry: kapfast's collector, the process collector, the write histogram."""

    def __init__(self, state: ServerState) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.lag = LoopLag(state.clock)
        self.write_seconds = Histogram(
            "write_request_duration_seconds",
            "Time to answer an HTTP write request (parse and route its points)",
            namespace=NS,
            buckets=WRITE_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(namespace=NS, registry=self.registry)
        self.registry.register(KapfastCollector(state, self.lag))
        state.ingress.on_write = self.write_seconds.observe

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", Metrics)


async def metrics(request: web.Request) -> web.StreamResponse:
    # on the engine thread, between batches: it reads the running tasks' state in place
    engine = request.app[STATE_KEY].engine
    body = await asyncio.wrap_future(engine.call(request.app[METRICS_KEY].render))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app[METRICS_KEY] = Metrics(app[STATE_KEY])
    app.router.add_get("/metrics", metrics)

    async def start(app: web.Application) -> None:
        app[METRICS_KEY].lag.start()

    async def stop(app: web.Application) -> None:
        await app[METRICS_KEY].lag.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


__all__ = ["METRICS_KEY", "KapfastCollector", "LoopLag", "Metrics", "add_routes"]
