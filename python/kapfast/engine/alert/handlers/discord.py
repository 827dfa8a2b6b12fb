"""``.discord()`` and the ``discord`` topic handler: an embed POSTed to the Discord webhook of a
``[[discord]]`` workspace, as Kapacitor's services/discord sends it:

``{"avatar_url":A?,"embeds":[{"color":C,"title":T,"description":MESSAGE,"timestamp":TS}],
"username":U?}`` plus a newline (Go's ``json.Encoder`` of a map: sorted keys; the embed is a
struct), C being 0xF95F53 (CRITICAL), 0xF48D38 (WARNING) or 0x7A65F2 (OK, INFO); TS is the
event's time in RFC 3339 (seconds) when ``timestamp`` is on, else ``""``.

Kapacitor takes username, avatar-url, embed-title and timestamp from the handler only, although
the section has them too; kapfast uses the section's as the handler's defaults (documented).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    ServiceDisabled,
)
from kapfast.engine.alert.handlers.slack import SlackWorkspace
from kapfast.engine.alert.handlers.webservice import (
    ServiceHandler,
    WorkspaceRules,
    check_workspaces,
    error_field,
    from_section,
    index_workspaces,
    service_test_level,
)
from kapfast.gofmt import GoStruct, json_encode, time_format

_COLORS = {"CRITICAL": 0xF95F53, "WARNING": 0xF48D38}
_RFC3339 = "2006-01-02T15:04:05Z07:00"


@dataclass(frozen=True)
class Embed:
    """What one alert shows: the message, its level and time, and how it is presented."""

    message: str
    level: str
    time_ns: int = 0
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    timestamp: bool = False


def discord_body(e: Embed) -> bytes:
    embed = GoStruct(
        "discord.embed",
        {
            "color": _COLORS.get(e.level, 0x7A65F2),
            "title": e.embed_title,
            "description": e.message,
            "timestamp": time_format(e.time_ns, _RFC3339) if e.timestamp else "",
        },
    )
    doc: dict[str, Any] = {"embeds": [embed]}
    if e.username:
        doc["username"] = e.username
    if e.avatar_url:
        doc["avatar_url"] = e.avatar_url
    return (json_encode(doc) + "\n").encode()


@dataclass(frozen=True)
class DiscordWorkspace:
    workspace: str = ""
    enabled: bool = False
    default: bool = False
    url: str = ""
    timestamp: bool = False
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False


class DiscordService:
    """The ``[[discord]]`` workspaces; the default one is also workspace ``""``."""

    def __init__(self, workspaces: Sequence[DiscordWorkspace], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.workspaces = index_workspaces(workspaces, lambda w: w.workspace, lambda w: w.default)
        self.timeout_s = timeout_s
        self._openers: dict[str, urllib.request.OpenerDirector] = {}

    def default(self) -> DiscordWorkspace | None:
        return self.workspaces.get("")

    def workspace(self, name: str) -> DiscordWorkspace:
        if not self.workspaces:
            raise ServiceDisabled("discord: no discord configuration found ([[discord]])")
        w = self.workspaces.get(name)
        if w is None:
            raise ServiceDisabled(f"discord: workspace id {name!r} not found")
        return w

    def alert(self, workspace: str, e: Embed) -> None:
        w = self.workspace(workspace)
        if not w.enabled:
            raise ServiceDisabled("discord: service is not enabled ([[discord]] enabled = false)")
        body = discord_body(
            Embed(
                e.message,
                e.level,
                e.time_ns,
                e.username or w.username,
                e.avatar_url or w.avatar_url,
                e.embed_title or w.embed_title,
                e.timestamp or w.timestamp,
            )
        )
        opener = self._openers.get(w.workspace)
        if opener is None:
            # the same TLS settings as a slack workspace's
            tls = SlackWorkspace(
                workspace=w.workspace,
                insecure_skip_verify=w.insecure_skip_verify,
                ssl_ca=w.ssl_ca,
                ssl_cert=w.ssl_cert,
                ssl_key=w.ssl_key,
            )
            opener = self._openers[w.workspace] = httpclient.opener_for(w.url, tls.ssl_context())
        reply = httpclient.post(opener, w.url, body, {"Content-Type": "application/json"}, self.timeout_s)
        if reply.status != 200:
            text = reply.body.decode("utf-8", "replace")
            # (sic: Kapacitor's discord service says Slack here)
            default = f"failed to understand Slack response. code: {reply.status} content: {text}"
            raise HandlerError(f"discord: {error_field(reply.body, default)}")


#: kapacitord's checks of ``[[discord]]`` (services/discord/config.go)
_RULES = WorkspaceRules(
    section="discord",
    missing_url="Must specify the Discord channel webhook URL",
    empty_name="id must not be empty",
    state_changes_only="stateChangesOnly may only be assigned when the config is both default and global",
    no_default="at least one Discord config must be set as default",
)


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    workspace = o.text("workspace")
    username, avatar_url, embed_title = o.text("username"), o.text("avatar-url"), o.text("embed-title")
    timestamp = o.flag("timestamp")
    service: DiscordService = ctx.service()
    if service.workspaces and workspace not in service.workspaces:
        raise ValueError(f"no [[discord]] workspace {workspace!r} is configured")

    def send(svc: DiscordService, event: AlertEvent) -> None:
        embed = Embed(event.message, event.level, event.time_ns, username, avatar_url, embed_title, timestamp)
        svc.alert(workspace, embed)

    return ServiceHandler("discord", ctx.service, send)


def _test_options(service: DiscordService) -> dict[str, Any]:
    w = service.default()
    return {
        "workspace": w.workspace if w else "",
        "message": "test discord message",
        "level": "INFO",
        "username": "",
        "avatar-url": "",
        "embed-title": "Kapacitor Alert",
        "timestamp": True,
    }


def _test(service: DiscordService, o: Options) -> None:
    embed = Embed(
        o.text("message"),
        service_test_level(o, "INFO"),
        # a service test is stamped with the wall clock, as Kapacitor's (no task clock exists here)
        time.time_ns(),
        o.text("username"),
        o.text("avatar-url"),
        o.text("embed-title"),
        o.flag("timestamp"),
    )
    service.alert(o.text("workspace"), embed)


IMPL = HandlerImpl(
    build=_build,
    service=lambda cs: DiscordService([from_section(DiscordWorkspace, c) for c in cs]),
    validate=lambda cs: check_workspaces(_RULES, cs),
    test_options=_test_options,
    test=_test,
)
