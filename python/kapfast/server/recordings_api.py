"""``/recordings`` and ``/replays``. A running recording or replay answers 202, a done one 200."""

from __future__ import annotations

from aiohttp import web

from kapfast.server.http import Page, json_response, read_json
from kapfast.server.state import STATE_KEY


def _code(status: str) -> int:
    return 202 if status == "running" else 200


async def list_recordings(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    page = Page(request)
    recs = st.recordings.find(page.pattern, page.offset, page.limit)
    return json_response({"recordings": [page.select(st.recordings.to_json(r)) for r in recs]})


async def record_stream(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec = st.recordings.record_stream(await read_json(request))
    return json_response(st.recordings.to_json(rec), 201)


async def record_batch(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec = st.recordings.record_batch(await read_json(request))
    return json_response(st.recordings.to_json(rec), 201)


async def record_query(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec = st.recordings.record_query(await read_json(request))
    return json_response(st.recordings.to_json(rec), 201)


async def get_recording(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rec = st.recordings.get(request.match_info["id"])
    return json_response(st.recordings.to_json(rec), _code(rec.status))


async def delete_recording(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].recordings.delete(request.match_info["id"])
    return web.Response(status=204)


async def list_replays(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    page = Page(request)
    reps = st.replays.find(page.pattern, page.offset, page.limit)
    return json_response({"replays": [page.select(st.replays.to_json(r)) for r in reps]})


async def create_replay(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rep = st.replays.create(await read_json(request))
    return json_response(st.replays.to_json(rep), 201)


async def replay_batch(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rep = st.replays.create_from_batch(await read_json(request))
    return json_response(st.replays.to_json(rep), 201)


async def replay_query(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rep = st.replays.create_from_query(await read_json(request))
    return json_response(st.replays.to_json(rep), 201)


async def get_replay(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE_KEY]
    rep = st.replays.get(request.match_info["id"])
    return json_response(st.replays.to_json(rep), _code(rep.status))


async def delete_replay(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].replays.delete(request.match_info["id"])
    return web.Response(status=204)


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/recordings", list_recordings)
    r.add_post(f"{prefix}/recordings/stream", record_stream)
    r.add_post(f"{prefix}/recordings/batch", record_batch)
    r.add_post(f"{prefix}/recordings/query", record_query)
    r.add_get(f"{prefix}/recordings/{{id}}", get_recording)
    r.add_delete(f"{prefix}/recordings/{{id}}", delete_recording)
    r.add_get(f"{prefix}/replays", list_replays)
    r.add_post(f"{prefix}/replays", create_replay)
    r.add_post(f"{prefix}/replays/batch", replay_batch)
    r.add_post(f"{prefix}/replays/query", replay_query)
    r.add_get(f"{prefix}/replays/{{id}}", get_replay)
    r.add_delete(f"{prefix}/replays/{{id}}", delete_replay)
