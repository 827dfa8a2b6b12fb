"""kapfastd configuration: TOML with kapacitord's section and key names.

kapacitord's own config file (its packaged ``kapacitor.conf`` included) starts kapfastd unchanged:
the sections and keys kapfast implements are read (``hostname``, ``data_dir``, ``[http]``,
``[auth]``, ``[storage]``, ``[replay]``, ``[logging]``, ``[[influxdb]]``, ...); sections and keys of
features kapfast does not have are accepted and named in ONE warning at start (kapacitord would
use them; they are never silently dropped). Two things are still refused: a key that is a near
miss of a key of its section (``bind-adress``: kapacitord silently ignores typos, which hides
mistakes) and settings that would be unsafe to ignore (see :func:`_refuse_unsafe`).

Without a file every path defaults under a data dir (``~/.kapfast``) and nothing outside the
process is needed: SQLite for state, HTTP on 127.0.0.1:9092, no InfluxDB.

Environment overrides use kapacitord's scheme with either prefix: ``KAPFAST_HTTP_BIND_ADDRESS``
or ``KAPACITOR_HTTP_BIND_ADDRESS``; list sections take an index (``KAPACITOR_INFLUXDB_0_URLS_0``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import keyword
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapfast.errors import ConfigError
from kapfast.gofmt import duration_string, go_map, go_quote
from kapfast.handler_table import SECTIONS
from kapfast.tick.registry import DEADMAN_ID, DEADMAN_MESSAGE

DEFAULT_DATA_DIR = "~/.kapfast"

#: The metadata of an option kapacitord does not have, in a section it has: read from the file,
#: the environment and the config API's ``set`` like any other, printed by ``kapfastd config``,
#: but left out of ``GET /kapacitor/v1/config``, whose elements have kapacitord's options only.
KAPFAST_ONLY: Mapping[str, bool] = {"kapfast_only": True}
DEFAULT_BIND = "127.0.0.1:9092"


@dataclass
class HTTPConfig:
    bind_address: str = DEFAULT_BIND
    # every request needs credentials (kapfast.server.auth); users per [auth]
    auth_enabled: bool = False
    log_enabled: bool = True
    write_tracing: bool = False
    pprof_enabled: bool = False  # kapfast has no pprof: only its effect on auth (debug/vars open)
    https_enabled: bool = False
    https_certificate: str = "/etc/ssl/kapacitor.pem"  # certificate (and key, when no private key)
    https_private_key: str = ""
    shared_secret: str = ""  # HMAC key of bearer JWTs; "" = bearer tokens refused
    max_body_size: int = 25_000_000  # bytes of a /write body after decompression; 0 = no limit
    shutdown_timeout: str = "10s"
    # write backpressure (InfluxDB 1.x's [http] names; kapfast turns it on by default): writes
    # parsed and routed at once, writes that may wait for a turn beyond those (more: 503 at once),
    # and how long one may wait (longer: 503); 0 = no limit
    max_concurrent_write_limit: int = 2
    max_enqueued_write_limit: int = 256
    enqueued_write_timeout: str = "10s"
    # kapfast only (kapacitord has no such key): a request body that sends nothing for this long
    # is cut (408 on /write); "0s" waits for ever
    read_timeout: str = "30s"


@dataclass
class AuthConfig:
    """``[auth]``: where users come from when ``[http] auth-enabled``. Disabled (kapacitord's
    default), any credentials are accepted as an admin; enabled, users live in kapfast's store."""

    enabled: bool = False
    cache_expiration: str = "10m"
    bcrypt_cost: int = 10
    # InfluxDB Enterprise meta users: not in kapfast (refused when [auth] is enabled with them)
    meta_addr: str = ""
    meta_username: str = ""
    meta_password: str = ""
    meta_internal_shared_secret: str = ""
    meta_use_tls: bool = False
    meta_ca: str = ""
    meta_cert: str = ""
    meta_key: str = ""
    meta_insecure_skip_verify: bool = False


@dataclass
class TLSConfig:
    """``[tls]``: the HTTPS server's protocol versions (``"tls1.2"``); Go cipher suite names
    have no OpenSSL equivalent, so ``ciphers`` is accepted and named in the start warning."""

    ciphers: list[str] = field(default_factory=list)
    min_version: str = ""
    max_version: str = ""


@dataclass
class StorageConfig:
    # kapacitord's key is `boltdb`; kapfast keeps its state in SQLite at that path.
    boltdb: str = ""


@dataclass
class ReplayConfig:
    dir: str = ""


@dataclass
class LoggingConfig:
    file: str = "STDERR"
    level: str = "INFO"


@dataclass
class StatsConfig:
    # [stats]: kapfastd's own statistics written into its stream every stats-interval
    enabled: bool = True
    stats_interval: str = "10s"
    database: str = "_kapacitor"
    retention_policy: str = "autogen"


@dataclass
class LoadConfig:
    # [load]: tasks, templates and topic handlers defined by files, (re)loaded at start and SIGHUP
    enabled: bool = False
    dir: str = "/etc/kapacitor/load"


@dataclass
class DeadmanConfig:
    # [deadman]: the id/message of every .deadman() alert; `global` gives every task one
    global_: bool = False
    threshold: float = 0.0
    interval: str = "10s"
    id: str = DEADMAN_ID
    message: str = DEADMAN_MESSAGE


@dataclass
class TaskConfig:
    # [task]: `dir` is kapacitord's old task.db location (read, unused); how often running tasks'
    # stateful nodes are checkpointed (kapfast.engine.checkpoint), "0s" for never
    dir: str = ""
    snapshot_interval: str = "60s"


@dataclass
class InfluxDBOutConfig:
    # [influxdb-out] (kapfast only): influxDBOut's disk buffer for points InfluxDB has not taken
    # yet (down, 5xx). `dir` "" = <data_dir>/influxdb_out; `max-buffer-bytes` bounds it over every
    # destination (the oldest points are dropped first, counted); `shutdown-timeout` is how long a
    # stop keeps sending before what is left stays on disk for the next start (docs/operations.md)
    dir: str = ""
    max_buffer_bytes: int = 512 << 20
    shutdown_timeout: str = "5s"


@dataclass
class GroupsConfig:
    # [groups] (kapfast only): drop the state of a group of any task (windows, derivative and
    # alert states, join buffers, httpOut results) once it sent nothing for `expire-idle`;
    # "0s" keeps every group for the life of the task, as Kapacitor does (docs/operations.md)
    expire_idle: str = "0s"


@dataclass
class ClusterConfig:
    """``[cluster]`` (kapfast only): scale-out on NATS JetStream (docs/scaleout.md). Disabled, the
    server is one node as kapacitord is. ``partitions`` is fixed when the cluster is created (the
    first node stores it in NATS KV; a node configured otherwise refuses to start)."""

    enabled: bool = False
    urls: list[str] = field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    # this node's name in the cluster (members, leases, consumers); "" = the hostname
    node_id: str = ""
    # ingest: publishes what it receives; worker: runs tasks on owned partitions; both
    role: str = "both"
    partitions: int = 16
    # tag names whose values pick a point's partition (docs/scaleout.md: the hash)
    partition_key: list[str] = field(default_factory=lambda: ["host"])
    # JetStream stream holding the points (subjects kapfast.in.<partition>) and its limits
    stream: str = "KAPFAST_IN"
    max_age: str = "24h"
    replicas: int = 1
    # how long a dead worker keeps its partitions and task leases (renewed every third of it)
    lease_ttl: str = "6s"
    # how often an owned partition's task state is checkpointed with its stream sequence
    checkpoint_interval: str = "5s"
    # a NATS subject Telegraf's outputs.nats publishes line protocol to ("" = none), into
    # this database and retention policy
    telegraf_subject: str = ""
    telegraf_database: str = "telegraf"
    telegraf_retention_policy: str = "autogen"
    # credentials: a .creds file (NATS decentralised auth), a token, or user/password
    credentials: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    # TLS to NATS (tls:// URLs, or any URL when tls-ca is set)
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    insecure_skip_verify: bool = False


