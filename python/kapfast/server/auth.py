"""``[http] auth-enabled``: every request authenticated and authorized, as Kapacitor's httpd does.

Credentials, first match wins: ``Authorization: Bearer <jwt>`` (HMAC-signed with ``[http]
shared-secret``, ``exp`` and ``username`` required), ``Authorization: Basic`` (user
``~subscriber`` = an InfluxDB subscription token), then the query parameters ``u`` and ``p``.
Who they name comes from :mod:`kapfast.server.users` (``[auth]``). The privilege a request needs
follows its method (GET read; POST, PATCH, PUT write; DELETE delete; HEAD none) on its path under
``/api``; ``/write`` also needs write privilege on its database. Every error text is Kapacitor's.

Only CORS pre-flights (OPTIONS, which browsers send without credentials) and, with
``pprof-enabled``, ``/kapacitor/v1/debug/vars`` go without credentials, as in Kapacitor.

Where kapfast is stricter than Kapacitor (docs in README "Switching from Kapacitor"):

* bearer tokens are refused while ``shared-secret`` is empty (Kapacitor verifies them against an
  empty key, which anyone can sign with);
* the store backup (every secret of the server) and the users API need an admin user: in
  Kapacitor any ``api`` user may download the store or create an admin user for itself.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass

import jwt
from aiohttp import BasicAuth, web
from aiohttp.typedefs import Middleware
from jwt.warnings import InsecureKeyLengthWarning

from kapfast.server.http import API, PREVIEW, USER, Handler, json_response
from kapfast.server.ui import access
from kapfast.server.users import (
    ADMIN,
    SUBSCRIPTION_USER,
    AuthError,
    AuthService,
    Privilege,
    User,
    api_resource,
    clean,
)

log = logging.getLogger("kapfast.auth")

_METHOD_PRIVILEGE = {
    "HEAD": Privilege.NONE,
    "OPTIONS": Privilege.NONE,
    "GET": Privilege.READ,
    "POST": Privilege.WRITE,
    "PATCH": Privilege.WRITE,
    "PUT": Privilege.WRITE,
    "DELETE": Privilege.DELETE,
}
_HMAC = ["HS256", "HS384", "HS512"]
_WRITE_PATHS = frozenset({"/write", f"{API}/write", f"{API}preview/write"})
#: kapfast: endpoints only an admin may use (see the module docstring)
_ADMIN_ONLY = ("/storage/backup", "/users")


@dataclass
class AuthGate:
    """What the middleware needs: whether to check, the JWT key, and where users come from."""

    service: AuthService
    required: bool = False
    shared_secret: str = ""
    pprof_enabled: bool = False


GATE_KEY = web.AppKey("auth_gate", AuthGate)


def _go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _auth_error(status: int, message: str) -> web.Response:
    """Kapacitor's answer when authentication or authorization fails: the message under both
    ``error`` and ``message`` (../shared/spec/auth.md), unlike the API's other errors."""
    return json_response({"error": message, "message": message}, status)


def _unauthorized(message: str) -> web.Response:
    return _auth_error(401, message)


def _jwt_error(exc: jwt.PyJWTError, token: str) -> str:
    """jwt-go's texts (Kapacitor's tests expect them) for PyJWT's failures."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "Token is expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "Token is not valid yet"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "signature is invalid"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            alg = None
        return f"unexpected signing method: {alg}"
    if isinstance(exc, jwt.DecodeError) and token.count(".") != 2:
        return "token contains an invalid number of segments"
    return str(exc)


async def _who(gate: AuthGate, request: web.Request) -> User | web.Response:
    """The user the request's credentials name, or the 401 answer."""
    header = request.headers.get("Authorization", "")
    if header:
        parts = header.split(" ")
        if len(parts) == 2 and parts[0] == "Bearer":
            return _bearer(gate, parts[1])
        try:
            basic = BasicAuth.decode(header) if header[:6].lower() == "basic " else None
        except ValueError:
            basic = None
        if basic is not None:
            if basic.login == SUBSCRIPTION_USER:
                try:
                    return gate.service.subscription_user(basic.password)
                except AuthError as exc:
                    return _unauthorized(str(exc))
            return await _password(gate, basic.login, basic.password)
    u, p = request.query.get("u", ""), request.query.get("p", "")
    if u and p:
        return await _password(gate, u, p)
    return _unauthorized("unable to parse authentication credentials")


