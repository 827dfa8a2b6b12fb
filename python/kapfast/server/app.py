"""The aiohttp application: building the server's parts, routes, start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import platform
import re
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from aiohttp import web

from kapfast import __version__
from kapfast.autoscale.clusters import SERVICE_KEY as AUTOSCALE
from kapfast.autoscale.clusters import Clusters
from kapfast.batch import PointBatch
from kapfast.clock import Clock, WallClock
from kapfast.cluster.shards import PartitionStates
from kapfast.config import Config, parse_go_duration
from kapfast.engine.alert.node import SERVICE_GATE, DeliveryGate
from kapfast.engine.contract import TaskMasterAPI
from kapfast.engine.nodes.loopback import SERVICE_KEY as LOOPBACK
from kapfast.engine.nodes.loopback import Loopback
from kapfast.engine.nodes.sideload import SERVICE_KEY as SIDELOAD
from kapfast.engine.nodes.sideload import SideloadError, SideloadService
from kapfast.errors import RequestError
from kapfast.jobs import all_done, cancel_and_wait
from kapfast.logs import parse_level
from kapfast.outputs.influxdb_writer import InfluxDBWriter
from kapfast.server import (
    backup_api,
    config_api,
    explain_api,
    expvar,
    logs_api,
    metrics,
    recordings_api,
    storage_api,
    tap_api,
    tasks_api,
    topics_api,
    users_api,
)
from kapfast.server.auth import GATE_KEY, AuthGate, make_middleware
from kapfast.server.batch_runner import BatchRunner
from kapfast.server.bodies import READ_TIMEOUT_KEY
from kapfast.server.config_api import ConfigService
from kapfast.server.engine import load_task_master
from kapfast.server.engine_thread import Engine, Serialized
from kapfast.server.http import (
    API,
    PREVIEW,
    Handler,
    headers_and_errors,
    json_error,
    json_response,
    read_json,
)
from kapfast.server.ids import load_ids
from kapfast.server.influx import InfluxDBClusters
from kapfast.server.internal_stats import Stat, StatsService, collect, expvars
from kapfast.server.router import Router
from kapfast.server.state import STATE_KEY, ServerState
from kapfast.server.storage_io import storage_io
from kapfast.server.udp import UDPInput, start_listeners
from kapfast.server.ui import routes as ui_routes
from kapfast.server.users import AuthService, LocalAuth, NoAuth, UserStore
from kapfast.server.write import WriteGate, make_write_handler
from kapfast.storage import Storage
from kapfast.storage.db import ConfigOverrideStore
from kapfast.tasks.load import LoadService
from kapfast.tasks.recordings import RecordingService
from kapfast.tasks.replays import ReplayService
from kapfast.tasks.service import TaskRunner, TaskService
from kapfast.tasks.templates import TemplateService
from kapfast.tick.registry import DeadmanDefaults
from kapfast.udf import UDFService

log = logging.getLogger("kapfast.server")
TICKER_KEY = web.AppKey("ticker", asyncio.Task[None])


class _Services:
    """The services a config change restarts (set on an application that is already running,
    so they live in this holder rather than in the application's own keys)."""

    def __init__(self) -> None:
        self.stats: StatsService | None = None
        self.load: LoadService | None = None


SERVICES_KEY = web.AppKey("services", _Services)
UDP_KEY = web.AppKey("udp", list[UDPInput])


def build_state(cfg: Config, clock: Clock | None = None, master: TaskMasterAPI | None = None) -> ServerState:
    """Open the data dir and build every service (nothing runs until :func:`on_startup`)."""
    clock = clock or WallClock()
    data = cfg.data_path
    data.mkdir(parents=True, exist_ok=True)
    ids = load_ids(data)
    storage = Storage(cfg.storage_path)
    # Overrides made through the config API apply over the file before any service is built.
    config_service = ConfigService(cfg, ConfigOverrideStore(storage.db))
    cfg, warnings = config_service.boot()
    for w in warnings:
        log.warning("%s", w)
    users = UserStore(storage.db)
    service: AuthService = LocalAuth(users, cfg.auth.bcrypt_cost) if cfg.auth.enabled else NoAuth()
    gate = AuthGate(
        service,
        required=cfg.http.auth_enabled,
        shared_secret=cfg.http.shared_secret,
        pprof_enabled=cfg.http.pprof_enabled,
    )
    # With auth on, InfluxDB's pushes carry a subscription token in the destination URL.
    tokens = users.subscription_token if cfg.http.auth_enabled else None
    influx = InfluxDBClusters(cfg, ids, tokens=tokens)
    config_service.live["influxdb"] = influx.reconfigure
    # influxDBOut nodes already buffer (.buffer, .flushInterval) before handing points over; the
    # writer only coalesces what many nodes hand over at about the same time, so it holds points
    # a fraction of a second rather than adding another 10 s of latency.
    # Points InfluxDB does not take (down, 5xx) wait on disk, bounded, across restarts.
    writer = InfluxDBWriter(
        influx.client,
        v2=influx.v2_writer,
        flush_interval_s=0.25,
        spool_dir=cfg.influxdb_out_path if cfg.influxdb_out.max_buffer_bytes else None,
        max_spool_bytes=cfg.influxdb_out.max_buffer_bytes,
    )
    # [udf.functions.*]: every agent's Info now (a failure stops the start, as in kapacitord)
    udfs = UDFService(cfg.udf)
    udfs.load()
    # alert states are group-committed off the loop; a write's answer waits for them (write.py)
    storage.alert_states.group_commit = True
    if master is None:
        master = load_task_master(
            storage=storage,
            clock=clock,
            writer=writer,
            hostname=cfg.hostname,
            cluster_id=ids.cluster_id,
            server_id=ids.server_id,
            # Alert nodes restore their last levels from here (and save them) across restarts.
            services={"storage": storage, "alert_states": storage.alert_states, "udf": udfs},
            group_expiry_ns=parse_go_duration(cfg.groups.expire_idle),
            snapshot_interval_ns=parse_go_duration(cfg.task.snapshot_interval),
        )
    # One thread runs the tasks on written points (kapfast.server.engine_thread); every other use
    # of the task master, from any thread, is queued to it and waited for.
    engine = Engine(
        inline=os.environ.get("KAPFAST_ENGINE_INLINE", "") not in ("", "0"),
    )
    # small writes run on the loop when the engine is idle, unless a task may wait on the outside
    inner = master
    engine.inline_ok = lambda: not getattr(inner, "may_wait", True)
    master = Serialized(master, engine)
    # batch tasks' queries run on their schedules against InfluxDB; stream tasks go straight through
    deadman = deadman_defaults(cfg)
    runner: TaskRunner = BatchRunner(master, influx, clock)
    cluster = None
    if cfg.cluster.enabled:
        # tasks start where the cluster places them (kapfast.cluster.placement)
        from kapfast.cluster.service import ClusterService
        from kapfast.cluster.worker import ClusterRunner

        runner = ClusterRunner(runner, list(cfg.cluster.partition_key), None)
        node_id = cfg.cluster.node_id or re.sub(r"[^A-Za-z0-9_-]", "_", cfg.hostname)

        def owned(p: int) -> bool:
            worker = cluster.worker if cluster is not None else None
            return worker is not None and p in worker.partitions

        # partitioned tasks run one instance per partition, whose state moves with it
        shards = PartitionStates(master, list(cfg.cluster.partition_key), cfg.cluster.partitions, owned)
        master.task_factory = shards.task_factory
        cluster = ClusterService(
            cfg.cluster,
            node_id,
            runner,
            _cluster_apply(master),
            clock,
            *_cluster_state(master, storage),
            shards=shards,
        )
    tasks = TaskService(storage, runner, clock, deadman)
    recordings = RecordingService(storage, cfg.replay_path, clock, influx)
    recordings.serialized = engine.run  # its captures are written on the engine thread
    # what a write's answer waits for: the alert states its points made and the blocks of live
    # recordings that hold them (both written on their own threads)
    engine.durable = lambda: all_done(
        [f for f in (storage.alert_states.pending(), recordings.pending()) if f is not None]
    )
    replays = ReplayService(storage, master, clock, recordings)
    replays.deadman = deadman
    if cluster is not None:  # recordings read the cluster's stream; any node lists the cluster's
        cluster.share_records(recordings, replays, engine.call)
    # live recordings first: a recording's block is compressed and written on its own thread
    # while the tasks run the same points, so the write's wait for it (durable) costs little
    router = Router(recordings, master)
    engine_services = master.services
    # kapacitorLoopback writes enter the stream as written points do (recordings see them)
    engine_services[LOOPBACK] = Loopback(router.write_points)
    # sideload folders, shared by the tasks that read them, reloaded by POST .../sideload/reload
    engine_services.setdefault(SIDELOAD, SideloadService())
    # the [[kubernetes]]/[[swarm]]/[[ec2]] clusters the autoscale nodes scale
    clusters = engine_services.setdefault(AUTOSCALE, Clusters.from_config(cfg))
    if isinstance(clusters, Clusters):
        for section in ("kubernetes", "swarm", "ec2"):
            config_service.live[section] = clusters.reconfigure
    tasks.udfs = replays.udfs = udfs.infos
    engine.router = router
    return ServerState(
        config=cfg,
        ids=ids,
        clock=clock,
        storage=storage,
        master=master,
        tasks=tasks,
        templates=TemplateService(storage, tasks, clock),
        recordings=recordings,
        replays=replays,
        influx=influx,
        writer=writer,
        router=router,
        engine=engine,
        config_service=config_service,
        auth=gate,
        users=users,
        cluster=cluster,
    )


def _cluster_state(
    master: TaskMasterAPI, storage: Storage
) -> tuple[Callable[[str], Future[bytes | None] | bytes | None], Callable[[str, bytes | None], None]]:
    """How a placed task's state leaves this worker (its running task's snapshot) and arrives
    (stored as the task's checkpoint, which the task master restores when it starts the task)."""

    def take(task_id: str) -> bytes | None:
        t = master.tasks.get(task_id)
        return t.snapshot() if t is not None else None

    def snapshot_of(task_id: str) -> Future[bytes | None] | bytes | None:
        # taken between two batches, on the engine thread (kapfast.server.engine_thread): queued
        # now, behind the feed's points handed over so far, and awaited by the caller
        engine = getattr(master, "engine", None)
        return engine.call(take, task_id) if engine is not None else take(task_id)

    def seed(task_id: str, data: bytes | None) -> None:
        if data:
            storage.snapshots.put(task_id, data)
        else:  # never this worker's own older state: it would be stale
            storage.snapshots.delete(task_id)

    return snapshot_of, seed


def _cluster_apply(
    master: TaskMasterAPI,
) -> Callable[[str, str, PointBatch, set[str] | None, bool, int | None], Future[None] | None]:
    """What a worker's consumers feed: the task master, limited to the tasks the feed is for.
    ``replay``: points a previous owner already applied, whose alert events it delivered: the
    state is rebuilt, the deliveries muted (kapfast.engine.alert.node.DeliveryGate). ``shard``:
    the partition every point is on (a partition's feed), so that a partitioned task picks its
    instance without hashing the points again."""
    gate = master.services.setdefault(SERVICE_GATE, DeliveryGate())

    def apply(
        db: str, rp: str, batch: PointBatch, only: set[str] | None, replay: bool, shard: int | None
    ) -> Future[None] | None:
        def run() -> None:
            gate.muted = replay
            try:
                master.write_points(db, rp, batch, only=only, shard=shard)
            finally:
                gate.muted = False

        # muted only while these points run: on the engine thread, between two other batches
        # (kapfast.server.engine_thread), never while written points queued before them run;
        # handed over, not waited for (the consumer awaits the future, the loop goes on)
        engine = getattr(master, "engine", None)
        if engine is not None:
            fut: Future[None] = engine.call(run)
            return fut
        run()
        return None

    return apply


def deadman_defaults(cfg: Config) -> DeadmanDefaults:
    dc = cfg.deadman
    return DeadmanDefaults(
        global_=dc.global_,
        threshold=dc.threshold,
        interval_ns=parse_go_duration(dc.interval),
        id=dc.id,
        message=dc.message,
    )


async def ping(request: web.Request) -> web.StreamResponse:
    del request
    return web.Response(status=204)


def internal_stats(st: ServerState) -> list[Stat]:
    """kapfastd's statistics (``/debug/vars`` and the ``[stats]`` points)."""
    tasks = st.storage.tasks.find()
    counts = {
        "num_tasks": len(tasks),
        "num_enabled_tasks": sum(t.status == "enabled" for t in tasks),
        "num_subscriptions": st.influx.num_subscriptions(),
    }
    ids = {"cluster_id": st.ids.cluster_id, "server_id": st.ids.server_id, "host": st.config.hostname}
    # the running tasks' state is read on the engine thread, between batches
    return st.engine.run(collect, master=st.master, ingress=st.ingress, ids=ids, counts=counts)


def _write_own(st: ServerState, db: str, rp: str, batch: PointBatch) -> Future[None]:
    """kapfastd's own points enter the stream like written ones (counted in ``ingress`` too),
    handed to the engine thread (the future says when they ran)."""
    st.ingress.count(db, rp, batch, own=True)
    return st.engine.hand_off(db, rp, batch)


async def cluster_status(request: web.Request) -> web.StreamResponse:
    """``GET /kapacitor/v1/cluster`` (kapfast only): members, partitions, owners, lag."""
    st = request.app[STATE_KEY]
    if st.cluster is None:
        return json_error(404, "this server is not part of a cluster ([cluster] enabled = false)")
    return json_response(await st.cluster.status())


async def debug_vars(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    tasks = await storage_io(st.storage.tasks.find)
    body = {
        "cluster_id": st.ids.cluster_id,
        "server_id": st.ids.server_id,
        "host": st.config.hostname,
        "product": "kapfast",
        "version": __version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "num_tasks": len(tasks),
        "num_enabled_tasks": sum(t.status == "enabled" for t in tasks),
        "num_subscriptions": st.influx.num_subscriptions(),
        "uptime": round(time.monotonic() - st.started, 3),
        "cmdline": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
        "kapacitor": {
            **st.ingress.expvars(),
            # off the loop: it waits for the engine thread to read the running tasks
            **expvars(await asyncio.get_running_loop().run_in_executor(None, internal_stats, st)),
            "kapfast_engine": {
                "name": "kapfast_engine",
                "tags": {},
                "values": {"queue_depth": st.engine.depth(), "batches": st.engine.batches},
            },
            "kapfast_loop": st.watchdog.expvars(),
            "influxdb_out": {
                "name": "influxdb_out",
                "tags": {},
                "values": {
                    "points_written": st.writer.points_written,
                    "write_errors": st.writer.write_errors,
                    "points_dropped": st.writer.points_dropped,
                    "points_buffered": st.writer.buffered_points(),
                    "bytes_buffered": st.writer.buffered_bytes(),
                },
            },
        },
    }
    # Go's expvar layout (one variable a line, maps compact), with Go's runtime memstats
    return web.Response(text=expvar.render(body), content_type="application/json", charset="utf-8")


async def pprof(request: web.Request) -> web.StreamResponse:
    """``/debug/pprof/*``: Go profiles do not exist in a Python process; say so, and how to
    profile kapfastd instead (docs/operations.md)."""
    del request
    return json_error(
        501,
        "kapfastd is a Python process and cannot produce Go pprof profiles: "
        "profile it with py-spy (py-spy record --pid PID, or py-spy top --pid PID)",
    )


async def subscriptions(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    errors = await st.influx.sync_now()
    if errors:
        return json_error(500, "; ".join(errors))
    return web.Response(status=204)


_CREATE_DATABASE = re.compile(r"^\s*CREATE\s+DATABASE\s", re.IGNORECASE)


async def influx_query(request: web.Request) -> web.StreamResponse:
    """InfluxDB's ``/query``, for clients that take kapfastd for InfluxDB: Telegraf sends
    ``CREATE DATABASE`` before writing, which needs nothing here (kapfast keeps no databases), so
    it succeeds; any other query is refused with a reason instead of a bare 404."""
    q = request.query.get("q", "")
    if not q and request.method == "POST":
        q = str((await request.post()).get("q", ""))
    if _CREATE_DATABASE.match(q) and ";" not in q.strip().rstrip(";"):
        return web.json_response({"results": [{"statement_id": 0}]})
    return web.json_response(
        {"error": "kapfast is not a database: /query only accepts CREATE DATABASE (write with /write)"},
        status=400,
    )


async def options(request: web.Request) -> web.StreamResponse:
    """CORS pre-flight and OPTIONS on any API resource: 204, as Kapacitor."""
    del request
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
            "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Content-Encoding",
        },
    )


@web.middleware
async def answer_options(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Kapacitor answers OPTIONS on every API path; other unknown paths stay 404.
    if request.method == "OPTIONS" and request.path.startswith(API):
        return await options(request)
    return await handler(request)


async def loglevel(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    level = body.get("level")
    try:
        number = parse_level(level if isinstance(level, str) else "")
    except ValueError:
        raise RequestError(f"invalid log level {level!r}: expected DEBUG, INFO, WARN, ERROR or OFF") from None
    logging.getLogger().setLevel(number)
    log.info("log level set to %s", str(level).upper())
    return web.Response(status=204)


async def sideload_reload(request: web.Request) -> web.StreamResponse:
    """``POST /kapacitor/v1/sideload/reload``: read every sideload source's files again."""
    services = request.app[STATE_KEY].master.services
    service = services.get(SIDELOAD) if isinstance(services, dict) else None
    if isinstance(service, SideloadService):
        try:
            await asyncio.get_running_loop().run_in_executor(None, service.reload)
        except SideloadError as e:
            return json_error(500, str(e))
    return web.Response(status=204)


async def routes(request: web.Request) -> web.StreamResponse:
    """``GET /kapacitor/v1/:routes``: every API path and its methods."""
    out: dict[str, set[str]] = {}
    for route in request.app.router.routes():
        info = route.resource.canonical if route.resource is not None else ""
        if info.startswith((API + "/", PREVIEW + "/")) and route.method != "*":
            out.setdefault(info, {"OPTIONS"}).add(route.method)
    return json_response({path: sorted(methods) for path, methods in sorted(out.items())})


async def on_startup(app: web.Application) -> None:
    st = app[STATE_KEY]
    st.watchdog.start()
    logs_api.attach(st.logs)
    st.writer.bind(asyncio.get_running_loop())
    st.engine.start()
    try:
        st.writer.open()  # what a previous run could not send to InfluxDB
    except OSError as exc:
        log.error("influxDBOut: cannot open the disk buffer %s: %s", st.writer.spool_dir, exc)
    if st.engine.inline:
        st.master.bind_loop(asyncio.get_running_loop())  # UDF agents' answers reach their tasks on the loop
    elif hasattr(st.master, "post"):
        st.master.post = st.engine.post  # UDF agents' answers reach their tasks on the engine thread
    st.recordings.open()
    st.replays.open()
    if st.cluster is not None:  # before the tasks start: where they run depends on it
        http = st.config.http
        await st.cluster.start(
            {"http": http.bind_address, "https": http.https_enabled, "hostname": st.config.hostname}
        )
    failed = st.tasks.start_enabled()
    if failed:
        log.warning("%d enabled tasks did not start: %s", len(failed), ", ".join(failed))
    if st.cluster is not None:
        st.tasks.bind_loop(asyncio.get_running_loop())  # the control plane defines off the loop
        handlers = (st.storage.topic_handlers, topics_api.LoadedHandlers(app))
        await st.cluster.start_control(st.tasks, st.templates, handlers)
    # UDP subscriptions' points enter like [[udp]] ones: handed to the engine thread, not waited
    # for (the event loop goes on answering meanwhile)
    st.influx.udp_input = (st.engine.hand_off, st.ingress, st.clock)
    st.influx.start()
    app[UDP_KEY] = await start_listeners(
        st.config.udp,
        st.engine.hand_off,
        st.ingress,
        st.clock,
        st.config.default_retention_policy,
    )
    await _configure_load(app, st.config)
    await _configure_stats(app, st.config)
    if st.config_service is not None:
        # a section changed through the config API applies at once (ConfigService.live)
        live = st.config_service.live
        live["load"] = functools.partial(_configure_load, app)
        live["stats"] = functools.partial(_configure_stats, app)
        live["deadman"] = functools.partial(_configure_deadman, st)
        live["groups"] = functools.partial(_configure_groups, st)
    app[TICKER_KEY] = asyncio.get_running_loop().create_task(_tick(st))


async def _configure_load(app: web.Application, cfg: Config) -> None:
    """``[load]``: the directory's tasks, templates and handlers loaded (again, from the new
    directory, after a change)."""
    st = app[STATE_KEY]
    app[SERVICES_KEY].load = None
    if not cfg.load.enabled:
        return
    handlers = topics_api.LoadedHandlers(app)
    loader = LoadService(Path(cfg.load.dir), st.storage, st.tasks, st.templates, handlers)
    app[SERVICES_KEY].load = loader
    loader.load()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # kapacitord reloads the load directory on SIGHUP (only possible in the main thread)
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, loader.load)


async def _configure_stats(app: web.Application, cfg: Config) -> None:
    """``[stats]``: the internal statistics written every interval (restarted after a change)."""
    st = app[STATE_KEY]
    running = app[SERVICES_KEY]
    if running.stats is not None:
        await running.stats.close()
        running.stats = None
    sc = cfg.stats
    if not sc.enabled:
        return
    running.stats = StatsService(
        clock=st.clock,
        interval_s=parse_go_duration(sc.stats_interval) / 1e9,
        database=sc.database,
        retention_policy=sc.retention_policy,
        source=lambda: internal_stats(st),
        sink=lambda db, rp, batch: _write_own(st, db, rp, batch),
    )
    running.stats.start()


async def _configure_deadman(st: ServerState, cfg: Config) -> None:
    """``[deadman]``: the tasks defined, started or replayed from now on use the new defaults."""
    st.tasks.deadman = st.replays.deadman = deadman_defaults(cfg)


async def _configure_groups(st: ServerState, cfg: Config) -> None:
    """``[groups] expire-idle``: for the tasks started from now on."""
    st.master.group_expiry_ns = parse_go_duration(cfg.groups.expire_idle)


async def _tick(st: ServerState) -> None:
    """Clock-driven nodes (stats, deadman) look at the clock about once a second."""
    while True:
        # sooner while idle groups wait to be deleted: each tick does a bounded slice of them
        await asyncio.sleep(0.05 if st.master.expiry_backlog else 1.0)
        try:
            await asyncio.wrap_future(st.engine.call(st.master.tick))  # after the queued batches
        except Exception:  # an engine bug must not stop the ticks of every other task
            log.exception("task master tick failed")


async def on_cleanup(app: web.Application) -> None:
    st = app[STATE_KEY]
    for listener in app.get(UDP_KEY, []):
        listener.close()
    ticker = app.get(TICKER_KEY)
    await cancel_and_wait(ticker)
    stats = app[SERVICES_KEY].stats
    if stats is not None:
        await stats.close()
    # the batches already queued run through the tasks before anything they write to closes
    await asyncio.get_running_loop().run_in_executor(None, st.engine.stop)
    if st.cluster is not None:  # checkpoints written and leases released: others take over now
        await st.cluster.close()
    await st.recordings.close()
    await st.replays.close()
    runner = getattr(st.tasks.runner, "inner", st.tasks.runner)  # under a cluster's ClusterRunner
    if isinstance(runner, BatchRunner):
        await runner.close()
    # off the loop: stopping the tasks writes their checkpoints (seconds for large states)
    await asyncio.get_running_loop().run_in_executor(None, st.master.close)
    await st.writer.close(parse_go_duration(st.config.influxdb_out.shutdown_timeout) / 1e9)
    await st.influx.close()
    st.storage.close()
    logs_api.detach(st.logs)
    st.watchdog.stop()


def build_app(state: ServerState) -> web.Application:
    app = web.Application(
        middlewares=[headers_and_errors, answer_options, make_middleware(state.auth)],
        client_max_size=16 << 20,
    )
    app[STATE_KEY] = state
    app[READ_TIMEOUT_KEY] = parse_go_duration(state.config.http.read_timeout) / 1e9
    app[SERVICES_KEY] = _Services()
    app[GATE_KEY] = state.auth
    if isinstance(state.auth.service, LocalAuth):
        app[users_api.AUTH_KEY] = state.auth.service
    write = make_write_handler(
        state.engine,
        state.ingress,
        state.clock,
        default_rp=state.config.default_retention_policy,
        max_body_size=state.config.http.max_body_size,
        gate=WriteGate(
            state.config.http.max_concurrent_write_limit,
            state.config.http.max_enqueued_write_limit,
            parse_go_duration(state.config.http.enqueued_write_timeout) / 1e9,
        ),
        # alert states the write's points made, and their place in live recordings
        durable=lambda: all_done(
            [f for f in (state.storage.alert_states.pending(), state.recordings.pending()) if f is not None]
        ),
        publish=state.cluster.publish if state.cluster is not None and state.cluster.ingests else None,
    )
    for prefix in (API, PREVIEW):
        app.router.add_get(f"{prefix}/ping", ping)  # with HEAD
        app.router.add_post(f"{prefix}/write", write)
        app.router.add_get(f"{prefix}/debug/vars", debug_vars)
        app.router.add_get(f"{prefix}/cluster", cluster_status)
        app.router.add_get(f"{prefix}/debug/pprof/{{profile:.*}}", pprof)
        app.router.add_post(f"{prefix}/subscriptions", subscriptions)
        app.router.add_post(f"{prefix}/loglevel", loglevel)
        app.router.add_post(f"{prefix}/sideload/reload", sideload_reload)
        explain_api.add_routes(app, prefix)  # before the tasks' httpOut catch-all
        tasks_api.add_routes(app, prefix)
        recordings_api.add_routes(app, prefix)
        topics_api.add_routes(app, prefix)
        backup_api.add_routes(app, prefix)
        storage_api.add_routes(app, prefix)
        config_api.add_routes(app, prefix)
        users_api.add_routes(app, prefix)
        app.router.add_get(f"{prefix}/:routes", routes)
    if state.config_service is not None:
        app[config_api.SERVICE_KEY] = state.config_service
    logs_api.add_routes(app, state.logs)
    tap_api.add_routes(app)
    metrics.add_routes(app)  # /metrics for Prometheus, same auth as the API
    ui_routes.add_routes(app)  # the web page, /ui
    # InfluxDB's own paths, for clients (Telegraf) pointed at kapfastd as if it were InfluxDB.
    app.router.add_post("/write", write)
    app.router.add_get("/ping", ping)
    app.router.add_get("/query", influx_query)
    app.router.add_post("/query", influx_query)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
