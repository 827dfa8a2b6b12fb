"""``[[udp]]`` listeners: line protocol over UDP into one database and retention policy, as
kapacitord's UDP service (InfluxDB's UDP input format: one or more lines per datagram).

Each datagram is parsed as it arrives (in Rust) and handed to the router like a ``/write`` body;
UDP cannot answer, so bad lines are counted and logged (at most once a minute per listener) and
the good lines of the datagram go through. ``read-buffer`` sets the socket's receive buffer
(SO_RCVBUF): the kernel queues datagrams there while the event loop is busy.

The points are handed to the engine thread without waiting for it (the sink returns a future):
the event loop goes on answering HTTP while the tasks run them. At most :data:`MAX_IN_FLIGHT`
datagrams of a listener wait for the engine; beyond that a datagram is dropped and counted, as
the kernel drops what overflows the socket's buffer when nothing reads it (a UDP sender cannot be
slowed down).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future

from kapfast.batch import PointBatch
from kapfast.clock import Clock
from kapfast.config import UDPConfig
from kapfast.lineproto import parse
from kapfast.server.stats import IngressStats

log = logging.getLogger("kapfast.udp")

#: where a datagram's points go: the engine's hand-off (a future of their routing), or a plain
#: callable that routes them at once (None)
Sink = Callable[[str, str, PointBatch], "Future[None] | None"]

#: datagrams of one listener handed to the engine and not yet run, at most
MAX_IN_FLIGHT = 1024


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
        #: datagrams dropped because MAX_IN_FLIGHT of them already waited for the engine
        self.dropped = 0
        #: datagrams handed to the engine (counted on the loop) and run (counted on the engine
        #: thread): each written by one thread only, so no count is lost
        self.handed = 0
        self.ran = 0
        #: when each kind of warning was last logged (at most one a minute of each)
        self._warned: dict[str, float] = {}
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's UDP transport is not an asyncio.DatagramTransport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.packets += 1
        if self.handed - self.ran >= MAX_IN_FLIGHT:
            self._drop(addr)
            return
        result = parse(data, precision="n", now_ns=self.clock.now_ns())
        db, rp = self.cfg.database, self.rp
        if len(result.batch):
            self.stats.count(db, rp, result.batch)
            handed = self.sink(db, rp, result.batch)
            if handed is not None:
                self.handed += 1
                handed.add_done_callback(self._ran)  # at once when it already ran
        if result.errors:
            self.bad_lines += len(result.errors)
            self._warn(
                "bad",
                "%d bad line(s) from %s dropped (%d so far): %s",
                len(result.errors),
                addr[0],
                self.bad_lines,
                result.errors[0],
            )

    def _warn(self, kind: str, message: str, *args: object) -> None:
        """``UDP <bind>: message``, at most once a minute for each ``kind``."""
        now = time.monotonic()
        if now - self._warned.get(kind, -60.0) > 60:
            self._warned[kind] = now
            log.warning(
                "UDP %s: " + message,
                self.cfg.bind_address,
                *args,
                extra={"tags": {"service": "udp", "bind": self.cfg.bind_address}},
            )

    def _ran(self, fut: Future[None]) -> None:
        """On the engine thread (or the loop's, when it ran at once): the datagram's points ran."""
        self.ran += 1
        exc = fut.exception()
        if exc is not None:
            log.error("UDP %s: routing points failed: %r", self.cfg.bind_address, exc)

    def _drop(self, addr: tuple[str | object, ...]) -> None:
        self.dropped += 1
        self._warn(
            "behind",
            "the tasks are behind (%d datagrams waiting): datagram from %s dropped (%d so far)",
            self.handed - self.ran,
            addr[0],
            self.dropped,
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