@dataclass
class UDFFunctionConfig:
    # [udf.functions.NAME]: a process agent (prog, args, env) or a socket agent (socket), and the
    # keepalive timeout of both (kapacitord's udf.FunctionConfig; no default: it must be > 1ms)
    prog: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    socket: str = ""
    timeout: str = "0s"

    @property
    def timeout_ns(self) -> int:
        return parse_go_duration(self.timeout)


@dataclass
class UDFConfig:
    # [udf] holds only [udf.functions.NAME] tables
    functions: dict[str, UDFFunctionConfig] = field(default_factory=dict)


@dataclass
class InfluxDBConfig:
    enabled: bool = True
    name: str = "default"
    default: bool = False
    urls: list[str] = field(default_factory=lambda: ["http://localhost:8086"])
    username: str = ""
    password: str = ""
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    timeout: str = "0s"
    disable_subscriptions: bool = False
    subscription_protocol: str = "http"
    subscription_mode: str = "cluster"
    subscription_path: str = ""
    subscriptions: dict[str, list[str]] = field(default_factory=dict)
    # kapacitord's default; kapfast never subscribes its own statistics' database whatever this says
    excluded_subscriptions: dict[str, list[str]] = field(default_factory=lambda: {"_kapacitor": ["autogen"]})
    kapacitor_hostname: str = ""
    http_port: int = 0
    startup_timeout: str = "5m"
    subscriptions_sync_interval: str = "1m"
    udp_bind: str = ""
    udp_buffer: int = 1000
    udp_read_buffer: int = 0
    # how writes to InfluxDB are sent: "gzip" (kapacitord's default) or "none"
    compression: str = "gzip"
    # kapacitord's subscriptions authenticated by a JWT made with [http] shared-secret: not in
    # kapfast (refused when true; subscriptions carry the credentials of their destination URL)
    http_shared_secret: bool = False
    # InfluxDB 2.x (and 1.8+ with auth tokens): `token` is sent as `Authorization: Token ...`;
    # influxDBOut writes through the v2 API to `bucket` (default "db/rp", the DBRP convention) in `org`.
    token: str = ""
    org: str = field(default="", metadata=KAPFAST_ONLY)
    bucket: str = field(default="", metadata=KAPFAST_ONLY)
    # what to do with Kapacitor's own subscription ("kapacitor-<id>") found sending to this
    # server's address: "replace" it (drop it, keep ours), "reuse" it (make none of ours where it
    # exists) or "keep" it (both stay: every point then arrives twice)
    kapacitor_subscriptions: str = field(default="replace", metadata=KAPFAST_ONLY)


@dataclass
class UDPConfig:
    """``[[udp]]``: a UDP listener taking line protocol into one database and retention policy."""

    enabled: bool = False
    bind_address: str = ""
    database: str = ""
    retention_policy: str = ""
    buffer: int = 1000  # packets kapacitord queues; kapfast parses each packet as it arrives
    read_buffer: int = 0  # the socket's receive buffer (SO_RCVBUF) in bytes; 0 = the OS default


@dataclass
class ConfigOverrideConfig:
    """``[config-override]``: whether the config API (``/kapacitor/v1/config``) is available."""

    enabled: bool = True


# --- alert handler services: [alert], and the sections of kapfast.handler_table -----------------
# (Python keywords ``global`` and ``from`` are spelled ``global_``/``from_`` here; the TOML keys
# are kapacitord's.)


@dataclass
class AlertConfig:
    persist_topics: bool = True
    topic_buffer_length: int = 5000


def _attr(key: str) -> str:
    attr = key.replace("-", "_")
    return attr + "_" if keyword.iskeyword(attr) else attr  # `global`, `from`


def _default_field(default: Any) -> Any:
    return field(default_factory=lambda: copy.deepcopy(default))


def _options_class(section: str, options: Mapping[str, Any]) -> type:
    """A section's config class, made from its keys and defaults (the TOML names, in order)."""
    fields = [(_attr(key), type(default), _default_field(default)) for key, default in options.items()]
    name = "".join(part.title() for part in section.split("-")) + "Config"
    return dataclasses.make_dataclass(name, fields)


@functools.cache
def handler_section_class(section: str) -> type:
    """The config class of a handler section, made from its row's keys and defaults."""
    row = SECTIONS[section]
    assert row.config is not None, section
    return _options_class(section, row.config)


def _default_handler_sections() -> dict[str, Any]:
    """Every handler section kapfast implements, at its defaults (an array section: no element)."""
    return {
        name: [] if row.array else handler_section_class(name)()
        for name, row in SECTIONS.items()
        if row.config is not None
    }


# --- orchestrators the autoscale nodes scale: [[kubernetes]] [[swarm]] [[ec2]] ------------------


@dataclass
class KubernetesConfig:
    enabled: bool = False
    id: str = ""
    in_cluster: bool = False
    api_servers: list[str] = field(default_factory=list)
    token: str = ""
    ca_path: str = ""
    namespace: str = ""
    resource: str = ""


@dataclass
class SwarmConfig:
    enabled: bool = False
    id: str = ""
    servers: list[str] = field(default_factory=list)
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False


@dataclass
class EC2Config:
    enabled: bool = False
    id: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = ""
    profile: str = ""
    refresh_interval: str = "1m0s"
    port: int = 80


# --- Kapacitor's Prometheus scraper and the discovery services feeding it -----------------------
#
# kapfast has no scraper: these sections are read, validated as kapacitord validates them, shown by
# the config API and `kapfastd config`, and one that is enabled is named in a start warning (the
# config API refuses to enable one). Defaults are kapacitord's (each service's ``Init``).


class StringTable(dict[str, str]):
    """A TOML table of strings (``[static-discovery] labels``); a plain dict option is a table of
    string lists (``[scraper] params``, as Go's ``url.Values``)."""


#: the TLS options of the scraper and of consul, marathon and triton (kapacitord's names)
_TLS_OPTIONS = {
    "ssl-ca": "",
    "ssl-cert": "",
    "ssl-key": "",
    "ssl-server-name": "",
    "insecure-skip-verify": False,
}

_FILE_DISCOVERY_NAME = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")


def _check_scraper(e: Any) -> str | None:
    for attr, what in (("name", "a name"), ("db", "a db"), ("rp", "an rp")):
        if not getattr(e, attr):
            return f"scraper config must be given {what}"
    return None


def _check_paths(label: str) -> Callable[[Any], str | None]:
    def check(e: Any) -> str | None:
        bad = [p for p in e.paths if not p.startswith("/")]
        return f"{label} paths must begin with '/': {bad[0]}" if bad else None

    return check


def _check_dns(e: Any) -> str | None:
    kind = e.type.upper()
    if kind in ("A", "AAAA") and e.port == 0:
        return f"Port required for dns discovery type {e.type}"
    return None if kind in ("SRV", "A", "AAAA") else f"invalid dns discovery records type {e.type}"


def _check_files(e: Any) -> str | None:
    bad = [f for f in e.files if not _FILE_DISCOVERY_NAME.match(f)]
    return f"path name {go_quote(bad[0])} is not valid for file discovery" if bad else None


@dataclass(frozen=True)
class DiscoverySection:
    """One row of the scraper/discovery table: kapacitord's options and defaults in the order of
    its config struct (the order of the config API's ``redacted``), the element key, the name its
    errors use, and its checks beyond a non-empty element key (a message, or None)."""

    options: Mapping[str, Any]
    element_key: str
    label: str
    missing_key: str
    check: Callable[[Any], str | None] | None = None


