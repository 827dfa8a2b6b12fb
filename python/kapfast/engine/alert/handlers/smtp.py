"""``.email(to...)`` and the ``smtp`` topic handler: subject = the event's message, HTML body =
its details, sent through the ``[smtp]`` server (Kapacitor's ``services/smtp``).

One :class:`Mailer` per server holds one SMTP connection, reused while mail keeps coming and
closed after ``idle-timeout`` without mail (as Kapacitor's mailer does). Port 465 is implicit TLS;
on other ports STARTTLS is used when the server offers it; ``no-verify`` skips the certificate
check. Sending is synchronous and bounded by a timeout, so events leave in order.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    OptionError,
    Options,
    ServiceDisabled,
)
from kapfast.errors import ConfigError

IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True)
class SMTPSettings:
    enabled: bool = False
    host: str = "localhost"
    port: int = 25
    username: str = ""
    password: str = ""
    no_verify: bool = False
    from_: str = ""
    to: tuple[str, ...] = field(default_factory=tuple)
    idle_timeout_s: float = 30.0
    timeout_s: float = DEFAULT_TIMEOUT_S


class Mailer:
    """The ``[smtp]`` service: thread-safe, one connection at a time."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._timer: threading.Timer | None = None

    def message(self, to: Sequence[str], subject: str, html_body: str) -> EmailMessage:
        s = self.settings
        if not s.enabled:
            raise ServiceDisabled("smtp service is not enabled ([smtp] enabled = false)")
        recipients = list(to) or list(s.to)
        if not recipients:
            raise ServiceDisabled("not sending email, no recipients defined")
        msg = EmailMessage()
        msg["From"] = s.from_
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid()
        msg.set_content(html_body, subtype="html")
        return msg

    def send(self, to: Sequence[str], subject: str, html_body: str) -> None:
        msg = self.message(to, subject, html_body)
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.send_message(msg)
                    break
                except smtplib.SMTPServerDisconnected:
                    # the server closed an idle connection we kept: dial again, once
                    self._drop()
                    if attempt == 2:
                        raise HandlerError(f"smtp {self._where()}: server disconnected") from None
                except (smtplib.SMTPException, OSError) as e:
                    self._drop()
                    raise HandlerError(f"smtp {self._where()}: {e}") from None
            self._last_used = time.monotonic()
            self._arm_idle_timer()

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        s = self.settings
        ctx = ssl.create_default_context()
        if s.no_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        conn: smtplib.SMTP | None = None
        try:
            if s.port == IMPLICIT_TLS_PORT:
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=ctx)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            conn.ehlo()
            if s.port != IMPLICIT_TLS_PORT and conn.has_extn("starttls"):
                conn.starttls(context=ctx)
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as e:
            if conn is not None:
                conn.close()
            raise HandlerError(f"smtp {self._where()}: {e}") from None
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def _arm_idle_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.settings.idle_timeout_s <= 0:
            return
        self._timer = threading.Timer(self.settings.idle_timeout_s, self._close_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            if time.monotonic() - self._last_used >= self.settings.idle_timeout_s * 0.99:
                self._quit()

    def _quit(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._quit()


class EmailHandler(AlertHandler):
    kind = "smtp"

    def __init__(self, mailer: Mailer | Callable[[], Mailer], to: Sequence[str] = ()) -> None:
        for addr in to:
            if "@" not in addr:
                raise ValueError(f"invalid email address {addr!r}")
        # a callable: the server's current [smtp] service (it changes with the config)
        self._mailer = mailer
        self.to = list(to)
        self._said_disabled = False

    @property
    def mailer(self) -> Mailer:
        return self._mailer if isinstance(self._mailer, Mailer) else self._mailer()

    def handle(self, event: AlertEvent) -> None:
        try:
            self.mailer.send(self.to, event.message, event.details)
        except ServiceDisabled as e:
            e.quiet, self._said_disabled = self._said_disabled, True
            raise

    def describe(self) -> str:
        return f"email {', '.join(self.to) or '(default recipients)'}"


# --- the [smtp] section and the smtp handler kind (kapfast.handler_table) --------------------------


def settings_from_config(c: Any) -> SMTPSettings:
    from kapfast.config import parse_go_duration  # local: config reads the handler table

    return SMTPSettings(
        enabled=c.enabled,
        host=c.host,
        port=c.port,
        username=c.username,
        password=c.password,
        no_verify=c.no_verify,
        from_=c.from_,
        to=tuple(c.to),
        idle_timeout_s=parse_go_duration(c.idle_timeout) / 1e9,
    )


def _validate(c: Any) -> None:
    """kapacitord's checks of ``[smtp]`` (services/smtp/config.go)."""
    from kapfast.config import check_duration  # local: config reads the handler table

    if not c.host:
        raise ConfigError("[smtp] host cannot be empty")
    if c.port <= 0 or c.port > 65535:
        raise ConfigError(f"[smtp] invalid port {c.port}")
    check_duration("[smtp] idle-timeout", c.idle_timeout)
    if c.enabled and not c.from_:
        raise ConfigError("[smtp] must provide a 'from' address")
    if c.from_ and "@" not in c.from_:
        raise ConfigError(f"[smtp] invalid from email address: {c.from_!r}")
    for to in c.to:
        if "@" not in to:
            raise ConfigError(f"[smtp] invalid to email address: {to!r}")
    if c.to_templates:
        raise ConfigError(
            "[smtp] to-templates is not supported by kapfast: list the addresses in 'to' "
            "(or with .to() in the TICKscript)"
        )


def _build(ctx: BuildContext, o: Options) -> EmailHandler:
    if o.strings("to-templates"):
        raise OptionError(
            "email handler: .toTemplates() is not supported by kapfast; list the addresses with .to()"
        )
    return EmailHandler(ctx.service, o.strings("to"))


def _test(mailer: Mailer, o: Options) -> None:
    mailer.send(o.strings("to"), o.text("subject"), o.text("body"))


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: Mailer(settings_from_config(c)),
    validate=_validate,
    test_options=lambda m: {"to": list(m.settings.to), "subject": "test subject", "body": "test body"},
    test=_test,
)
