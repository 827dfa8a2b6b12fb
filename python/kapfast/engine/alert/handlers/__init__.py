"""Inline alert handlers: build them from the compiler's ``Handler`` descriptions.

``log``, ``post``, ``tcp`` and ``exec`` deliver for real. Every other kind of the registry
(slack, email, pagerDuty ...) needs a service kapfast does not have yet: it becomes an
:class:`UnsupportedHandler` that says so once in the log and counts each event it cannot deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S, AlertHandler, HandlerError
from kapfast.engine.alert.handlers.exec import ExecHandler
from kapfast.engine.alert.handlers.log import DEFAULT_MODE, LogHandler
from kapfast.engine.alert.handlers.post import PostHandler
from kapfast.engine.alert.handlers.tcp import TcpHandler
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Duration, Handler

__all__ = [
    "AlertHandler",
    "ExecHandler",
    "HandlerError",
    "LogHandler",
    "PostHandler",
    "TcpHandler",
    "UnsupportedHandler",
    "build_handler",
]


class UnsupportedHandler(AlertHandler):
    """A handler kind kapfast cannot deliver yet: warns once, then fails each event quietly."""

    def __init__(self, kind: str, log: logging.Logger) -> None:
        self.kind = kind
        self._warned = False
        self._log = log

    def handle(self, event: Any) -> None:
        if not self._warned:
            self._warned = True
            self._log.warning(
                "alert handler %s is not supported by kapfast yet; its events are dropped", self.kind
            )
        raise HandlerError(f"handler {self.kind} is not supported by kapfast yet", quiet=True)


def _seconds(v: object, default: float) -> float:
    if isinstance(v, Duration):
        return v.ns / 1e9 if v.ns > 0 else default
    return default


def build_handler(
    h: Handler, node_name: str, services: Mapping[str, Any], log: logging.Logger
) -> AlertHandler:
    """The running handler of one inline handler description; raises TaskError if it is unusable."""
    args = [a for a in h.args if isinstance(a, str)]
    props = h.properties
    try:
        if h.kind == "log":
            mode = props.get("mode", DEFAULT_MODE)
            return LogHandler(args[0] if args else "", int(mode) if isinstance(mode, int) else DEFAULT_MODE)
        if h.kind == "post":
            url = args[0] if args else ""
            headers: dict[str, str] = {}
            endpoint = props.get("endpoint")
            if isinstance(endpoint, str) and endpoint:
                endpoints = services.get("httppost_endpoints") or {}
                ep = endpoints.get(endpoint)
                if ep is None:
                    raise TaskError(f"{node_name}: unknown [[httppost]] endpoint {endpoint!r}")
                url = str(ep.get("url", ""))
                headers.update({str(k): str(v) for k, v in (ep.get("headers") or {}).items()})
            for pair in props.get("header") or []:
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    headers[str(pair[0])] = str(pair[1])
            return PostHandler(
                url,
                headers,
                _seconds(props.get("timeout"), DEFAULT_TIMEOUT_S),
                bool(props.get("captureResponse")),
                bool(props.get("skipSSLVerification")),
            )
        if h.kind == "tcp":
            return TcpHandler(args[0] if args else "")
        if h.kind == "exec":
            return ExecHandler(args)
    except ValueError as e:
        raise TaskError(f"{node_name}: line {h.line}: .{h.kind}(): {e}") from e
    return UnsupportedHandler(h.kind, log)
