"""JSON answers, error mapping and request parsing shared by every API handler."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from time import perf_counter_ns
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kapfast import __version__
from kapfast.errors import KapfastError, NotFoundError, RequestError, StorageError
from kapfast.gofmt import duration_string
from kapfast.server.bodies import BodyStalled, read_body

API = "/kapacitor/v1"
PREVIEW = "/kapacitor/v1preview"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200) -> web.Response:
    # Kapacitor pretty-prints its JSON with a 4-space indent.
    return web.Response(
        status=status,
        text=json.dumps(body, indent=4) + "\n",
        content_type="application/json",
        charset="utf-8",
    )


def json_error(status: int, message: str) -> web.Response:
    return json_response({"error": message, "message": message}, status)


def _is_api(path: str) -> bool:
    return path.startswith(API)


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
        resp = json_error(400, str(exc))
    except StorageError as exc:
        resp = json_error(500, str(exc))
    except KapfastError as exc:
        resp = json_error(500, str(exc))
    except web.HTTPException as exc:
        if _is_api(request.path) and exc.status >= 400 and exc.content_type != "application/json":
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
    resp.headers["Request-Id"] = str(uuid.uuid1())


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
        raise RequestError(f"invalid {name} parameter {raw!r}: must be an integer") from None
    if value < 0:
        raise RequestError(f"invalid {name} parameter {raw!r}: must not be negative")
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
            raise RequestError(f"unsupported field {unknown[0]!r}")
        return {k: item[k] for k in ("link", "id", *self.fields)}


STARTED = "kapfast.started_ns"


def _took_ns(request: web.BaseRequest, loop_s: float) -> int:
    started = request.get(STARTED)
    return perf_counter_ns() - started if isinstance(started, int) else int(loop_s * 1e9)


class AccessLogger(AbstractAccessLogger):
    """``[http] log-enabled``: one line per request with Kapacitor's tags (service=http)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        tags = {
            "host": request.remote or "-",
            "username": "-",
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


def link(path: str) -> dict[str, str]:
    return {"rel": "self", "href": f"{API}/{path}"}
