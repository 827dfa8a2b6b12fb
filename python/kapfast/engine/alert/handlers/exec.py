"""``.exec(prog, args...)``: run the program with the event JSON on stdin, bounded in time."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    AlertHandler,
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
    build_and_send,
)

#: a hung alert program must not hold the task forever
DEFAULT_EXEC_TIMEOUT_S = 30.0


class ExecHandler(AlertHandler):
    kind = "exec"

    def __init__(self, argv: Sequence[str], timeout_s: float = DEFAULT_EXEC_TIMEOUT_S) -> None:
        if not argv or not argv[0]:
            raise ValueError("exec handler needs a program")
        self.argv = list(argv)
        self.timeout_s = timeout_s

    def handle(self, event: AlertEvent) -> None:
        try:
            proc = subprocess.run(
                self.argv,
                input=event.to_json_bytes(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HandlerError(f"exec {self.argv[0]}: killed after {self.timeout_s:g}s") from None
        except OSError as e:
            raise HandlerError(f"exec {self.argv[0]}: {e}") from None
        if proc.returncode != 0:
            out = proc.stdout.decode("utf-8", "replace").strip()[:500]
            raise HandlerError(f"exec {self.argv[0]}: exit status {proc.returncode}: {out}")

    def describe(self) -> str:
        return f"exec {self.argv[0]}"


def _build(ctx: BuildContext, o: Options) -> ExecHandler:
    return ExecHandler([o.text("prog"), *o.strings("args")])


IMPL = HandlerImpl(
    build=_build, test_options=lambda service: {"prog": "", "args": []}, test=build_and_send(_build)
)
