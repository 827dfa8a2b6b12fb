"""``/ui``: the web page's routes. Pages are rendered from the same JSON bodies the API answers;
the page script then polls the API itself (``GET /kapacitor/v1/tasks/<id>``) and calls it for the
buttons (``PATCH``), with the browser's credentials (see kapfast.server.auth for the challenge)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from aiohttp import web

from kapfast.errors import InputError, NotFoundError
from kapfast.server import topics_api
from kapfast.server.offload import off_loop
from kapfast.server.state import STATE_KEY
from kapfast.server.ui import pages
from kapfast.server.ui.graph import GraphNode
from kapfast.storage import TaskRecord
from kapfast.tick import compile_script

_TYPES = {".js": "text/javascript", ".css": "text/css"}
#: the page lists this many tasks, recordings and replays (the API's own default page size)
LIMIT = 100


def _html(text: str, status: int = 200) -> web.Response:
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    # the pages show live state: never from a cache
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


async def tasks(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]

    def describe() -> list[dict[str, Any]]:
        return [st.tasks.to_json(r) for r in st.tasks.find("", 0, LIMIT)]

    return _html(pages.tasks_page(await off_loop(request, describe)))


def graph_nodes(rec: TaskRecord) -> list[GraphNode]:
    """The task's nodes and their parents, as ``kapacitor show`` draws them (the batch source,
    which Kapacitor never shows, left out); empty when the stored script no longer compiles."""
    try:
        pipeline = compile_script(rec.script, vars=rec.vars or None)
    except InputError:
        return []
    shown = {n.id: n.name for n in pipeline.nodes if n.kind != "batch"}
    return [
        GraphNode(n.name, n.kind, tuple(shown[p] for p in n.parents if p in shown))
        for n in pipeline.nodes
        if n.id in shown
    ]


async def task(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    try:
        rec = st.tasks.get(request.match_info["id"])
    except NotFoundError as exc:
        return _html(pages.not_found(str(exc)), 404)

    def describe() -> tuple[dict[str, Any], list[GraphNode]]:
        return st.tasks.to_json(rec, script_format="raw"), graph_nodes(rec)

    body, graph = await off_loop(request, describe)
    return _html(pages.task_page(body, rec.script, graph))


async def topics(request: web.Request) -> web.StreamResponse:
    return _html(pages.topics_page(topics_api.topics_json(request)))


async def topic(request: web.Request) -> web.StreamResponse:
    try:
        body, events = topics_api.topic_json(request, request.match_info["topic"])
    except NotFoundError as exc:
        return _html(pages.not_found(str(exc)), 404)
    return _html(pages.topic_page(body, events))


async def recordings(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    recs = [st.recordings.to_json(r) for r in st.recordings.find("", 0, LIMIT)]
    reps = [st.replays.to_json(r) for r in st.replays.find("", 0, LIMIT)]
    return _html(pages.recordings_page(recs, reps))


@functools.cache
def _asset(name: str) -> bytes | None:
    if "/" in name or name.startswith(".") or not name.endswith(tuple(_TYPES)):
        return None
    path = resources.files("kapfast.server.ui").joinpath("static", name)
    return path.read_bytes() if path.is_file() else None


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    data = _asset(name)
    if data is None:
        return _html(pages.not_found(f"no such file: {name}"), 404)
    content_type = _TYPES["." + name.rsplit(".", 1)[-1]]
    return web.Response(body=data, content_type=content_type, charset="utf-8")


async def unknown(request: web.Request) -> web.StreamResponse:
    return _html(pages.not_found(f"no page at {request.path}"), 404)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ui", index)
    r.add_get("/ui/", tasks)
    r.add_get("/ui/tasks/{id}", task)
    r.add_get("/ui/topics", topics)
    r.add_get("/ui/topics/{topic}", topic)
    r.add_get("/ui/recordings", recordings)
    r.add_get("/ui/static/{name}", static)
    r.add_get("/ui/{rest:.*}", unknown)
