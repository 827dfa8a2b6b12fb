"""What every orchestrator client offers the autoscale node, and the HTTP helper they share."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from kapfast.errors import KapfastError

#: seconds a request to an orchestrator may take (Kapacitor sets none and can hang a task)
TIMEOUT_S = 10.0


class AutoscaleError(KapfastError):
    """A replica count that could not be read or set."""


class Scaler(Protocol):
    """One cluster: replicas of a resource (``kind`` is k8s only; the others ignore it)."""

    def replicas(self, namespace: str, kind: str, name: str) -> int: ...

    def set_replicas(self, namespace: str, kind: str, name: str, replicas: int) -> None: ...


def ssl_context(ca: str = "", cert: str = "", key: str = "", insecure: bool = False) -> ssl.SSLContext | None:
    """The TLS settings of a ``[[kubernetes]]``/``[[swarm]]`` section (None: Python's defaults)."""
    if not (ca or cert or key or insecure):
        return None
    ctx = ssl.create_default_context(cafile=ca or None)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert or key:
        ctx.load_cert_chain(cert, key or None)
    return ctx


class HttpPeer:
    """JSON over HTTP to one of several servers, taken in turn (as Kapacitor's clients do)."""

    def __init__(self, urls: list[str], what: str, tls: ssl.SSLContext | None = None) -> None:
        if not urls:
            raise AutoscaleError(f"no api-servers specified, must provide at least one server URL ({what})")
        self.urls = [u.rstrip("/") for u in urls]
        self.what = what
        self.index = 0
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=tls)]
        if all(_loopback(u) for u in self.urls):
            handlers.append(urllib.request.ProxyHandler({}))
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """(status, decoded JSON body or None). Transport failures raise AutoscaleError."""
        self.index = (self.index + 1) % len(self.urls)
        url = self.urls[self.index] + path
        data = None if body is None else (json.dumps(body, separators=(",", ":")) + "\n").encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with self.opener.open(req, timeout=TIMEOUT_S) as resp:
                return int(resp.status), _decode(resp.read())
        except urllib.error.HTTPError as e:
            return int(e.code), _decode(e.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise AutoscaleError(
                f"{self.what} client request to {url} failed: {getattr(e, 'reason', e)}"
            ) from None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
