"""The alert services of a server: ``[smtp]``, ``[[slack]]``, ``[[httppost]]`` and ``[alert]``, and
building handlers from topic handler specs ``{id, topic, kind, options, match}``.

The server puts one :class:`AlertServices` in ``ctx.services["alert_services"]``; alert nodes take
their email/slack/post services and the global handlers from it, and the topics API builds the
handlers it attaches to topics with :meth:`AlertServices.build_entry`. Without it (``kapfast
test``) :data:`NO_SERVICES` stands in: every service is disabled.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kapfast.alert_event import DETAILS_FUNCS, AlertEvent
from kapfast.config import Config, parse_go_duration
from kapfast.engine.alert.handlers.aggregate import DEFAULT_MESSAGE, AggregateHandler
from kapfast.engine.alert.handlers.base import DEFAULT_TIMEOUT_S, AlertHandler
from kapfast.engine.alert.handlers.exec import ExecHandler
from kapfast.engine.alert.handlers.log import DEFAULT_MODE, LogHandler
from kapfast.engine.alert.handlers.post import PostHandler
from kapfast.engine.alert.handlers.publish import Collector, PublishHandler
from kapfast.engine.alert.handlers.slack import SlackHandler, SlackService, SlackWorkspace
from kapfast.engine.alert.handlers.smtp import EmailHandler, Mailer, SMTPSettings
from kapfast.engine.alert.handlers.tcp import TcpHandler
from kapfast.engine.alert.match import MatchError, compile_match
from kapfast.engine.alert.topics import HandlerEntry
from kapfast.errors import KapfastError
from kapfast.gofmt import GoDuration, GoStruct, GoTime
from kapfast.gotemplate import Template, TemplateError

#: ``ctx.services`` key of the :class:`AlertServices`
SERVICE_KEY = "alert_services"

#: topic handler kinds kapfast delivers
SUPPORTED_KINDS = ("aggregate", "exec", "log", "post", "publish", "slack", "smtp", "tcp")
#: Kapacitor's other handler kinds: known, refused with a clear message
UNSUPPORTED_KINDS = (
    "alerta",
    "bigpanda",
    "discord",
    "hipchat",
    "kafka",
    "mqtt",
    "opsgenie",
    "opsgenie2",
    "pagerduty",
    "pagerduty2",
    "pushover",
    "sensu",
    "servicenow",
    "snmptrap",
    "talk",
    "teams",
    "telegram",
    "victorops",
    "zenoss",
)


class HandlerSpecError(KapfastError):
    """A handler spec that cannot be used (bad id, topic, kind, options or match)."""


def _valid_name(text: str, extra: str) -> bool:
    # Kapacitor: ^[-\._\p{L}0-9]+$ (ids) and ^[-:\._\p{L}0-9]+$ (topics)
    return bool(text) and all(ch.isalpha() or ch in "0123456789" or ch in extra for ch in text)


def valid_handler_id(text: str) -> bool:
    return _valid_name(text, "-._")


def valid_topic(text: str) -> bool:
    return _valid_name(text, "-:._")


@dataclass
class HandlerSpec:
    id: str
    topic: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    match: str = ""

    @classmethod
    def from_json(cls, topic: str, doc: Any) -> HandlerSpec:
        """A spec from a request body; the topic comes from the URL (as in Kapacitor)."""
        if not isinstance(doc, Mapping):
            raise HandlerSpecError("invalid handler json: expected an object {id, kind, options, match}")
        unknown = set(doc) - {"id", "topic", "kind", "options", "match", "link"}
        if unknown:
            raise HandlerSpecError(f"invalid handler json: unknown field(s) {', '.join(sorted(unknown))}")
        options = doc.get("options") or {}
        if not isinstance(options, Mapping):
            raise HandlerSpecError("invalid handler json: options must be an object")
        for key in ("id", "kind", "match"):
            if doc.get(key) is not None and not isinstance(doc.get(key), str):
                raise HandlerSpecError(f"invalid handler json: {key} must be a string")
        return cls(
            id=str(doc.get("id") or ""),
            topic=topic,
            kind=str(doc.get("kind") or ""),
            options=dict(options),
            match=str(doc.get("match") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        """Kapacitor's ``HandlerSpec`` JSON (the document a JSON-Patch applies to)."""
        return {
            "id": self.id,
            "topic": self.topic,
            "kind": self.kind,
            "options": self.options,
            "match": self.match,
        }

    def validate(self) -> None:
        if not valid_handler_id(self.id):
            raise HandlerSpecError(
                "invalid handler spec: handler ID must contain only letters, numbers, '-', '.' and '_'. "
                f"{self.id!r}"
            )
        if not valid_topic(self.topic):
            raise HandlerSpecError(
                "invalid handler spec: topic must contain only letters, numbers, '-', '.', ':' and '_'. "
                f"{self.topic!r}"
            )
        if not self.kind:
            raise HandlerSpecError("invalid handler spec: handler kind must not be empty")
        if self.kind in UNSUPPORTED_KINDS:
            raise HandlerSpecError(
                f"handler kind {self.kind!r} is not supported by kapfast yet "
                f"(supported: {', '.join(SUPPORTED_KINDS)})"
            )
        if self.kind not in SUPPORTED_KINDS:
            raise HandlerSpecError(
                f"unknown handler kind {self.kind!r} (supported: {', '.join(SUPPORTED_KINDS)})"
            )


