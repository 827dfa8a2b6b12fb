"""Keep this server subscribed to InfluxDB, the way Kapacitor does, but never fatally.

Each sync reads ``SHOW DATABASES``, every database's retention policies (one request) and ``SHOW
SUBSCRIPTIONS``, then:

* creates ``CREATE SUBSCRIPTION "<name>" ON "<db>"."<rp>" DESTINATIONS <mode> '<destination>'`` on
  every watched db.rp that lacks it (Kapacitor's default watches every db/rp except
  ``_kapacitor.autogen``);
* drops and recreates ours when its destination or mode changed;
* drops ours on db/rps no longer watched or now excluded;
* drops stale subscriptions of earlier identities of this server: a name with our prefix (e.g.
  ``kapfast-``) whose only destination is ours (Kapacitor leaves these behind when its
  ``cluster.id`` is lost, and each one delivers every write again);
* takes over from Kapacitor: a subscription named ``kapacitor-...`` sending to the address this
  server now serves (kapfastd replacing kapacitord on the same host and port) would deliver every
  point a second time. ``takeover`` says what to do with it: ``"replace"`` (drop it; ours is made),
  ``"reuse"`` (keep it and make none of ours on that db.rp) or ``"keep"`` (leave both, warned).
  Credentials in destinations (``~subscriber:<token>@``) are ignored when comparing addresses.

With ``udp`` (``subscription-protocol = "udp"``), as Kapacitor: a UDP datagram does not say
which db/rp it is for, so each subscribed db/rp gets a listener of its own, on ``udp-bind`` with a
port the OS picks, and its subscription sends to ``udp://<host>:<that port>``. After a restart the
listener is opened again on the port the existing subscription names (a port taken meanwhile:
the subscription is dropped and made again on a new one); a db/rp no longer subscribed has its
listener closed.

"Already exists" and "not found" races are fine. Nothing is dropped on shutdown (as Kapacitor).
InfluxDB being down is logged and retried with backoff by :meth:`SubscriptionManager.run`.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kapfast.influxdb.client import InfluxDBClient, Subscription
from kapfast.influxdb.errors import InfluxDBError

log = logging.getLogger("kapfast.influxdb.subscriptions")

DbRp = tuple[str, str]
#: What to subscribe to: "all" db/rps, or a set of (db, rp) where rp "*" means every rp of db.
Watched = AbstractSet[DbRp] | Literal["all"]

#: Kapacitor never subscribes to its own internal database.
DEFAULT_EXCLUDED: frozenset[DbRp] = frozenset({("_kapacitor", "autogen")})


@dataclass(slots=True)
class SyncResult:
    created: list[DbRp] = field(default_factory=list)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)  # (name, db, rp)
    kept: list[DbRp] = field(default_factory=list)


class UDPEndpoints(Protocol):
    """The UDP listeners of UDP subscriptions, one per db/rp (kapfast.server.udp)."""

    #: the host InfluxDB sends to (``udp://HOST:port``)
    host: str

    def port_of(self, dbrp: DbRp) -> int | None:
        """The port of the db/rp's listener, None when it has none."""
        ...

    async def open(self, dbrp: DbRp, port: int) -> int:
        """Listen for the db/rp on ``port`` (0: any); the port bound. Raises OSError."""
        ...

    def close(self, dbrp: DbRp) -> None: ...

    def dbrps(self) -> set[DbRp]: ...


def _matches(dbrp: DbRp, patterns: AbstractSet[DbRp]) -> bool:
    return dbrp in patterns or (dbrp[0], "*") in patterns


def address(destination: str) -> str:
    """A destination without its credentials: ``http://~subscriber:tok@h:9092`` → ``http://h:9092``."""
    parts = urllib.parse.urlsplit(destination)
    host = parts.netloc.rpartition("@")[2].lower()
    return urllib.parse.urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


KAPACITOR_PREFIX = "kapacitor-"
TAKEOVER_POLICIES = ("replace", "reuse", "keep")


