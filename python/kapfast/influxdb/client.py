"""An async InfluxDB 1.x HTTP client (``/ping``, ``/query``, ``/write``) on aiohttp.

Only what kapfast needs: queries for batch tasks and subscription management, writes for
``influxDBOut``. Errors keep InfluxDB's own text. Connection failures and 5xx answers are retried
with exponential backoff a bounded number of times; 4xx answers are final (retrying a bad write
cannot help). InfluxDB writes are idempotent (same series and time overwrite), so a retried write
that had in fact arrived does no harm.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import msgspec

from kapfast.influxdb.answer import AnswerSeries, answer_series
from kapfast.influxdb.errors import InfluxDBConnectionError, InfluxDBError
from kapfast.influxdb.influxql import quote_ident, quote_string

log = logging.getLogger("kapfast.influxdb")

Epoch = Literal["ns", "n", "u", "ms", "s", "m", "h"]


@dataclass(frozen=True, slots=True)
class Subscription:
    db: str
    rp: str
    name: str
    mode: str
    destinations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    name: str
    duration: str
    shard_group_duration: str
    replica_n: int
    default: bool


def _error_text(body: bytes) -> str:
    """InfluxDB's ``{"error": "..."}`` text, or the raw body."""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("error"), str):
        return str(obj["error"])
    return body.decode("utf-8", "replace").strip()


