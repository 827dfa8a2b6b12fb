"""What the handlers of one-section web services (teams, telegram, hipchat, pushover, discord...)
share: the handler that looks its service up at send time and says "not enabled" once, the
level check of service tests, and Go's ways of reporting an unexpected HTTP answer."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kapfast.alert_event import LEVELS, AlertEvent
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import AlertHandler, HandlerError, Options, ServiceDisabled
from kapfast.errors import ConfigError

T = TypeVar("T")


class ServiceHandler(AlertHandler):
    """Sends each event through ``send(service, event)`` with the section's current service.

    A disabled service is explained in the log once, then only counted (as slack does).
    """

    def __init__(
        self, kind: str, service: Callable[[], Any], send: Callable[[Any, AlertEvent], None]
    ) -> None:
        self.kind = kind
        self._service = service
        self._send = send
        self._said_disabled = False

    def handle(self, event: AlertEvent) -> None:
        try:
            self._send(self._service(), event)
        except ServiceDisabled as e:
            e.quiet, self._said_disabled = self._said_disabled, True
            raise


def service_test_level(o: Options, default: str = "CRITICAL") -> str:
    """The ``level`` of a service test's options (Kapacitor's alert.Level names)."""
    level = o.text("level").upper() or default
    if level not in LEVELS:
        raise o.bad("level", "OK, INFO, WARNING or CRITICAL", level)
    return level


def error_field(body: bytes, default: str, key: str = "error") -> str:
    """Go's ``json.Decoder.Decode`` of ``{"error": "..."}`` over a default message: the
    answer's string field when it has one, else the default."""
    try:
        doc = json.loads(body)
    except ValueError:
        return default
    if isinstance(doc, Mapping) and isinstance(doc.get(key), str):
        return str(doc[key])
    return default


def not_enabled(kind: str, section: str) -> ServiceDisabled:
    return ServiceDisabled(f"{kind}: service is not enabled ([{section}] enabled = false)")


def post_hiding(
    url: str, body: bytes, content_type: str, timeout_s: float, *secrets: str
) -> httpclient.Reply:
    """POST ``body``; a failure's message names the URL with the secrets in it (a bot token, an
    auth_token query parameter) replaced, so they never reach the log."""
    opener = httpclient.opener_for(url)
    try:
        return httpclient.post(opener, url, body, {"Content-Type": content_type}, timeout_s)
    except HandlerError as e:
        text = str(e)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "<redacted>").replace(urllib.parse.quote(secret), "<redacted>")
        raise HandlerError(text) from None


W = TypeVar("W")


def index_workspaces(
    workspaces: Sequence[W], key: Callable[[W], str], is_default: Callable[[W], bool]
) -> dict[str, W]:
    """A ``[[section]]``'s elements by name; the default one (or the only one) also as ``""``."""
    index: dict[str, W] = {}
    for w in workspaces:
        index[key(w)] = w
        if (is_default(w) or len(workspaces) == 1) and "" not in index:
            index[""] = w
    return index


@dataclass(frozen=True)
class WorkspaceRules:
    """kapacitord's checks of a ``[[section]]`` of workspaces (slack, discord), in its words."""

    section: str
    missing_url: str
    empty_name: str
    state_changes_only: str
    no_default: str


def check_workspaces(rules: WorkspaceRules, cs: list[Any]) -> None:
    if len(cs) == 1:
        cs[0].default = True  # a single element is the default one
    for c in cs:
        where = f"[[{rules.section}]] {c.workspace}".rstrip()
        if c.enabled and not c.url:
            raise ConfigError(f"{where}: {rules.missing_url}")
        if len(cs) > 1 and not c.workspace:
            raise ConfigError(f"[[{rules.section}]]: {rules.empty_name}")
        if c.global_ and not c.default:
            raise ConfigError(f"{where}: only the default config may be assigned as global")
        if c.state_changes_only and not (c.default and c.global_):
            raise ConfigError(f"{where}: {rules.state_changes_only}")
    if cs and not any(c.default for c in cs):
        raise ConfigError(f"[[{rules.section}]]: {rules.no_default}")
    if len({c.workspace for c in cs}) != len(cs):
        raise ConfigError(f"[[{rules.section}]]: workspaces must be unique")


def from_section(cls: type[T], c: Any) -> T:
    """A handler's settings dataclass from its config section object (fields by name)."""
    return cls(**{f.name: getattr(c, f.name) for f in dataclasses.fields(cls) if hasattr(c, f.name)})  # type: ignore[arg-type]
