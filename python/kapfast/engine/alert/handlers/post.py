"""``.post(url)``: POST the event JSON (``.header(k, v)``, ``.timeout(d)``, ``.endpoint(name)``,
``.captureResponse()``, ``.skipSSLVerification()``).

``.endpoint(name)`` names an ``[[httppost]]`` endpoint of the configuration (this module's
service: the endpoints by name, with their headers and alert-template).
Like Kapacitor only the first of several URLs is used.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapfast.alert_event import DETAILS_FUNCS, AlertEvent, series_to_json
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
)
from kapfast.errors import ConfigError, KapfastError
from kapfast.gofmt import GoDuration, GoStruct, GoTime
from kapfast.gotemplate import Template, TemplateError


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


# --- the [[httppost]] section and the post handler kind (kapfast.handler_table) --------------------


@dataclass(frozen=True)
class Endpoint:
    """One ``[[httppost]]`` endpoint."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    alert_template: Template | None = None
    #: the body of httpPost nodes' requests through this endpoint (None: the row as JSON)
    row_template: Template | None = None

    def body(self) -> Callable[[AlertEvent], bytes] | None:
        tmpl = self.alert_template
        if tmpl is None:
            return None

        def render(event: AlertEvent) -> bytes:
            return tmpl.render(_alert_data(event)).encode()

        return render


def _row(series: dict[str, Any]) -> GoStruct:
    """A ``models.Row``: a template sees its fields (time values as Go times); ``json`` writes it
    with its JSON tags (``name``, ``tags``, ``columns``, ``values``, each omitted when empty)."""
    columns = list(series.get("columns") or [])
    times = {i for i, c in enumerate(columns) if c == "time"}
    values = [
        [GoTime(v) if i in times and type(v) is int else v for i, v in enumerate(row)]
        for row in series.get("values") or []
    ]
    fields = {"Name": series.get("name") or "", "Tags": dict(series.get("tags") or {}), "Columns": columns}
    return GoStruct("models.Row", {**fields, "Values": values}, json=series_to_json(series))


def _alert_data(event: AlertEvent) -> GoStruct:
    """``alert.Data`` as an ``[[httppost]]`` alert-template sees it; its JSON (``{{ json . }}``)
    is the event's, as the post handler sends it without a template."""
    rows = None if event.data is None else [_row(s) for s in event.data]
    result = GoStruct(
        "models.Result", {"Series": rows, "Messages": None, "Err": None}, json=event.result_json()
    )
    return GoStruct(
        "alert.Data",
        {
            "ID": event.id,
            "Message": event.message,
            "Details": event.details,
            "Time": GoTime(event.time_ns),
            "Duration": GoDuration(event.duration_ns),
            "Level": event.level,
            "Data": result,
            "PreviousLevel": event.previous_level,
            "Recoverable": event.recoverable,
        },
        json=event.to_json(),
    )


def _template(name: str, text: str, path: str, what: str) -> Template | None:
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise KapfastError(f"[[httppost]] {name}: cannot read {what}-file: {e}") from None
    if not text:
        return None
    try:
        return Template.parse(text, name=what, funcs=DETAILS_FUNCS)  # json, jsonCompact
    except TemplateError as e:
        raise KapfastError(f"[[httppost]] {name}: {what}: {e}") from None


def endpoint_from_config(h: Any) -> Endpoint:
    headers = dict(h.headers)
    auth = h.basic_auth
    if auth.get("username") or auth.get("password"):
        token = base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    tmpl = _template(h.endpoint, h.alert_template, h.alert_template_file, "alert-template")
    rows = _template(h.endpoint, h.row_template, h.row_template_file, "row-template")
    return Endpoint(h.endpoint, h.url, headers, tmpl, rows)


def _validate(posts: list[Any]) -> None:
    names = [h.endpoint for h in posts]
    if len(names) != len(set(names)):
        raise ConfigError("[[httppost]]: endpoint names must be unique")
    for h in posts:
        if not h.endpoint:
            raise ConfigError("[[httppost]]: endpoint must be set")
        if h.alert_template and h.alert_template_file:
            raise ConfigError(
                f"[[httppost]] {h.endpoint}: set alert-template or alert-template-file, not both"
            )
        if h.row_template and h.row_template_file:
            raise ConfigError(f"[[httppost]] {h.endpoint}: set row-template or row-template-file, not both")
        if set(h.basic_auth) - {"username", "password"}:
            raise ConfigError(f"[[httppost]] {h.endpoint}: basic-auth takes username and password")


def post_handler(
    endpoints: Mapping[str, Endpoint],
    url: str = "",
    endpoint: str = "",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    capture_response: bool = False,
    skip_ssl_verification: bool = False,
) -> PostHandler:
    all_headers: dict[str, str] = {}
    body = None
    if endpoint:
        ep = endpoints.get(endpoint)
        if ep is None:
            raise ValueError(f"unknown [[httppost]] endpoint {endpoint!r}")
        url = ep.url  # the endpoint wins over a URL, as in Kapacitor
        all_headers.update(ep.headers)
        body = ep.body()
    all_headers.update(headers or {})
    return PostHandler(url, all_headers, timeout_s, capture_response, skip_ssl_verification, body=body)


def _build(ctx: BuildContext, o: Options) -> PostHandler:
    urls = o.strings("url")  # inline: .post(url...) takes several; like Kapacitor the first is used
    return post_handler(
        ctx.service() or {},
        url=urls[0] if urls else "",
        endpoint=o.text("endpoint"),
        headers=o.str_map("headers"),
        timeout_s=o.duration_ns("timeout") / 1e9 or DEFAULT_TIMEOUT_S,
        capture_response=o.flag("capture-response"),
        skip_ssl_verification=o.flag("skip-ssl-verification"),
    )


def _test(endpoints: Mapping[str, Endpoint], o: Options) -> None:
    from kapfast.engine.alert.handlers.base import sample_event

    url, endpoint = o.text("url"), o.text("endpoint")
    timeout = o.number("timeout")  # nanoseconds, as Kapacitor's test options give it
    try:
        h = post_handler(
            endpoints,
            url=url,
            endpoint="" if url else endpoint,  # an explicit URL tests that URL
            headers=o.str_map("headers"),
            timeout_s=timeout / 1e9 or DEFAULT_TIMEOUT_S,
        )
    except ValueError as e:
        raise HandlerError(str(e)) from None
    h.handle(sample_event())


IMPL = HandlerImpl(
    build=_build,
    service=lambda posts: {h.endpoint: endpoint_from_config(h) for h in posts},
    validate=_validate,
    test_options=lambda eps: {"endpoint": next(iter(eps), ""), "url": "", "headers": {}, "timeout": 0},
    test=_test,
)
