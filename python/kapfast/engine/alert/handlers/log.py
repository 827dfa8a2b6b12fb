"""``.log(path).mode(m)``: append each event as one JSON line to a file.

Like Kapacitor the file is opened for each event (``O_WRONLY|O_APPEND|O_CREATE``, permission
``mode`` filtered by the umask when it is created), so log rotation needs no signal.
"""

from __future__ import annotations

import os

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    build_and_send,
)

DEFAULT_MODE = 0o600


class LogHandler(AlertHandler):
    kind = "log"

    def __init__(self, path: str, mode: int = DEFAULT_MODE) -> None:
        if not os.path.isabs(path):
            raise ValueError(f"alert log path must be absolute: {path!r}")
        self.path = path
        self.mode = mode

    def handle(self, event: AlertEvent) -> None:
        data = event.to_json_bytes()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
        except OSError as e:
            raise HandlerError(f"failed to open alert log {self.path}: {e.strerror}") from None
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except OSError as e:
            raise HandlerError(f"failed to write alert log {self.path}: {e.strerror}") from None
        finally:
            os.close(fd)

    def describe(self) -> str:
        return f"log {self.path}"


def _build(ctx: BuildContext, o: Options) -> LogHandler:
    return LogHandler(o.text("path"), o.integer("mode", DEFAULT_MODE))


IMPL = HandlerImpl(
    build=_build,
    test_options=lambda service: {"path": "", "mode": DEFAULT_MODE},
    test=build_and_send(_build),
)