class _Options:
    """Typed access to a spec's options; every key must be used (typos are errors)."""

    def __init__(self, kind: str, options: Mapping[str, Any]) -> None:
        self.kind = kind
        self.raw = dict(options)
        self.used: set[str] = set()

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.raw.get(key)

    def _bad(self, key: str, want: str, v: Any) -> HandlerSpecError:
        return HandlerSpecError(f"{self.kind} handler: option {key!r} must be {want}, got {v!r}")

    def text(self, key: str, default: str = "") -> str:
        v = self._get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self._bad(key, "a string", v)
        return v

    def flag(self, key: str) -> bool:
        v = self._get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            raise self._bad(key, "true or false", v)
        return v

    def integer(self, key: str, default: int) -> int:
        v = self._get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise self._bad(key, "an integer", v)
        return v

    def strings(self, key: str) -> list[str]:
        v = self._get(key)
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self._bad(key, "a list of strings", v)
        return list(v)

    def str_map(self, key: str) -> dict[str, str]:
        v = self._get(key)
        if v is None:
            return {}
        if not isinstance(v, Mapping) or not all(isinstance(x, str) for x in v.values()):
            raise self._bad(key, "an object of strings", v)
        return {str(k): x for k, x in v.items()}

    def duration_ns(self, key: str, default: int = 0) -> int:
        v = self._get(key)
        if v is None:
            return default
        if isinstance(v, bool):
            raise self._bad(key, "a duration", v)
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            try:
                return parse_go_duration(v)
            except ValueError:
                raise self._bad(key, "a duration such as 10s or 1m", v) from None
        raise self._bad(key, "a duration", v)

    def done(self) -> None:
        unknown = set(self.raw) - self.used
        if unknown:
            valid = ", ".join(sorted(self.used))
            raise HandlerSpecError(
                f"{self.kind} handler: unknown option(s) {', '.join(sorted(unknown))} (valid: {valid})"
            )


