"""``.slack()`` and the ``slack`` topic handler: the event's message posted to a Slack incoming
webhook of a ``[[slack]]`` workspace, in the JSON Kapacitor sends:

``{"as_user":false,"attachments":[{"fallback":M,"color":C,"text":M,"mrkdwn_in":["text"]}],
"channel":CH,"icon_emoji":E,"text":"","username":U}`` plus a newline (Go's ``json.Encoder`` of a
map: sorted keys, HTML characters escaped), ``color`` being ``warning`` (WARNING), ``danger``
(CRITICAL) or ``good``. Channel, username and icon-emoji default to the workspace's.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers import httpclient
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    ServiceDisabled,
)
from kapfast.engine.alert.handlers.webservice import WorkspaceRules, check_workspaces, index_workspaces
from kapfast.gofmt import GoStruct, json_encode

_COLORS = {"WARNING": "warning", "CRITICAL": "danger"}


@dataclass(frozen=True)
class SlackWorkspace:
    workspace: str = ""
    enabled: bool = False
    default: bool = False
    url: str = ""
    channel: str = ""
    username: str = "kapacitor"
    icon_emoji: str = ""
    insecure_skip_verify: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    token: str = ""  # an OAuth token (chat.postMessage) instead of a webhook URL's secret

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings of ``ssl-ca``/``ssl-cert``/``ssl-key``/``insecure-skip-verify``."""
        if not (self.insecure_skip_verify or self.ssl_ca or self.ssl_cert):
            return None
        try:
            return httpclient.tls_context(self.ssl_ca, self.ssl_cert, self.ssl_key, self.insecure_skip_verify)
        except (OSError, ssl.SSLError) as e:
            raise ServiceDisabled(f"slack workspace {self.workspace!r}: TLS settings: {e}") from None


def slack_payload(channel: str, message: str, username: str, icon_emoji: str, level: str) -> bytes:
    attachment = GoStruct(
        "slack.attachment",
        {
            "fallback": message,
            "color": _COLORS.get(level, "good"),
            "text": message,
            "mrkdwn_in": ["text"],
        },
    )
    body = {
        "as_user": False,
        "attachments": [attachment],
        "channel": channel,
        "icon_emoji": icon_emoji,
        "text": "",
        "username": username,
    }
    return (json_encode(body) + "\n").encode()


class SlackService:
    """The ``[[slack]]`` workspaces; the default one is also reachable as workspace ``""``."""

    def __init__(self, workspaces: Sequence[SlackWorkspace], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.workspaces = index_workspaces(workspaces, lambda w: w.workspace, lambda w: w.default)
        self.timeout_s = timeout_s
        self._openers: dict[str, urllib.request.OpenerDirector] = {}

    def default(self) -> SlackWorkspace | None:
        return self.workspaces.get("")

    def workspace(self, name: str) -> SlackWorkspace:
        if not self.workspaces:
            raise ServiceDisabled("no slack configuration found ([[slack]])")
        w = self.workspaces.get(name)
        if w is None:
            raise ServiceDisabled(f"slack workspace {name!r} not found")
        return w

    def alert(
        self, workspace: str, channel: str, message: str, username: str, icon_emoji: str, level: str
    ) -> None:
        w = self.workspace(workspace)
        if not w.enabled:
            raise ServiceDisabled("slack service is not enabled ([[slack]] enabled = false)")
        body = slack_payload(
            channel or w.channel, message, username or w.username, icon_emoji or w.icon_emoji, level
        )
        opener = self._openers.get(w.workspace)
        if opener is None:
            opener = self._openers[w.workspace] = httpclient.opener_for(w.url, w.ssl_context())
        headers = {"Content-Type": "application/json"}
        if w.token:
            headers["Authorization"] = f"Bearer {w.token}"
        reply = httpclient.post(opener, w.url, body, headers, self.timeout_s)
        if reply.status != 200:
            text = reply.body.decode("utf-8", "replace")
            error = f"failed to understand Slack response. code: {reply.status} content: {text}"
            try:
                doc = json.loads(reply.body)
                if isinstance(doc, Mapping) and isinstance(doc.get("error"), str):
                    error = doc["error"]
            except ValueError:
                pass
            raise HandlerError(f"slack: {error}")


class SlackHandler(AlertHandler):
    kind = "slack"

    def __init__(
        self,
        service: SlackService | Callable[[], SlackService],
        workspace: str = "",
        channel: str = "",
        username: str = "",
        icon_emoji: str = "",
    ) -> None:
        # a callable: the server's current [[slack]] service (it changes with the config)
        self._service = service
        self.workspace = workspace
        self.channel = channel
        self.username = username
        self.icon_emoji = icon_emoji
        self._said_disabled = False

    @property
    def service(self) -> SlackService:
        return self._service if isinstance(self._service, SlackService) else self._service()

    def handle(self, event: AlertEvent) -> None:
        try:
            self.service.alert(
                self.workspace, self.channel, event.message, self.username, self.icon_emoji, event.level
            )
        except ServiceDisabled as e:
            e.quiet, self._said_disabled = self._said_disabled, True
            raise

    def describe(self) -> str:
        return f"slack {self.workspace or '(default)'} {self.channel}".rstrip()


# --- the [[slack]] section and the slack handler kind (kapfast.handler_table) ----------------------


def _workspace(c: Any) -> SlackWorkspace:
    return SlackWorkspace(
        workspace=c.workspace,
        enabled=c.enabled,
        default=c.default,
        url=c.url,
        channel=c.channel,
        username=c.username,
        icon_emoji=c.icon_emoji,
        insecure_skip_verify=c.insecure_skip_verify,
        ssl_ca=c.ssl_ca,
        ssl_cert=c.ssl_cert,
        ssl_key=c.ssl_key,
        token=c.token,
    )


#: kapacitord's checks of ``[[slack]]`` (services/slack/config.go and its service)
_RULES = WorkspaceRules(
    section="slack",
    missing_url="must specify url",
    empty_name="workspace must not be empty when several are configured",
    state_changes_only="state-changes-only may only be set when the config is both default and global",
    no_default="at least one Slack config must be set as default",
)


def _build(ctx: BuildContext, o: Options) -> SlackHandler:
    workspace = o.text("workspace")
    service: SlackService = ctx.service()
    if service.workspaces and workspace not in service.workspaces:
        raise ValueError(f"no [[slack]] workspace {workspace!r} is configured")
    return SlackHandler(ctx.service, workspace, o.text("channel"), o.text("username"), o.text("icon-emoji"))


def _test_options(service: SlackService) -> dict[str, Any]:
    w = service.default()
    return {
        "workspace": w.workspace if w else "",
        "channel": w.channel if w else "",
        "message": "test slack message",
        "level": "CRITICAL",
        "username": "",
        "icon-emoji": "",
    }


def _test(service: SlackService, o: Options) -> None:
    level = o.text("level").upper() or "CRITICAL"
    if level not in ("OK", "INFO", "WARNING", "CRITICAL"):
        raise o.bad("level", "OK, INFO, WARNING or CRITICAL", level)
    service.alert(
        o.text("workspace"),
        o.text("channel"),
        o.text("message"),
        o.text("username"),
        o.text("icon-emoji"),
        level,
    )


IMPL = HandlerImpl(
    build=_build,
    service=lambda cs: SlackService([_workspace(c) for c in cs]),
    validate=lambda cs: check_workspaces(_RULES, cs),
    test_options=_test_options,
    test=_test,
)
