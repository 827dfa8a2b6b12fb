"""A typed Python client for kapfastd's (and Kapacitor's) HTTP API under ``/kapacitor/v1``.

    from kapfast.client import Client

    with Client("http://localhost:9092") as c:
        c.create_task("cpu", script=open("cpu.tick").read(), dbrps=[DBRP("telegraf", "autogen")])
        c.update_task("cpu", status="enabled")
        print(c.task("cpu").dot)

The client is blocking and built on the standard library's ``http.client`` over one kept-alive
connection: a command-line call makes a handful of requests, and importing an event loop and
aiohttp would cost more start-up time than all of them together. Every method returns typed
:mod:`msgspec` structs whose fields carry the API's JSON names (``template-id`` is
``template_id``). A failed request raises a :mod:`kapfast.errors` class carrying the server's own
error text: :class:`~kapfast.errors.NotFoundError` for 404, :class:`~kapfast.errors.RequestError`
for other 4xx answers, :class:`ServerError` for 5xx and unexpected answers,
:class:`ConnectError` when the server cannot be reached and :class:`InvalidURLError` when the URL
itself is unusable.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import http.client
import json
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Literal, Self, TypeVar

import msgspec

from kapfast.errors import ConfigError, KapfastError, NotFoundError, RequestError
from kapfast.gofmt import go_quote
from kapfast.timefmt import GO_ZERO_TIME

DEFAULT_URL = "http://localhost:9092"
BASE_PATH = "/kapacitor/v1"
PREVIEW_PATH = "/kapacitor/v1preview"
TAP_PATH = "/kapfast/v1/tap"
#: Page size of the list endpoints, as ``kapacitor`` pages through them.
PAGE_SIZE = 100


class ServerError(KapfastError):
    """The server failed (5xx) or answered something the client cannot read."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ConnectError(KapfastError):
    """The server could not be reached (refused, unknown host, timed out, dropped connection)."""


class InvalidURLError(ConfigError):
    """The server URL is not an ``http://`` or ``https://`` URL."""


# --------------------------------------------------------------------------------------------
# Resources, as the API spells them (client/v1 shapes)
# --------------------------------------------------------------------------------------------


class Link(msgspec.Struct, frozen=True):
    rel: str = "self"
    href: str = ""


class DBRP(msgspec.Struct, frozen=True):
    """A database and retention policy pair. ``str()`` is Go's ``%q.%q``: ``"db"."rp"``."""

    db: str
    rp: str

    def __str__(self) -> str:
        return f"{go_quote(self.db)}.{go_quote(self.rp)}"


class Var(msgspec.Struct, omit_defaults=True):
    """A template var: ``type`` is bool, int, float, string, regex, duration, lambda, list or star.

    ``value`` is the JSON value (durations as int nanoseconds or a duration string, lists as
    ``[{"type": ..., "value": ...}]``); ``None`` in a template means the var is required.
    """

    type: str
    value: Any = None
    description: str = ""


