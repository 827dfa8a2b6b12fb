"""The alert services of a server, and building handlers, inline or from topic handler specs
``{id, topic, kind, options, match}``, through :mod:`kapfast.handler_table`.

The server puts one :class:`AlertServices` in ``ctx.services["alert_services"]``; alert nodes build
their inline handlers and get the global handlers from it, and the topics API builds the handlers
it attaches to topics with :meth:`AlertServices.build_entry`. Each supported handler kind with a
config section has one service object here, made from the section by its module's
``IMPL.service`` and remade by :meth:`AlertServices.configure` when the config changes (handlers
look their service up at send time, so they follow). Without a server (``kapfast test``)
:data:`NO_SERVICES` stands in: every service at its defaults, i.e. disabled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kapfast.config import Config, handler_section_class
from kapfast.engine.alert.handlers.base import AlertHandler, BuildContext, OptionError, Options
from kapfast.engine.alert.handlers.webapi import WebService, kapacitor_url
from kapfast.engine.alert.match import MatchError, compile_match
from kapfast.engine.alert.names import valid_handler_id, valid_topic
from kapfast.engine.alert.topics import HandlerEntry
from kapfast.errors import KapfastError
from kapfast.handler_table import HANDLERS, INLINE, HandlerRow, unsupported_message
from kapfast.tick.pipeline import Handler

#: ``ctx.services`` key of the :class:`AlertServices`
SERVICE_KEY = "alert_services"

#: topic handler kinds kapfast delivers
SUPPORTED_KINDS = tuple(sorted(k for k, r in HANDLERS.items() if r.supported))

__all__ = [
    "NO_SERVICES",
    "SERVICE_KEY",
    "SUPPORTED_KINDS",
    "AlertServices",
    "HandlerSpec",
    "HandlerSpecError",
    "inline_options",
    "valid_handler_id",
    "valid_topic",
]


class HandlerSpecError(KapfastError):
    """A handler spec that cannot be used (bad id, topic, kind, options or match)."""


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
        row = HANDLERS.get(self.kind)
        if row is None:
            raise HandlerSpecError(
                f"unknown handler kind {self.kind!r} (supported: {', '.join(SUPPORTED_KINDS)})"
            )
        if not row.supported:
            raise HandlerSpecError(
                f"{unsupported_message(row, inline=False)} (supported: {', '.join(SUPPORTED_KINDS)})"
            )


def _fixed_args(row: HandlerRow) -> int:
    """How many arguments of the inline method are fixed (the rest are variadic)."""
    inner = (row.inline or "()").split("(", 1)[1].rstrip(")").strip()
    return sum(1 for part in inner.split(",") if part.strip() and not part.strip().endswith("..."))


def inline_options(row: HandlerRow, h: Handler) -> dict[str, Any]:
    """The topic-handler options an inline handler amounts to: its method's arguments under the
    row's ``args`` names (variadic ones as a list), its property methods under their option
    names; an option set by both (``.email('a').to('b')``) gets both."""
    opts: dict[str, Any] = {}
    fixed = _fixed_args(row)
    for i, name in enumerate(row.args):
        if i < fixed:
            if i < len(h.args):
                opts[name] = h.args[i]
        elif len(h.args) > fixed:
            opts[name] = list(h.args[fixed:])
    for prop, value in h.properties.items():
        key = row.option_name(prop)
        if isinstance(opts.get(key), list):
            opts[key] = [*opts[key], *(value if isinstance(value, list) else [value])]
        else:
            opts[key] = value
    return opts


def _default_element(row: HandlerRow, section: Any) -> Any:
    """The element of a section whose ``global``/``state-changes-only`` count."""
    if not row.array:
        return section
    return next((e for e in section if getattr(e, "default", False) or len(section) == 1), None)


@dataclass
class AlertServices:
    config: Config = field(default_factory=Config)

    def __post_init__(self) -> None:
        self.log = logging.getLogger("kapfast.alert")
        self.persist_topics = True
        self.topic_buffer_length = 5000
        self._sections: dict[str, Any] = {}
        self._services: dict[str, Any] = {}
        self.configure(self.config)

    @classmethod
    def from_config(cls, cfg: Config) -> AlertServices:
        return cls(cfg)

    def configure(self, cfg: Config) -> None:
        """(Re)make every service from ``cfg``: handlers built earlier send with the new settings."""
        self.config = cfg
        self.persist_topics = cfg.alert.persist_topics
        self.topic_buffer_length = cfg.alert.topic_buffer_length
        for row in HANDLERS.values():
            if not row.supported or row.section is None:
                continue
            impl = row.implementation()
            section = cfg.handlers.get(row.section)
            if section is None:
                section = [] if row.array else handler_section_class(row.section)()
            old = self._services.get(row.kind)
            self._sections[row.kind] = section
            svc = impl.service(section) if impl.service is not None else None
            if isinstance(svc, WebService):
                svc.kapacitor_url = kapacitor_url(cfg)
            self._services[row.kind] = svc
            close = getattr(old, "close", None)
            if callable(close):
                close()

    def service(self, kind: str) -> Any:
        """The current service object of a handler kind (``None`` for kinds without one)."""
        return self._services.get(kind)

    # --- building handlers ---------------------------------------------------------------------

    def build(
        self, kind: str, options: Mapping[str, Any], collector: Any = None, handler_id: str = ""
    ) -> AlertHandler:
        """A running handler of ``kind`` from its options; raises :class:`HandlerSpecError`."""
        row = HANDLERS.get(kind)
        if row is None:
            raise HandlerSpecError(f"unknown handler kind {kind!r} (supported: {', '.join(SUPPORTED_KINDS)})")
        if not row.supported:
            raise HandlerSpecError(unsupported_message(row, inline=False))
        o = Options(kind, options)
        ctx = BuildContext(lambda: self._services.get(kind), self, collector, handler_id)
        try:
            h = row.implementation().build(ctx, o)
        except OptionError as e:
            raise HandlerSpecError(str(e)) from None
        except ValueError as e:
            raise HandlerSpecError(f"{kind} handler: {e}") from None
        try:
            o.done()
        except OptionError as e:
            h.close()
            raise HandlerSpecError(str(e)) from None
        return h

    def build_inline(self, h: Handler) -> AlertHandler:
        """The running handler of an inline handler (``|alert().pagerDuty2()...``)."""
        row = INLINE.get(h.kind)
        if row is None:
            raise HandlerSpecError(f"unknown alert handler .{h.kind}()")
        return self.build(row.kind, inline_options(row, h))

    def _global_rows(self) -> Iterator[tuple[HandlerRow, Any]]:
        for kind, section in self._sections.items():
            row = HANDLERS[kind]
            if row.config is None or "global" not in row.config:
                continue
            element = _default_element(row, section)
            if element is not None and element.global_:
                yield row, element

    def global_handlers(self, inline_kinds: set[str]) -> list[AlertHandler]:
        """``global = true`` services add their handler to every alert that lacks one of their
        kind. ``inline_kinds``: the TICKscript method names of the alert's inline handlers."""
        have = {INLINE[k].kind for k in inline_kinds if k in INLINE}
        return [self.build(row.kind, {}) for row, _ in self._global_rows() if row.kind not in have]

    def state_changes_only(self) -> bool:
        """A global service with ``state-changes-only`` makes every alert ``.stateChangesOnly()``."""
        return any(getattr(element, "state_changes_only", False) for _, element in self._global_rows())

    # --- topic handler specs -------------------------------------------------------------------

    def build_entry(self, spec: HandlerSpec, collector: Any) -> HandlerEntry:
        """Validate a spec and build what a topic runs for it; raises :class:`HandlerSpecError`."""
        spec.validate()
        try:
            match = compile_match(spec.match)
        except MatchError as e:
            raise HandlerSpecError(str(e)) from None
        handler = self.build(spec.kind, spec.options, collector, spec.id)
        return HandlerEntry(spec.id, spec.kind, handler, match)

    def close(self) -> None:
        for svc in self._services.values():
            close = getattr(svc, "close", None)
            if callable(close):
                close()


#: the services of a run without a server (``kapfast test``): everything at its defaults (disabled)
NO_SERVICES = AlertServices()
