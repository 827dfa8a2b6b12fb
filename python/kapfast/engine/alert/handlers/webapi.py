"""What the handlers of the one-section web APIs share (pagerduty, pagerduty2, opsgenie, opsgenie2,
victorops, alerta, bigpanda, servicenow, zenoss, talk): a service object over the section's config,
the handler that looks that service up at send time, one bounded request, and Go's ways of turning
an unexpected answer into an error message.

Each service answers ``enabled`` from its section as Kapacitor does (``service is not enabled``,
said once in the log and then only counted) and builds its request with the section's current
values: the config API replaces the service object, and handlers look it up per event.
"""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from kapfast.alert_event import AlertEvent, AlertEventError, parse_rfc3339
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S, HandlerError, OptionError, Options
from kapfast.engine.alert.handlers.webservice import error_field, not_enabled
from kapfast.errors import ConfigError
from kapfast.gofmt import GoDuration, GoMap, GoStringMap, GoStruct, GoTime
from kapfast.handler_table import HANDLERS

#: Kapacitor's API base path, the end of ``client_url`` (PagerDuty)
BASE_PATH = "/kapacitor/v1"


def kapacitor_url(cfg: Any) -> str:
    """What kapacitord's ``httpd.Service.URL()`` answers: the scheme, the listening address and
    ``/kapacitor/v1`` (a bind address without a host listens on every address: ``[::]``)."""
    http = getattr(cfg, "http", None)
    bind = str(getattr(http, "bind_address", "") or "")
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "::"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if getattr(http, "https_enabled", False) else "http"
    return f"{scheme}://{host}:{port}{BASE_PATH}"


class WebService:
    """A handler service over one config section (``c``: its config object)."""

    kind = ""
    #: Kapacitor's name of the service in its error messages ("PagerDuty2", "OpsGenie")
    title = ""

    def __init__(self, c: Any, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.c = c
        self.timeout_s = timeout_s
        #: the server's API URL (set by AlertServices from [http]); PagerDuty sends it
        self.kapacitor_url = ""
        #: by (skip TLS verification, loopback: no proxy)
        self._openers: dict[tuple[bool, bool], urllib.request.OpenerDirector] = {}

    def require_enabled(self) -> None:
        if not self.c.enabled:
            raise not_enabled(self.kind, self.kind)

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        insecure: bool = False,
    ) -> httpclient.Reply:
        """One POST bounded by the service's timeout; raises HandlerError when nothing answered.

        Kapacitor's clients honour the proxy environment except for loopback (as httpclient)."""
        if not url:
            raise HandlerError(f"{self.kind}: no URL configured ([{self.kind}] url)")
        key = (insecure, httpclient.is_loopback(url))
        opener = self._openers.get(key)
        if opener is None:
            ctx = httpclient.insecure_context() if insecure else None
            opener = self._openers[key] = urllib.request.build_opener(
                urllib.request.HTTPSHandler(context=ctx),
                *([urllib.request.ProxyHandler({})] if key[1] else []),
            )
        try:
            return httpclient.post(opener, url, body, headers, self.timeout_s)
        except HandlerError as e:
            raise HandlerError(self.hide_secrets(str(e))) from None

    def hide_secrets(self, text: str) -> str:
        """``text`` with the section's secret values (an API key in VictorOps' URL path, Talk's
        whole webhook URL) replaced: failures are logged, secrets never are."""
        row = HANDLERS.get(self.kind)
        for key in sorted(row.secrets if row else (), key=len, reverse=True):
            value = getattr(self.c, key.replace("-", "_"), "")
            if isinstance(value, str) and value:
                text = text.replace(value, "<redacted>").replace(urllib.parse.quote(value), "<redacted>")
        return text

    def check(self, reply: httpclient.Reply, ok: tuple[int, ...], key: str = "message") -> None:
        """Kapacitor's reading of an answer it did not expect: the ``key`` field of a JSON body,
        else ``failed to understand <Title> response. code: N content: BODY``."""
        if reply.status in ok:
            return
        raise HandlerError(f"{self.kind}: {error_message(reply, self.title, key)}")


def error_message(reply: httpclient.Reply, title: str, key: str = "message") -> str:
    """Kapacitor's message for an answer it did not expect: the answer's ``key`` field, else
    ``failed to understand <Title> response. code: N content: BODY``."""
    text = reply.body.decode("utf-8", "replace")
    return error_field(
        reply.body, f"failed to understand {title} response. code: {reply.status} content: {text}", key
    )


