"""``.sensu()`` and the ``sensu`` topic handler: a check result sent to a Sensu client's TCP socket,
as Kapacitor's services/sensu does: dial ``addr``, write
``{"handlers":H,"name":ID,"output":MESSAGE,"source":S,"status":N}`` plus the handler's metadata
keys (those not already there) and a newline (Go's ``json.Encoder`` of a map: sorted keys), then
read until the client closes: anything but ``ok`` is an error. N is 0 (OK, INFO), 1 (WARNING) or
2 (CRITICAL); the name is the alert ID and must match ``^[\\w\\.-]+$``; the source is a template
over the event (``{{ .TaskName }}``), defaulting to the section's; handlers default to the
section's (``null`` when neither has any).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    DEFAULT_TIMEOUT_S,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
)
from kapfast.engine.alert.handlers.eventdata import OptionTemplate
from kapfast.engine.alert.handlers.tcp import split_address
from kapfast.engine.alert.handlers.webservice import ServiceHandler, not_enabled, service_test_level
from kapfast.errors import ConfigError
from kapfast.gofmt import go_quote, json_encode

_VALID_NAME = re.compile(r"^[\w.-]+$", re.ASCII)
_STATUS = {"OK": 0, "INFO": 0, "WARNING": 1, "CRITICAL": 2}


def sensu_body(
    name: str, source: str, output: str, handlers: list[str] | None, metadata: dict[str, Any], level: str
) -> bytes:
    doc: dict[str, Any] = {
        "name": name,
        "source": source,
        "output": output,
        "status": _STATUS.get(level, 3),
        "handlers": handlers or None,
    }
    for k, v in metadata.items():
        doc.setdefault(k, v)
    try:
        return (json_encode(doc) + "\n").encode()
    except ValueError as e:
        raise HandlerError(f"sensu: {e}") from None


@dataclass(frozen=True)
class SensuService:
    enabled: bool = False
    addr: str = ""
    source: str = "Kapacitor"
    handlers: tuple[str, ...] = field(default_factory=tuple)
    timeout_s: float = DEFAULT_TIMEOUT_S

    def alert(
        self, name: str, source: str, output: str, handlers: list[str], metadata: dict[str, Any], level: str
    ) -> None:
        if not _VALID_NAME.match(name):
            raise HandlerError(
                f"sensu: invalid name {go_quote(name)} for sensu alert. Must match {_VALID_NAME.pattern}"
            )
        if not self.enabled:
            raise not_enabled("sensu", "sensu")
        body = sensu_body(
            name, source or self.source, output, handlers or list(self.handlers), metadata, level
        )
        try:
            host, port = split_address(self.addr)
            with socket.create_connection((host, port), timeout=self.timeout_s) as s:
                s.sendall(body)
                s.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := s.recv(4096):
                    chunks.append(chunk)
        except (OSError, ValueError) as e:
            raise HandlerError(f"sensu {self.addr}: {e}") from None
        answer = b"".join(chunks).decode("utf-8", "replace")
        if answer != "ok":
            raise HandlerError(f"sensu socket error: {answer}")


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    source = OptionTemplate("sensu", "source", o.text("source"))
    handlers = o.strings("handlers")
    metadata = o.mapping("metadata")

    def send(service: SensuService, event: AlertEvent) -> None:
        service.alert(event.id, source.render(event), event.message, handlers, metadata, event.level)

    return ServiceHandler("sensu", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.addr:
        raise ConfigError("[sensu]: must specify client address")


def _test_options(service: SensuService) -> dict[str, Any]:
    return {
        "name": "testName",
        "source": "Kapacitor",
        "output": "testOutput",
        "handlers": [],
        "metadata": {},
        "level": "CRITICAL",
    }


def _test(service: SensuService, o: Options) -> None:
    service.alert(
        o.text("name"),
        o.text("source"),
        o.text("output"),
        o.strings("handlers"),
        o.mapping("metadata"),
        service_test_level(o),
    )


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: SensuService(c.enabled, c.addr, c.source, tuple(c.handlers)),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