def make_ssl_context(
    *,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    insecure_skip_verify: bool = False,
) -> ssl.SSLContext:
    """A client TLS context from Kapacitor's ``ssl-ca``/``ssl-cert``/``ssl-key``/``insecure-skip-verify``."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    if insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class InfluxDBClient:
    """One InfluxDB 1.x server. Use as ``async with InfluxDBClient(url) as c: ...`` or call
    :meth:`close`. Credentials come from ``username``/``password`` or the URL's ``user:pass@``."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        insecure_skip_verify: bool = False,
        max_attempts: int = 4,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        user_agent: str = "kapfast",
        compress_writes: bool = False,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL must be http(s)://host[:port][/path]: {url!r}")
        if parts.username is not None and username is None:
            username = unquote(parts.username)
            password = unquote(parts.password or "")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._headers = {"User-Agent": user_agent}
        if username is not None:
            # By hand: aiohttp.BasicAuth is deprecated in newer aiohttp, its successor missing in older.
            cred = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {cred}"
        if token is not None:
            self._headers["Authorization"] = f"Token {token}"
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.compress_writes = compress_writes  # [[influxdb]] compression = "gzip"
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        if ssl_context is None and (ca_file or cert_file or insecure_skip_verify):
            ssl_context = make_ssl_context(
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
                insecure_skip_verify=insecure_skip_verify,
            )
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the running event loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._headers, connector=connector
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> InfluxDBClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        attempts: int | None = None,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """(status, body, headers), retrying connection errors and 5xx answers with backoff."""
        session = self._get_session()
        url = self.url + path
        attempts = attempts or self.max_attempts
        delay = self.backoff_initial_s
        for attempt in range(1, attempts + 1):
            try:
                async with session.request(method, url, params=params, data=data, headers=headers) as resp:
                    body = await resp.read()
                    if resp.status < 500 or attempt == attempts:
                        return resp.status, body, resp.headers
                    reason = f"HTTP {resp.status}: {_error_text(body)}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if attempt == attempts:
                    raise InfluxDBConnectionError(
                        f"cannot reach InfluxDB at {self.url} ({attempts} attempt(s)): {reason}"
                    ) from exc
            log.debug("InfluxDB %s %s failed (attempt %d/%d): %s", method, path, attempt, attempts, reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)
        raise AssertionError("unreachable")

    # -- endpoints --------------------------------------------------------------------------------

    async def ping(self, *, attempts: int | None = None) -> str:
        """The server's version (``X-Influxdb-Version``); raises when it does not answer 204."""
        status, body, headers = await self._request("GET", "/ping", attempts=attempts)
        if status != 204:
            raise InfluxDBError(f"ping: HTTP {status}: {_error_text(body)}", status=status)
        return headers.get("X-Influxdb-Version", "")

    async def _query_body(
        self, q: str, db: str | None, rp: str | None, epoch: Epoch | None, params: Mapping[str, Any] | None
    ) -> tuple[int, bytes]:
        """POST ``/query`` (so statements that change things are allowed): (status, body) of a
        200 answer; any other raises with InfluxDB's text."""
        form: dict[str, str] = {"q": q}
        if db:
            form["db"] = db
        if rp:
            form["rp"] = rp
        if epoch:
            form["epoch"] = epoch
        if params:
            form["params"] = json.dumps(params)
        status, body, _ = await self._request("POST", "/query", data=form)
        if status != 200:
            raise InfluxDBError(f"query failed: {_error_text(body)}", status=status)
        return status, body

    async def query(
        self,
        q: str,
        *,
        db: str | None = None,
        rp: str | None = None,
        epoch: Epoch | None = "ns",
        params: Mapping[str, Any] | None = None,
        raise_errors: bool = True,
    ) -> list[dict[str, Any]]:
        """Run InfluxQL and return ``results``.

        Each result is ``{"statement_id", "series": [{"name", "tags", "columns", "values"}]}``.
        ``epoch`` gives integer times in that unit; None gives RFC 3339 strings. With
        ``raise_errors`` a statement's error raises :class:`InfluxDBError`; without, it stays in its
        result as ``"error"``. For data, :meth:`query_series` reads the answer into batches.
        """
        status, body = await self._query_body(q, db, rp, epoch, params)
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise InfluxDBError(f"query answered with bad JSON: {exc}", status=status) from None
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
            raise InfluxDBError(decoded["error"], status=status)
        results = decoded.get("results") if isinstance(decoded, dict) else None
        if not isinstance(results, list):
            raise InfluxDBError("query answer has no results", status=status)
        for res in results:
            for msg in res.get("messages") or ():
                log.warning("InfluxDB %s: %s (query %r)", msg.get("level"), msg.get("text"), q)
            if raise_errors and "error" in res:
                raise InfluxDBError(str(res["error"]), status=status, statement_id=res.get("statement_id"))
        return results

    async def query_series(
        self, q: str, *, db: str | None = None, rp: str | None = None
    ) -> list[AnswerSeries]:
        """Run a SELECT (``epoch=ns``) and return every series of its answer as one batch, read
        in Rust as Kapacitor's query node reads it (:mod:`kapfast.influxdb.answer`); errors as
        :meth:`query` raises them."""
        status, body = await self._query_body(q, db, rp, "ns", None)
        return answer_series(body, status=status, query=q)

    async def write(
        self,
        db: str,
        rp: str | None,
        body: bytes,
        *,
        precision: str = "ns",
        consistency: str | None = None,
        compress: bool | None = None,
    ) -> None:
        """POST line protocol to ``/write`` (gzipped when ``compress``, by default as the client
        was made). 4xx (e.g. ``partial write: field type conflict``) raises
        at once with InfluxDB's text; 5xx and connection errors are retried first."""
        params = {"db": db, "precision": precision}
        if rp:
            params["rp"] = rp
        if consistency:
            params["consistency"] = consistency
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        data = body
        if self.compress_writes if compress is None else compress:
            data = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        status, answer, _ = await self._request("POST", "/write", params=params, data=data, headers=headers)
        if status != 204 and status != 200:
            raise InfluxDBError(f"write to {db}.{rp or ''} failed: {_error_text(answer)}", status=status)

    # -- InfluxQL helpers -------------------------------------------------------------------------

    async def create_database(self, name: str) -> None:
        await self.query(f"CREATE DATABASE {quote_ident(name)}")

    async def drop_database(self, name: str) -> None:
        await self.query(f"DROP DATABASE {quote_ident(name)}")

    async def show_databases(self) -> list[str]:
        (res,) = await self.query("SHOW DATABASES")
        return [row[0] for s in res.get("series", ()) for row in s.get("values") or ()]

    async def create_retention_policy(
        self,
        db: str,
        name: str,
        duration: str = "INF",
        *,
        replication: int = 1,
        shard_duration: str | None = None,
        default: bool = False,
    ) -> None:
        q = (
            f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)} "
            f"DURATION {duration} REPLICATION {int(replication)}"
        )
        if shard_duration:
            q += f" SHARD DURATION {shard_duration}"
        if default:
            q += " DEFAULT"
        await self.query(q)

    async def show_retention_policies(self, db: str) -> list[RetentionPolicy]:
        (res,) = await self.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
        return [
            _retention_policy(s.get("columns", []), row) for s in res.get("series", ()) for row in s["values"]
        ]

    async def show_all_retention_policies(self, dbs: Sequence[str]) -> dict[str, list[RetentionPolicy]]:
        """Retention policies of many databases, in one request when all goes well.

        A database dropped meanwhile is left out. InfluxDB stops a multi-statement query at the
        first failing statement (the rest come back ``not executed`` or missing), so databases
        without a good answer are asked again one by one.
        """
        if not dbs:
            return {}
        q = "; ".join(f"SHOW RETENTION POLICIES ON {quote_ident(db)}" for db in dbs)
        results = await self.query(q, raise_errors=False)
        out: dict[str, list[RetentionPolicy]] = {}
        retry: list[str] = []
        for i, db in enumerate(dbs):
            res = results[i] if i < len(results) else {"error": "missing"}
            if "error" in res:
                retry.append(db)
                continue
            out[db] = _retention_policies(res)
        for db in retry:
            try:
                out[db] = await self.show_retention_policies(db)
            except InfluxDBError as exc:
                if "database not found" not in exc.message:
                    raise
        return out

    async def show_subscriptions(self) -> list[Subscription]:
        (res,) = await self.query("SHOW SUBSCRIPTIONS")
        subs: list[Subscription] = []
        for s in res.get("series", ()):
            cols = s.get("columns", [])
            for row in s.get("values") or ():
                r = dict(zip(cols, row, strict=False))
                subs.append(
                    Subscription(
                        s.get("name", ""),
                        r.get("retention_policy", ""),
                        r.get("name", ""),
                        r.get("mode", ""),
                        tuple(r.get("destinations") or ()),
                    )
                )
        return subs

    async def create_subscription(
        self, name: str, db: str, rp: str, mode: str, destinations: Sequence[str]
    ) -> bool:
        """CREATE SUBSCRIPTION; False (not an error) when one of that name already exists on db.rp."""
        mode = mode.upper()
        if mode not in ("ALL", "ANY"):
            raise ValueError(f"subscription mode must be ALL or ANY, not {mode!r}")
        if not destinations:
            raise ValueError("a subscription needs at least one destination")
        dests = ", ".join(quote_string(d) for d in destinations)
        on = f"{quote_ident(db)}.{quote_ident(rp)}"
        q = f"CREATE SUBSCRIPTION {quote_ident(name)} ON {on} DESTINATIONS {mode} {dests}"
        try:
            await self.query(q)
        except InfluxDBError as exc:
            if "already exists" in exc.message:
                return False
            raise
        return True

    async def drop_subscription(self, name: str, db: str, rp: str) -> bool:
        """DROP SUBSCRIPTION; False (not an error) when there is no such subscription."""
        try:
            await self.query(f"DROP SUBSCRIPTION {quote_ident(name)} ON {quote_ident(db)}.{quote_ident(rp)}")
        except InfluxDBError as exc:
            if "not found" in exc.message:
                return False
            raise
        return True


def _retention_policies(res: Mapping[str, Any]) -> list[RetentionPolicy]:
    return [
        _retention_policy(s.get("columns", []), row)
        for s in res.get("series", ())
        for row in s.get("values") or ()
    ]


def _retention_policy(columns: Sequence[str], row: Sequence[Any]) -> RetentionPolicy:
    r = dict(zip(columns, row, strict=False))
    return RetentionPolicy(
        str(r.get("name", "")),
        str(r.get("duration", "")),
        str(r.get("shardGroupDuration", "")),
        int(r.get("replicaN") or 0),
        bool(r.get("default", False)),
    )


__all__ = ["Epoch", "InfluxDBClient", "RetentionPolicy", "Subscription", "make_ssl_context"]
