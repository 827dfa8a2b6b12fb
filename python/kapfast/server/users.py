"""Users and what they may do, as Kapacitor's ``auth`` package and ``[auth]`` service define them.

A :class:`User` holds privileges per resource: API paths under ``/api`` (``/api/tasks``) and
databases (``/databases/<db>``). A request is allowed when the first resource found walking up
from its path (``/api/tasks/cpu`` → ``/api/tasks`` → ``/api`` → ``/``) grants the privilege its
method needs; admins may do everything.

Two sources of users, chosen by ``[auth] enabled``:

* :class:`NoAuth` (disabled, kapacitord's default): any credentials name an admin — authentication
  is "faked" (and logged), only the presence of credentials is checked by the HTTP layer.
* :class:`LocalAuth` (enabled): users stored in kapfast's SQLite store with bcrypt-hashed passwords
  (cost ``[auth] bcrypt-cost``). A bcrypt check takes tens of milliseconds, so, as Kapacitor does,
  a password that checked out is remembered as a salted SHA-256 for an hour; the check itself runs
  off the event loop.

InfluxDB's subscription pushes authenticate as ``~subscriber`` with a token kapfastd put in the
subscription's destination URL (:meth:`LocalAuth.subscription_token`).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import posixpath
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import bcrypt

from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.storage.db import Database

log = logging.getLogger("kapfast.auth")


class AuthError(KapfastError):
    """Credentials that do not name a user (answered 401)."""


class Privilege(enum.IntFlag):
    NONE = 1
    READ = 2
    WRITE = 4
    DELETE = 8
    ALL = 16

    def label(self) -> str:
        return {1: "none", 2: "read", 4: "write", 8: "delete", 16: "all"}.get(int(self), "unknown")


def clean(path: str) -> str:
    """Go's ``path.Clean`` of an absolute path (``/a//b/../c/`` → ``/a/c``)."""
    out = posixpath.normpath("/" + path.lstrip("/"))
    return "/" + out.lstrip("/")


def api_resource(path: str) -> str:
    return clean("/api/" + path)


def database_resource(db: str) -> str:
    return "/databases/" + db


ROOT = api_resource("/")
WRITE = api_resource("/write")
PING = api_resource("/ping")
CONFIG = api_resource("/config")


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False
    #: resource -> bit mask of :class:`Privilege`
    privileges: Mapping[str, int] = field(default_factory=dict)

    def authorized(self, resource: str, needed: Privilege) -> bool:
        """Kapacitor's ``User.AuthorizeAction``: the first resource found up the path decides."""
        if needed == Privilege.NONE or self.admin:
            return True
        here = clean(resource)
        while True:
            mask = self.privileges.get(here)
            if mask is not None:
                return bool(mask & needed) or mask == Privilege.ALL
            if here == "/":
                return False
            here = posixpath.dirname(here)

    def may_write_database(self, db: str) -> bool:
        """Write privilege on ``/databases/<db>``. Kapacitor never gives a locally stored user
        database privileges, so its ``write_points`` users get 401 on every ``/write``; kapfast
        lets a user holding write privilege on ``/write`` itself write to any database."""
        return self.authorized(database_resource(db), Privilege.WRITE) or (
            not self.name.startswith(SUBSCRIPTION_PREFIX) and self.authorized(WRITE, Privilege.WRITE)
        )


ADMIN = User("ADMIN_USER", admin=True)

# ---- permissions (the users API) <-> privileges ---------------------------------------------------

PERMISSIONS = ("none", "api", "config_api", "write_points", "all")


def privileges_of(permissions: Iterable[str]) -> dict[str, int]:
    """Kapacitor's mapping of user permissions to resources (``services/auth`` convertPermissions)."""
    out: dict[str, int] = {}
    for perm in permissions:
        if perm == "none":
            continue
        if perm == "api":
            out[ROOT] = Privilege.ALL
            # subtractive: /write and /config only when something else granted them
            out.setdefault(WRITE, Privilege.NONE)
            out.setdefault(CONFIG, Privilege.NONE)
        elif perm == "config_api":
            out[PING] = Privilege.ALL
            out[CONFIG] = Privilege.ALL
        elif perm == "write_points":
            out[PING] = Privilege.ALL
            out[WRITE] = Privilege.ALL
        elif perm == "all":
            out[ROOT] = out[CONFIG] = out[WRITE] = Privilege.ALL
        else:
            raise RequestError(f"invalid permissions: unknown permission {perm}")
    return out


