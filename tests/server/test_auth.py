"""Authentication and authorization as Kapacitor documents them (auth.md, Kapacitor's
server_test.go and services/httpd): credentials, error texts, privileges per method and path,
user permissions, the users API, bearer JWTs and subscription tokens."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from kapfastd_proc import Answer, Kapfastd

SECRET = "the shared secret of this kapfastd test, long enough for HS512 (64 bytes)"
AUTH = "[auth]\n  enabled = true\n  bcrypt-cost = 4\n"
ON = f'  auth-enabled = true\n  shared-secret = "{SECRET}"\n'


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> dict[str, str]:
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm=alg)}


def error(ans: Answer) -> str:
    """The error text; an authentication/authorization failure carries it under "message" too
    (auth.md), other API errors only under "error" (Kapacitor's httpd.HttpError)."""
    body = ans.json()
    if ans.status in (401, 403):
        assert body["error"] == body["message"]
    return str(body["error"])


def later() -> int:
    return int(time.time()) + 3600


USERS = [
    {"name": "root", "password": "rootpw", "type": "admin"},
    {"name": "bob", "password": "bobpw", "type": "normal", "permissions": ["api"]},
    {"name": "cfg", "password": "cfgpw", "type": "normal", "permissions": ["config_api"]},
    {"name": "writer", "password": "writerpw", "type": "normal", "permissions": ["write_points"]},
    {"name": "nobody", "password": "nobodypw", "type": "normal", "permissions": ["none"]},
]


@pytest.fixture
def secured(kapfastd_factory: Callable[..., Kapfastd]) -> Kapfastd:
    """Users are created as Kapacitor's docs say (auth-enabled = false, [auth] enabled), then the
    server restarts with every request authenticated."""
    k = kapfastd_factory(AUTH)
    for u in USERS:
        assert k.api("POST", "/users", u).status == 200
    k.stop()
    k.http_options = ON
    k.start()
    return k


def test_without_auth_nothing_is_checked(kapfastd: Kapfastd) -> None:
    assert kapfastd.request("GET", "/kapacitor/v1/ping").status == 204
    assert kapfastd.api("GET", "/tasks").status == 200
    assert kapfastd.api("GET", "/users").status == 404  # [auth] off: no users API


def test_every_route_needs_credentials(secured: Kapfastd) -> None:
    k = secured
    none = {"Authorization": ""}
    for method, path in [
        ("GET", "/kapacitor/v1/ping"),
        ("HEAD", "/kapacitor/v1/ping"),
        ("GET", "/ping"),
        ("GET", "/kapacitor/v1/tasks"),
        ("GET", "/kapacitor/v1/debug/vars"),  # pprof-enabled = false: no exception
        ("POST", "/write?db=telegraf"),
        ("POST", "/kapacitor/v1/write?db=telegraf"),
        ("GET", "/kapacitor/v1/no/such/thing"),
        ("GET", "/kapacitor/v1preview/logs"),
        ("GET", "/kapacitor/v1/storage/backup"),
    ]:
        ans = k.request(method, path, headers=none, raw=b"" if method == "POST" else None)
        assert ans.status == 401, (method, path, ans)
        if method != "HEAD":
            assert error(ans) == "unable to parse authentication credentials"
    # a CORS pre-flight carries no credentials: answered, as Kapacitor's cors filter does
    assert k.request("OPTIONS", "/kapacitor/v1/tasks", headers=none).status == 204


def test_passwords_basic_auth_and_query_params(secured: Kapfastd) -> None:
    k = secured
    assert k.request("GET", "/kapacitor/v1/ping", headers=basic("root", "rootpw")).status == 204
    assert k.request("GET", "/kapacitor/v1/ping?u=root&p=rootpw", headers={"Authorization": ""}).status == 204
    for headers, path, message in [
        (basic("root", "wrong"), "/kapacitor/v1/ping", "authorization failed"),
        (basic("ghost", "x"), "/kapacitor/v1/ping", "authorization failed"),
        (basic("", "x"), "/kapacitor/v1/ping", "username required"),
        ({"Authorization": ""}, "/kapacitor/v1/ping?u=root&p=", "unable to parse authentication credentials"),
        ({"Authorization": ""}, "/kapacitor/v1/ping?u=root&p=bad", "authorization failed"),
    ]:
        ans = k.request("GET", path, headers=headers)
        assert ans.status == 401 and error(ans) == message, (headers, path, ans)
    # the second check of a password is served from the cache, and a wrong one still fails
    assert k.request("GET", "/kapacitor/v1/ping", headers=basic("root", "rootpw")).status == 204
    assert k.request("GET", "/kapacitor/v1/ping", headers=basic("root", "rootpw2")).status == 401


def test_privileges_follow_permissions(secured: Kapfastd) -> None:
    k = secured

    def as_(user: str, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Answer:
        pw = next(u["password"] for u in USERS if u["name"] == user)
        return k.request(method, path, body, raw=raw, headers=basic(user, pw))

    def forbidden(ans: Answer, user: str, privilege: str, path: str) -> None:
        assert ans.status == 403, ans
        assert error(ans) == f'user {user} does not have "{privilege}" privilege for API endpoint "{path}"'

    line = b"cpu v=1 1\n"
    # api: everything but /write and /config
    assert as_("bob", "GET", "/kapacitor/v1/tasks").status == 200
    assert as_("bob", "GET", "/kapacitor/v1/ping").status == 204
    forbidden(as_("bob", "POST", "/write?db=telegraf", raw=line), "bob", "write", "/write")
    forbidden(as_("bob", "GET", "/kapacitor/v1/config"), "bob", "read", "/kapacitor/v1/config")
    forbidden(as_("bob", "POST", "/kapacitor/v1/write?db=t", raw=line), "bob", "write", "/kapacitor/v1/write")
    # write_points: ping and /write only
    assert as_("writer", "GET", "/kapacitor/v1/ping").status == 204
    forbidden(as_("writer", "GET", "/kapacitor/v1/tasks"), "writer", "read", "/kapacitor/v1/tasks")
    forbidden(as_("writer", "DELETE", "/kapacitor/v1/tasks/x"), "writer", "delete", "/kapacitor/v1/tasks/x")
    # kapfast: a write_points user may write (Kapacitor's local users never can: 401)
    assert as_("writer", "POST", "/write?db=telegraf", raw=line).status == 204
    # config_api: ping and /config
    assert as_("cfg", "GET", "/kapacitor/v1/config").status == 200
    forbidden(as_("cfg", "GET", "/kapacitor/v1/tasks"), "cfg", "read", "/kapacitor/v1/tasks")
    # none: nothing but HEAD, which needs no privilege
    forbidden(as_("nobody", "GET", "/kapacitor/v1/ping"), "nobody", "read", "/kapacitor/v1/ping")
    assert as_("nobody", "HEAD", "/kapacitor/v1/ping").status == 204
    # admin: everything; the store backup and the users API are for admins only (kapfast)
    assert as_("root", "GET", "/kapacitor/v1/storage/backup").status == 200
    assert as_("root", "POST", "/write?db=telegraf", raw=line).status == 204
    ans = as_("bob", "GET", "/kapacitor/v1/storage/backup")
    assert ans.status == 403 and "admins only" in error(ans)
    for prefix in ("/kapacitor/v1", "/kapacitor/v1preview"):
        ans = as_("bob", "POST", f"{prefix}/users", {"name": "evil", "password": "x", "type": "admin"})
        assert ans.status == 403 and "admins only" in error(ans)
    assert as_("bob", "GET", "/kapacitor/v1preview/storage/backup").status == 403


def test_bearer_tokens(secured: Kapfastd) -> None:
    k = secured

    def ping(headers: dict[str, str]) -> Answer:
        return k.request("GET", "/kapacitor/v1/ping", headers=headers)

    for alg in ("HS256", "HS384", "HS512"):
        assert ping(bearer({"username": "root", "exp": later()}, alg=alg)).status == 204
    assert (
        k.request("GET", "/kapacitor/v1/tasks", headers=bearer({"username": "bob", "exp": later()})).status
        == 200
    )
    for headers, message in [
        (
            bearer(
                {"username": "root", "exp": later()},
                secret="another secret, not the server's: 32 bytes or more",
            ),
            "invalid token: signature is invalid",
        ),
        (bearer({"username": "root", "exp": int(time.time()) - 10}), "invalid token: Token is expired"),
        (bearer({"username": "root"}), "token expiration required"),
        (bearer({"username": "root", "exp": 0}), "token expiration required"),
        (bearer({"username": 7, "exp": later()}), "username in token must be a string"),
        (bearer({"username": "", "exp": later()}), "token must contain a username"),
        (bearer({"exp": later()}), "username in token must be a string"),
        ({"Authorization": "Bearer not.a.token"}, None),
        ({"Authorization": "Bearer abc"}, "invalid token: token contains an invalid number of segments"),
    ]:
        ans = ping(headers)
        assert ans.status == 401, (headers, ans)
        if message is not None:
            assert error(ans) == message
        else:
            assert error(ans).startswith("invalid token: ")
    unsigned = jwt.encode({"username": "root", "exp": later()}, None, algorithm="none")
    ans = ping({"Authorization": f"Bearer {unsigned}"})
    assert ans.status == 401 and error(ans) == "invalid token: unexpected signing method: none"
    ans = ping(bearer({"username": "ghost", "exp": later()}))
    assert ans.status == 401 and "ghost" in error(ans)


def test_subscription_tokens(secured: Kapfastd) -> None:
    k = secured
    ans = k.request(
        "POST", "/write?db=telegraf", raw=b"cpu v=1 1\n", headers=basic("~subscriber", "nosuchtoken")
    )
    assert ans.status == 401 and error(ans) == "invalid subscription token"
    ans = k.request("GET", "/kapacitor/v1/ping", headers=basic("~subscriber", "bad token!"))
    assert ans.status == 401 and error(ans) == 'token must be a valid username: "bad token!"'


def test_users_api(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(AUTH)  # http auth off: every request is an admin, the users API exists
    ans = k.api("POST", "/users", {"name": "bob", "password": "pw", "type": "normal", "permissions": ["api"]})
    assert ans.status == 200
    assert ans.json() == {
        "link": {"rel": "self", "href": "/kapacitor/v1/users/bob"},
        "name": "bob",
        "type": "normal",
        "permissions": ["api"],
    }
    both = {"name": "al", "password": "pw", "permissions": ["api", "config_api", "write_points"]}
    assert k.api("POST", "/users", both).json()["permissions"] == ["all"]
    adm = k.api("POST", "/users", {"name": "adm", "password": "pw", "type": "admin"}).json()
    assert adm["type"] == "admin" and adm["permissions"] == []
    for body, status, message in [
        (None, 400, "invalid JSON"),
        ({"name": "", "password": "x"}, 400, "username is required"),
        ({"name": "a b", "password": "x"}, 400, None),
        ({"name": "carl", "password": ""}, 400, "password is required"),
        ({"name": "bob", "password": "other"}, 400, None),  # exists: an error, not Kapacitor's empty 200
    ]:
        ans = k.request("POST", "/kapacitor/v1/users", body, raw=b"{nope" if body is None else None)
        assert ans.status == status, (body, ans)
        if message:
            assert error(ans) == message
    assert "letters, numbers" in error(k.api("POST", "/users", {"name": "a b", "password": "x"}))
    assert k.api("GET", "/users/ghost").status == 404
    assert k.api("GET", "/users/bob").json()["permissions"] == ["api"]
    # PATCH: permissions null keep them, [] clears them, type admin clears them too
    assert k.api("PATCH", "/users/bob", {"password": "new"}).json()["permissions"] == ["api"]
    assert k.api("PATCH", "/users/bob", {"permissions": ["write_points"]}).json()["permissions"] == [
        "write_points"
    ]
    assert k.api("PATCH", "/users/bob", {"permissions": []}).json()["permissions"] == []
    k.api("PATCH", "/users/bob", {"permissions": ["api"]})
    patched = k.api("PATCH", "/users/bob", {"type": "admin"}).json()
    assert patched["type"] == "admin" and patched["permissions"] == []
    assert k.api("DELETE", "/users/bob").status == 204
    assert k.api("GET", "/users/bob").status == 404
    # listing: sorted, pattern, fields, offset, limit (Kapacitor's Go test figures)
    for i in range(20):
        k.api("POST", "/users", {"name": f"bob{i:02d}", "password": "pw", "permissions": ["api"]})
    assert len(k.api("GET", "/users?pattern=bob*").json()["users"]) == 20
    page = k.api("GET", "/users?pattern=bob1*&fields=type&offset=2").json()["users"]
    assert [u["name"] for u in page] == [f"bob1{i}" for i in range(2, 10)]
    assert set(page[0]) == {"name", "link", "type"}
    names = [u["name"] for u in k.api("GET", "/users?limit=3").json()["users"]]
    assert names == sorted(names) and len(names) == 3
    # users persist across restarts, passwords hashed with bcrypt
    k.stop()
    k.start()
    assert k.api("GET", "/users/bob15").status == 200
    raw = k.data_dir.joinpath("kapfast.db").read_bytes()
    assert b"$2b$04$" in raw and b'"pw"' not in raw


def test_faked_authentication_with_auth_section_off(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """[http] auth-enabled with [auth] disabled: any credentials are an admin (Kapacitor's noauth)."""
    k = kapfastd_factory(http_options=ON)
    assert k.request("GET", "/kapacitor/v1/ping", headers={"Authorization": ""}).status == 401
    assert k.request("GET", "/kapacitor/v1/tasks", headers=basic("anyone", "anything")).status == 200
    assert k.request("GET", "/kapacitor/v1/storage/backup", headers=basic("x", "y")).status == 200
    assert (
        k.request("GET", "/kapacitor/v1/ping", headers=bearer({"username": "z", "exp": later()})).status
        == 204
    )
    assert k.request("POST", "/write?db=t", raw=b"m v=1\n", headers=basic("~subscriber", "any")).status == 204


def test_pprof_enabled_opens_debug_vars_only(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(AUTH, http_options=ON + "  pprof-enabled = true\n")
    assert k.request("GET", "/kapacitor/v1/debug/vars", headers={"Authorization": ""}).status == 200
    assert k.request("GET", "/kapacitor/v1/tasks", headers={"Authorization": ""}).status == 401