_ID = {"enabled": False, "id": ""}
_PATHS = {**_ID, "servers": [], "paths": [], "timeout": "10s"}
DISCOVERY_SECTIONS: dict[str, DiscoverySection] = {
    "scraper": DiscoverySection(
        {
            "enabled": False,
            "name": "",
            "discoverer-id": "",
            "discoverer-service": "",
            "db": "",
            "rp": "",
            "scheme": "http",
            "metrics-path": "/metrics",
            "params": {},
            "scrape-interval": "1m0s",
            "scrape-timeout": "10s",
            "username": "",
            "password": "",
            **_TLS_OPTIONS,
            "bearer-token": "",
            "proxy-url": "",  # Kapacitor's *url.URL: null until set
        },
        "name",
        "scraper",
        "",
        _check_scraper,
    ),
    "azure": DiscoverySection(
        {
            **_ID,
            "port": 80,
            "subscription-id": "",
            "tenant-id": "",
            "client-id": "",
            "client-secret": "",
            "refresh-interval": "5m0s",
        },
        "id",
        "azure",
        "azure discovery must be given a ID",
    ),
    "consul": DiscoverySection(
        {
            **_ID,
            "address": "127.0.0.1:8500",
            "token": "",
            "datacenter": "",
            "tag-separator": ",",
            "scheme": "http",
            "username": "",
            "password": "",
            "services": [],
            **_TLS_OPTIONS,
        },
        "id",
        "consul",
        "consul discovery must be given a ID",
        lambda e: None if e.address.strip() else "consul discovery requires a server address",
    ),
    "dns": DiscoverySection(
        # port: A and AAAA records only
        {**_ID, "record-names": [], "refresh-interval": "30s", "type": "SRV", "port": 0},
        "id",
        "dns",
        "dns discovery must be given a ID",
        _check_dns,
    ),
    "file-discovery": DiscoverySection(
        {**_ID, "files": [], "refresh-interval": "5m0s"},
        "id",
        "file discovery",
        "file discovery must be given a ID",
        _check_files,
    ),
    "gce": DiscoverySection(
        {
            **_ID,
            "project": "",
            "zone": "",
            "filter": "",
            "refresh-interval": "1m0s",
            "port": 80,
            "tag-separator": ",",
        },
        "id",
        "gce",
        "gce discovery must be given a ID",
    ),
    "marathon": DiscoverySection(
        {
            **_ID,
            "servers": [],
            "timeout": "30s",
            "refresh-interval": "30s",
            "bearer-token": "",
            **_TLS_OPTIONS,
        },
        "id",
        "marathon",
        "marathon discovery must be given an ID",
    ),
    "nerve": DiscoverySection(
        _PATHS, "id", "nerve", "nerve discovery must be given a ID", _check_paths("nerve discovery")
    ),
    "serverset": DiscoverySection(
        _PATHS,
        "id",
        "serverset",
        "server set discovery must be given a ID",
        _check_paths("serverset discovery config"),
    ),
    "static-discovery": DiscoverySection(
        {**_ID, "targets": [], "labels": StringTable()},
        "id",
        "static discovery",
        "static discovery must be given a ID",
    ),
    "triton": DiscoverySection(
        {
            **_ID,
            "account": "",
            "dns-suffix": "",
            "endpoint": "",
            "port": 9163,
            "refresh-interval": "1m0s",
            "version": 1,
            **_TLS_OPTIONS,
        },
        "id",
        "triton",
        "triton discovery must be given an ID",
    ),
}


@functools.cache
def discovery_section_class(section: str) -> type:
    """The element class of a scraper/discovery section, made from its row."""
    return _options_class(section, DISCOVERY_SECTIONS[section].options)


#: options Kapacitor shows as null while unset (a nil pointer), by section
NULL_WHEN_EMPTY: dict[str, frozenset[str]] = {"scraper": frozenset({"proxy-url"})}

#: options that are Go structs in kapacitord (a table in the file): the config API encodes them
#: with the struct's JSON names, in field order; (section, option) -> (JSON name, TOML key)...
API_STRUCT_OPTIONS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("zenoss", "severity-map"): (
        ("ok", "OK"),
        ("info", "Info"),
        ("warning", "Warning"),
        ("critical", "Critical"),
    ),
}

#: list sections read as they are (sub-tables only as dict options): TOML name -> element class
_PLAIN_LISTS: dict[str, type] = {
    "kubernetes": KubernetesConfig,
    "swarm": SwarmConfig,
    "ec2": EC2Config,
} | {name: discovery_section_class(name) for name in DISCOVERY_SECTIONS}


def _plain_list(cfg: Config, name: str) -> list[Any]:
    """The elements of a list section read as it is."""
    if name in DISCOVERY_SECTIONS:
        return cfg.discovery[name]
    elements: list[Any] = getattr(cfg, _attr(name))
    return elements


@dataclass
class Config:
    hostname: str = "localhost"
    data_dir: str = DEFAULT_DATA_DIR
    default_retention_policy: str = ""
    http: HTTPConfig = field(default_factory=HTTPConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    influxdb: list[InfluxDBConfig] = field(default_factory=list)
    stats: StatsConfig = field(default_factory=StatsConfig)
    load: LoadConfig = field(default_factory=LoadConfig)
    deadman: DeadmanConfig = field(default_factory=DeadmanConfig)
    groups: GroupsConfig = field(default_factory=GroupsConfig)
    influxdb_out: InfluxDBOutConfig = field(default_factory=InfluxDBOutConfig)
    udp: list[UDPConfig] = field(default_factory=list)
    task: TaskConfig = field(default_factory=TaskConfig)
    udf: UDFConfig = field(default_factory=UDFConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    # -- config API (serverops) --
    skip_config_overrides: bool = False
    config_override: ConfigOverrideConfig = field(default_factory=lambda: ConfigOverrideConfig())

    # alert handler services: [alert], and each section of kapfast.handler_table by its name
    # (an object, or a list of them for a [[section]])
    alert: AlertConfig = field(default_factory=AlertConfig)
    handlers: dict[str, Any] = field(default_factory=_default_handler_sections)
    # autoscale nodes' clusters
    kubernetes: list[KubernetesConfig] = field(default_factory=list)
    swarm: list[SwarmConfig] = field(default_factory=list)
    ec2: list[EC2Config] = field(default_factory=list)
    # the scraper and its discovery services, by section name: shown and validated, not run
    discovery: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in DISCOVERY_SECTIONS})
    #: sections of kapacitord's config kapfast does not implement, as the file has them: named in
    #: the start warning and printed back by `kapfastd config`
    unsupported: dict[str, Any] = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return Path(os.path.expanduser(self.data_dir))

    @property
    def storage_path(self) -> Path:
        """The SQLite file holding tasks, templates, recordings' metadata and alert state."""
        return (
            Path(os.path.expanduser(self.storage.boltdb))
            if self.storage.boltdb
            else self.data_path / "kapfast.db"
        )

    @property
    def influxdb_out_path(self) -> Path:
        """influxDBOut's disk buffer."""
        d = self.influxdb_out.dir
        return Path(os.path.expanduser(d)) if d else self.data_path / "influxdb_out"

    @property
    def replay_path(self) -> Path:
        """The folder of recording files."""
        return Path(os.path.expanduser(self.replay.dir)) if self.replay.dir else self.data_path / "replay"


# Sections of kapacitord's config that kapfast reads, and their classes.
_SECTIONS: dict[str, type] = {
    "http": HTTPConfig,
    "auth": AuthConfig,
    "tls": TLSConfig,
    "storage": StorageConfig,
    "replay": ReplayConfig,
    "logging": LoggingConfig,
    "stats": StatsConfig,
    "load": LoadConfig,
    "deadman": DeadmanConfig,
    "groups": GroupsConfig,
    "influxdb-out": InfluxDBOutConfig,
    "task": TaskConfig,
    "cluster": ClusterConfig,
    # alert handler services
    "alert": AlertConfig,
}
_TOP_LEVEL = {"hostname", "data_dir", "default-retention-policy"}


