"""``/storage/stores``: the stores of the server's database, and ``POST /storage/stores/NAME``
with ``{"action": "rebuild"}`` to rebuild one (Kapacitor's storage API; backups are in
:mod:`kapfast.server.backup_api`)."""

from __future__ import annotations

import json

from aiohttp import web

from kapfast.errors import StorageError
from kapfast.gofmt import go_quote
from kapfast.server.http import API, json_error, json_response
from kapfast.server.state import STATE_KEY
from kapfast.server.storage_io import storage_io
from kapfast.storage import Storage

STORES = f"{API}/storage/stores"


async def list_stores(request: web.Request) -> web.StreamResponse:
    del request
    return json_response(
        {
            "link": {"rel": "self", "href": STORES},
            "storage": [
                {"link": {"rel": "self", "href": f"{STORES}/{name}"}, "name": name}
                for name in sorted(Storage.STORE_TABLES)
            ],
        }
    )


async def store_action(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in Storage.STORE_TABLES:
        return json_error(404, f"unknown storage {go_quote(name)}")
    try:
        body = json.loads(await request.read())
        action = body.get("action", "") if isinstance(body, dict) else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return json_error(400, f"failed to unmarshal storage action {exc}")
    if not isinstance(action, str):
        return json_error(400, "failed to unmarshal storage action: action must be a string")
    if action != "rebuild":
        return json_error(400, f"unkown storage action {go_quote(action)}")  # Kapacitor's spelling
    try:
        await storage_io(request.app[STATE_KEY].storage.rebuild, name)
    except StorageError as exc:  # the error goes to the client, as Kapacitor's 500
        return json_error(500, f"failed to rebuild {go_quote(name)}: {exc}")
    return web.Response(status=204)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/storage/stores", list_stores)
    app.router.add_post(f"{prefix}/storage/stores/{{name}}", store_action)
