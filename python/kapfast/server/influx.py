"""The configured InfluxDB clusters: a client each, and the subscriptions that feed this server.

For every enabled ``[[influxdb]]`` a :class:`~kapfast.influxdb.SubscriptionManager` keeps the
subscription ``kapfast-<cluster id>`` (``subscription-mode = "cluster"``) or
``kapfast-<server id>`` (``"server"``) on every watched db.rp, pointing at this server's HTTP
address. It syncs at start and every ``subscriptions-sync-interval``; InfluxDB being down is
logged and retried with backoff, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kapfast.config import Config, InfluxDBConfig, parse_go_duration
from kapfast.errors import ConfigError, RequestError
from kapfast.influxdb import DEFAULT_EXCLUDED, DbRp, InfluxDBClient, SubscriptionManager, Watched
from kapfast.server.ids import ServerIDs

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


class InfluxDBClusters:
    def __init__(self, cfg: Config, ids: ServerIDs) -> None:
        self.cfg = cfg
        self.ids = ids
        self.configs = [ic for ic in cfg.influxdb if ic.enabled]
        self._clients: dict[str, InfluxDBClient] = {}
        self.managers: dict[str, SubscriptionManager] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        for ic in self.configs:
            timeout = _seconds(ic.timeout, "timeout") or 30.0
            self._clients[ic.name] = InfluxDBClient(
                ic.urls[0],
                username=ic.username or None,
                password=ic.password or None,
                timeout=timeout,
                ca_file=ic.ssl_ca or None,
                cert_file=ic.ssl_cert or None,
                key_file=ic.ssl_key or None,
                insecure_skip_verify=ic.insecure_skip_verify,
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
            raise RequestError(f"unknown InfluxDB cluster {cluster!r}") from None

    def start(self) -> None:
        for ic in self.configs:
            if ic.disable_subscriptions:
                continue
            watched: Watched = _dbrps(ic.subscriptions) if ic.subscriptions else "all"
            mgr = SubscriptionManager(
                self._clients[ic.name],
                name=subscription_name(ic, self.ids),
                destination=destination(ic, self.cfg),
                watched=watched,
                excluded=_dbrps(ic.excluded_subscriptions) | set(DEFAULT_EXCLUDED),
            )
            self.managers[ic.name] = mgr
            interval = _seconds(ic.subscriptions_sync_interval, "subscriptions-sync-interval") or 60.0
            self._tasks.append(asyncio.get_running_loop().create_task(mgr.run(interval, self._stop)))
            log.info("InfluxDB %s: subscription %s -> %s", ic.name, mgr.name, mgr.destination)

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
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for c in self._clients.values():
            await c.close()
