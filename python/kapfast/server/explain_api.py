"""``GET /kapacitor/v1/tasks/{id}/explain``: why each alert node of a task is at its level and
whether its last point sent an event (kapfast only; docs/operations.md "explain").

Query: ``node`` (one alert node), ``at`` (RFC3339) with ``recording`` (a recording's id): the
explanation as of ``at``, from the recording replayed into an offline copy of the task
(kapfast.engine.explain), on an executor thread. Without ``at``: the running task's, on the loop
(the task master is only called there). A task with an ``httpOut('explain')`` keeps its endpoint:
Kapacitor's path wins.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kapfast.errors import NotFoundError, RequestError
from kapfast.gofmt import go_quote
from kapfast.server.http import json_response
from kapfast.server.offload import off_loop
from kapfast.server.state import STATE_KEY
from kapfast.server.storage_io import storage_io
from kapfast.tasks.service import compile_task
from kapfast.timefmt import format_rfc3339_ns, parse_rfc3339_ns


async def explain(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    task_id = request.match_info["id"]
    rec = await storage_io(st.tasks.get, task_id)  # 404 for an unknown task
    shadowed = st.master.http_out(task_id, "explain")
    if shadowed is not None:
        return json_response(shadowed, pretty=False)
    node = request.query.get("node", "")
    at_raw = request.query.get("at", "")
    nodes: list[dict[str, Any]]
    at: str | None = None
    if at_raw:
        try:
            at_ns = parse_rfc3339_ns(at_raw)
        except ValueError as exc:
            raise RequestError(f"invalid at parameter {go_quote(at_raw)}: {exc}") from None
        rec_id = request.query.get("recording", "")
        if not rec_id:
            raise RequestError("at needs a recording: explain replays one up to that time (recording=ID)")
        recording = await storage_io(st.storage.recordings.get, rec_id)
        if recording.status != "finished":
            raise RequestError(f"recording {rec_id} is {recording.status}, it cannot be replayed")

        def replay() -> list[dict[str, Any]]:
            pipeline = compile_task(rec, st.tasks.deadman, st.tasks.udfs)
            if pipeline.task_type != recording.type:
                raise RequestError(
                    f"cannot replay a {recording.type} recording into {pipeline.task_type} task {task_id}"
                )
            out: list[dict[str, Any]] = st.master.explain_at(rec, pipeline, recording.path, at_ns, node)
            return out

        nodes = await off_loop(request, replay)
        at = format_rfc3339_ns(at_ns)
    else:
        running = st.master.explain(task_id, node)
        if running is None:
            raise NotFoundError(
                f"task {task_id} is not executing: enable it, or explain a recording with at="
            )
        nodes = running
    return json_response({"task": task_id, "at": at, "nodes": nodes})


def add_routes(app: web.Application, prefix: str) -> None:
    # before the httpOut catch-all /tasks/{id}/{endpoint}
    app.router.add_get(f"{prefix}/tasks/{{id}}/explain", explain)
