"""The configured InfluxDB clusters: a client each, and the subscriptions that feed this server.

For every enabled ``[[influxdb]]`` a :class:`~kapfast.influxdb.SubscriptionManager` keeps the
subscription ``kapfast-<cluster id>`` (``subscription-mode = "cluster"``) or
``kapfast-<server id>`` (``"server"``) on every watched db.rp, pointing at this server's HTTP
address (with ``subscription-protocol = "udp"``, a UDP listener per db.rp: kapfast.server.udp).
It syncs at start and every ``subscriptions-sync-interval``; InfluxDB being down is
logged and retried with backoff, never fatal.

An ``[[influxdb]]`` with a ``token`` is an InfluxDB 2.x target: its client sends
``Authorization: Token ...``, influxDBOut writes to it through the v2 write API
(:class:`~kapfast.influxdb.InfluxDB2Writer`), and no subscriptions are made (2.x has none; point
Telegraf or the 2.x server's own tasks at kapfastd's ``/write`` instead).

:meth:`InfluxDBClusters.reconfigure` restarts every cluster on a new config (the config API's
``[[influxdb]]`` changes apply at once).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable

from kapfast.clock import Clock
from kapfast.config import Config, InfluxDBConfig, parse_go_duration
from kapfast.errors import ConfigError, RequestError
from kapfast.gofmt import go_quote
from kapfast.influxdb import (
    DEFAULT_EXCLUDED,
    DbRp,
    InfluxDB2Writer,
    InfluxDBClient,
    SubscriptionManager,
    Watched,
    make_ssl_context,
)
from kapfast.influxdb.flux import FluxClient
from kapfast.influxdb.subscriptions import address
from kapfast.jobs import cancel_and_wait
from kapfast.server.ids import ServerIDs
from kapfast.server.stats import IngressStats
from kapfast.server.udp import Sink, SubscriptionListeners

log = logging.getLogger("kapfast.influxdb")


def _seconds(text: str, what: str) -> float:
    try:
        return parse_go_duration(text) / 1e9
    except Exception as exc:  # a config error, reported with the key
        raise ConfigError(f"[[influxdb]] {what} {text!r}: {exc}") from None


def _dbrps(table: dict[str, list[str]]) -> set[DbRp]:
    return {(db, rp) for db, rps in table.items() for rp in (rps or ["*"])}


def subscription_name(ic: InfluxDBConfig, ids: ServerIDs) -> str:
    return f"kapfast-{ids.server_id if ic.subscription_mode == 'server' else ids.cluster_id}"


def destination(ic: InfluxDBConfig, cfg: Config) -> str:
    host = ic.kapacitor_hostname or cfg.hostname or "localhost"
    port = ic.http_port or int(cfg.http.bind_address.rpartition(":")[2])
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{ic.subscription_protocol}://{host}:{port}{ic.subscription_path}"


def with_token(dest: str, token: str) -> str:
    """``http://h:9092`` → ``http://~subscriber:<token>@h:9092``: how InfluxDB authenticates its
    pushes to a server with ``[http] auth-enabled`` (Kapacitor's scheme)."""
    parts = urllib.parse.urlsplit(dest)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"~subscriber:{token}@{parts.netloc}"))


