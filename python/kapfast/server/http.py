"""JSON answers, error mapping and request parsing shared by every API handler."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from time import perf_counter_ns
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kapfast import __version__
from kapfast.errors import KapfastError, NotFoundError, RequestError, StorageError
from kapfast.gofmt import duration_string, go_quote, json_marshal
from kapfast.server.bodies import BodyStalled, read_body

API = "/kapacitor/v1"
PREVIEW = "/kapacitor/v1preview"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200, *, pretty: bool = True) -> web.Response:
    """A JSON answer encoded as Kapacitor's ``httpd.MarshalJSON``: Go's encoding (HTML-safe
    strings, Go's float forms), a 4-space indent when ``pretty`` (most of the API) or compact
    (httpOut), no trailing newline. Dicts keep their order: they stand for Go structs."""
    text = json_text(body, pretty=pretty)
    return web.Response(status=status, text=text, content_type="application/json", charset="utf-8")


def json_text(body: Any, *, pretty: bool = True) -> str:
    """:func:`json_response`'s text (callable on any thread: a large body is encoded off the
    event loop)."""
    try:
        return json_marshal(body, "    " if pretty else "")
    except ValueError as exc:  # NaN/Inf: Go's encoder fails and Kapacitor answers the error
        return json_marshal({"error": str(exc)})


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """Kapacitor's ``httpd.HttpError``: ``{"error": message}``, pretty-printed. ``extra`` fields
    (a script error's ``line`` and ``column``) come after it: Kapacitor's clients ignore them."""
    return json_response({"error": message, **extra}, status)


@web.middleware
async def headers_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer carries Kapacitor's headers; API errors are JSON ``{"error", "message"}``."""
    request[STARTED] = perf_counter_ns()  # the access log's duration (uvloop's clock is ms)
    resp: web.StreamResponse
    try:
        resp = await handler(request)
    except NotFoundError as exc:
        resp = json_error(404, str(exc))
    except RequestError as exc:
        resp = json_error(400, str(exc), **exc.fields)
    except StorageError as exc:
        # locked by another process: worth retrying; a full disk: 507, as WebDAV names it
        resp = json_error({"locked": 503, "full": 507}.get(exc.reason, 500), str(exc))
        if exc.reason == "locked":
            resp.headers["Retry-After"] = "1"
    except KapfastError as exc:
        resp = json_error(500, str(exc))
    except web.HTTPException as exc:
        # Kapacitor answers every unknown path (API or not) with its JSON 404. It routes by
        # method first (one mux per method, each with a catch-all 404: services/httpd/
        # handler.go), so a known path with a method it has no route for is that same
        # {"error": "Not Found"} 404 too, not a 405, and carries no Allow header.
        if isinstance(exc, web.HTTPMethodNotAllowed):
            resp = json_error(404, "Not Found")
        elif exc.status >= 400 and exc.content_type != "application/json":
            reason = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
            resp = json_error(exc.status, (reason or "").strip())
        else:
            resp = exc
    if not resp.prepared:  # a stream (logs, backup) set its headers before sending them
        kapacitor_headers(resp)
    return resp


def kapacitor_headers(resp: web.StreamResponse) -> None:
    """The headers every answer carries: ``X-Kapacitor-Version`` and a time-UUID ``Request-Id``."""
    resp.headers["X-Kapacitor-Version"] = __version__
    resp.headers["Request-Id"] = request_id()


# ``uuid.uuid1()`` without arguments asks libuuid, which tries the uuidd daemon's socket on every
# call (socket, connect, close: ~80 us on a loaded machine, several percent of a 5,000-line
# write's CPU). Given the node and a clock sequence, chosen once, it makes the same version-1 id in
# Python (~2.6 us), its timestamps only ever growing. Called on the event loop only.
_NODE = uuid.getnode()
_CLOCK_SEQ = random.getrandbits(14)


def request_id() -> str:
    """A time-UUID for an answer's ``Request-Id``."""
    return str(uuid.uuid1(node=_NODE, clock_seq=_CLOCK_SEQ))


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object of a request body; 400 with the decoder's reason otherwise."""
    try:
        raw = await read_body(request)
    except BodyStalled as exc:
        raise web.HTTPRequestTimeout(text=str(exc)) from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("invalid JSON: expected an object")
    return body


def int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestError(f"invalid {name} parameter {go_quote(raw)}: must be an integer") from None
    if value < 0:
        raise RequestError(f"invalid {name} parameter {go_quote(raw)}: must not be negative")
    return value


class Page:
    """List parameters: ``pattern``, ``fields`` (repeatable), ``offset`` [0], ``limit`` [100]."""

    def __init__(self, request: web.Request) -> None:
        self.pattern = request.query.get("pattern", "")
        self.fields = [f for f in request.query.getall("fields", []) if f]
        self.offset = int_param(request, "offset", 0)
        self.limit = int_param(request, "limit", 100)

    def select(self, item: dict[str, Any]) -> dict[str, Any]:
        """Keep ``link``, ``id`` and the asked fields (all when none asked)."""
        if not self.fields:
            return item
        unknown = [f for f in self.fields if f not in item]
        if unknown:
            raise RequestError(f"unsupported field {go_quote(unknown[0])}")
        return {k: item[k] for k in ("link", "id", *self.fields)}


STARTED = "kapfast.started_ns"
#: the request's authenticated user (kapfast.server.auth)
USER = "kapfast.user"


def _took_ns(request: web.BaseRequest, loop_s: float) -> int:
    started = request.get(STARTED)
    return perf_counter_ns() - started if isinstance(started, int) else int(loop_s * 1e9)


def _username(request: web.BaseRequest) -> str:
    """The authenticated user's name ([http] auth-enabled), as Kapacitor's access log shows it."""
    name = getattr(request.get(USER), "name", "")
    return name if isinstance(name, str) and name and name != "ADMIN_USER" else "-"


class AccessLogger(AbstractAccessLogger):
    """``[http] log-enabled``: one line per request with Kapacitor's tags (service=http)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        tags = {
            "host": request.remote or "-",
            "username": _username(request),
            "method": request.method,
            "uri": request.path_qs,
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "status": str(response.status),
            "referer": request.headers.get("Referer", "-"),
            "user-agent": request.headers.get("User-Agent", "-"),
            "request-id": response.headers.get("Request-Id", "-"),
            "duration": duration_string(_took_ns(request, time)),
        }
        self.logger.info("http request", extra={"tags": tags})


def self_link(request: web.Request) -> dict[str, str]:
    """A list's ``self`` link: the request's path and query, the query's keys sorted as Go's
    ``url.Values.Encode`` writes them (Kapacitor's Go client sends them so)."""
    path = request.raw_path.split("?", 1)[0]
    items = sorted(request.query.items(), key=lambda kv: kv[0])  # stable: values keep order
    return {"rel": "self", "href": f"{path}?{urlencode(items)}" if items else path}


def link(path: str) -> dict[str, str]:
    return {"rel": "self", "href": f"{API}/{path}"}
