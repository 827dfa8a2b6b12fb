"""``/tasks``, ``/tasks/<id>/<httpOut endpoint>`` and ``/templates``.

Defining and describing compile TICKscripts: that runs on executor threads (kapfast.server.offload).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kapfast.cluster.reads import FORWARDED, LOCAL_HEADER
from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.gofmt import go_map, go_quote
from kapfast.server.http import Page, json_response, json_text, read_json
from kapfast.server.offload import define, off_loop
from kapfast.server.state import STATE_KEY, ServerState
from kapfast.server.storage_io import storage_io
from kapfast.tick import Pipeline


def _describe_opts(request: web.Request) -> dict[str, str]:
    """``dot-view`` and ``script-format``, checked before anything is read (as Kapacitor)."""
    opts = {
        "dot_view": request.query.get("dot-view", "") or "attributes",
        "script_format": request.query.get("script-format", "") or "formatted",
    }
    if opts["dot_view"] not in {"attributes", "labels"}:
        raise RequestError(f"invalid dot-view parameter {go_quote(opts['dot_view'])}")
    if opts["script_format"] not in {"formatted", "raw"}:
        raise RequestError(f"invalid script-format parameter {go_quote(opts['script_format'])}")
    return opts


async def list_tasks(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    page = Page(request)
    opts = _describe_opts(request)

    def describe() -> list[dict[str, Any]]:
        recs = st.tasks.find(page.pattern, page.offset, page.limit)
        # Kapacitor lists each task as a Go map: its keys come sorted
        return [go_map(page.select(st.tasks.to_json(r, **opts)), 1) for r in recs]

    return json_response({"tasks": await off_loop(request, describe)})


async def create_task(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    body = await read_json(request)
    return json_response(await define(request, lambda: st.tasks.to_json(st.tasks.create(body))))


async def get_task(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    opts = _describe_opts(request)
    rec = await storage_io(st.tasks.get, request.match_info["id"])
    body = await off_loop(request, lambda: st.tasks.to_json(rec, **opts))
    if st.cluster is not None and st.cluster.worker is not None and LOCAL_HEADER not in request.headers:
        # executing, stats and DOT from the workers that run it (kapfast.cluster.reads)
        headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}

        def pipeline() -> Pipeline | None:
            try:
                return st.tasks.compile(rec)
            except KapfastError:
                return None

        body = await st.cluster.task_json(rec.id, body, request.query_string, headers, pipeline)
    return json_response(body)


async def update_task(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    ident, body = request.match_info["id"], await read_json(request)
    return json_response(await define(request, lambda: st.tasks.to_json(st.tasks.update(ident, body))))


async def delete_task(request: web.Request) -> web.StreamResponse:
    await define(request, request.app[STATE_KEY].tasks.delete, request.match_info["id"])
    return web.Response(status=204)


def _http_out_body(st: ServerState, task_id: str, endpoint: str) -> dict[str, Any] | None:
    """On an executor thread: the httpOut node's snapshot is taken on the engine thread, between
    two batches (it waits for the batches queued before it, kapfast.server.engine_thread), and
    rendered here, so the engine goes on with the writes meanwhile."""
    render = st.master.http_out_snapshot(task_id, endpoint)
    return None if render is None else render()


def _http_out_text(st: ServerState, task_id: str, endpoint: str) -> str | None:
    """:func:`_http_out_body` encoded (compact JSON, as Kapacitor's httpOut writes it), here
    too: a body of thousands of groups is not encoded on the event loop."""
    body = _http_out_body(st, task_id, endpoint)
    return None if body is None else json_text(body, pretty=False)


async def http_out(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    task_id, endpoint = request.match_info["id"], request.match_info["endpoint"]
    await storage_io(st.tasks.get, task_id)  # 404 for an unknown task
    missing = NotFoundError(
        f"task {task_id} has no httpOut endpoint {go_quote(endpoint)} (or it is not running)"
    )
    if st.cluster is not None and st.cluster.worker is not None and LOCAL_HEADER not in request.headers:
        # the whole cluster's answer, from whichever node is asked (kapfast.cluster.reads)
        headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
        body = await st.cluster.http_out(
            task_id, endpoint, lambda: off_loop(request, _http_out_body, st, task_id, endpoint), headers
        )
        if body is None:
            raise missing
        return json_response(body, pretty=False)  # Kapacitor's httpOut writes compact JSON
    text = await off_loop(request, _http_out_text, st, task_id, endpoint)
    if text is None:
        raise missing
    return web.Response(text=text, content_type="application/json", charset="utf-8")


async def list_templates(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    page = Page(request)
    fmt = request.query.get("script-format", "formatted")

    def describe() -> list[dict[str, Any]]:
        recs = st.templates.find(page.pattern, page.offset, page.limit)
        return [go_map(page.select(st.templates.to_json(r, script_format=fmt)), 1) for r in recs]

    return json_response({"templates": await off_loop(request, describe)})


async def create_template(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    body = await read_json(request)
    return json_response(await define(request, lambda: st.templates.to_json(st.templates.create(body))))


async def get_template(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec = await storage_io(st.templates.get, request.match_info["id"])
    fmt = request.query.get("script-format", "formatted")
    return json_response(await off_loop(request, lambda: st.templates.to_json(rec, script_format=fmt)))


async def update_template(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    ident, body = request.match_info["id"], await read_json(request)
    return json_response(
        await define(request, lambda: st.templates.to_json(st.templates.update(ident, body)))
    )


async def delete_template(request: web.Request) -> web.StreamResponse:
    await define(request, request.app[STATE_KEY].templates.delete, request.match_info["id"])
    return web.Response(status=204)


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/tasks", list_tasks)
    r.add_post(f"{prefix}/tasks", create_task)
    r.add_get(f"{prefix}/tasks/{{id}}", get_task)
    r.add_patch(f"{prefix}/tasks/{{id}}", update_task)
    r.add_delete(f"{prefix}/tasks/{{id}}", delete_task)
    r.add_get(f"{prefix}/tasks/{{id}}/{{endpoint:.+}}", http_out)
    r.add_get(f"{prefix}/templates", list_templates)
    r.add_post(f"{prefix}/templates", create_template)
    r.add_get(f"{prefix}/templates/{{id}}", get_template)
    r.add_patch(f"{prefix}/templates/{{id}}", update_template)
    r.add_delete(f"{prefix}/templates/{{id}}", delete_template)
