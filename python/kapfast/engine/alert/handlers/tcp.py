"""``.tcp('host:port')``: dial, write the event JSON plus an extra newline, close (Kapacitor's)."""

from __future__ import annotations

import socket

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


class TcpHandler(AlertHandler):
    kind = "tcp"

    def __init__(self, address: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.timeout_s = timeout_s

    def handle(self, event: AlertEvent) -> None:
        payload = event.to_json_bytes() + b"\n"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout_s) as s:
                s.sendall(payload)
        except OSError as e:
            raise HandlerError(f"tcp {self.address}: {e}") from None

    def describe(self) -> str:
        return f"tcp {self.address}"


def _build(ctx: BuildContext, o: Options) -> TcpHandler:
    return TcpHandler(o.text("address"))


IMPL = HandlerImpl(build=_build, test_options=lambda service: {"address": ""}, test=build_and_send(_build))
