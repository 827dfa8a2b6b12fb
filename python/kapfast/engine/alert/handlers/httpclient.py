"""One bounded HTTP POST for the handlers that call web services (post, slack).

Loopback URLs never go through a proxy (Go's ``ProxyFromEnvironment`` does the same)."""

from __future__ import annotations

import ipaddress
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from kapfast.engine.alert.handlers.base import HandlerError


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_context(ca: str = "", cert: str = "", key: str = "", insecure: bool = False) -> ssl.SSLContext:
    """A client context from a service section's ``ssl-ca``/``ssl-cert``/``ssl-key``/
    ``insecure-skip-verify`` (Kapacitor's ``tlsconfig.Create``); raises OSError/ssl.SSLError."""
    ctx = insecure_context() if insecure else ssl.create_default_context(cafile=ca or None)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


def opener_for(url: str, context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    if is_loopback(url):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def post(
    opener: urllib.request.OpenerDirector,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> Reply:
    """POST and read the answer (any status); raises HandlerError when nothing answered."""
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with opener.open(req, timeout=timeout_s) as resp:
            return Reply(resp.status, resp.read(65536))
    except urllib.error.HTTPError as e:
        try:
            data = e.read(65536)
        except OSError:
            data = b""
        return Reply(e.code, data)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise HandlerError(f"POST {url}: {reason}") from None
