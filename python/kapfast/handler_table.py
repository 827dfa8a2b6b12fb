"""The alert-handler table: every handler Kapacitor has, one row each.

A row says everything about one handler kind that is not code:

- ``kind``: its topic-handler kind (``POST /kapacitor/v1/alerts/topics/T/handlers {"kind": ...}``);
- ``inline``/``properties``: the alert property method that adds it inline in a TICKscript
  (``|alert().pagerDuty2()``) and that handler's own property methods, in the compact signature
  form of :mod:`kapfast.tick.registry`;
- ``args``/``renames``: how an inline handler becomes the same options a topic handler has (the
  option each argument of the method fills, and property → option names where the option is not
  the property in kebab-case), so both forms run through one ``build``;
- ``section``/``array``/``element_key``/``config``/``secrets``: its kapacitord config section
  (``[pagerduty2]`` or ``[[slack]]``), the section's keys with their defaults, and which of them
  are secret (never shown by the config API, ``kapfastd config`` or the logs);
- ``impl``: the module that implements it (it defines ``IMPL``, a
  :class:`kapfast.engine.alert.handlers.base.HandlerImpl`). A row without one is refused where it
  is used (``kapfast check``, task define, topic-handler PUT), naming the handler: never accepted
  and dropped.

The compiler (:mod:`kapfast.tick.registry`), the alert node, the topics API, the config file
(:mod:`kapfast.config`), the config API, the service tests and ``docs/handlers.md`` are all
driven from :data:`HANDLERS`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kapfast.engine.alert.handlers.base import HandlerImpl


@dataclass(frozen=True)
class HandlerRow:
    kind: str
    doc: str
    inline: str | None = None
    properties: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)
    section: str | None = None
    array: bool = False
    element_key: str = ""
    config: Mapping[str, Any] | None = None
    secrets: frozenset[str] = frozenset()
    impl: str | None = None

    @property
    def supported(self) -> bool:
        return self.impl is not None

    @property
    def inline_name(self) -> str | None:
        """The TICKscript method name (``pagerDuty2``), or None for topic-only kinds."""
        return self.inline.split("(", 1)[0] if self.inline else None

    @property
    def service_test(self) -> str:
        """Its name under ``/kapacitor/v1/service-tests`` (Kapacitor names them by section)."""
        return self.section or self.kind

    def implementation(self) -> HandlerImpl:
        if self.impl is None:
            raise LookupError(unsupported_message(self))
        impl: HandlerImpl = importlib.import_module(self.impl).IMPL
        return impl

    def option_name(self, prop: str) -> str:
        """The topic option an inline property method sets."""
        return self.renames.get(prop) or kebab(prop)


def kebab(name: str) -> str:
    """``routingKey`` → ``routing-key``, ``channelURL`` → ``channel-url``, ``uRLTitle`` → ``url-title``.

    TICKscript's property methods are Go field names with the first letter lowered (``URL`` is
    ``uRL``), so the words are found in the name with its first letter raised again.
    """
    name = name[:1].upper() + name[1:]
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    return re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def unsupported_message(row: HandlerRow, inline: bool = True) -> str:
    """Why a handler is refused: named as the script (``.pagerDuty2()``) or the API (kind) has it."""
    where = f".{row.inline_name}()" if inline and row.inline_name else f"kind {row.kind!r}"
    return f"alert handler {where} is not supported by kapfast: its events could not be delivered"


def _secret(*keys: str) -> frozenset[str]:
    return frozenset(keys)


_H = "kapfast.engine.alert.handlers."

_ROWS: tuple[HandlerRow, ...] = (
    # --- no config section: the handler's options say everything ----------------------------------
    HandlerRow(
        "log",
        "append each event as a JSON line to a file",
        "log(string)",
        ("mode(int)",),
        {"mode": 0o600},
        args=("path",),
        impl=_H + "log",
    ),
    HandlerRow(
        "tcp",
        "send each event's JSON over a new TCP connection",
        "tcp(string)",
        args=("address",),
        impl=_H + "tcp",
    ),
    HandlerRow(
        "exec",
        "run a program with the event's JSON on its standard input",
        "exec(string, string...)",
        args=("prog", "args"),
        impl=_H + "exec",
    ),
    HandlerRow(
        "post",
        "POST the event's JSON to a URL or an [[httppost]] endpoint",
        "post(string...)",
        (
            "endpoint(string)",
            "+header(string, string)",
            "captureResponse()",
            "timeout(duration)",
            "skipSSLVerification()",
        ),
        args=("url",),
        renames={"header": "headers"},
        section="httppost",
        array=True,
        element_key="endpoint",
        config={
            "endpoint": "",
            "url": "",
            "headers": {},
            "basic-auth": {},
            "alert-template": "",
            "alert-template-file": "",
            "row-template": "",
            "row-template-file": "",
        },
        secrets=_secret("basic-auth"),
        impl=_H + "post",
    ),
    HandlerRow("publish", "publish the event to other topics (topic handlers only)", impl=_H + "publish"),
    HandlerRow(
        "aggregate",
        "aggregate the events of an interval into one event on a topic (topic handlers only)",
        impl=_H + "aggregate",
    ),
    # --- services with a config section -----------------------------------------------------------
    HandlerRow(
        "smtp",
        "send the event as an email (subject: message, body: details)",
        "email(string...)",
        ("+to(string...)", "+toTemplates(string...)"),
        args=("to",),
        section="smtp",
        config={
            "enabled": False,
            "host": "localhost",
            "port": 25,
            "username": "",
            "password": "",
            "no-verify": False,
            "global": False,
            "state-changes-only": False,
            "from": "",
            "to": [],
            # templates of addresses from the alert's data: refused when set (smtp.py)
            "to-templates": [],
            "idle-timeout": "30s",
        },
        secrets=_secret("password"),
        impl=_H + "smtp",
    ),
    HandlerRow(
        "slack",
        "post the message to a Slack incoming webhook",
        "slack()",
        ("workspace(string)", "channel(string)", "username(string)", "iconEmoji(string)"),
        section="slack",
        array=True,
        element_key="workspace",
        config={
            "enabled": False,
            "default": False,
            "workspace": "",
            "url": "",
            "token": "",
            "channel": "",
            "username": "kapacitor",
            "icon-emoji": "",
            "global": False,
            "state-changes-only": False,
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "insecure-skip-verify": False,
        },
        secrets=_secret("url", "token"),
        impl=_H + "slack",
    ),
    HandlerRow(
        "pagerduty2",
        "trigger/resolve a PagerDuty Events API v2 incident",
        "pagerDuty2()",
        ("routingKey(string)", "serviceKey(string)", "+link(string, string...)"),
        renames={"link": "links"},
        section="pagerduty2",
        config={
            "enabled": False,
            "url": "https://events.pagerduty.com/v2/enqueue",
            "routing-key": "",
            "global": False,
        },
        secrets=_secret("routing-key"),
        impl=_H + "pagerduty2",
    ),
    HandlerRow(
        "pagerduty",
        "trigger/resolve a PagerDuty (v1) incident",
        "pagerDuty()",
        ("serviceKey(string)",),
        section="pagerduty",
        config={
            "enabled": False,
            "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
            "service-key": "",
            "global": False,
        },
        secrets=_secret("service-key"),
        impl=_H + "pagerduty",
    ),
    HandlerRow(
        "opsgenie",
        "create/close an OpsGenie (v1) alert",
        "opsGenie()",
        ("teams(string...)", "recipients(string...)"),
        renames={"teams": "teams-list", "recipients": "recipients-list"},
        section="opsgenie",
        config={
            "enabled": False,
            "api-key": "",
            "teams": [],
            "recipients": [],
            "url": "https://api.opsgenie.com/v1/json/alert",
            "recovery_url": "https://api.opsgenie.com/v1/json/alert/note",
            "global": False,
        },
        secrets=_secret("api-key"),
        impl=_H + "opsgenie",
    ),
    HandlerRow(
        "opsgenie2",
        "create/close an OpsGenie (v2) alert",
        "opsGenie2()",
        ("teams(string...)", "recipients(string...)", "recoveryAction(string)"),
        renames={"teams": "teams-list", "recipients": "recipients-list", "recoveryAction": "recovery_action"},
        section="opsgenie2",
        config={
            "enabled": False,
            "api-key": "",
            "teams": [],
            "recipients": [],
            "url": "https://api.opsgenie.com/v2/alerts",
            "recovery_action": "notes",
            "details": False,
            "global": False,
        },
        secrets=_secret("api-key"),
        impl=_H + "opsgenie2",
    ),
    HandlerRow(
        "victorops",
        "send the event to VictorOps' REST endpoint",
        "victorOps()",
        ("routingKey(string)",),
        section="victorops",
        config={
            "enabled": False,
            "api-key": "",
            "routing-key": "",
            "url": "https://alert.victorops.com/integrations/generic/20131114/alert",
            "global": False,
            "json-data": False,
        },
        secrets=_secret("api-key"),
        impl=_H + "victorops",
    ),
    HandlerRow(
        "telegram",
        "send the message through a Telegram bot",
        "telegram()",
        ("chatId(string)", "parseMode(string)", "disableWebPagePreview()", "disableNotification()"),
        section="telegram",
        config={
            "enabled": False,
            "url": "https://api.telegram.org/bot",
            "token": "",
            "chat-id": "",
            "parse-mode": "",
            "disable-web-page-preview": False,
            "disable-notification": False,
            "global": False,
            "state-changes-only": False,
        },
        secrets=_secret("token"),
        impl=_H + "telegram",
    ),
    HandlerRow(
        "teams",
        "post a MessageCard to a Microsoft Teams channel webhook",
        "teams()",
        ("channelURL(string)",),
        section="teams",
        config={"enabled": False, "channel-url": "", "global": False, "state-changes-only": False},
        impl=_H + "teams",
    ),
    HandlerRow(
        "discord",
        "post an embed to a Discord webhook",
        "discord()",
        (
            "workspace(string)",
            "timestamp()",
            "username(string)",
            "avatarUrl(string)",
            "embedTitle(string)",
        ),
        section="discord",
        array=True,
        element_key="workspace",
        config={
            "enabled": False,
            "default": False,
            "workspace": "",
            "url": "",
            "timestamp": False,
            "username": "",
            "avatar-url": "",
            "embed-title": "",
            "global": False,
            "state-changes-only": False,
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "insecure-skip-verify": False,
        },
        impl=_H + "discord",
    ),
    HandlerRow(
        "pushover",
        "send a Pushover notification",
        "pushover()",
        (
            "userKey(string)",
            "device(string)",
            "title(string)",
            "uRL(string)",
            "uRLTitle(string)",
            "sound(string)",
        ),
        section="pushover",
        config={
            "enabled": False,
            "token": "",
            "user-key": "",
            "url": "https://api.pushover.net/1/messages.json",
        },
        secrets=_secret("token", "user-key"),
        impl=_H + "pushover",
    ),
    HandlerRow(
        "sensu",
        "send a check result to a Sensu client over TCP",
        "sensu()",
        ("source(string)", "handlers(string...)", "+metadata(string, any)"),
        section="sensu",
        config={"enabled": False, "addr": "", "source": "Kapacitor", "handlers": []},
        impl=_H + "sensu",
    ),
    HandlerRow(
        "alerta",
        "create an Alerta alert",
        "alerta()",
        (
            "token(string)",
            "resource(string)",
            "event(string)",
            "environment(string)",
            "group(string)",
            "value(string)",
            "origin(string)",
            "services(string...)",
            "correlated(string...)",
            "+attribute(string, any)",
            "timeout(duration)",
        ),
        renames={"services": "service", "correlated": "correlate", "attribute": "attributes"},
        section="alerta",
        config={
            "enabled": False,
            "url": "",
            "insecure-skip-verify": False,
            "token": "",
            "token-prefix": "",
            "environment": "",
            "origin": "",
            "timeout": "0s",
        },
        secrets=_secret("token"),
        impl=_H + "alerta",
    ),
    HandlerRow(
        "bigpanda",
        "send the event to BigPanda's alerts API",
        "bigPanda()",
        (
            "appKey(string)",
            "host(string)",
            "primaryProperty(string)",
            "secondaryProperty(string)",
            "+attribute(string, any)",
        ),
        renames={"attribute": "attributes"},
        section="bigpanda",
        config={
            "enabled": False,
            "global": False,
            "app-key": "",
            "token": "",
            "state-changes-only": False,
            "insecure-skip-verify": False,
            "url": "https://api.bigpanda.io/data/v2/alerts",
            "auto-attributes": "tags,fields",
        },
        secrets=_secret("token"),
        impl=_H + "bigpanda",
    ),
    HandlerRow(
        "hipchat",
        "post a notification to a HipChat room",
        "hipChat()",
        ("room(string)", "token(string)"),
        section="hipchat",
        config={
            "enabled": False,
            "url": "",
            "token": "",
            "room": "",
            "global": False,
            "state-changes-only": False,
        },
        secrets=_secret("token"),
        impl=_H + "hipchat",
    ),
    HandlerRow(
        "mqtt",
        "publish the message to an MQTT broker",
        "mqtt(string)",
        ("brokerName(string)", "qos(int)", "retained(bool?)"),
        args=("topic",),
        renames={"brokerName": "broker-name"},
        section="mqtt",
        array=True,
        element_key="name",
        config={
            "enabled": False,
            "name": "default",
            "default": False,
            "url": "",
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "insecure-skip-verify": False,
            "client-id": "",
            "username": "",
            "password": "",
        },
        secrets=_secret("password"),
        impl=_H + "mqtt",
    ),
    HandlerRow(
        "snmptrap",
        "send an SNMPv2c trap",
        "snmpTrap(string)",
        ("+data(string, string, string)",),
        args=("trap-oid",),
        renames={"data": "data-list"},
        section="snmptrap",
        config={"enabled": False, "addr": "localhost:162", "community": "kapacitor", "retries": 1},
        secrets=_secret("community"),
        impl=_H + "snmptrap",
    ),
    HandlerRow(
        "kafka",
        "write the event's JSON to a Kafka topic",
        "kafka()",
        (
            "cluster(string)",
            "kafkaTopic(string)",
            "template(string)",
            "disablePartitionById()",
            "partitionHashAlgorithm(string)",
        ),
        {"partitionHashAlgorithm": "crc32"},
        # the topic handler options are Kapacitor's (mapstructure) names
        renames={
            "kafkaTopic": "topic",
            "disablePartitionById": "disablePartitionById",
            "partitionHashAlgorithm": "partitionAlgorithm",
        },
        section="kafka",
        array=True,
        element_key="id",
        config={
            "enabled": False,
            "id": "default",
            "brokers": [],
            "timeout": "0s",
            "batch-size": 0,
            "batch-timeout": "0s",
            "use-ssl": False,
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "insecure-skip-verify": False,
            "sasl-username": "",
            "sasl-password": "",
            "sasl_extensions": {},
            "sasl-mechanism": "",
            "sasl-version": 0,
            "sasl-gssapi-service-name": "",
            "sasl-gssapi-auth-type": "",
            "sasl-gssapi-disable-pafxfast": False,
            "sasl-gssapi-kerberos-config-path": "",
            "sasl-gssapi-key-tab-path": "",
            "sasl-gssapi-realm": "",
            "sasl-oauth-service": "",
            "sasl-oauth-client-id": "",
            "sasl-oauth-client-secret": "",
            "sasl-oauth-token-url": "",
            "sasl-oauth-scopes": [],
            "sasl-oauth-parameters": {},
            "sasl-oauth-token-expiry-margin": "1s",
            "sasl-access-token": "",
            "sasl-oauth-tenant-id": "",
        },
        secrets=_secret("sasl-password", "sasl-oauth-client-secret", "sasl-access-token"),
        impl=_H + "kafka",
    ),
    HandlerRow(
        "servicenow",
        "create a ServiceNow event",
        "serviceNow()",
        (
            "url(string)",
            "username(string)",
            "password(string)",
            "source(string)",
            "node(string)",
            "type(string)",
            "resource(string)",
            "metricName(string)",
            "messageKey(string)",
            "+additionalInfo(string, any)",
        ),
        renames={"metricName": "metricName", "messageKey": "messageKey", "additionalInfo": "additional_info"},
        section="servicenow",
        config={
            "enabled": False,
            "url": "https://instance.service-now.com/api/global/em/jsonv2",
            "source": "",
            "username": "",
            "password": "",
            "global": False,
            "state-changes-only": False,
        },
        secrets=_secret("password"),
        impl=_H + "servicenow",
    ),
    HandlerRow(
        "zenoss",
        "send an event to Zenoss' JSON API",
        "zenoss()",
        (
            "url(string)",
            "username(string)",
            "password(string)",
            "action(string)",
            "method(string)",
            "type(string)",
            "tid(int)",
            "collector(string)",
            "summary(string)",
            "device(string)",
            "component(string)",
            "eventClassKey(string)",
            "eventClass(string)",
            "message(string)",
            "+customField(string, any)",
        ),
        renames={"eventClassKey": "eventclasskey", "eventClass": "eventclass", "customField": "customField"},
        section="zenoss",
        config={
            "enabled": False,
            "url": "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router",
            "username": "",
            "password": "",
            "action": "EventsRouter",
            "method": "add_event",
            "type": "rpc",
            "tid": 1,
            "collector": "Kapacitor",
            "severity-map": {"OK": "Clear", "Info": "Info", "Warning": "Warning", "Critical": "Critical"},
            "global": False,
            "state-changes-only": False,
        },
        secrets=_secret("password"),
        impl=_H + "zenoss",
    ),
    HandlerRow(
        "talk",
        "post the event to a Talk webhook",
        "talk()",
        section="talk",
        config={"enabled": False, "url": "", "author_name": ""},
        secrets=_secret("url"),
        impl=_H + "talk",
    ),
    # removed from later Kapacitor releases; scripts written for 1.2–1.4 may still use it
    HandlerRow(
        "alertmanager",
        "Prometheus Alertmanager (Kapacitor 1.2–1.4 only)",
        "alertManager()",
        (
            "room(string)",
            "alertManagerTagName(string...)",
            "alertManagerTagValue(string...)",
            "alertManagerAnnotationName(string...)",
            "alertManagerAnnotationValue(string...)",
        ),
    ),
)

#: every handler kind, by topic-handler kind
HANDLERS: Mapping[str, HandlerRow] = MappingProxyType({r.kind: r for r in _ROWS})
#: handlers that can be added inline in a TICKscript, by method name (``pagerDuty2``)
INLINE: Mapping[str, HandlerRow] = MappingProxyType({r.inline_name: r for r in _ROWS if r.inline_name})
#: handler config sections kapacitord has (``[pagerduty2]``, ``[[slack]]``), by section name
SECTIONS: Mapping[str, HandlerRow] = MappingProxyType({r.section: r for r in _ROWS if r.section})

__all__ = ["HANDLERS", "INLINE", "SECTIONS", "HandlerRow", "kebab", "unsupported_message"]


def _check_table() -> None:
    for r in _ROWS:
        assert r.config is None or r.section, f"{r.kind}: config keys without a section"
        assert not r.array or r.element_key, f"{r.kind}: an array section needs an element key"
        assert r.config is None or not r.array or r.element_key in r.config, r.kind
        assert r.impl is None or r.section is None or r.config is not None, f"{r.kind}: section keys"


_check_table()