class SubscriptionManager:
    """Reconciles this server's InfluxDB subscriptions; see the module docstring."""

    def __init__(
        self,
        client: InfluxDBClient,
        *,
        name: str,
        destination: str,
        watched: Callable[[], Watched] | Watched = "all",
        excluded: Iterable[DbRp] = DEFAULT_EXCLUDED,
        mode: str = "ANY",
        stale_prefix: str | None = "kapfast-",
        takeover: str = "replace",
        udp: UDPEndpoints | None = None,
    ) -> None:
        if not name:
            raise ValueError("a subscription name is required")
        if mode.upper() not in ("ALL", "ANY"):
            raise ValueError(f"subscription mode must be ALL or ANY, not {mode!r}")
        self.client = client
        self.name = name
        self.destination = destination
        self._watched = watched
        self.excluded = frozenset(excluded)
        self.mode = mode.upper()
        self.stale_prefix = stale_prefix
        if takeover not in TAKEOVER_POLICIES:
            raise ValueError(f"takeover must be one of {', '.join(TAKEOVER_POLICIES)}, not {takeover!r}")
        self.takeover = takeover
        self.udp = udp
        self._warned_kept: set[tuple[str, str, str]] = set()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        #: Set once a sync succeeded; cleared never (a later failure is in ``last_error``).
        self.synced = asyncio.Event()
        self.last_error: str | None = None
        self.syncs = 0

    def watched(self) -> Watched:
        return self._watched() if callable(self._watched) else self._watched

    def wanted(self, existing: Iterable[DbRp]) -> set[DbRp]:
        """The existing db/rps we should be subscribed to."""
        watched = self.watched()
        return {
            dbrp
            for dbrp in existing
            if not _matches(dbrp, self.excluded) and (watched == "all" or _matches(dbrp, watched))
        }

    def _is_ours(self, sub: Subscription) -> bool:
        return sub.name == self.name

    def _is_stale_identity(self, sub: Subscription) -> bool:
        return (
            self.stale_prefix is not None
            and sub.name != self.name
            and sub.name.startswith(self.stale_prefix)
            and sub.destinations == (self.destination,)
        )

    def _is_kapacitors(self, sub: Subscription) -> bool:
        """Kapacitor's own subscription sending to the address this server serves."""
        ours = address(self.destination)
        return (
            sub.name != self.name
            and sub.name.startswith(KAPACITOR_PREFIX)
            and any(address(d) == ours for d in sub.destinations)
        )

    async def _current(self, sub: Subscription) -> bool:
        """Whether our subscription ``sub`` sends where it should, in our mode."""
        if sub.mode.upper() != self.mode:
            return False
        if self.udp is None:
            return sub.destinations == (self.destination,)
        if len(sub.destinations) != 1:
            return False
        parts = urllib.parse.urlsplit(sub.destinations[0])
        try:
            port = parts.port
        except ValueError:
            return False
        if parts.scheme != "udp" or (parts.hostname or "") != self.udp.host.strip("[]").lower() or not port:
            return False
        dbrp = (sub.db, sub.rp)
        have = self.udp.port_of(dbrp)
        if have is None:
            try:  # after a restart: InfluxDB still sends to the port of the last run
                have = await self.udp.open(dbrp, port)
            except OSError as exc:
                log.warning(
                    "cannot listen on UDP port %d again for %s.%s (%s): the subscription is made anew",
                    port,
                    sub.db,
                    sub.rp,
                    exc,
                    extra={"tags": {"subscription": sub.name, "db": sub.db, "rp": sub.rp}},
                )
                return False
        return have == port

    async def _destination_for(self, dbrp: DbRp) -> str:
        if self.udp is None:
            return self.destination
        port = self.udp.port_of(dbrp)
        if port is None:
            port = await self.udp.open(dbrp, 0)
        host = self.udp.host
        return f"udp://{host}:{port}"

    def close_listeners(self) -> None:
        if self.udp is not None:
            for dbrp in self.udp.dbrps():
                self.udp.close(dbrp)

    async def sync_once(self) -> SyncResult:
        """One reconcile pass; raises :class:`InfluxDBError` when InfluxDB cannot be read."""
        async with self._lock:
            result = await self._sync()
            self.syncs += 1
            self.last_error = None
            self.synced.set()
            return result

    async def _sync(self) -> SyncResult:
        client = self.client
        dbs = await client.show_databases()
        rps = await client.show_all_retention_policies(dbs)
        existing = {(db, rp.name) for db, policies in rps.items() for rp in policies}
        wanted = self.wanted(existing)
        subs = await client.show_subscriptions()
        result = SyncResult()
        have: set[DbRp] = set()
        kapacitors = [sub for sub in subs if self._is_kapacitors(sub)]
        reused = {(sub.db, sub.rp) for sub in kapacitors} if self.takeover == "reuse" else set()
        for sub in subs:
            dbrp = (sub.db, sub.rp)
            if self._is_ours(sub):
                current = dbrp in wanted and dbrp not in reused and await self._current(sub)
                if current:
                    have.add(dbrp)
                    result.kept.append(dbrp)
                    continue
                why = (
                    "Kapacitor's subscription to this address is reused"
                    if dbrp in reused
                    else "changed destination or mode"
                    if dbrp in wanted
                    else "no longer watched"
                )
            elif self._is_stale_identity(sub):
                why = "stale subscription of an earlier identity of this server"
            elif sub in kapacitors and self.takeover == "replace":
                why = f"Kapacitor's subscription to {address(self.destination)}, replaced by {self.name}"
            elif sub in kapacitors:
                if self.takeover == "reuse":
                    have.add(dbrp)
                    result.kept.append(dbrp)
                elif (sub.name, sub.db, sub.rp) not in self._warned_kept:
                    self._warned_kept.add((sub.name, sub.db, sub.rp))
                    log.warning(
                        "InfluxDB subscription %s on %s.%s also sends to this server: every point "
                        'arrives twice (kapacitor-subscriptions = "keep")',
                        sub.name,
                        sub.db,
                        sub.rp,
                        extra={"tags": {"subscription": sub.name, "db": sub.db, "rp": sub.rp}},
                    )
                continue
            else:
                continue
            if await client.drop_subscription(sub.name, sub.db, sub.rp):
                log.info(
                    "dropped InfluxDB subscription %s on %s.%s (%s)",
                    sub.name,
                    sub.db,
                    sub.rp,
                    why,
                    extra={"tags": {"subscription": sub.name, "db": sub.db, "rp": sub.rp}},
                )
            result.dropped.append((sub.name, sub.db, sub.rp))
        for db, rp in sorted(wanted - have):
            dest = await self._destination_for((db, rp))
            created = await client.create_subscription(self.name, db, rp, self.mode, [dest])
            if created:
                log.info(
                    "created InfluxDB subscription %s on %s.%s -> %s",
                    self.name,
                    db,
                    rp,
                    address(dest),
                    extra={"tags": {"subscription": self.name, "db": db, "rp": rp}},
                )
            result.created.append((db, rp))
        if self.udp is not None:  # listeners of db/rps no longer subscribed
            for dbrp in self.udp.dbrps() - have - set(result.created):
                self.udp.close(dbrp)
        return result

    async def unlink_all(self) -> list[DbRp]:
        """Drop every subscription of ours (the InfluxDB cluster was removed from the config)."""
        async with self._lock:
            dropped = []
            for sub in await self.client.show_subscriptions():
                if self._is_ours(sub) and await self.client.drop_subscription(sub.name, sub.db, sub.rp):
                    dropped.append((sub.db, sub.rp))
            self.close_listeners()
            return dropped

    def trigger(self) -> None:
        """Sync now instead of at the next interval (``POST /kapacitor/v1/subscriptions``)."""
        self._wake.set()

    async def run(
        self,
        interval_s: float = 60.0,
        stop_event: asyncio.Event | None = None,
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
    ) -> None:
        """Sync every ``interval_s`` until ``stop_event`` is set (or the task is cancelled).

        A failed sync (InfluxDB down, not yet up at boot, no admin rights) is logged and retried
        with exponential backoff up to ``min(retry_max_s, interval_s)``; it never ends the loop.
        """
        stop = stop_event if stop_event is not None else asyncio.Event()
        backoff = retry_initial_s
        while not stop.is_set():
            self._wake.clear()
            try:
                res = await self.sync_once()
            except InfluxDBError as exc:
                self.last_error = str(exc)
                delay = min(backoff, retry_max_s, interval_s)
                backoff = min(backoff * 2, retry_max_s)
                log.warning(
                    "InfluxDB subscription sync failed (retrying in %.1fs): %s",
                    delay,
                    exc,
                    extra={"tags": {"subscription": self.name, "url": self.client.url}},
                )
            except Exception as exc:  # never fatal: a bug here must not stop ingestion
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = interval_s
                log.exception("InfluxDB subscription sync crashed (retrying in %.1fs)", delay)
            else:
                backoff = retry_initial_s
                delay = interval_s
                if res.created or res.dropped:
                    log.debug("subscription sync: %s", res)
            await _wait_any(stop, self._wake, delay)


async def _wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    """Return when either event is set or ``timeout`` seconds pass."""
    waiters = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


__all__ = [
    "DEFAULT_EXCLUDED",
    "KAPACITOR_PREFIX",
    "TAKEOVER_POLICIES",
    "DbRp",
    "SubscriptionManager",
    "SyncResult",
    "UDPEndpoints",
    "Watched",
    "address",
]
