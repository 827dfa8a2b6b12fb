"""What every inline alert handler is: something that delivers one event, or says why it failed."""

from __future__ import annotations

from kapfast.alert_event import AlertEvent
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

    def close(self) -> None:
        """Release what the handler holds (files, connections); it is not used afterwards."""

    def describe(self) -> str:
        return self.kind