def permissions_of(privileges: Mapping[str, int]) -> list[str]:
    has = {r: privileges.get(r, 0) & Privilege.ALL != 0 for r in (ROOT, CONFIG, WRITE)}
    if all(has.values()):
        return ["all"]
    names = {ROOT: "api", CONFIG: "config_api", WRITE: "write_points"}
    return [names[r] for r in (ROOT, CONFIG, WRITE) if has[r]]


# ---- the store ----------------------------------------------------------------------------------

# Created on first use rather than as a MIGRATIONS step (as config_overrides): only this module
# reads these tables, and other branches add schema steps at the same time.
_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0,
        privileges TEXT NOT NULL DEFAULT '{}'
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS subscription_tokens (
        cluster TEXT PRIMARY KEY,
        token TEXT NOT NULL UNIQUE
    )
    """,
)

#: Kapacitor's valid user names: letters, digits and ``-._@``.
VALID_NAME = re.compile(r"^[-._@\w]+$")
SUBSCRIPTION_USER = "~subscriber"
SUBSCRIPTION_PREFIX = "_sub:"
_CACHE_S = 3600.0


@dataclass(frozen=True)
class StoredUser:
    name: str
    hash: bytes
    admin: bool
    privileges: dict[str, int]

    def user(self) -> User:
        return User(self.name, self.admin, dict(self.privileges))


def _glob(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(out + r"\Z", re.DOTALL)


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as c:
            for sql in _TABLES:
                c.execute(sql)

    def get(self, name: str) -> StoredUser | None:
        rows = self.db.query("SELECT * FROM users WHERE name = ?", (name,))
        if not rows:
            return None
        r = rows[0]
        return StoredUser(r["name"], r["hash"].encode(), bool(r["admin"]), json.loads(r["privileges"]))

    def put(self, u: StoredUser) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                (u.name, u.hash.decode(), int(u.admin), json.dumps(u.privileges, sort_keys=True)),
            )

    def create(self, u: StoredUser) -> bool:
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO users VALUES (?, ?, ?, ?)",
                (u.name, u.hash.decode(), int(u.admin), json.dumps(u.privileges, sort_keys=True)),
            )
            return cur.rowcount == 1

    def delete(self, name: str) -> bool:
        with self.db.transaction() as c:
            return c.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[StoredUser]:
        rx = _glob(pattern) if pattern else None
        names = [r["name"] for r in self.db.query("SELECT name FROM users ORDER BY name")]
        names = [n for n in names if rx is None or rx.match(n)][offset : offset + limit]
        return [u for n in names if (u := self.get(n)) is not None]

    def subscription_token(self, cluster: str) -> str:
        rows = self.db.query("SELECT token FROM subscription_tokens WHERE cluster = ?", (cluster,))
        if rows:
            return str(rows[0]["token"])
        token = secrets.token_hex(16)  # letters and digits: a valid user name, as Kapacitor requires
        with self.db.transaction() as c:
            c.execute("INSERT OR REPLACE INTO subscription_tokens VALUES (?, ?)", (cluster, token))
        return token

    def token_known(self, token: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM subscription_tokens WHERE token = ?", (token,)))


# ---- where users come from -------------------------------------------------------------------


class AuthService:
    """What the HTTP layer asks: who do these credentials name."""

    local = False

    async def authenticate(self, name: str, password: str) -> User:
        raise NotImplementedError

    def user(self, name: str) -> User:
        raise NotImplementedError

    def subscription_user(self, token: str) -> User:
        raise NotImplementedError


class NoAuth(AuthService):
    """``[auth] enabled = false``: any credentials are an admin of that name, as Kapacitor's noauth."""

    async def authenticate(self, name: str, password: str) -> User:
        del password
        log.debug("using noauth auth backend: faked authentication for user %s", name)
        return User(name, admin=True)

    def user(self, name: str) -> User:
        return User(name, admin=True)

    def subscription_user(self, token: str) -> User:
        del token
        return User(SUBSCRIPTION_USER, admin=True)