#: keys kapacitord spells with an underscore (its toml and override tags): every other key uses
#: dashes. ``[opsgenie] recovery_url``, ``[opsgenie2] recovery_action``, ``[talk] author_name``.
_UNDERSCORE_KEYS = frozenset({"data_dir", "recovery_url", "recovery_action", "author_name"})


def _toml_key(attr: str) -> str:
    return attr if attr in _UNDERSCORE_KEYS else attr.rstrip("_").replace("_", "-")


def _coerce(where: str, current: Any, value: Any) -> Any:
    """Check a TOML value against the type of the default it replaces."""
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(current, str):
        if isinstance(value, int) and not isinstance(value, bool) and _is_duration(current):
            # kapacitord's durations also take an integer of nanoseconds (`timeout = 0`)
            return duration_string(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(current, list):
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return list(value)
    if isinstance(current, StringTable):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of strings, got {value!r}")
        return StringTable({str(k): v for k, v in value.items()})
    if isinstance(current, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of db = [rp, ...], got {value!r}")
        out: dict[str, list[str]] = {}
        for db, rps in value.items():
            out[db] = _coerce(f"{where}.{db}", [], rps)
        return out
    raise ConfigError(f"{where}: unsupported value {value!r}")


def _is_duration(text: str) -> bool:
    try:
        parse_go_duration(text)
    except ValueError:
        return False
    return bool(text)


#: Sections only kapfast has: kapacitord files never hold them, so any unknown key is a mistake.
_KAPFAST_ONLY = frozenset({"groups", "influxdb-out", "cluster"})


def _near_misses(key: str, keys: list[str]) -> list[str]:
    """Known keys ``key`` is a typo of: nearly the same (``bind-adress``) or the same letters
    swapped (``hots`` for ``host``)."""
    swapped = [k for k in keys if len(k) == len(key) and sorted(k) == sorted(key)]
    return swapped or difflib.get_close_matches(key, keys, n=1, cutoff=0.85)


def _fill(obj: Any, table: Mapping[str, Any], where: str, ignored: list[str] | None = None) -> None:
    """Set ``obj``'s fields from a TOML table. A key kapfast does not know is added to
    ``ignored`` (kapacitord may know it: accepted, named in the start warning), unless it is a
    near miss of a known key or the section is kapfast's own: then it is an error."""
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in table.items():
        attr = _attr(key)
        if attr not in names:
            keys = sorted(_toml_key(n) for n in names)
            close = _near_misses(key, keys)
            if ignored is None or close or where in _KAPFAST_ONLY:
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"unknown key {key!r} in [{where}] ({hint}valid keys: {', '.join(keys)})")
            ignored.append(f"[{where}] {key}")
            continue
        setattr(obj, attr, _coerce(f"[{where}] {key}", getattr(obj, attr), value))


def from_mapping(doc: Mapping[str, Any]) -> tuple[Config, list[str]]:
    """Build a config from a parsed TOML document. Returns it and the warnings for the start: at
    most one naming every section and key of kapacitord's config that kapfast does not use."""
    cfg = Config()
    ignored: list[str] = []
    for key, value in doc.items():
        if key in _TOP_LEVEL:
            setattr(cfg, _attr(key), _coerce(key, getattr(cfg, _attr(key)), value))
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            _fill(getattr(cfg, _attr(key)), value, key, ignored)
        elif key == "influxdb":
            tables = value if isinstance(value, list) else [value]
            for i, table in enumerate(tables):
                if not isinstance(table, dict):
                    raise ConfigError(f"[[influxdb]] #{i} must be a table")
                ic = InfluxDBConfig()
                _fill(ic, table, "influxdb", ignored)
                cfg.influxdb.append(ic)
        elif key in _PLAIN_LISTS:
            for i, table in enumerate(value if isinstance(value, list) else [value]):
                if not isinstance(table, dict):
                    raise ConfigError(f"[[{key}]] #{i} must be a table")
                element = _PLAIN_LISTS[key]()
                _fill(element, table, key, ignored)
                _plain_list(cfg, key).append(element)
        elif key == "udp":
            for i, table in enumerate(value if isinstance(value, list) else [value]):
                if not isinstance(table, dict):
                    raise ConfigError(f"[[udp]] #{i} must be a table")
                uc = UDPConfig()
                _fill(uc, table, "udp", ignored)
                cfg.udp.append(uc)
        elif key == "udf":
            _fill_udf(cfg.udf, value)
        elif key in SECTIONS and SECTIONS[key].config is not None:
            _fill_handler_section(cfg, key, value, ignored)
        else:
            cfg.unsupported[key] = value
            ignored.append(
                f"[[{key}]]" if isinstance(value, list) else f"[{key}]" if isinstance(value, dict) else key
            )
    _validate(cfg)
    ignored += _unimplemented_settings(cfg)
    warnings = []
    if ignored:
        warnings.append(
            "kapacitord settings kapfast does not implement, accepted and ignored: " + ", ".join(ignored)
        )
    enabled = enabled_unrunnable(cfg)
    if enabled:
        warnings.append(
            "enabled but not run: kapfast has no Prometheus scraper or service discovery, so nothing "
            "is scraped for " + ", ".join(enabled) + " (kapacitord would scrape their targets)"
        )
    return cfg, warnings


def _refuse_unsafe(cfg: Config) -> None:
    """Settings kapfast cannot honour and must not ignore: ignoring them would leave the server
    open, or its users locked out, without the operator knowing."""
    if cfg.http.auth_enabled and cfg.auth.enabled and cfg.auth.meta_addr:
        raise ConfigError(
            f"[auth] meta-addr {cfg.auth.meta_addr!r}: users from InfluxDB Enterprise's meta service "
            "are not supported by kapfast; remove meta-addr to keep users in kapfast's own store "
            "(/kapacitor/v1/users)"
        )


def _unimplemented_settings(cfg: Config) -> list[str]:
    """Keys kapfast parses but whose feature it lacks, named when set to anything but the default."""
    out = []
    if cfg.http.pprof_enabled:
        out.append("[http] pprof-enabled")
    if cfg.tls.ciphers:
        out.append("[tls] ciphers")
    return out


def _validate(cfg: Config) -> None:
    _host, sep, port = cfg.http.bind_address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"[http] bind-address {cfg.http.bind_address!r}: expected HOST:PORT or :PORT")
    if cfg.logging.level.upper() not in {"DEBUG", "INFO", "WARN", "ERROR", "OFF"}:
        raise ConfigError(f"[logging] level {cfg.logging.level!r}: expected DEBUG, INFO, WARN, ERROR or OFF")
    names = [i.name for i in cfg.influxdb]
    if len(names) != len(set(names)):
        raise ConfigError("[[influxdb]] names must be unique")
    enabled = [i for i in cfg.influxdb if i.enabled]
    if len(enabled) > 1 and sum(i.default for i in enabled) != 1:
        raise ConfigError("with several enabled [[influxdb]] clusters exactly one must set default = true")
    for ic in cfg.influxdb:
        if ic.subscription_mode not in {"cluster", "server"}:
            raise ConfigError(f"[[influxdb]] {ic.name}: subscription-mode must be cluster or server")
        if ic.compression not in {"gzip", "none"}:
            raise ConfigError(
                f"[[influxdb]] {ic.name}: compression {go_quote(ic.compression)}: expected gzip or none"
            )
        if ic.http_shared_secret:
            raise ConfigError(
                f"[[influxdb]] {ic.name}: http-shared-secret = true is not supported by kapfast "
                "(subscriptions authenticate with the credentials of their destination URL)"
            )
        if ic.kapacitor_subscriptions not in {"replace", "reuse", "keep"}:
            raise ConfigError(
                f"[[influxdb]] {ic.name}: kapacitor-subscriptions must be replace, reuse or keep"
            )
        if ic.subscription_protocol not in {"http", "https", "udp"}:
            raise ConfigError(f"[[influxdb]] {ic.name}: subscription-protocol must be http, https or udp")
        if ic.subscription_protocol == "udp" and re.fullmatch(r"[^:]*:\d+", ic.udp_bind):
            raise ConfigError(
                f"[[influxdb]] {ic.name}: udp-bind {ic.udp_bind!r} is a host without a port "
                "(each subscription's port is chosen by the OS)"
            )
        if ic.enabled and not ic.urls:
            raise ConfigError(f"[[influxdb]] {ic.name}: urls must not be empty")
        for key in ("timeout", "startup_timeout", "subscriptions_sync_interval"):
            check_duration(f"[[influxdb]] {ic.name}: {_toml_key(key)}", getattr(ic, key))
    for uc in cfg.udp:
        if uc.enabled:
            _h, sep, port = uc.bind_address.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ConfigError(f"[[udp]] bind-address {uc.bind_address!r}: expected HOST:PORT or :PORT")
            if not uc.database:
                raise ConfigError(f"[[udp]] {uc.bind_address}: database must be set")
    check_duration("[http] shutdown-timeout", cfg.http.shutdown_timeout)
    check_duration("[http] enqueued-write-timeout", cfg.http.enqueued_write_timeout)
    check_duration("[http] read-timeout", cfg.http.read_timeout)
    for key in ("max_concurrent_write_limit", "max_enqueued_write_limit"):
        if getattr(cfg.http, key) < 0:
            raise ConfigError(f"[http] {_toml_key(key)} must not be negative")
    check_duration("[stats] stats-interval", cfg.stats.stats_interval)
    check_duration("[deadman] interval", cfg.deadman.interval)
    check_duration("[groups] expire-idle", cfg.groups.expire_idle)
    check_duration("[influxdb-out] shutdown-timeout", cfg.influxdb_out.shutdown_timeout)
    if cfg.influxdb_out.max_buffer_bytes < 0:
        raise ConfigError("[influxdb-out] max-buffer-bytes must not be negative (0: no disk buffer)")
    check_duration("[task] snapshot-interval", cfg.task.snapshot_interval)

    _validate_cluster(cfg.cluster)
    _validate_alert_services(cfg)
    _validate_autoscale_clusters(cfg)
    _validate_udf(cfg.udf)
    _refuse_unsafe(cfg)


