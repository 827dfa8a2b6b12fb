"""What every inline alert handler is: something that delivers one event, or says why it failed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.config import parse_go_duration
from kapfast.errors import KapfastError

#: bound on every network or process operation of a handler, unless the script sets a timeout
DEFAULT_TIMEOUT_S = 10.0


class HandlerError(KapfastError):
    """An event a handler could not deliver (the task goes on).

    ``quiet`` failures were already explained once in the log and are only counted.
    """

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet


class ServiceDisabled(HandlerError):
    """The service a handler needs is not configured or not enabled: said once, then counted."""


class AlertHandler:
    """Delivers events synchronously, in order. ``handle`` raises :class:`HandlerError`."""

    kind = ""

    def handle(self, event: AlertEvent) -> None:
        raise NotImplementedError

    #: whether :meth:`start` may deliver without waiting (it is overridden)
    starts_without_waiting = False

    def start(self, event: AlertEvent) -> Callable[[], None] | None:
        """Deliver ``event`` as far as it goes without waiting (non-blocking system calls only):
        None when it is delivered, else the rest of the delivery, to be run where waiting is
        allowed (the alert node's delivery lane). Raises :class:`HandlerError` as ``handle`` does.
        By default nothing is done here: the rest is the whole of ``handle``."""
        return lambda: self.handle(event)

    def close(self) -> None:
        """Release what the handler holds (files, connections); it is not used afterwards."""

    def describe(self) -> str:
        return self.kind


class OptionError(KapfastError):
    """A handler option (topic handler JSON or inline property) that does not fit."""


class Options:
    """A handler's options, typed on read; every option must be read (a typo is an error).

    Topic handlers give them as JSON (``{"routing-key": "x"}``); inline handlers as what the
    TICKscript compiler made of their property methods, under the same names
    (:meth:`kapfast.handler_table.HandlerRow.option_name`). So the getters also take the
    compiler's forms: a :class:`~kapfast.tick.pipeline.Duration`, and a repeated two-argument
    property (``.header(k, v)``) as a list of pairs where a mapping is expected.
    """

    def __init__(self, kind: str, options: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.raw = dict(options or {})
        self.used: set[str] = set()

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.raw.get(key)

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def bad(self, key: str, want: str, v: Any) -> OptionError:
        return OptionError(f"{self.kind} handler: option {key!r} must be {want}, got {v!r}")

    def text(self, key: str, default: str = "") -> str:
        v = self.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.bad(key, "a string", v)
        return v

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.bad(key, "true or false", v)
        return v

    def integer(self, key: str, default: int = 0) -> int:
        v = self.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.bad(key, "an integer", v)
        return v

    def number(self, key: str, default: float = 0.0) -> float:
        v = self.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.bad(key, "a number", v)
        return float(v)

    def strings(self, key: str) -> list[str]:
        """A list of strings; a single string is a list of one; nested lists are flattened
        (``.to('a').to('b', 'c')`` inline)."""
        v = self.get(key)
        if v is None:
            return []
        out: list[str] = []

        def walk(x: Any) -> None:
            if isinstance(x, str):
                out.append(x)
            elif isinstance(x, list | tuple):
                for y in x:
                    walk(y)
            else:
                raise self.bad(key, "a list of strings", v)

        walk(v)
        return out

    def mapping(self, key: str) -> dict[str, Any]:
        """An object (JSON) or the pairs of a repeated ``.prop(key, value)`` (TICKscript)."""
        v = self.get(key)
        if v is None:
            return {}
        if isinstance(v, Mapping):
            return {str(k): x for k, x in v.items()}
        if isinstance(v, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in v):
            return {str(p[0]): p[1] for p in v}
        raise self.bad(key, "an object", v)

    def str_map(self, key: str) -> dict[str, str]:
        m = self.mapping(key)
        if not all(isinstance(x, str) for x in m.values()):
            raise self.bad(key, "an object of strings", m)
        return m

    def records(self, key: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """A list of objects with these fields (JSON), or the argument lists of a repeated
        property method taking them in this order (``.link(href, text)``)."""
        v = self.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.bad(key, f"a list of objects {{{', '.join(fields)}}}", v)
        out: list[dict[str, Any]] = []
        for item in v:
            if isinstance(item, Mapping):
                unknown = set(item) - set(fields)
                if unknown:
                    raise self.bad(key, f"a list of objects {{{', '.join(fields)}}}", v)
                out.append({f: item.get(f) for f in fields})
            elif isinstance(item, list | tuple) and 0 < len(item) <= len(fields):
                out.append({f: item[i] if i < len(item) else None for i, f in enumerate(fields)})
            else:
                raise self.bad(key, f"a list of objects {{{', '.join(fields)}}}", v)
        return out

    def duration_ns(self, key: str, default: int = 0) -> int:
        """A duration: a Go duration string (``10s``), nanoseconds, or a TICKscript duration."""
        v = self.get(key)
        if v is None:
            return default
        ns = getattr(v, "ns", None)  # kapfast.tick.pipeline.Duration
        if isinstance(ns, int):
            return ns
        if isinstance(v, bool):
            raise self.bad(key, "a duration", v)
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            try:
                return parse_go_duration(v)
            except ValueError:
                raise self.bad(key, "a duration such as 10s or 1m", v) from None
        raise self.bad(key, "a duration", v)

    def done(self) -> None:
        unknown = {k for k, v in self.raw.items() if k not in self.used and v is not None}
        if unknown:
            valid = ", ".join(sorted(self.used))
            raise OptionError(
                f"{self.kind} handler: unknown option(s) {', '.join(sorted(unknown))} (valid: {valid})"
            )


@dataclass
class BuildContext:
    """What a handler is built with besides its options.

    ``service()`` answers the current service of the handler's config section (rebuilt when the
    config changes, so a handler built earlier sends with the new settings); ``services`` is the
    server's :class:`~kapfast.engine.alert.services.AlertServices`; ``collector`` is where
    ``publish``/``aggregate`` topic handlers put events (``None`` inline); ``handler_id`` the
    topic handler's id ("" inline).
    """

    service: Callable[[], Any]
    services: Any = None
    collector: Any = None
    handler_id: str = ""


@dataclass(frozen=True)
class HandlerImpl:
    """What a handler module provides (its ``IMPL``); the rest is its row in
    :mod:`kapfast.handler_table`.

    - ``build(ctx, options)``: the running handler (raise :class:`OptionError`/``ValueError``
      for options that do not fit; read every option you accept: unread ones are errors);
    - ``service(section)``: the service object of the config section (the section's config
      object, or the list of them for a ``[[section]]``); ``None``: the module has no service;
    - ``validate(section)``: kapacitord's checks of the section (raise ``ConfigError``);
    - ``test_options(service)`` and ``test(service, options)``: the service test
      (``POST /kapacitor/v1/service-tests/NAME``): its default options, and one blocking try that
      raises :class:`HandlerError` when it fails.
    """

    build: Callable[[BuildContext, Options], AlertHandler]
    service: Callable[[Any], Any] | None = None
    validate: Callable[[Any], None] | None = None
    test_options: Callable[[Any], dict[str, Any]] | None = None
    test: Callable[[Any, Options], None] | None = None


def sample_event(message: str = "test alert from kapfast", level: str = "CRITICAL") -> AlertEvent:
    """The event a service test sends."""
    return AlertEvent(
        id="kapfast-service-test",
        message=message,
        details=message,
        time_ns=0,
        duration_ns=0,
        level=level,
        data=[],
    )


def build_and_send(build: Callable[[BuildContext, Options], AlertHandler]) -> Callable[[Any, Options], None]:
    """The service test of a handler without a service: build it from the test's options and
    send it :func:`sample_event`."""

    def test(service: Any, o: Options) -> None:
        try:
            h = build(BuildContext(lambda: service), o)
        except (ValueError, OptionError) as e:
            raise HandlerError(str(e)) from None
        try:
            h.handle(sample_event())
        finally:
            h.close()

    return test