@dataclass(frozen=True)
class Endpoint:
    """One ``[[httppost]]`` endpoint."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    alert_template: Template | None = None

    def body(self) -> Callable[[AlertEvent], bytes] | None:
        tmpl = self.alert_template
        if tmpl is None:
            return None

        def render(event: AlertEvent) -> bytes:
            return tmpl.render(_alert_data(event)).encode()

        return render


def _alert_data(event: AlertEvent) -> GoStruct:
    """``alert.Data`` as an ``[[httppost]]`` alert-template sees it."""
    rows = [
        GoStruct(
            "models.Row",
            {
                "Name": s.get("name") or "",
                "Tags": dict(s.get("tags") or {}),
                "Columns": list(s.get("columns") or []),
                "Values": [list(v) for v in s.get("values") or []],
            },
        )
        for s in event.data or []
    ]
    return GoStruct(
        "alert.Data",
        {
            "ID": event.id,
            "Message": event.message,
            "Details": event.details,
            "Time": GoTime(event.time_ns),
            "Duration": GoDuration(event.duration_ns),
            "Level": event.level,
            "Data": GoStruct("models.Result", {"Series": rows, "Messages": None, "Err": None}),
            "PreviousLevel": event.previous_level,
            "Recoverable": event.recoverable,
        },
    )


def _endpoint_from_config(h: Any) -> Endpoint:
    headers = dict(h.headers)
    auth = h.basic_auth
    if auth.get("username") or auth.get("password"):
        token = base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    text = h.alert_template
    if h.alert_template_file:
        try:
            text = Path(h.alert_template_file).read_text(encoding="utf-8")
        except OSError as e:
            raise KapfastError(f"[[httppost]] {h.endpoint}: cannot read alert-template-file: {e}") from None
    tmpl = None
    if text:
        try:
            tmpl = Template.parse(text, name="alert-template", funcs=DETAILS_FUNCS)
        except TemplateError as e:
            raise KapfastError(f"[[httppost]] {h.endpoint}: alert-template: {e}") from None
    return Endpoint(h.endpoint, h.url, headers, tmpl)


class AlertServices:
    def __init__(
        self,
        smtp: SMTPSettings | None = None,
        smtp_global: bool = False,
        smtp_state_changes_only: bool = False,
        slack: Sequence[SlackWorkspace] = (),
        slack_global: bool = False,
        slack_state_changes_only: bool = False,
        endpoints: Sequence[Endpoint] = (),
        persist_topics: bool = True,
        topic_buffer_length: int = 5000,
    ) -> None:
        self.mailer = Mailer(smtp or SMTPSettings())
        self.smtp_global = smtp_global
        self.smtp_state_changes_only = smtp_state_changes_only
        self.slack = SlackService(slack)
        self.slack_global = slack_global
        self.slack_state_changes_only = slack_state_changes_only
        self.endpoints = {e.name: e for e in endpoints}
        self.persist_topics = persist_topics
        self.topic_buffer_length = topic_buffer_length
        self.log = logging.getLogger("kapfast.alert")

    @classmethod
    def from_config(cls, cfg: Config) -> AlertServices:
        s = cfg.smtp
        default_slack = next((w for w in cfg.slack if w.default), None)
        return cls(
            smtp=SMTPSettings(
                enabled=s.enabled,
                host=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                no_verify=s.no_verify,
                from_=s.from_,
                to=tuple(s.to),
                idle_timeout_s=parse_go_duration(s.idle_timeout) / 1e9,
            ),
            smtp_global=s.global_,
            smtp_state_changes_only=s.state_changes_only,
            slack=[
                SlackWorkspace(
                    workspace=w.workspace,
                    enabled=w.enabled,
                    default=w.default,
                    url=w.url,
                    channel=w.channel,
                    username=w.username,
                    icon_emoji=w.icon_emoji,
                    insecure_skip_verify=w.insecure_skip_verify,
                    ssl_ca=w.ssl_ca,
                    ssl_cert=w.ssl_cert,
                    ssl_key=w.ssl_key,
                )
                for w in cfg.slack
            ],
            slack_global=bool(default_slack and default_slack.global_),
            slack_state_changes_only=bool(default_slack and default_slack.state_changes_only),
            endpoints=[_endpoint_from_config(h) for h in cfg.httppost],
            persist_topics=cfg.alert.persist_topics,
            topic_buffer_length=cfg.alert.topic_buffer_length,
        )

    # --- what alert nodes use ------------------------------------------------------------------

    def httppost_endpoints(self) -> dict[str, dict[str, Any]]:
        """The endpoints in the ``ctx.services["httppost_endpoints"]`` shape the node reads."""
        return {
            name: {"url": e.url, "headers": dict(e.headers), "body": e.body()}
            for name, e in self.endpoints.items()
        }

    def email(self, to: Sequence[str]) -> EmailHandler:
        return EmailHandler(self.mailer, to)

    def slack_handler(
        self, workspace: str = "", channel: str = "", username: str = "", icon_emoji: str = ""
    ) -> SlackHandler:
        return SlackHandler(self.slack, workspace, channel, username, icon_emoji)

    def global_handlers(self, inline_kinds: set[str]) -> list[AlertHandler]:
        """``global = true`` services add their handler to every alert that lacks one."""
        out: list[AlertHandler] = []
        if self.smtp_global and "email" not in inline_kinds:
            out.append(self.email([]))
        if self.slack_global and "slack" not in inline_kinds:
            out.append(self.slack_handler())
        return out

    def state_changes_only(self) -> bool:
        """A global service with ``state-changes-only`` makes every alert ``.stateChangesOnly()``."""
        return (self.smtp_global and self.smtp_state_changes_only) or (
            self.slack_global and self.slack_state_changes_only
        )

    # --- topic handler specs -------------------------------------------------------------------

    def build_handler(self, spec: HandlerSpec, collector: Collector) -> AlertHandler:
        """The running handler of a (validated) spec; raises :class:`HandlerSpecError`."""
        o = _Options(spec.kind, spec.options)
        try:
            h = self._build(spec, o, collector)
        except ValueError as e:
            raise HandlerSpecError(f"{spec.kind} handler: {e}") from None
        try:
            o.done()
        except HandlerSpecError:
            h.close()
            raise
        return h

    def _build(self, spec: HandlerSpec, o: _Options, collector: Collector) -> AlertHandler:
        kind = spec.kind
        if kind == "log":
            return LogHandler(o.text("path"), o.integer("mode", DEFAULT_MODE))
        if kind == "tcp":
            return TcpHandler(o.text("address"))
        if kind == "exec":
            prog = o.text("prog")
            return ExecHandler([prog, *o.strings("args")])
        if kind == "post":
            return self.post_handler(
                url=o.text("url"),
                endpoint=o.text("endpoint"),
                headers=o.str_map("headers"),
                timeout_s=o.duration_ns("timeout") / 1e9 or DEFAULT_TIMEOUT_S,
                capture_response=o.flag("capture-response"),
                skip_ssl_verification=o.flag("skip-ssl-verification"),
            )
        if kind == "smtp":
            return self.email(o.strings("to"))
        if kind == "slack":
            workspace = o.text("workspace")
            if self.slack.workspaces and workspace not in self.slack.workspaces:
                raise ValueError(f"no [[slack]] workspace {workspace!r} is configured")
            return self.slack_handler(workspace, o.text("channel"), o.text("username"), o.text("icon-emoji"))
        if kind == "publish":
            topics = o.strings("topics")
            bad = [t for t in topics if not valid_topic(t)]
            if bad:
                raise ValueError(f"invalid topic name(s) {', '.join(bad)}")
            return PublishHandler(collector, topics)
        if kind == "aggregate":
            topic = o.text("topic")
            if topic and not valid_topic(topic):
                raise ValueError(f"invalid topic name {topic!r}")
            return AggregateHandler(
                collector,
                o.duration_ns("interval"),
                topic,
                event_id=o.text("id", spec.id),
                message=o.text("message", DEFAULT_MESSAGE),
            )
        raise HandlerSpecError(f"unknown handler kind {kind!r}")

    def post_handler(
        self,
        url: str = "",
        endpoint: str = "",
        headers: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        capture_response: bool = False,
        skip_ssl_verification: bool = False,
    ) -> PostHandler:
        all_headers: dict[str, str] = {}
        body = None
        if endpoint:
            ep = self.endpoints.get(endpoint)
            if ep is None:
                raise ValueError(f"unknown [[httppost]] endpoint {endpoint!r}")
            url = ep.url  # the endpoint wins over a URL, as in Kapacitor
            all_headers.update(ep.headers)
            body = ep.body()
        all_headers.update(headers or {})
        return PostHandler(url, all_headers, timeout_s, capture_response, skip_ssl_verification, body=body)

    def build_entry(self, spec: HandlerSpec, collector: Collector) -> HandlerEntry:
        """Validate a spec and build what a topic runs for it; raises :class:`HandlerSpecError`."""
        spec.validate()
        try:
            match = compile_match(spec.match)
        except MatchError as e:
            raise HandlerSpecError(str(e)) from None
        handler = self.build_handler(spec, collector)
        return HandlerEntry(spec.id, spec.kind, handler, match)

    def close(self) -> None:
        self.mailer.close()


#: the services of a run without a server (``kapfast test``): everything disabled
NO_SERVICES = AlertServices()