_CLUSTER_ROLES = ("ingest", "worker", "both")


def _validate_cluster(cc: ClusterConfig) -> None:
    if cc.role not in _CLUSTER_ROLES:
        raise ConfigError(f"[cluster] role {cc.role!r}: expected one of {', '.join(_CLUSTER_ROLES)}")
    if not 1 <= cc.partitions <= 4096:
        raise ConfigError(f"[cluster] partitions {cc.partitions}: expected 1 to 4096")
    if not 1 <= cc.replicas <= 5:
        raise ConfigError(f"[cluster] replicas {cc.replicas}: expected 1 to 5")
    if cc.enabled and not cc.urls:
        raise ConfigError("[cluster] urls must not be empty")
    if not cc.partition_key:
        raise ConfigError("[cluster] partition-key must name at least one tag")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", cc.stream):
        raise ConfigError(f"[cluster] stream {cc.stream!r}: letters, digits, - and _ only")
    if cc.node_id and not re.fullmatch(r"[A-Za-z0-9_-]+", cc.node_id):
        raise ConfigError(f"[cluster] node-id {cc.node_id!r}: letters, digits, - and _ only")
    for key in ("max_age", "lease_ttl", "checkpoint_interval"):
        check_duration(f"[cluster] {_toml_key(key)}", getattr(cc, key))
    if parse_go_duration(cc.lease_ttl) < 1_000_000_000:
        raise ConfigError(f"[cluster] lease-ttl {cc.lease_ttl!r}: at least 1s")


def _validate_autoscale_clusters(cfg: Config) -> None:
    """kapacitord's checks of [[kubernetes]], [[swarm]] and [[ec2]] (``services/*/config.go``)."""
    for kc in cfg.kubernetes:
        if not kc.enabled:
            continue
        if kc.in_cluster:
            for attr in ("api_servers", "token", "ca_path", "namespace"):
                if getattr(kc, attr):
                    raise ConfigError(
                        f"[[kubernetes]] in-cluster specified, cannot also specify {_toml_key(attr)}"
                    )
        elif not kc.api_servers:
            raise ConfigError("[[kubernetes]] no api-servers specified, must provide at least one server URL")
        if kc.resource and kc.resource not in ("node", "pod", "service", "endpoint"):
            raise ConfigError("[[kubernetes]] Resource must be one of node, pod, service, or endpoints")
    for sc in cfg.swarm:
        if sc.enabled and not sc.servers:
            raise ConfigError("[[swarm]] must specify at least one server URL")
    for ec in cfg.ec2:
        if ec.enabled and not ec.region:
            raise ConfigError(f"[[ec2]] {ec.id}: requires a region")
    for name, row in DISCOVERY_SECTIONS.items():
        # kapacitord checks every element, enabled or not ("scraper \"x\": ...")
        for e in cfg.discovery[name]:
            key = getattr(e, row.element_key)
            problem = (None if key else row.missing_key) or (row.check(e) if row.check else None)
            if problem:
                raise ConfigError(f"{row.label} {go_quote(key)}: {problem}")
    for name in _PLAIN_LISTS:
        elements = _plain_list(cfg, name)
        key = ELEMENT_KEYS[name]
        ids = [getattr(e, key) for e in elements]
        if len(elements) > 1 and not all(ids):
            raise ConfigError(f"[[{name}]] {key} must not be empty")
        if len(ids) != len(set(ids)):
            raise ConfigError(f"[[{name}]] {key}s must be unique")


def enabled_unrunnable(cfg: Config) -> list[str]:
    """The enabled elements of sections kapfast reads but cannot run (the scraper and its
    discovery services), as ``[[scraper]] "name"``."""
    out = []
    for name, row in DISCOVERY_SECTIONS.items():
        for e in cfg.discovery[name]:
            if e.enabled:
                out.append(f"[[{name}]] {go_quote(getattr(e, row.element_key))}")
    return out


def _fill_udf(uc: UDFConfig, value: Any) -> None:
    """``[udf.functions.NAME]`` tables (``prog args env timeout`` or ``socket timeout``)."""
    if not isinstance(value, dict):
        raise ConfigError("[udf] must be a table")
    for key, functions in value.items():
        if key != "functions":
            raise ConfigError(f"unknown key {key!r} in [udf] (valid keys: functions)")
        if not isinstance(functions, dict):
            raise ConfigError("[udf.functions] must be a table of [udf.functions.NAME] tables")
        for name, table in functions.items():
            where = f"udf.functions.{name}"
            if not isinstance(table, dict):
                raise ConfigError(f"[{where}] must be a table")
            fc = UDFFunctionConfig()
            env = table.get("env", {})
            if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
                raise ConfigError(f'[{where}] env: expected a table of NAME = "value", got {env!r}')
            _fill(fc, {k: v for k, v in table.items() if k != "env"}, where)
            fc.env = dict(env)
            uc.functions[name] = fc