def basic_auth(username: str, password: str) -> dict[str, str]:
    """Go's ``req.SetBasicAuth``: only when both are set (as Kapacitor's ServiceNow and Zenoss)."""
    if not (username and password):
        return {}
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def join_path(url: str, *parts: str) -> str:
    """Go's ``u.Path = path.Join(u.Path, parts...)``: cleaned, with no trailing slash."""
    u = urllib.parse.urlsplit(url)
    segs = [p for p in (u.path, *parts) if p]
    joined = "/".join(segs)
    out: list[str] = []
    for seg in joined.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    path = ("/" if joined.startswith("/") else "") + "/".join(out)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, path, u.query, u.fragment))


def test_event(
    id: str, message: str, level: str, time_ns: int = 0, details: str = "", name: str = ""
) -> AlertEvent:
    """The event a service test sends: no data (Kapacitor's tests send an empty Result, whose
    series encode as null)."""
    return AlertEvent(
        id=id,
        message=message,
        details=details,
        time_ns=time_ns,
        duration_ns=0,
        level=level,
        data=None,
        name=name,
    )


_EVENT_FIELDS: dict[str, Callable[[AlertEvent], Any]] = {
    "ID": lambda e: e.id,
    "Message": lambda e: e.message,
    "Details": lambda e: e.details,
    "Level": lambda e: e.level,
    "Time": lambda e: GoTime(e.time_ns),
    "Duration": lambda e: GoDuration(e.duration_ns),
    "Recoverable": lambda e: e.recoverable,
    "Name": lambda e: e.name,
    "TaskName": lambda e: e.task_name,
    "Group": lambda e: e.group,
    "Tags": lambda e: GoStringMap(e.tags),
    "Fields": lambda e: GoMap(e.fields),
}


def event_struct(type_name: str, fields: str, event: AlertEvent) -> GoStruct:
    """The Go struct a handler's templates see, its ``fields`` (space separated, in declaration
    order) taken from the event: each service declares its own (Kapacitor's alert.TemplateData,
    alerta.eventData, servicenow.dataInfo...)."""
    return GoStruct(type_name, {f: _EVENT_FIELDS[f](event) for f in fields.split()})


def template_data(event: AlertEvent) -> GoStruct:
    """Kapacitor's ``alert.TemplateData`` of an event: what most handler templates see (PagerDuty2
    links, Alerta's resource/environment/group/value/service)."""
    return event_struct(
        "alert.TemplateData", "ID Message Level Time Duration Name TaskName Group Tags Fields", event
    )


def test_event_data(o: Options, event: AlertEvent, default_time: str) -> AlertEvent:
    """A service test's ``event_data`` (Kapacitor's alert.EventData: Name, TaskName, Group, Tags,
    Fields) and ``timestamp`` options applied to its event."""
    data = o.mapping("event_data")
    try:
        event.time_ns = parse_rfc3339(o.text("timestamp") or default_time)
    except AlertEventError as e:
        raise OptionError(f"{o.kind} test: timestamp: {e}") from None
    event.name = str(data.get("Name") or "")
    event.task_name = str(data.get("TaskName") or "")
    event.group = str(data.get("Group") or "")
    tags, fields = data.get("Tags") or {}, data.get("Fields") or {}
    event.tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
    event.fields = dict(fields) if isinstance(fields, dict) else {}
    return event


def test_event_data_options(name: str, timestamp: str) -> dict[str, Any]:
    """The ``event_data`` and ``timestamp`` test options, as Kapacitor shows them."""
    return {
        "event_data": {"Name": name, "TaskName": "", "Group": "", "Tags": {}, "Fields": {}},
        "timestamp": timestamp,
    }


def require_url(section: str, url: str, must: bool = True) -> None:
    """kapacitord's ``url cannot be empty`` / ``invalid URL`` checks."""
    if must and not url:
        raise ConfigError(f"[{section}] url cannot be empty")
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme and not parts.netloc and parts.scheme in ("http", "https"):
            raise ConfigError(f"[{section}] invalid URL {url!r}")


def case_insensitive(o: Options, *names: str) -> None:
    """Kapacitor decodes some handler options by Go field name, in any case (``metricName``,
    ``metricname``): file such keys under ``names``' spelling before they are read."""
    for name in names:
        for key in list(o.raw):
            if key != name and key.lower() == name.lower():
                o.raw.setdefault(name, o.raw.pop(key))