class Task(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    template_id: str = msgspec.field(name="template-id", default="")
    type: str = ""
    dbrps: list[DBRP] | None = None
    script: str = ""
    vars: dict[str, Var] | None = None
    dot: str = ""
    status: str = ""
    executing: bool = False
    error: str = ""
    stats: dict[str, Any] | None = None
    created: str = GO_ZERO_TIME
    modified: str = GO_ZERO_TIME
    last_enabled: str = msgspec.field(name="last-enabled", default=GO_ZERO_TIME)


class Template(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    type: str = ""
    script: str = ""
    vars: dict[str, Var] | None = None
    dot: str = ""
    error: str = ""
    created: str = GO_ZERO_TIME
    modified: str = GO_ZERO_TIME


class Recording(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    type: str = ""
    size: int = 0
    date: str = GO_ZERO_TIME
    error: str = ""
    status: str = ""
    progress: float = 0.0


class Replay(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    task: str = ""
    recording: str = ""
    recording_time: bool = msgspec.field(name="recording-time", default=False)
    clock: str = ""
    date: str = GO_ZERO_TIME
    error: str = ""
    status: str = ""
    progress: float = 0.0
    stats: dict[str, Any] | None = None


class Topic(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    level: str = ""
    collected: int = 0
    events_link: Link = msgspec.field(name="events-link", default=Link())
    handlers_link: Link = msgspec.field(name="handlers-link", default=Link())


class EventState(msgspec.Struct, kw_only=True, frozen=True):
    message: str = ""
    details: str = ""
    time: str = GO_ZERO_TIME
    duration: Any = None
    level: str = ""


class TopicEvent(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    state: EventState = EventState()


class TopicHandler(msgspec.Struct, kw_only=True):
    id: str
    link: Link = Link()
    kind: str = ""
    options: dict[str, Any] | None = None
    match: str = ""


class ServiceTest(msgspec.Struct, kw_only=True):
    name: str
    link: Link = Link()
    options: dict[str, Any] | None = None


class ServiceTestResult(msgspec.Struct, kw_only=True):
    success: bool = False
    message: str = ""


_T = TypeVar("_T")
TaskType = Literal["stream", "batch"]
Clock = Literal["fast", "real"]


def go_time(dt: _dt.datetime) -> str:
    """A datetime as Go marshals ``time.Time`` to JSON (RFC 3339, nanosecond digits trimmed)."""
    if dt.tzinfo is None:
        dt = dt.astimezone()
    dt = dt.astimezone(_dt.UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{dt.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{base}{frac}Z"


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class Client:
    """A blocking client of one server. Not thread-safe: use one per thread."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 60.0, skip_verify: bool = False) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https"):
            raise InvalidURLError(
                f"Unsupported protocol scheme: {parsed.scheme}, "
                "your address must start with http:// or https://"
            )
        if not parsed.hostname:
            raise InvalidURLError(f"invalid URL {url!r}: no host")
        try:
            port = parsed.port
        except ValueError as exc:
            raise InvalidURLError(f"invalid URL {url!r}: {exc}") from None
        # Credentials in the URL (http://user:pass@host:9092) go as HTTP basic auth, as `kapacitor`
        # sends them; the URL shown in messages leaves the password out.
        self._headers = {"User-Agent": "kapfast"}
        if parsed.username is not None or parsed.password is not None:
            user = urllib.parse.unquote(parsed.username or "")
            password = urllib.parse.unquote(parsed.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
            netloc = parsed.netloc.rpartition("@")[2]
            url = urllib.parse.urlunsplit(parsed._replace(netloc=f"{parsed.username}@{netloc}"))
        self._url = url
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = port
        # A URL with a path (a server behind a proxy prefix) keeps its prefix.
        self._prefix = parsed.path.rstrip("/")
        self._timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            self._ssl = ssl.create_default_context()
            if skip_verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._conn: http.client.HTTPConnection | None = None

    @property
    def url(self) -> str:
        return self._url

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport --------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._ssl is not None:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._ssl
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """One request; returns (status, body) for 2xx answers and raises otherwise."""
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(list(query))
        headers = {**self._headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        # A kept-alive connection the server closed while idle fails on its next use before the
        # server reads anything: only then is the request sent again, on a fresh connection.
        while True:
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if not reused:
                    raise ConnectError(f"{method} {self._url}{path}: connection lost: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ConnectError(f"{method} {self._url}{path}: {_reason(exc)}") from None
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        if 200 <= resp.status < 300:
            return resp.status, data
        raise _error(resp.status, data)

    def _get(self, path: str, typ: type[_T], query: Sequence[tuple[str, str]] = ()) -> _T:
        _, data = self.request("GET", path, query=query)
        return _decode(data, typ)

    def _listed(self, path: str, key: str, typ: type[_T], query: Sequence[tuple[str, str]] = ()) -> list[_T]:
        """The list under ``key`` of a listing answer (``{"tasks": [...]}``), typed."""
        _, data = self.request("GET", path, query=query)
        doc = _decode(data, dict[str, Any])
        try:
            return msgspec.convert(doc.get(key) or [], type=list[typ])  # type: ignore[valid-type]
        except msgspec.ValidationError as exc:
            raise ServerError(f"failed to decode JSON: {exc}") from None

    def _send(self, method: str, path: str, payload: Any, typ: type[_T]) -> _T:
        _, data = self.request(method, path, body=msgspec.json.encode(payload))
        return _decode(data, typ)

    def _send_optional(self, method: str, path: str, payload: Any, typ: type[_T]) -> _T | None:
        # Kapacitor answers PATCH with 200 and the resource; older versions with 204 and nothing.
        _, data = self.request(method, path, body=msgspec.json.encode(payload))
        return _decode(data, typ) if data.strip() else None

    def _delete(self, path: str) -> None:
        self.request("DELETE", path)

    # ---- misc -------------------------------------------------------------------------------

    def ping(self) -> str:
        """Ping the server; returns its version (the ``X-Kapacitor-Version`` header)."""
        conn = self._connection()
        try:
            conn.request("GET", self._prefix + BASE_PATH + "/ping", headers=self._headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ConnectError(f"GET {self._url}{BASE_PATH}/ping: {_reason(exc)}") from None
        if not 200 <= resp.status < 300:
            raise _error(resp.status, data)
        return resp.getheader("X-Kapacitor-Version", "") or ""

    def debug_vars_raw(self) -> bytes:
        """``GET /debug/vars`` exactly as the server sent it."""
        return self.request("GET", BASE_PATH + "/debug/vars")[1]

    def debug_vars(self) -> dict[str, Any]:
        data = self.debug_vars_raw()
        try:
            out = json.loads(data)
        except ValueError as exc:
            raise ServerError(f"failed to decode JSON: {exc}") from None
        if not isinstance(out, dict):
            raise ServerError("failed to decode JSON: debug vars are not an object")
        return out

    def explain(self, task_id: str, *, node: str = "", at: str = "", recording: str = "") -> dict[str, Any]:
        """``GET /tasks/<id>/explain`` (kapfast only): why each alert node is at its level."""
        query = [(k, v) for k, v in (("node", node), ("at", at), ("recording", recording)) if v]
        return self._get(_item("tasks", task_id) + "/explain", dict[str, Any], query)

    def log_level(self, level: str) -> None:
        """Set the server's log level (DEBUG, INFO, WARN, ERROR or OFF; any case)."""
        self.request("POST", BASE_PATH + "/loglevel", body=msgspec.json.encode({"level": level.upper()}))

    def write(self, db: str, data: bytes, *, rp: str = "", precision: str = "") -> None:
        """Write line protocol to ``/kapacitor/v1/write``."""
        query = [("db", db)]
        if rp:
            query.append(("rp", rp))
        if precision:
            query.append(("precision", precision))
        self.request("POST", BASE_PATH + "/write", query=query, body=data, content_type="text/plain")

    # ---- tasks ------------------------------------------------------------------------------

    def task(
        self,
        task_id: str,
        *,
        dot_view: str = "attributes",
        script_format: str = "formatted",
        replay_id: str = "",
    ) -> Task:
        query = [("dot-view", dot_view), ("script-format", script_format)]
        if replay_id:
            query.append(("replay-id", replay_id))
        return self._get(_item("tasks", task_id), Task, query)

    def list_tasks(
        self,
        pattern: str = "",
        *,
        fields: Iterable[str] = (),
        offset: int = 0,
        limit: int = PAGE_SIZE,
        dot_view: str = "attributes",
        script_format: str = "formatted",
    ) -> list[Task]:
        query = [("dot-view", dot_view), ("script-format", script_format)]
        query += _list_query(pattern, fields, offset, limit)
        return self._listed(BASE_PATH + "/tasks", "tasks", Task, query)

    def iter_tasks(self, pattern: str = "", *, fields: Iterable[str] = ()) -> Iterator[Task]:
        """Every task matching ``pattern`` (a shell glob), fetched in pages of 100."""
        fields = tuple(fields)
        return _pages(lambda off: self.list_tasks(pattern, fields=fields, offset=off))

    def create_task(
        self,
        task_id: str = "",
        *,
        template_id: str = "",
        type: TaskType | None = None,
        dbrps: Sequence[DBRP] = (),
        script: str = "",
        status: str = "",
        vars: dict[str, Var] | None = None,
    ) -> Task:
        payload: dict[str, Any] = {}
        for key, value in (
            ("id", task_id),
            ("template-id", template_id),
            ("type", type),
            ("script", script),
            ("status", status),
        ):
            if value:
                payload[key] = value
        if dbrps:
            payload["dbrps"] = list(dbrps)
        if vars:
            payload["vars"] = vars
        return self._send("POST", BASE_PATH + "/tasks", payload, Task)

    def update_task(
        self,
        task_id: str,
        *,
        new_id: str | None = None,
        template_id: str | None = None,
        type: TaskType | None = None,
        dbrps: Sequence[DBRP] | None = None,
        script: str | None = None,
        status: str | None = None,
        vars: dict[str, Var] | None = None,
    ) -> Task | None:
        """PATCH only the given fields (dbrps and vars replace the old ones whole)."""
        payload: dict[str, Any] = {}
        for key, value in (
            ("id", new_id),
            ("template-id", template_id),
            ("type", type),
            ("script", script),
            ("status", status),
        ):
            if value is not None:
                payload[key] = value
        if dbrps is not None:
            payload["dbrps"] = list(dbrps)
        if vars is not None:
            payload["vars"] = vars
        return self._send_optional("PATCH", _item("tasks", task_id), payload, Task)

    def delete_task(self, task_id: str) -> None:
        self._delete(_item("tasks", task_id))

    # ---- templates --------------------------------------------------------------------------

    def template(self, template_id: str, *, script_format: str = "formatted") -> Template:
        return self._get(_item("templates", template_id), Template, [("script-format", script_format)])

    def list_templates(
        self, pattern: str = "", *, fields: Iterable[str] = (), offset: int = 0, limit: int = PAGE_SIZE
    ) -> list[Template]:
        query = [("script-format", "formatted"), *_list_query(pattern, fields, offset, limit)]
        return self._listed(BASE_PATH + "/templates", "templates", Template, query)

    def iter_templates(self, pattern: str = "", *, fields: Iterable[str] = ()) -> Iterator[Template]:
        fields = tuple(fields)
        return _pages(lambda off: self.list_templates(pattern, fields=fields, offset=off))

    def create_template(
        self, template_id: str = "", *, type: TaskType | None = None, script: str = ""
    ) -> Template:
        payload: dict[str, Any] = {"script": script}
        _optional(payload, id=template_id)
        if type:
            payload["type"] = type
        return self._send("POST", BASE_PATH + "/templates", payload, Template)

    def update_template(
        self,
        template_id: str,
        *,
        new_id: str | None = None,
        type: TaskType | None = None,
        script: str | None = None,
    ) -> Template | None:
        payload: dict[str, Any] = {}
        for key, value in (("id", new_id), ("type", type), ("script", script)):
            if value is not None:
                payload[key] = value
        return self._send_optional("PATCH", _item("templates", template_id), payload, Template)

    def delete_template(self, template_id: str) -> None:
        self._delete(_item("templates", template_id))

    # ---- recordings -------------------------------------------------------------------------

    def recording(self, recording_id: str) -> Recording:
        return self._get(_item("recordings", recording_id), Recording)

    def list_recordings(
        self, pattern: str = "", *, fields: Iterable[str] = (), offset: int = 0, limit: int = PAGE_SIZE
    ) -> list[Recording]:
        query = _list_query(pattern, fields, offset, limit)
        return self._listed(BASE_PATH + "/recordings", "recordings", Recording, query)

    def iter_recordings(self, pattern: str = "", *, fields: Iterable[str] = ()) -> Iterator[Recording]:
        fields = tuple(fields)
        return _pages(lambda off: self.list_recordings(pattern, fields=fields, offset=off))

    def record_stream(self, task: str, stop: _dt.datetime, *, recording_id: str = "") -> Recording:
        """Record the live stream of ``task``'s dbrps until ``stop``; returns once started."""
        payload: dict[str, Any] = {"task": task, "stop": go_time(stop)}
        _optional(payload, id=recording_id)
        return self._send("POST", BASE_PATH + "/recordings/stream", payload, Recording)

    def record_batch(
        self,
        task: str,
        start: _dt.datetime,
        stop: _dt.datetime,
        *,
        recording_id: str = "",
        cluster: str = "",
    ) -> Recording:
        payload: dict[str, Any] = {"task": task, "start": go_time(start), "stop": go_time(stop)}
        _optional(payload, id=recording_id, cluster=cluster)
        return self._send("POST", BASE_PATH + "/recordings/batch", payload, Recording)

    def record_query(
        self, query: str, type: TaskType, *, recording_id: str = "", cluster: str = ""
    ) -> Recording:
        payload: dict[str, Any] = {"query": query, "type": type}
        _optional(payload, id=recording_id, cluster=cluster)
        return self._send("POST", BASE_PATH + "/recordings/query", payload, Recording)

    def delete_recording(self, recording_id: str) -> None:
        self._delete(_item("recordings", recording_id))

    # ---- replays ----------------------------------------------------------------------------

    def replay(self, replay_id: str) -> Replay:
        return self._get(_item("replays", replay_id), Replay)

    def list_replays(
        self, pattern: str = "", *, fields: Iterable[str] = (), offset: int = 0, limit: int = PAGE_SIZE
    ) -> list[Replay]:
        query = _list_query(pattern, fields, offset, limit)
        return self._listed(BASE_PATH + "/replays", "replays", Replay, query)

    def iter_replays(self, pattern: str = "", *, fields: Iterable[str] = ()) -> Iterator[Replay]:
        fields = tuple(fields)
        return _pages(lambda off: self.list_replays(pattern, fields=fields, offset=off))

    def create_replay(
        self,
        task: str,
        recording: str,
        *,
        replay_id: str = "",
        recording_time: bool = False,
        clock: Clock = "fast",
    ) -> Replay:
        payload: dict[str, Any] = {
            "task": task,
            "recording": recording,
            "recording-time": recording_time,
            "clock": clock,
        }
        _optional(payload, id=replay_id)
        return self._send("POST", BASE_PATH + "/replays", payload, Replay)

    def replay_batch(
        self,
        task: str,
        start: _dt.datetime,
        stop: _dt.datetime,
        *,
        replay_id: str = "",
        recording_time: bool = False,
        clock: Clock = "fast",
        cluster: str = "",
    ) -> Replay:
        payload: dict[str, Any] = {
            "task": task,
            "start": go_time(start),
            "stop": go_time(stop),
            "recording-time": recording_time,
            "clock": clock,
        }
        _optional(payload, id=replay_id, cluster=cluster)
        return self._send("POST", BASE_PATH + "/replays/batch", payload, Replay)

    def replay_query(
        self,
        task: str,
        query: str,
        *,
        replay_id: str = "",
        recording_time: bool = False,
        clock: Clock = "fast",
        cluster: str = "",
    ) -> Replay:
        payload: dict[str, Any] = {
            "task": task,
            "query": query,
            "recording-time": recording_time,
            "clock": clock,
        }
        _optional(payload, id=replay_id, cluster=cluster)
        return self._send("POST", BASE_PATH + "/replays/query", payload, Replay)

    def delete_replay(self, replay_id: str) -> None:
        self._delete(_item("replays", replay_id))

    # ---- alert topics and handlers ----------------------------------------------------------

    def list_topics(self, pattern: str = "", *, min_level: str = "OK") -> list[Topic]:
        query = [("pattern", pattern), ("min-level", min_level)]
        return self._listed(BASE_PATH + "/alerts/topics", "topics", Topic, query)

    def topic(self, topic: str) -> Topic:
        return self._get(_item("alerts/topics", topic), Topic)

    def delete_topic(self, topic: str) -> None:
        self._delete(_item("alerts/topics", topic))

    def list_topic_events(self, topic: str, *, min_level: str = "OK") -> list[TopicEvent]:
        path = _item("alerts/topics", topic) + "/events"
        return self._listed(path, "events", TopicEvent, [("min-level", min_level)])

    def list_topic_handlers(self, topic: str, pattern: str = "") -> list[TopicHandler]:
        path = _item("alerts/topics", topic) + "/handlers"
        return self._listed(path, "handlers", TopicHandler, [("pattern", pattern)])

    def topic_handler(self, topic: str, handler_id: str) -> TopicHandler:
        return self._get(_handler_path(topic, handler_id), TopicHandler)

    def create_topic_handler(self, topic: str, spec: dict[str, Any]) -> TopicHandler:
        return self._send("POST", _item("alerts/topics", topic) + "/handlers", spec, TopicHandler)

    def replace_topic_handler(self, topic: str, handler_id: str, spec: dict[str, Any]) -> TopicHandler:
        return self._send("PUT", _handler_path(topic, handler_id), spec, TopicHandler)

    def delete_topic_handler(self, topic: str, handler_id: str) -> None:
        self._delete(_handler_path(topic, handler_id))

    # ---- storage, logs and config (serverops) ---------------------------------------------------

    @contextlib.contextmanager
    def _stream(
        self,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """A GET whose answer is read as it comes, on a connection of its own."""
        target = self._prefix + path + ("?" + urllib.parse.urlencode(list(query)) if query else "")
        conn: http.client.HTTPConnection
        if self._ssl is not None:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            try:
                conn.request("GET", target, headers={**self._headers, **(headers or {})})
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise ConnectError(f"GET {self._url}{path}: {_reason(exc)}") from None
            if not 200 <= resp.status < 300:
                raise _error(resp.status, resp.read())
            yield resp
        finally:
            conn.close()

    def backup(self, out: BinaryIO) -> int:
        """Copy the server's store (``GET /storage/backup``) to ``out``; the bytes written.

        Raises :class:`ServerError` when fewer bytes arrive than the server announced (as
        ``kapacitor backup``: ``failed to read entire backup``)."""
        with self._stream(BASE_PATH + "/storage/backup", timeout=self._timeout) as resp:
            expected = resp.getheader("Content-Length")
            written = 0
            try:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
            except http.client.IncompleteRead as exc:
                out.write(exc.partial)
                written += len(exc.partial)
            except OSError as exc:
                raise ConnectError(f"GET {self._url}{BASE_PATH}/storage/backup: {_reason(exc)}") from None
        if expected is None or not expected.isdigit():
            raise ServerError("the backup answer has no Content-Length: cannot check it is complete")
        if written != int(expected):
            raise ServerError(f"failed to read entire backup: read {written} bytes, expected {expected}")
        return written

    def logs(self, filters: Sequence[tuple[str, str]] = (), *, as_json: bool = False) -> Iterator[str]:
        """The server's log lines matching ``filters`` (``[("task", "cpu"), ("lvl", "info+")]``),
        as they are logged, until the server ends the stream; logfmt, or JSON objects."""
        headers = {"Content-Type": "application/json"} if as_json else {}
        with self._stream(PREVIEW_PATH + "/logs", query=filters, headers=headers) as resp:
            try:
                while line := resp.readline():
                    yield line.decode("utf-8", "replace").rstrip("\n")
            except http.client.IncompleteRead:
                return  # the server stopped mid-stream
            except OSError as exc:
                raise ConnectError(f"GET {self._url}{PREVIEW_PATH}/logs: {_reason(exc)}") from None

    def tap(self, task: str, node: str, *, limit: int = 0) -> Iterator[str]:
        """The points ``node`` of executing task ``task`` emits, as line protocol lines (and
        ``#`` comment lines for batches and drops), as they flow; ``limit`` ends after that many
        points. kapfast's own API (``/kapfast/v1/tap``)."""
        path = f"{TAP_PATH}/{urllib.parse.quote(task, safe='')}/{urllib.parse.quote(node, safe='')}"
        query = [("limit", str(limit))] if limit else []
        with self._stream(path, query=query) as resp:
            try:
                while line := resp.readline():
                    yield line.decode("utf-8", "replace").rstrip("\n")
            except http.client.IncompleteRead:
                return  # the task or the server stopped mid-stream
            except OSError as exc:
                raise ConnectError(f"GET {self._url}{path}: {_reason(exc)}") from None

    def config(self, section: str = "", element: str | None = None) -> dict[str, Any]:
        """``GET /config``, ``/config/<section>`` or ``/config/<section>/<element>`` as JSON."""
        path = BASE_PATH + "/config"
        if section:
            path += "/" + urllib.parse.quote(section, safe="")
            if element is not None:
                path += "/" + urllib.parse.quote(element, safe="")
        return _decode(self.request("GET", path)[1], dict[str, Any])

    def update_config(
        self,
        section: str,
        element: str | None = None,
        *,
        set: dict[str, Any] | None = None,
        delete: Sequence[str] = (),
        add: dict[str, Any] | None = None,
        remove: Sequence[str] = (),
    ) -> None:
        """``POST /config/<section>[/<element>]`` with ``{set, delete, add, remove}``."""
        path = BASE_PATH + "/config/" + urllib.parse.quote(section, safe="")
        if element is not None:
            path += "/" + urllib.parse.quote(element, safe="")
        body: dict[str, Any] = {}
        if set:
            body["set"] = set
        if delete:
            body["delete"] = list(delete)
        if add:
            body["add"] = add
        if remove:
            body["remove"] = list(remove)
        self.request("POST", path, body=msgspec.json.encode(body))

    def patch_topic_handler(self, topic: str, handler_id: str, patch: list[dict[str, Any]]) -> TopicHandler:
        """Apply an RFC 6902 JSON Patch to a handler spec (``{id, topic, kind, options, match}``)."""
        return self._send("PATCH", _handler_path(topic, handler_id), patch, TopicHandler)

    # ---- service tests ----------------------------------------------------------------------

    def list_service_tests(self, pattern: str = "") -> list[ServiceTest]:
        return self._listed(BASE_PATH + "/service-tests", "services", ServiceTest, [("pattern", pattern)])

    def service_test(self, name: str) -> ServiceTest:
        return self._get(_item("service-tests", name), ServiceTest)

    def run_service_test(self, name: str, options: dict[str, Any] | None = None) -> ServiceTestResult:
        """Run a service's test with ``options`` over its defaults."""
        return self._send("POST", _item("service-tests", name), options or {}, ServiceTestResult)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _optional(payload: dict[str, Any], **values: Any) -> None:
    """Add the values that are set (not empty, not None) to ``payload``."""
    payload.update({k: v for k, v in values.items() if v not in ("", None)})


def _item(collection: str, item_id: str) -> str:
    return f"{BASE_PATH}/{collection}/{urllib.parse.quote(item_id, safe='')}"


def _handler_path(topic: str, handler_id: str) -> str:
    return _item("alerts/topics", topic) + "/handlers/" + urllib.parse.quote(handler_id, safe="")


def _list_query(pattern: str, fields: Iterable[str], offset: int, limit: int) -> list[tuple[str, str]]:
    query = [("pattern", pattern)]
    query += [("fields", f) for f in fields]
    query += [("offset", str(offset)), ("limit", str(limit))]
    return query


def _pages(fetch: Callable[[int], list[_T]]) -> Iterator[_T]:
    offset = 0
    while True:
        page = fetch(offset)
        yield from page
        if len(page) != PAGE_SIZE:
            return
        offset += PAGE_SIZE


def _decode(data: bytes, typ: type[_T]) -> _T:
    try:
        return msgspec.json.decode(data, type=typ)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ServerError(f"failed to decode JSON: {exc}") from None


def _error(status: int, body: bytes) -> KapfastError:
    """The server's error text (``{"error": msg}``) as the matching kapfast error."""
    message = ""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict):
            message = str(doc.get("error") or doc.get("message") or "")
    except ValueError:
        pass
    if not message:
        text = body.decode("utf-8", "replace").strip()
        message = f"invalid response: code {status}: body: {text}"
    if status == 404:
        return NotFoundError(message)
    if 400 <= status < 500:
        return RequestError(message)
    return ServerError(message, status)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is kapfastd running?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    return str(exc) or type(exc).__name__


__all__ = [
    "BASE_PATH",
    "DBRP",
    "DEFAULT_URL",
    "PAGE_SIZE",
    "PREVIEW_PATH",
    "Client",
    "Clock",
    "ConnectError",
    "EventState",
    "InvalidURLError",
    "Link",
    "Recording",
    "Replay",
    "ServerError",
    "Task",
    "TaskType",
    "Template",
    "Topic",
    "TopicEvent",
    "TopicHandler",
    "Var",
    "go_time",
]