def _validate_udf(uc: UDFConfig) -> None:
    """kapacitord's ``udf.Config.Validate``, with its messages."""
    for name, fc in uc.functions.items():
        try:
            ns = parse_go_duration(fc.timeout)
        except ValueError as exc:
            raise ConfigError(f"UDF {name}: timeout {fc.timeout!r}: not a duration ({exc})") from None
        if ns <= 1_000_000:
            raise ConfigError(f"UDF {name}: timeout is too small: {fc.timeout}")
        if fc.socket:
            if fc.prog or fc.args or fc.env:
                raise ConfigError(f"UDF {name}: both socket and process config provided")
        elif not fc.prog:
            raise ConfigError(f"UDF {name}: must set either prog or socket")


#: handler sub-tables whose values may be numbers too ([zenoss] severity-map = { Critical = 5 })
_NUMERIC_TABLES = frozenset({"severity-map"})


def _handler_table(where: str, sub: str, raw: Any) -> dict[str, Any]:
    """A table option of a handler section (``headers``, ``severity-map``): its values are
    strings (or numbers, for :data:`_NUMERIC_TABLES`), from the file or the config API."""
    scalar = (str, int, float) if sub in _NUMERIC_TABLES else (str,)
    if not isinstance(raw, dict) or not all(
        isinstance(v, scalar) and not isinstance(v, bool) for v in raw.values()
    ):
        kinds = "numbers or strings" if sub in _NUMERIC_TABLES else "strings"
        raise ConfigError(f"{where}: {sub} must be a table of {kinds}")
    return {str(k): v for k, v in raw.items()}


def _fill_handler_section(cfg: Config, key: str, value: Any, ignored: list[str] | None = None) -> None:
    """A handler section (``[[slack]]`` also as a single ``[slack]`` table, as kapacitord takes it)."""
    row = SECTIONS[key]
    cls = handler_section_class(key)
    tables = value if isinstance(value, list) else [value]
    if not row.array and len(tables) != 1:
        raise ConfigError(f"[{key}] must be a single table")
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"[[{key}]] #{i} must be a table" if row.array else f"[{key}] must be a table")
        obj = cls()
        where = f"[{key}]" if not row.array else f"[[{key}]] {table.get(row.element_key, i)}"
        plain = {k: v for k, v in table.items() if not isinstance(getattr(obj, _attr(k), None), dict)}
        _fill(obj, plain, key, ignored)
        for sub, raw in table.items():
            if sub not in plain:
                setattr(obj, _attr(sub), _handler_table(where, sub, raw))
        if row.array:
            cfg.handlers[key].append(obj)
        else:
            cfg.handlers[key] = obj