class InfluxDBClusters:
    def __init__(self, cfg: Config, ids: ServerIDs, tokens: Callable[[str], str] | None = None) -> None:
        self.ids = ids
        #: where UDP subscriptions' points go (set by the server before start(): the router,
        #: its ingress counters and clock); None: subscription-protocol udp cannot start
        self.udp_input: tuple[Sink, IngressStats, Clock] | None = None
        #: the subscription token of a cluster (auth on), or None (auth off: no credentials)
        self._tokens = tokens
        self._build(cfg)

    def _build(self, cfg: Config) -> None:
        self.cfg = cfg
        self.configs = [ic for ic in cfg.influxdb if ic.enabled]
        self._clients: dict[str, InfluxDBClient] = {}
        self._v2: dict[str, InfluxDB2Writer] = {}
        self._flux: dict[str, FluxClient] = {}  # made on first use (queryFlux nodes)
        self.managers: dict[str, SubscriptionManager] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        for ic in self.configs:
            timeout = _seconds(ic.timeout, "timeout") or 30.0
            self._clients[ic.name] = InfluxDBClient(
                ic.urls[0],
                username=ic.username or None,
                password=ic.password or None,
                token=ic.token or None,
                timeout=timeout,
                ca_file=ic.ssl_ca or None,
                cert_file=ic.ssl_cert or None,
                key_file=ic.ssl_key or None,
                insecure_skip_verify=ic.insecure_skip_verify,
                compress_writes=ic.compression == "gzip",
            )
            if ic.token:
                tls = ic.ssl_ca or ic.ssl_cert or ic.insecure_skip_verify
                self._v2[ic.name] = InfluxDB2Writer(
                    ic.urls[0],
                    token=ic.token,
                    org=ic.org,
                    bucket=ic.bucket,
                    timeout_s=timeout,
                    gzip=ic.compression == "gzip",
                    ssl_context=make_ssl_context(
                        ca_file=ic.ssl_ca or None,
                        cert_file=ic.ssl_cert or None,
                        key_file=ic.ssl_key or None,
                        insecure_skip_verify=ic.insecure_skip_verify,
                    )
                    if tls
                    else None,
                )

    @property
    def default_name(self) -> str:
        for ic in self.configs:
            if ic.default:
                return ic.name
        return self.configs[0].name if self.configs else ""

    def client(self, cluster: str) -> InfluxDBClient:
        name = cluster or self.default_name
        if not self._clients:
            raise RequestError("no InfluxDB is configured ([[influxdb]] in the config)")
        try:
            return self._clients[name]
        except KeyError:
            raise RequestError(f"unknown InfluxDB cluster {go_quote(cluster)}") from None

    def flux_client(self, cluster: str) -> FluxClient:
        """The Flux query client of a cluster (InfluxDB 2.x; 1.8+ with Flux takes ``user:password``
        as its token)."""
        name = cluster or self.default_name
        ic = next((c for c in self.configs if c.name == name), None)
        if ic is None:
            raise RequestError(f"unknown InfluxDB cluster {cluster!r}")
        client = self._flux.get(name)
        if client is None:
            token = ic.token or (f"{ic.username}:{ic.password}" if ic.username else "")
            client = self._flux[name] = FluxClient(
                ic.urls[0],
                token,
                ic.org,
                timeout_s=_seconds(ic.timeout, "timeout") or 30.0,
                verify_ssl=not ic.insecure_skip_verify,
                ssl_ca=ic.ssl_ca,
            )
        return client

    def v2_writer(self, cluster: str) -> InfluxDB2Writer | None:
        """The InfluxDB 2.x writer of a cluster (``""`` = the default); None for a 1.x cluster."""
        return self._v2.get(cluster or self.default_name)

    def start(self) -> None:
        for ic in self.configs:
            if ic.disable_subscriptions:
                continue
            if ic.token:
                log.info(
                    "InfluxDB %s has a token: treated as InfluxDB 2.x, which has no subscriptions; "
                    "none made (send data to kapfastd's /write, e.g. from Telegraf)",
                    ic.name,
                    extra={"tags": {"cluster": ic.name}},
                )
                self._tasks.append(asyncio.get_running_loop().create_task(self._probe(ic)))
                continue
            watched: Watched = _dbrps(ic.subscriptions) if ic.subscriptions else "all"
            dest = destination(ic, self.cfg)
            udp = None
            if ic.subscription_protocol == "udp":
                if self.udp_input is None:
                    raise RuntimeError("UDP subscriptions need InfluxDBClusters.udp_input")
                host = urllib.parse.urlsplit(dest).netloc.rpartition(":")[0]
                udp = SubscriptionListeners(host, ic.udp_bind, ic.udp_read_buffer, *self.udp_input)
            elif self._tokens is not None:  # as Kapacitor: tokens for http(s) only
                dest = with_token(dest, self._tokens(ic.name))
            mgr = SubscriptionManager(
                self._clients[ic.name],
                name=subscription_name(ic, self.ids),
                destination=dest,
                watched=watched,
                excluded=_dbrps(ic.excluded_subscriptions) | set(DEFAULT_EXCLUDED),
                takeover=ic.kapacitor_subscriptions,
                udp=udp,
            )
            self.managers[ic.name] = mgr
            interval = _seconds(ic.subscriptions_sync_interval, "subscriptions-sync-interval") or 60.0
            self._tasks.append(asyncio.get_running_loop().create_task(mgr.run(interval, self._stop)))
            log.info(
                "InfluxDB %s: subscription %s -> %s (Kapacitor's own subscriptions to it: %s)",
                ic.name,
                mgr.name,
                address(mgr.destination),
                ic.kapacitor_subscriptions,
                extra={"tags": {"cluster": ic.name}},
            )

    async def _probe(self, ic: InfluxDBConfig) -> None:
        """Say once whether a 2.x cluster answers (it has no subscription sync to tell)."""
        client = self._clients[ic.name]
        try:
            version = await client.ping()
        except Exception as exc:  # only a log line: influxDBOut retries its writes anyway
            log.warning("InfluxDB %s at %s does not answer: %s", ic.name, client.url, exc)
        else:
            log.info(
                "InfluxDB %s at %s answers (version %s)",
                ic.name,
                client.url,
                version or "unknown",
                extra={"tags": {"cluster": ic.name}},
            )

    def trigger(self) -> None:
        """Re-link subscriptions now (``POST /kapacitor/v1/subscriptions``)."""
        for mgr in self.managers.values():
            mgr.trigger()

    async def sync_now(self) -> list[str]:
        """One sync of every cluster; the errors, one per failed cluster."""
        errors = []
        for name, mgr in self.managers.items():
            try:
                await mgr.sync_once()
            except Exception as exc:
                errors.append(f"{name}: {exc}")
        return errors

    def num_subscriptions(self) -> int:
        return len(self.managers)

    async def close(self) -> None:
        self._stop.set()
        await cancel_and_wait(*self._tasks)
        for mgr in self.managers.values():
            mgr.close_listeners()
        for c in self._clients.values():
            await c.close()
        for w in self._v2.values():
            await w.close()
        for f in self._flux.values():
            f.close()

    async def reconfigure(self, cfg: Config, unlink_timeout_s: float = 10.0) -> None:
        """Restart every cluster on ``cfg``: clients, 2.x writers and subscription managers.

        As Kapacitor does when a cluster is removed or disabled through the config API, our
        subscriptions on a cluster that no longer subscribes (removed, disabled, subscriptions
        disabled, or now a 2.x target) are dropped first, best effort. A cluster still subscribing
        re-syncs at once, which drops and recreates ours where the destination changed."""
        still = {
            ic.name for ic in cfg.influxdb if ic.enabled and not ic.disable_subscriptions and not ic.token
        }
        for name, mgr in self.managers.items():
            if name in still:
                continue
            try:
                dropped = await asyncio.wait_for(mgr.unlink_all(), unlink_timeout_s)
            except Exception as exc:  # InfluxDB down: the subscriptions stay, as after a crash
                log.warning("InfluxDB %s: cannot drop our subscriptions: %s", name, exc)
            else:
                log.info(
                    "InfluxDB %s no longer subscribes: dropped %d subscription(s)",
                    name,
                    len(dropped),
                    extra={"tags": {"cluster": name}},
                )
        await self.close()
        self._build(cfg)
        self.start()
