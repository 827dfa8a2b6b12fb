"""``[[udp]]`` listeners: line protocol over UDP into one database and retention policy, as
kapacitord's UDP service (InfluxDB's UDP input format: one or more lines per datagram).

Each datagram is parsed as it arrives (in Rust) and handed to the router like a ``/write`` body;
UDP cannot answer, so bad lines are counted and logged (at most once a minute per listener) and
the good lines of the datagram go through. ``read-buffer`` sets the socket's receive buffer
(SO_RCVBUF): the kernel queues datagrams there while the event loop is busy.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.config import UDPConfig
from kapfast.lineproto import parse
from kapfast.server.stats import IngressStats

log = logging.getLogger("kapfast.udp")

Sink = Callable[[str, str, PointBatch], None]


class UDPInput(asyncio.DatagramProtocol):
    def __init__(
        self, cfg: UDPConfig, sink: Sink, stats: IngressStats, clock: Clock, default_rp: str = ""
    ) -> None:
        self.cfg = cfg
        self.rp = cfg.retention_policy or default_rp
        self.sink = sink
        self.stats = stats
        self.clock = clock
        self.packets = 0
        self.bad_lines = 0
        self._last_warning = 0.0
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's UDP transport is not an asyncio.DatagramTransport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.packets += 1
        result = parse(data, precision="n", now_ns=self.clock.now_ns())
        db, rp = self.cfg.database, self.rp
        if len(result.batch):
            self.stats.count(db, rp, result.batch)
            self.sink(db, rp, result.batch)
        if result.errors:
            self.bad_lines += len(result.errors)
            now = time.monotonic()
            if now - self._last_warning > 60:
                self._last_warning = now
                log.warning(
                    "UDP %s: %d bad line(s) from %s dropped (%d so far): %s",
                    self.cfg.bind_address,
                    len(result.errors),
                    addr[0],
                    self.bad_lines,
                    result.errors[0],
                    extra={"tags": {"service": "udp", "bind": self.cfg.bind_address}},
                )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _socket(cfg: UDPConfig) -> socket.socket:
    host, _, port = cfg.bind_address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if cfg.read_buffer > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.read_buffer)
        sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), int(port)))
    except OSError:
        sock.close()
        raise
    return sock


async def start_listeners(
    configs: list[UDPConfig], sink: Sink, stats: IngressStats, clock: Clock, default_rp: str = ""
) -> list[UDPInput]:
    """One listener per enabled ``[[udp]]``; an address that cannot be bound is an error."""
    loop = asyncio.get_running_loop()
    out: list[UDPInput] = []
    try:
        for cfg in configs:
            if not cfg.enabled:
                continue
            proto = UDPInput(cfg, sink, stats, clock, default_rp)
            await loop.create_datagram_endpoint(lambda p=proto: p, sock=_socket(cfg))  # type: ignore[misc]
            out.append(proto)
            log.info(
                "listening for line protocol on UDP %s into %s.%s",
                cfg.bind_address,
                cfg.database,
                proto.rp or "(default rp)",
                extra={"tags": {"service": "udp"}},
            )
    except OSError:
        for p in out:
            p.close()
        raise
    return out


class SubscriptionListeners:
    """The listeners of an ``[[influxdb]]`` with ``subscription-protocol = "udp"``: one per
    subscribed db/rp on ``udp-bind`` (kapfast.influxdb.subscriptions.UDPEndpoints)."""

    def __init__(
        self,
        host: str,
        bind: str,
        read_buffer: int,
        sink: Sink,
        stats: IngressStats,
        clock: Clock,
    ) -> None:
        self.host = host
        self.bind = bind
        self.read_buffer = read_buffer
        self.sink = sink
        self.stats = stats
        self.clock = clock
        self._open: dict[tuple[str, str], tuple[UDPInput, int]] = {}

    def port_of(self, dbrp: tuple[str, str]) -> int | None:
        got = self._open.get(dbrp)
        return got[1] if got else None

    def dbrps(self) -> set[tuple[str, str]]:
        return set(self._open)

    async def open(self, dbrp: tuple[str, str], port: int) -> int:
        self.close(dbrp)
        cfg = UDPConfig(
            enabled=True,
            bind_address=f"{self.bind}:{port}",
            database=dbrp[0],
            retention_policy=dbrp[1],
            read_buffer=self.read_buffer,
        )
        sock = _socket(cfg)
        bound = int(sock.getsockname()[1])
        proto = UDPInput(cfg, self.sink, self.stats, self.clock)
        try:
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: proto, sock=sock)
        except OSError:
            sock.close()
            raise
        self._open[dbrp] = (proto, bound)
        log.info(
            "listening for InfluxDB's subscription writes to %s.%s on UDP %s:%d",
            dbrp[0],
            dbrp[1],
            self.bind or "*",
            bound,
            extra={"tags": {"service": "udp", "db": dbrp[0], "rp": dbrp[1]}},
        )
        return bound

    def close(self, dbrp: tuple[str, str]) -> None:
        got = self._open.pop(dbrp, None)
        if got is not None:
            got[0].close()


__all__ = ["SubscriptionListeners", "UDPInput", "start_listeners"]
