"""``.post(url)``: POST the event JSON (``.header(k, v)``, ``.timeout(d)``, ``.endpoint(name)``,
``.captureResponse()``, ``.skipSSLVerification()``).

``.endpoint(name)`` names an ``[[httppost]]`` endpoint of the configuration; the engine passes
those as ``ctx.services["httppost_endpoints"]``: ``{name: {"url": str, "headers": {k: v},
"body": None or a callable rendering the endpoint's alert-template}}``.
Like Kapacitor only the first of several URLs is used.
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S, AlertHandler, HandlerError


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PostHandler(AlertHandler):
    kind = "post"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        capture_response: bool = False,
        skip_ssl_verification: bool = False,
        body: Callable[[AlertEvent], bytes] | None = None,
    ) -> None:
        if not url:
            raise ValueError("post handler needs a URL or an endpoint")
        self.url = url
        self.headers = {"Content-Type": "application/json", **dict(headers or {})}
        self.timeout_s = timeout_s
        self.capture_response = capture_response
        # an [[httppost]] endpoint's alert-template renders the body instead of the event JSON
        self.body = body
        self._ssl: ssl.SSLContext | None = None
        if skip_ssl_verification:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=self._ssl)]
        if _is_loopback(url):
            # like Go's ProxyFromEnvironment: loopback requests never go through a proxy
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def handle(self, event: AlertEvent) -> None:
        data = self.body(event) if self.body is not None else event.to_json_bytes()
        req = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            detail = ""
            if self.capture_response:
                try:
                    detail = ": " + e.read(4096).decode("utf-8", "replace").strip()
                except OSError:
                    detail = ""
            raise HandlerError(f"POST {self.url}: HTTP {e.code}{detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise HandlerError(f"POST {self.url}: {reason}") from None

    def describe(self) -> str:
        return f"post {self.url}"
