"""``.tcp('host:port')``: dial, write the event JSON plus an extra newline, close (Kapacitor's)."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import select
import socket
from collections.abc import Callable

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    build_and_send,
)


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"tcp handler address must be host:port, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _family(host: str) -> socket.AddressFamily | None:
    """The address family of an IP address (None: a name to resolve)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


class TcpHandler(AlertHandler):
    kind = "tcp"

    def __init__(self, address: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.timeout_s = timeout_s
        #: an IP address is dialled as it is; a name is resolved at each event, as Go's
        #: ``net.Dial`` does (a resolver call costs ~80 us: a tenth of write → alert latency)
        self.family: socket.AddressFamily | None = _family(self.host)
        # (a name to resolve would wait for the resolver)
        self.starts_without_waiting = self.family is not None

    def handle(self, event: AlertEvent) -> None:
        payload = event.to_json_bytes() + b"\n"
        try:
            with self._connect() as s:
                s.sendall(payload)
        except OSError as e:
            raise HandlerError(f"tcp {self.address}: {e}") from None

    def start(self, event: AlertEvent) -> Callable[[], None] | None:
        """Dial and write without waiting: on loopback (or any near peer) the connection is made
        and the payload taken by the kernel at once, so the event need not wait for the delivery
        lane's thread to get the GIL. Whatever would wait (a connection still in progress, a full
        send buffer) is left to the returned rest. One dial per event, as ``handle``."""
        if self.family is None:
            return lambda: self.handle(event)
        payload = event.to_json_bytes() + b"\n"
        s = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            s.setblocking(False)
            err = s.connect_ex((self.host, self.port))
            if err == errno.EINPROGRESS and select.select([], [s], [], 0)[1]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                connected = True
            else:
                connected = err == 0
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            sent = 0
            if connected:
                with contextlib.suppress(BlockingIOError):  # the rest waits for room
                    sent = s.send(payload)
        except OSError as e:
            s.close()
            raise HandlerError(f"tcp {self.address}: {e}") from None
        if sent == len(payload):
            s.close()
            return None
        return lambda: self._finish(s, payload[sent:], connected)

    def _finish(self, s: socket.socket, rest: bytes, connected: bool) -> None:
        """The rest of :meth:`start`'s delivery, waiting at most the handler's timeout for each step."""
        try:
            with s:
                if not connected:
                    if not select.select([], [s], [], self.timeout_s)[1]:
                        raise TimeoutError("timed out")
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                s.settimeout(self.timeout_s)
                s.sendall(rest)
        except OSError as e:
            raise HandlerError(f"tcp {self.address}: {e}") from None

    def _connect(self) -> socket.socket:
        if self.family is None:
            return socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        s = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout_s)
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        return s

    def describe(self) -> str:
        return f"tcp {self.address}"


def _build(ctx: BuildContext, o: Options) -> TcpHandler:
    return TcpHandler(o.text("address"))


IMPL = HandlerImpl(build=_build, test_options=lambda service: {"address": ""}, test=build_and_send(_build))