class LocalAuth(AuthService):
    """``[auth] enabled = true``: users in kapfast's store."""

    local = True

    def __init__(self, store: UserStore, bcrypt_cost: int = 10) -> None:
        self.store = store
        self.bcrypt_cost = max(4, min(bcrypt_cost, 31))
        # name -> (salt, sha256(salt + password), expires): passwords that checked out lately
        self._checked: dict[str, tuple[bytes, bytes, float]] = {}

    def hash_password(self, password: str) -> bytes:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.bcrypt_cost))

    def forget(self, name: str) -> None:
        self._checked.pop(name, None)

    async def authenticate(self, name: str, password: str) -> User:
        stored = self.store.get(name)
        if stored is None:
            raise AuthError(f"retrieving user {json.dumps(name)} from store: user not found")
        cached = self._checked.get(name)
        if cached is not None:
            salt, digest, expires = cached
            if expires > time.monotonic() and hmac.compare_digest(_salted(salt, password), digest):
                return stored.user()
        ok = await asyncio.get_running_loop().run_in_executor(
            None, _bcrypt_check, password.encode(), stored.hash
        )
        if not ok:
            self.forget(name)
            raise AuthError("failed to authenticate user")
        salt = secrets.token_bytes(32)
        self._checked[name] = (salt, _salted(salt, password), time.monotonic() + _CACHE_S)
        return stored.user()

    def user(self, name: str) -> User:
        stored = self.store.get(name)
        if stored is None:
            raise AuthError(f"retrieving user {json.dumps(name)} from store: user not found")
        return stored.user()

    def subscription_user(self, token: str) -> User:
        if not VALID_NAME.match(token):
            raise AuthError(f"token must be a valid username: {json.dumps(token)}")
        if not self.store.token_known(token):
            raise AuthError("invalid subscription token")
        return User(
            SUBSCRIPTION_PREFIX + token,
            privileges={WRITE: Privilege.WRITE, PING: Privilege.ALL, "/databases": Privilege.WRITE},
        )

    # ---- the users API ----------------------------------------------------------------------

    def create(self, name: str, password: str, admin: bool, permissions: list[str]) -> StoredUser:
        privileges = privileges_of(permissions)
        u = StoredUser(name, self.hash_password(password), admin, privileges)
        if not self.store.create(u):
            # Kapacitor answers 200 with an empty user and changes nothing; an error says why
            raise RequestError(f"failed to create user: user {name!r} already exists")
        return u

    def update(self, name: str, password: str, kind: str, permissions: list[str] | None) -> StoredUser:
        u = self.store.get(name)
        if u is None:
            raise NotFoundError("user not found")
        privileges = privileges_of(permissions) if permissions is not None else u.privileges
        hashed = self.hash_password(password) if password else u.hash
        admin = u.admin if not kind else kind == "admin"
        if kind == "admin":
            privileges = {}
        new = StoredUser(name, hashed, admin, privileges)
        self.store.put(new)
        self.forget(name)
        return new

    def delete(self, name: str) -> None:
        self.forget(name)
        self.store.delete(name)


def _salted(salt: bytes, password: str) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()


def _bcrypt_check(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # not a bcrypt hash
        return False


__all__ = [
    "ADMIN",
    "PERMISSIONS",
    "SUBSCRIPTION_USER",
    "VALID_NAME",
    "AuthError",
    "AuthService",
    "LocalAuth",
    "NoAuth",
    "Privilege",
    "StoredUser",
    "User",
    "UserStore",
    "api_resource",
    "permissions_of",
    "privileges_of",
]