def _validate_alert_services(cfg: Config) -> None:
    """kapacitord's own checks of these sections (each handler module's ``validate``)."""
    if cfg.alert.topic_buffer_length <= 0:
        raise ConfigError("[alert] topic-buffer-length must be positive")
    for name, section in cfg.handlers.items():
        row = SECTIONS[name]
        validate = row.implementation().validate if row.supported else None
        if validate is not None:
            validate(section)
        if row.array:
            names = [getattr(e, _attr(row.element_key)) for e in section]
            if len(names) != len(set(names)):
                raise ConfigError(f"[[{name}]]: {row.element_key} names must be unique")


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` (``"1m30s"``, ``"1.5s"``, ``"0"``, ``"-2h"``) in nanoseconds."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0
    total = 0.0
    pos = 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r} (examples: 10s, 1m30s, 1.5h)")
        total += float(m.group(1)) * _UNITS_NS[m.group(2)]
        pos = m.end()
    if not body:
        raise ValueError(f"invalid duration {text!r} (examples: 10s, 1m30s, 1.5h)")
    return sign * round(total)


def check_duration(where: str, text: str) -> None:
    try:
        ns = parse_go_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{where} {text!r}: not a duration ({exc})") from None
    if ns < 0:
        raise ConfigError(f"{where} {text!r}: must not be negative")


def apply_env(cfg: Config, environ: Mapping[str, str]) -> Config:
    """Apply ``KAPFAST_*`` / ``KAPACITOR_*`` overrides (section, optional list index, key)."""
    for prefix in ("KAPACITOR_", "KAPFAST_"):  # KAPFAST_ wins: applied last
        for name, raw in sorted(environ.items()):
            if not name.startswith(prefix) or name in {"KAPACITOR_URL", "KAPACITOR_CONFIG_PATH"}:
                continue
            _apply_one(cfg, name[len(prefix) :].lower(), raw, name)
    _validate(cfg)
    return cfg


def _parse_env_value(current: Any, raw: str, name: str) -> Any:
    if isinstance(current, bool):
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise ConfigError(f"{name}: expected true or false")
        return raw.lower() in {"true", "1"}
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer") from None
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected a number") from None
    if isinstance(current, list):
        return [s.strip() for s in raw.split(",") if s.strip()]
    return raw


def _apply_one(cfg: Config, rest: str, raw: str, name: str) -> None:
    top = {_attr(k): k for k in _TOP_LEVEL}
    if rest in top:
        setattr(cfg, rest, _parse_env_value(getattr(cfg, rest), raw, name))
        return
    section, _, key = rest.partition("_")
    for sec in _SECTIONS:  # sections named with a dash: KAPACITOR_CONFIG_OVERRIDE_ENABLED
        if "-" in sec and rest.startswith(_attr(sec) + "_"):
            section, key = sec, rest[len(sec) + 1 :]
    if section in _SECTIONS:
        obj = getattr(cfg, _attr(section))
    elif section == "influxdb":
        idx, _, key = key.partition("_")
        if not idx.isdigit():
            idx, key = "0", f"{idx}_{key}" if key else idx
        i = int(idx)
        while len(cfg.influxdb) <= i:
            cfg.influxdb.append(InfluxDBConfig())
        obj = cfg.influxdb[i]
        # A trailing list index (URLS_0) sets that element.
        head, _, tail = key.rpartition("_")
        if tail.isdigit() and isinstance(getattr(obj, head, None), list):
            items: list[str] = getattr(obj, head)
            j = int(tail)
            while len(items) <= j:
                items.append("")
            items[j] = raw
            return
    elif section == "udp":
        # KAPACITOR_UDP_0_BIND_ADDRESS (index optional: 0)
        idx, _, key = key.partition("_")
        if not idx.isdigit():
            idx, key = "0", f"{idx}_{key}" if key else idx
        while len(cfg.udp) <= int(idx):
            cfg.udp.append(UDPConfig())
        obj = cfg.udp[int(idx)]
    elif _list_section(rest) is not None:
        # KAPACITOR_SCRAPER_0_DB, KAPACITOR_FILE_DISCOVERY_0_FILES (index optional: 0)
        section = _list_section(rest) or ""
        idx, _, key = rest[len(_attr(section)) + 1 :].partition("_")
        if not idx.isdigit():
            idx, key = "0", f"{idx}_{key}" if key else idx
        elements = _plain_list(cfg, section)
        while len(elements) <= int(idx):
            elements.append(_PLAIN_LISTS[section]())
        obj = elements[int(idx)]
        if isinstance(getattr(obj, key, None), dict):
            raise ConfigError(f"{name}: {key.replace('_', '-')} cannot be set from the environment")
    elif section in cfg.handlers and not SECTIONS[section].array:
        obj = cfg.handlers[section]
    elif section in cfg.handlers:
        # alert handler services: KAPACITOR_SLACK_0_URL (index optional: 0)
        idx, _, key = key.partition("_")
        if not idx.isdigit():
            idx, key = "0", f"{idx}_{key}" if key else idx
        entries: list[Any] = cfg.handlers[section]
        while len(entries) <= int(idx):
            entries.append(handler_section_class(section)())
        obj = entries[int(idx)]
        if isinstance(getattr(obj, key, None), dict):
            raise ConfigError(f"{name}: {key.replace('_', '-')} cannot be set from the environment")
    else:
        return  # another program's variable, or a section kapfast does not use
    if keyword.iskeyword(key):
        key += "_"  # KAPACITOR_SMTP_GLOBAL, KAPACITOR_SMTP_FROM
    if not hasattr(obj, key):
        raise ConfigError(f"{name}: no key {key.replace('_', '-')!r} in [{section}]")
    setattr(obj, key, _parse_env_value(getattr(obj, key), raw, name))


def _list_section(rest: str) -> str | None:
    """The list section an environment variable's name (after the prefix) starts with."""
    for name in _PLAIN_LISTS:
        if rest.startswith(_attr(name) + "_"):
            return name
    return None


def load(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> tuple[Config, list[str]]:
    """Read a config file (or the defaults when ``path`` is None) and apply the environment."""
    if path is None:
        cfg, warnings = Config(), list[str]()
    else:
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {os.fspath(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {os.fspath(path)!r}: {exc}") from None
        cfg, warnings = from_mapping(doc)
    return apply_env(cfg, os.environ if environ is None else environ), warnings


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_name(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def _toml_name(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _table_lines(obj: Any) -> list[str]:
    lines = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, dict):
            continue  # written as sub-tables by the caller
        lines.append(f"  {_toml_key(f.name)} = {_toml_value(v)}")
    return lines


def _raw_table(path: str, table: Mapping[str, Any], array: bool = False) -> list[str]:
    """A table of a section kapfast does not implement, written back as the file had it."""
    head = f"[[{path}]]" if array else f"[{path}]"
    out = ["", head]
    subs: list[tuple[str, Any]] = []
    for k, v in table.items():
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            subs.append((k, v))
        else:
            out.append(f"  {_toml_name(k)} = {_toml_value(v)}")
    for k, v in subs:
        for t in v if isinstance(v, list) else [v]:
            out += _raw_table(f"{path}.{_toml_name(k)}", t, isinstance(v, list))
    return out


#: The order of kapacitord's sections in its packaged kapacitor.conf (and `kapacitord config`).
_KAPACITORD_ORDER = (
    "auth", "http", "tls", "config-override", "logging", "load", "replay", "task", "storage",
    "deadman", "fluxtask", "influxdb", "kubernetes", "smtp", "snmptrap", "opsgenie", "opsgenie2",
    "victorops", "pagerduty", "pagerduty2", "pushover", "zenoss", "httppost", "slack", "telegram",
    "hipchat", "kafka", "alerta", "bigpanda", "servicenow", "sensu", "reporting", "stats", "udf",
    "talk", "mqtt", "swarm", "collectd", "opentsdb", "scraper", "azure", "consul", "dns", "ec2",
    "file-discovery", "gce", "marathon", "nerve", "serverset", "static-discovery", "triton",
)  # fmt: skip


def _section_lines(cfg: Config, name: str) -> list[str]:
    out: list[str] = []
    if name in _SECTIONS:
        out += ["", f"[{name}]", *_table_lines(getattr(cfg, _attr(name)))]
    elif name == "influxdb":
        for ic in cfg.influxdb or [InfluxDBConfig(enabled=False)]:
            out += ["", "[[influxdb]]", *_table_lines(ic)]
            for sub in ("subscriptions", "excluded_subscriptions"):
                out += ["", f"  [influxdb.{_toml_key(sub)}]"]
                out += [f"    {_toml_value(db)} = {_toml_value(rps)}" for db, rps in getattr(ic, sub).items()]
    # alert handler services
    elif name in cfg.handlers:
        array = SECTIONS[name].array
        section = cfg.handlers[name]
        for obj in section if array else [section]:
            out += ["", f"[[{name}]]" if array else f"[{name}]", *_table_lines(obj)]
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if isinstance(value, dict):
                    out += ["", f"  [{name}.{_toml_key(f.name)}]"]
                    out += [f"    {_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()]
    elif name == "udf":
        for fname, fc in cfg.udf.functions.items():
            out += ["", f"[udf.functions.{_toml_value(fname)}]", *_table_lines(fc)]
            out += ["", f"  [udf.functions.{_toml_value(fname)}.env]"]
            out += [f"    {_toml_value(k)} = {_toml_value(v)}" for k, v in fc.env.items()]
    elif name == "udp":
        for uc in cfg.udp:
            out += ["", "[[udp]]", *_table_lines(uc)]
    elif name in _PLAIN_LISTS:
        for element in _plain_list(cfg, name):
            out += ["", f"[[{name}]]", *_table_lines(element)]
            for f in dataclasses.fields(element):
                value = getattr(element, f.name)
                if isinstance(value, dict):  # [static-discovery] labels, [scraper] params
                    out += ["", f"  [{name}.{_toml_key(f.name)}]"]
                    out += [f"    {_toml_name(k)} = {_toml_value(v)}" for k, v in value.items()]
    elif name in cfg.unsupported:
        value = cfg.unsupported[name]
        if isinstance(value, dict):
            out += _raw_table(_toml_name(name), value)
        elif isinstance(value, list) and all(isinstance(t, dict) for t in value):
            for t in value:
                out += _raw_table(_toml_name(name), t, array=True)
    return out


def render(cfg: Config) -> str:
    """The merged config (file, environment, defaults) as a TOML document in kapacitord's layout,
    which :func:`load` reads back to the same values. Sections kapfast does not implement are
    written back as the file had them."""
    out = [f"hostname = {_toml_value(cfg.hostname)}", f"data_dir = {_toml_value(cfg.data_dir)}"]
    out.append(f"skip-config-overrides = {_toml_value(cfg.skip_config_overrides)}")
    out.append(f"default-retention-policy = {_toml_value(cfg.default_retention_policy)}")
    for key, value in cfg.unsupported.items():  # top-level keys come before the first table
        if not isinstance(value, dict | list) or (
            isinstance(value, list) and not all(isinstance(t, dict) for t in value)
        ):
            out.append(f"{_toml_name(key)} = {_toml_value(value)}")
    names = [*_KAPACITORD_ORDER]
    names += [
        n for n in (*_SECTIONS, "udp", *_PLAIN_LISTS, *cfg.handlers, *cfg.unsupported) if n not in names
    ]
    for name in names:
        out += _section_lines(cfg, name)
    return "\n".join(out) + "\n"


# ---- the config API's view of the config, and overrides on top of the file (serverops) --------
#
# Kapacitor lets the HTTP API override a section's options (`POST /kapacitor/v1/config/...`); the
# overrides persist in the store and are applied on top of the file (and the environment) at every
# boot unless `skip-config-overrides = true`. As in Kapacitor, the sections that shape the server
# itself (where it listens, where its files are, how it logs) are not overridable.

_SECTIONS["config-override"] = ConfigOverrideConfig
_TOP_LEVEL.add("skip-config-overrides")

# [udf] is read once at start (agents are asked for their Info then), as in kapacitord
_NOT_OVERRIDABLE = frozenset(
    {"http", "auth", "tls", "storage", "replay", "logging", "config-override", "udf", "task", "cluster"}
)
#: The option naming each element of a list section (`[[influxdb]] name = ...`).
ELEMENT_KEYS: dict[str, str] = (
    {"influxdb": "name"}
    | {name: row.element_key for name, row in SECTIONS.items() if row.array}
    | dict.fromkeys(_PLAIN_LISTS, "id")
    | {name: row.element_key for name, row in DISCOVERY_SECTIONS.items()}
)
#: Options an element added through the config API starts with where they differ from the file's
#: defaults: kapacitord makes it with its section's ``Init``, which leaves an [[influxdb]] disabled
#: (``{"add": {"name": ..., "enabled": true, ...}}`` enables it).
ADDED_ELEMENT_DEFAULTS: dict[str, dict[str, Any]] = {"influxdb": {"enabled": False}}
#: Secret options: the config API shows whether they are set (true/false), never their value.
_REDACTED_EVERYWHERE = frozenset({"password", "token", "secret", "shared-secret", "api-key", "auth-token"})
# Kapacitor's `redact` tags; kapfast also hides [[marathon]] bearer-token, which Kapacitor shows
_REDACTED_IN: dict[str, frozenset[str]] = {name: row.secrets for name, row in SECTIONS.items()} | {
    "ec2": frozenset({"secret-key"}),
    "scraper": frozenset({"bearer-token"}),
    "azure": frozenset({"client-secret"}),
    "marathon": frozenset({"bearer-token"}),
}


@dataclass(frozen=True)
class SectionInfo:
    """One overridable section: its TOML name, element class, and element key (None: one element)."""

    name: str
    attr: str
    cls: type
    element_key: str | None


def _config_field_types() -> dict[str, Any]:
    try:
        return typing.get_type_hints(Config)
    except Exception:  # an annotation that does not resolve at run time: leave out just that one
        out: dict[str, Any] = {}
        for f in dataclasses.fields(Config):
            try:
                out[f.name] = eval(f.type, globals()) if isinstance(f.type, str) else f.type
            except Exception:
                continue
        return out


@functools.cache
def overridable_sections() -> dict[str, SectionInfo]:
    """Every section of :class:`Config` the config API shows, found from the class itself (so a
    section added to the config appears without being listed here). Do not mutate the answer."""
    hints = _config_field_types()
    out: dict[str, SectionInfo] = {}
    for f in dataclasses.fields(Config):
        name = _toml_key(f.name)
        if name in _NOT_OVERRIDABLE or f.name not in hints:
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            out[name] = SectionInfo(name, f.name, hint, None)
        elif typing.get_origin(hint) is list:
            (item,) = typing.get_args(hint)
            if dataclasses.is_dataclass(item) and isinstance(item, type):
                names = {x.name for x in dataclasses.fields(item)}
                key = ELEMENT_KEYS.get(name, "name" if "name" in names else "")
                if key not in names:
                    continue  # a list section without a naming option cannot be addressed
                out[name] = SectionInfo(name, f.name, item, key)
    for name, row in SECTIONS.items():
        if row.config is not None:
            cls = handler_section_class(name)
            out[name] = SectionInfo(name, "handlers", cls, row.element_key if row.array else None)
    for name, drow in DISCOVERY_SECTIONS.items():
        out[name] = SectionInfo(name, "discovery", discovery_section_class(name), drow.element_key)
    return dict(sorted(out.items()))


def section_value(cfg: Config, info: SectionInfo) -> Any:
    """A section's config object (or list of them)."""
    if info.attr == "handlers":
        return cfg.handlers[info.name]
    if info.attr == "discovery":
        return cfg.discovery[info.name]
    return getattr(cfg, info.attr)


def redacted_options(section: str, obj: Any) -> list[str]:
    names = [_toml_key(f.name) for f in dataclasses.fields(obj)]
    secret = _REDACTED_EVERYWHERE | _REDACTED_IN.get(section, frozenset())
    return [n for n in names if n in secret]


def section_elements(cfg: Config, info: SectionInfo) -> list[tuple[str, Any]]:
    """(element name, element object) of a section; a single-element section's name is ""."""
    value = section_value(cfg, info)
    if info.element_key is None:
        return [("", value)]
    return [(str(getattr(e, _attr(info.element_key))), e) for e in value]


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _api_value(section: str, key: str, value: Any, default: Any) -> Any:
    """An option's value as kapacitord's config API encodes its Go value: a duration (an option
    whose default is one) as Go's ``Duration.String`` (``5m`` is ``5m0s``), a struct option with
    its JSON field names in field order, a map with its keys sorted, an unset list or map null
    (a nil slice or map), an unset pointer null."""
    if isinstance(value, str) and isinstance(default, str) and _is_duration(default) and value:
        try:
            return duration_string(parse_go_duration(value))
        except ValueError:
            return value
    struct = API_STRUCT_OPTIONS.get((section, key))
    if struct is not None and isinstance(value, dict):
        return {json_name: value.get(toml_name) for json_name, toml_name in struct}
    if value == [] or value == {}:
        return None
    if value == "" and key in NULL_WHEN_EMPTY.get(section, ()):
        return None
    return go_map(copy.deepcopy(value))


def element_options(section: str, obj: Any, kapfast_only: bool = False) -> tuple[dict[str, Any], list[str]]:
    """An element's options as kapacitord's config API shows them: its options by name (sorted,
    as Go encodes a map), values as :func:`_api_value` encodes them, secrets replaced by whether
    they are set; and the redacted names in field order. Options only kapfast has
    (:data:`KAPFAST_ONLY`) are left out unless ``kapfast_only`` (``?kapfast=true``)."""
    redacted = redacted_options(section, obj)
    opts: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("kapfast_only") and not kapfast_only:
            continue
        key = _toml_key(f.name)
        value = getattr(obj, f.name)
        if key in redacted:
            opts[key] = bool(value)
        else:
            opts[key] = _api_value(section, key, value, _field_default(f))
    return go_map(opts, 1), redacted


@dataclass
class Override:
    """One stored override: option values set on an element, or an element added or removed."""

    section: str
    element: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    create: bool = False
    delete: bool = False


def set_options(section: str, obj: Any, options: Mapping[str, Any]) -> None:
    """Set options (TOML names, JSON values) on an element, type-checked as the file's are."""
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in options.items():
        attr = _attr(key)
        if attr not in names:
            valid = ", ".join(sorted(_toml_key(n) for n in names))
            raise ConfigError(f"unknown option {key!r} in [{section}] (valid options: {valid})")
        current = getattr(obj, attr)
        if section in SECTIONS and isinstance(current, dict):
            setattr(obj, attr, _handler_table(f"[{section}]", key, value))
            continue
        if isinstance(current, float) and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        setattr(obj, attr, _coerce(f"[{section}] {key}", current, value))


def apply_overrides(base: Config, overrides: list[Override]) -> tuple[Config, list[str]]:
    """``base`` with ``overrides`` applied (a new config: ``base`` is left as it is), validated; and
    warnings for overrides that no longer apply (their element left the file)."""
    cfg = copy.deepcopy(base)
    sections = overridable_sections()
    warnings: list[str] = []
    for ov in overrides:
        info = sections.get(ov.section)
        if info is None:
            warnings.append(f"config override of unknown section [{ov.section}] ignored")
            continue
        if info.element_key is None:
            set_options(ov.section, section_value(cfg, info), ov.options)
            continue
        items: list[Any] = section_value(cfg, info)
        key_attr = _attr(info.element_key)
        found = [e for e in items if str(getattr(e, key_attr)) == ov.element]
        if ov.delete:
            items[:] = [e for e in items if e not in found]
        elif ov.create:
            if found:
                warnings.append(f"config override adds [{ov.section}] {ov.element!r}, which the file has too")
                continue
            obj = info.cls()
            start = ADDED_ELEMENT_DEFAULTS.get(ov.section, {})
            set_options(ov.section, obj, {**start, **ov.options, info.element_key: ov.element})
            items.append(obj)
        elif not found:
            warnings.append(f"config override of [{ov.section}] {ov.element!r} ignored: no such element")
        else:
            set_options(ov.section, found[0], ov.options)
    _validate(cfg)
    return cfg, warnings


__all__ = [
    "ELEMENT_KEYS",
    "AlertConfig",
    "Config",
    "ConfigOverrideConfig",
    "HTTPConfig",
    "InfluxDBConfig",
    "LoggingConfig",
    "Override",
    "SectionInfo",
    "TaskConfig",
    "UDFConfig",
    "UDFFunctionConfig",
    "UDPConfig",
    "apply_env",
    "apply_overrides",
    "element_options",
    "from_mapping",
    "load",
    "overridable_sections",
    "render",
    "section_elements",
    "section_value",
    "set_options",
]
