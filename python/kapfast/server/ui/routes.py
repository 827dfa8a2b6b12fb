"""``/ui``: the web page's routes. Pages are rendered from the same JSON bodies the API answers;
the page script then polls the API itself (``GET /kapacitor/v1/tasks/<id>``) and calls it for the
buttons (``PATCH``), with the browser's credentials (see kapfast.server.auth for the challenge)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
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
#: a page lists this many tasks, topics, events, recordings or replays unless ``?limit=`` says
#: otherwise (the API's own default page size), and never more than MAX_LIMIT
LIMIT = 100
MAX_LIMIT = 1000


def page_of(request: web.Request, key: str = "offset") -> pages.Page:
    """The page a list shows: ``?<key>=`` (its first row, from 0) and ``?limit=``; InputError
    for values that are not such numbers."""
    values = []
    for name, default, low, high in ((key, 0, 0, None), ("limit", LIMIT, 1, MAX_LIMIT)):
        raw = request.query.get(name, "")
        try:
            n = int(raw) if raw else default
        except ValueError:
            raise InputError(f"{name} must be a whole number, not {raw!r}") from None
        if n < low or (high is not None and n > high):
            bound = f"from {low}" + (f" to {high}" if high is not None else "")
            raise InputError(f"{name} must be {bound}, not {n}")
        values.append(n)
    return pages.Page(request.path, dict(request.query), key, values[0], values[1])


def _html(text: str, status: int = 200) -> web.Response:
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    # the pages show live state: never from a cache
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


async def tasks(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    page = page_of(request)

    def describe() -> list[dict[str, Any]]:
        # one more than shown: whether a next page exists
        return [st.tasks.to_json(r) for r in st.tasks.find("", page.offset, page.limit + 1)]

    return _html(pages.tasks_page(await off_loop(request, describe), page))


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
    # the topics API has no offset/limit (Kapacitor's has none): the page pages the whole list
    return _html(pages.topics_page(await topics_api.topics_json(request), page_of(request)))


async def topic(request: web.Request) -> web.StreamResponse:
    page = page_of(request)
    try:
        body, events = await topics_api.topic_json(request, request.match_info["topic"])
    except NotFoundError as exc:
        return _html(pages.not_found(str(exc)), 404)
    return _html(pages.topic_page(body, events, page))


async def recordings(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec_page, rep_page = page_of(request), page_of(request, "replay_offset")
    recs = [st.recordings.to_json(r) for r in st.recordings.find("", rec_page.offset, rec_page.limit + 1)]
    reps = [st.replays.to_json(r) for r in st.replays.find("", rep_page.offset, rep_page.limit + 1)]
    return _html(pages.recordings_page(recs, reps, rec_page, rep_page))


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


def _listing(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A list page: a bad ``?offset=``/``?limit=`` answers a 400 page saying what is wrong."""

    @functools.wraps(handler)
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InputError as exc:
            return _html(pages.bad_request(str(exc)), 400)

    return page


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ui", index)
    r.add_get("/ui/", _listing(tasks))
    r.add_get("/ui/tasks/{id}", task)
    r.add_get("/ui/topics", _listing(topics))
    r.add_get("/ui/topics/{topic}", _listing(topic))
    r.add_get("/ui/recordings", _listing(recordings))
    r.add_get("/ui/static/{name}", static)
    r.add_get("/ui/{rest:.*}", unknown)
