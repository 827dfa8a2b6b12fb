"""``/kapacitor/v1/users``: users of ``[auth] enabled = true``, as Kapacitor's users API.

    POST   /users          {"name", "password", "type": "normal"|"admin", "permissions": [...]} → 200
    GET    /users          ?pattern=&fields=&offset=&limit= → {"users": [...]} sorted by name
    GET    /users/<name>   → 200, or 404
    PATCH  /users/<name>   {"password"?, "type"?, "permissions"?} → 200
    DELETE /users/<name>   → 204

With ``[auth]`` disabled there are no users and the routes answer 404, as in Kapacitor.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from kapfast.errors import NotFoundError, RequestError
from kapfast.server.http import int_param, json_response, link
from kapfast.server.storage_io import storage_io
from kapfast.server.users import PERMISSIONS, VALID_NAME, LocalAuth, StoredUser, permissions_of

AUTH_KEY = web.AppKey("auth_service", LocalAuth)
_FIELDS = ("link", "name", "type", "permissions")


def _service(request: web.Request) -> LocalAuth:
    service = request.app.get(AUTH_KEY)
    if service is None:
        raise NotFoundError("Not Found")
    return service


def user_json(u: StoredUser) -> dict[str, Any]:
    return {
        "link": link(f"users/{u.name}"),
        "name": u.name,
        "type": "admin" if u.admin else "normal",
        "permissions": permissions_of(u.privileges),
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestError("invalid JSON") from None
    if not isinstance(body, dict):
        raise RequestError("invalid JSON")
    return body


def _type(body: dict[str, Any]) -> str:
    kind = body.get("type") or ""
    if kind not in ("", "normal", "admin"):
        raise RequestError("invalid JSON")  # Kapacitor's decoder refuses an unknown user type
    return str(kind)


def _permissions(body: dict[str, Any]) -> list[str] | None:
    perms = body.get("permissions")
    if perms is None:
        return None
    if not isinstance(perms, list) or not all(isinstance(p, str) and p in PERMISSIONS for p in perms):
        raise RequestError("invalid JSON")  # as Kapacitor's decoder of a permission it does not know
    return list(perms)


def _name(request: web.Request) -> str:
    name = request.match_info.get("name", "")
    if not name:
        raise RequestError("must specify username on path")
    return name


async def create_user(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    body = await _body(request)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        raise RequestError("invalid JSON")
    if not name:
        raise RequestError("username is required")
    if not VALID_NAME.match(name):
        raise RequestError(
            f"username must contain only letters, numbers, '-', '.', '@' and '_'. {json.dumps(name)}"
        )
    if not password:
        raise RequestError("password is required")
    kind, permissions = _type(body), _permissions(body) or []
    # bcrypt takes tens of milliseconds by design: off the event loop
    loop = asyncio.get_running_loop()
    u = await loop.run_in_executor(None, service.create, name, password, kind == "admin", permissions)
    return json_response(user_json(u))


async def get_user(request: web.Request) -> web.StreamResponse:
    u = await storage_io(_service(request).store.get, _name(request))
    if u is None:
        raise NotFoundError("user not found")
    return json_response(user_json(u))


async def update_user(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    name = _name(request)
    body = await _body(request)
    password = body.get("password") or ""
    if not isinstance(password, str):
        raise RequestError("invalid JSON")
    kind, permissions = _type(body), _permissions(body)
    loop = asyncio.get_running_loop()
    u = await loop.run_in_executor(None, service.update, name, password, kind, permissions)
    return json_response(user_json(u))


async def delete_user(request: web.Request) -> web.StreamResponse:
    await storage_io(_service(request).delete, _name(request))
    return web.Response(status=204)


async def list_users(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    fields = [f for f in request.query.getall("fields", []) if f]
    for f in fields:
        if f not in _FIELDS:
            raise RequestError(f"unsupported field {json.dumps(f)}")
    offset = int_param(request, "offset", 0)
    limit = int_param(request, "limit", 100)
    users = await storage_io(service.store.find, request.query.get("pattern", ""), offset, limit)
    out = []
    for u in users:
        full = user_json(u)
        out.append({k: v for k, v in full.items() if not fields or k in (*fields, "name", "link")})
    return json_response({"users": out})


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/users", create_user)
    app.router.add_get(f"{prefix}/users", list_users)
    app.router.add_get(f"{prefix}/users/{{name}}", get_user)
    app.router.add_patch(f"{prefix}/users/{{name}}", update_user)
    app.router.add_delete(f"{prefix}/users/{{name}}", delete_user)
