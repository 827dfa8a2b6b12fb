"""``/recordings`` and ``/replays``. A running recording or replay answers 202, a done one 200.

Both resources have the same five shapes of endpoint (list, create in a few ways, get, delete), so
the handlers are made once per resource from the name of its service on the server state and the
name of the service method behind each create path. On a cluster node the service is the
cluster's (kapfast.cluster.recordings), whose methods are awaited.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kapfast.server.http import Page, json_response, read_json
from kapfast.server.state import STATE_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _service(request: web.Request, name: str) -> Any:
    st = request.app[STATE_KEY]
    shared = st.cluster.records if st.cluster is not None else None
    return shared.facades[name] if shared is not None else getattr(st, name)


async def _done(result: Any) -> Any:
    """A local service answers at once, the cluster's after awaiting NATS."""
    return await result if inspect.isawaitable(result) else result


def _lister(name: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        svc = _service(request, name)
        page = Page(request)
        items = await _done(svc.find(page.pattern, page.offset, page.limit))
        return json_response({name: [page.select(svc.to_json(x)) for x in items]})

    return handle


def _creator(name: str, method: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        svc = _service(request, name)
        item = await _done(getattr(svc, method)(await read_json(request)))
        return json_response(svc.to_json(item), 201)

    return handle


def _getter(name: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        svc = _service(request, name)
        item = await _done(svc.get(request.match_info["id"]))
        return json_response(svc.to_json(item), 202 if item.status == "running" else 200)

    return handle


def _deleter(name: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        await _done(_service(request, name).delete(request.match_info["id"]))
        return web.Response(status=204)

    return handle


# path below the resource -> the service method that creates from a POST there
_CREATE_PATHS = {
    "recordings": {"/stream": "record_stream", "/batch": "record_batch", "/query": "record_query"},
    "replays": {"": "create", "/batch": "create_from_batch", "/query": "create_from_query"},
}


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    for name, creates in _CREATE_PATHS.items():
        base = f"{prefix}/{name}"
        r.add_get(base, _lister(name))
        for path, method in creates.items():
            r.add_post(base + path, _creator(name, method))
        r.add_get(f"{base}/{{id}}", _getter(name))
        r.add_delete(f"{base}/{{id}}", _deleter(name))