async def _password(gate: AuthGate, name: str, password: str) -> User | web.Response:
    if not name:
        return _unauthorized("username required")
    try:
        return await gate.service.authenticate(name, password)
    except AuthError as exc:
        log.info("authentication of %s failed: %s", name, exc, extra={"tags": {"username": name}})
        return _unauthorized("authorization failed")


def _bearer(gate: AuthGate, token: str) -> User | web.Response:
    if not gate.shared_secret:
        return _unauthorized("invalid token: bearer tokens need [http] shared-secret to be set")
    try:
        with warnings.catch_warnings():
            # a short shared-secret works in Kapacitor: PyJWT's advice is not the client's error
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                gate.shared_secret,
                algorithms=_HMAC,
                # exp is checked below, as jwt-go does: 0 or not a number counts as absent
                options={"verify_aud": False, "verify_iss": False, "verify_exp": False},
            )
    except jwt.PyJWTError as exc:
        return _unauthorized(f"invalid token: {_jwt_error(exc, token)}")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= 0:
        return _unauthorized("token expiration required")
    if exp <= time.time():
        return _unauthorized("invalid token: Token is expired")
    name = claims.get("username")
    if not isinstance(name, str):
        return _unauthorized("username in token must be a string")
    if not name:
        return _unauthorized("token must contain a username")
    try:
        return gate.service.user(name)
    except AuthError as exc:
        return _unauthorized(str(exc))


def _forbidden(request: web.Request, user: User) -> web.Response | None:
    """The 403 answer when ``user`` may not do this request; None when it may."""
    needed = _METHOD_PRIVILEGE.get(request.method.upper())
    if needed is None:
        return _auth_error(403, f"unknown method {_go_quote(request.method.upper())}")
    path = request.path
    if access.is_ui(path):
        return _ui_forbidden(path, user)
    rel = path[len(API) :] if path.startswith(API) else path
    # the same endpoint under /kapacitor/v1preview is the same resource for the admin-only rule
    under_api = clean(path[len(PREVIEW) :] if path.startswith(PREVIEW) else rel)
    if (
        not user.admin
        and needed != Privilege.NONE
        and path.startswith(API)
        and under_api.startswith(_ADMIN_ONLY)
    ):
        return _auth_error(
            403, f"user {user.name} is not an admin: API endpoint {_go_quote(path)} is for admins only"
        )
    if not user.authorized(api_resource(rel), needed):
        privilege = _go_quote(needed.label())
        return _auth_error(
            403, f"user {user.name} does not have {privilege} privilege for API endpoint {_go_quote(path)}"
        )
    if request.method == "POST" and path in _WRITE_PATHS:
        db = request.query.get("db", "")
        if db and not user.may_write_database(db):
            text = f"{_go_quote(user.name)} user is not authorized to write to database {_go_quote(db)}\n"
            return web.Response(status=401, text=text, content_type="text/plain")
    return None


def _ui_forbidden(path: str, user: User) -> web.Response | None:
    """The web page (GET only) needs read privilege on the API resources it shows."""
    for rel in access.api_paths(path):
        if not user.authorized(api_resource(rel), Privilege.READ):
            return _auth_error(
                403, f'user {user.name} does not have "read" privilege for API endpoint "{API}{rel}"'
            )
    return None


def _challenge(request: web.Request, resp: web.Response) -> web.Response:
    """kapfast: a 401 to the web page, or to the page script's API calls, asks the browser for a
    user and password (Kapacitor's API answers 401 without a challenge, which other clients keep)."""
    if resp.status == 401 and (access.is_ui(request.path) or request.headers.get(access.UI_HEADER)):
        resp.headers["WWW-Authenticate"] = access.REALM
    return resp


def _open_route(gate: AuthGate, request: web.Request) -> bool:
    if request.method == "OPTIONS":
        return True  # CORS pre-flight: answered before authentication, as Kapacitor's cors filter
    return gate.pprof_enabled and (
        request.path == f"{API}/debug/vars" or request.path.startswith(f"{API}/debug/pprof/")
    )


def make_middleware(gate: AuthGate) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not gate.required or _open_route(gate, request):
            request[USER] = ADMIN
            return await handler(request)
        who = await _who(gate, request)
        if isinstance(who, web.Response):
            return _challenge(request, who)
        request[USER] = who
        denied = _forbidden(request, who)
        if denied is not None:
            return denied
        return await handler(request)

    return authenticate


def request_user(request: web.Request) -> User:
    user = request.get(USER)
    return user if isinstance(user, User) else ADMIN


__all__ = ["GATE_KEY", "USER", "AuthGate", "make_middleware", "request_user"]
