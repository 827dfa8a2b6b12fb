"""Everything a running server holds, built once at start and shared by the handlers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from kapfast.clock import Clock
from kapfast.config import Config
from kapfast.engine.contract import TaskMasterAPI
from kapfast.logs import LogBroker
from kapfast.outputs.influxdb_writer import InfluxDBWriter
from kapfast.server.auth import AuthGate
from kapfast.server.config_api import ConfigService
from kapfast.server.engine_thread import Engine
from kapfast.server.ids import ServerIDs
from kapfast.server.influx import InfluxDBClusters
from kapfast.server.router import Router
from kapfast.server.stats import IngressStats
from kapfast.server.users import NoAuth, UserStore
from kapfast.server.watchdog import LoopWatchdog
from kapfast.storage import Storage
from kapfast.tasks.recordings import RecordingService
from kapfast.tasks.replays import ReplayService
from kapfast.tasks.service import TaskService
from kapfast.tasks.templates import TemplateService

if TYPE_CHECKING:  # the NATS client is loaded only when [cluster] is enabled
    from kapfast.cluster.service import ClusterService


@dataclass
class ServerState:
    config: Config
    ids: ServerIDs
    clock: Clock
    storage: Storage
    master: TaskMasterAPI
    tasks: TaskService
    templates: TemplateService
    recordings: RecordingService
    replays: ReplayService
    influx: InfluxDBClusters
    writer: InfluxDBWriter
    router: Router
    #: the engine thread that runs the router on written points (kapfast.server.engine_thread)
    engine: Engine
    ingress: IngressStats = field(default_factory=IngressStats)
    started: float = field(default_factory=time.monotonic)
    #: the config API (overrides over the file); None in states built without a store of them
    config_service: ConfigService | None = None
    #: live log streams (GET /kapacitor/v1preview/logs)
    logs: LogBroker = field(default_factory=LogBroker)
    #: [http] auth-enabled and where users come from ([auth]); checks nothing by default
    auth: AuthGate = field(default_factory=lambda: AuthGate(NoAuth()))
    #: users and InfluxDB subscription tokens (None in states built without a store of them)
    users: UserStore | None = None
    #: [cluster] enabled: kapfast.cluster.service.ClusterService (None: one node)
    cluster: ClusterService | None = None
    #: says what blocks the event loop while it is blocked (kapfast.server.watchdog)
    watchdog: LoopWatchdog = field(default_factory=LoopWatchdog)


STATE_KEY = web.AppKey("state", ServerState)
