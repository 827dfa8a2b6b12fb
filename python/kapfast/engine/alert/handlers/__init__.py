"""Inline alert handlers: build them from the compiler's ``Handler`` descriptions.

``log``, ``post``, ``tcp``, ``exec``, ``email`` and ``slack`` deliver for real (email and slack
through the server's ``[smtp]``/``[[slack]]`` services, ``ctx.services["alert_services"]``).
Every other kind of the registry (pagerDuty, opsGenie ...) needs a service kapfast does not have
yet: it becomes an :class:`UnsupportedHandler` that says so once in the log and counts each event
it cannot deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S, AlertHandler, HandlerError
from kapfast.engine.alert.handlers.exec import ExecHandler
from kapfast.engine.alert.handlers.log import DEFAULT_MODE, LogHandler
from kapfast.engine.alert.handlers.post import PostHandler
from kapfast.engine.alert.handlers.slack import SlackHandler
from kapfast.engine.alert.handlers.smtp import EmailHandler
from kapfast.engine.alert.handlers.tcp import TcpHandler
from kapfast.errors import TaskError
from kapfast.tick.pipeline import Duration, Handler

__all__ = [
    "AlertHandler",
    "EmailHandler",
    "ExecHandler",
    "HandlerError",
    "LogHandler",
    "PostHandler",
    "SlackHandler",
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


def _strings(v: object) -> list[str]:
    """A repeated ``+to(...)`` property: a list of argument lists, flattened."""
    out: list[str] = []
    if isinstance(v, list):
        for item in v:
            out.extend(_strings(item) if isinstance(item, list) else [item] if isinstance(item, str) else [])
    elif isinstance(v, str):
        out.append(v)
    return out


def build_handler(
    h: Handler, node_name: str, services: Mapping[str, Any], log: logging.Logger
) -> AlertHandler:
    """The running handler of one inline handler description; raises TaskError if it is unusable."""
    args = [a for a in h.args if isinstance(a, str)]
    props = h.properties
    alert_services = services.get("alert_services")
    if alert_services is None:
        from kapfast.engine.alert.services import NO_SERVICES  # local: services imports handlers

        alert_services = NO_SERVICES
    try:
        if h.kind == "email":
            if props.get("toTemplates"):
                log.warning("%s: .email().toTemplates() is not supported by kapfast yet; ignored", node_name)
            handler: AlertHandler = alert_services.email([*args, *_strings(props.get("to"))])
            return handler
        if h.kind == "slack":

            def text(name: str) -> str:
                v = props.get(name)
                return v if isinstance(v, str) else ""

            handler = alert_services.slack_handler(
                text("workspace"), text("channel"), text("username"), text("iconEmoji")
            )
            return handler
        if h.kind == "log":
            mode = props.get("mode", DEFAULT_MODE)
            return LogHandler(args[0] if args else "", int(mode) if isinstance(mode, int) else DEFAULT_MODE)
        if h.kind == "post":
            url = args[0] if args else ""
            headers: dict[str, str] = {}
            body = None
            endpoint = props.get("endpoint")
            if isinstance(endpoint, str) and endpoint:
                endpoints = services.get("httppost_endpoints") or {}
                ep = endpoints.get(endpoint)
                if ep is None:
                    raise TaskError(f"{node_name}: unknown [[httppost]] endpoint {endpoint!r}")
                url = str(ep.get("url", ""))  # the endpoint wins over a URL, as in Kapacitor
                headers.update({str(k): str(v) for k, v in (ep.get("headers") or {}).items()})
                body = ep.get("body")
            for pair in props.get("header") or []:
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    headers[str(pair[0])] = str(pair[1])
            return PostHandler(
                url,
                headers,
                _seconds(props.get("timeout"), DEFAULT_TIMEOUT_S),
                bool(props.get("captureResponse")),
                bool(props.get("skipSSLVerification")),
                body=body if callable(body) else None,
            )
        if h.kind == "tcp":
            return TcpHandler(args[0] if args else "")
        if h.kind == "exec":
            return ExecHandler(args)
    except ValueError as e:
        raise TaskError(f"{node_name}: line {h.line}: .{h.kind}(): {e}") from e
    return UnsupportedHandler(h.kind, log)
