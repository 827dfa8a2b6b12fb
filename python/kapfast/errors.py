"""The one exception hierarchy of kapfast.

Every error kapfast raises on purpose is a :class:`KapfastError`. Errors about user input carry
where the input went wrong (the TICKscript or line-protocol line and column) so that a CLI or an
HTTP answer can point at it. The Rust extension raises these same classes (it imports them), so
there is no second hierarchy on the Rust side.
"""

from __future__ import annotations

from typing import Any


class KapfastError(Exception):
    """Base class of every error kapfast raises on purpose."""


class InputError(KapfastError):
    """Bad user input, located at ``line``:``column`` (1-based; 0 when unknown) of ``source``."""

    def __init__(self, message: str, line: int = 0, column: int = 0, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.source = source

    def location(self) -> str:
        """``SOURCE:LINE:COL`` (the parts that are known)."""
        parts = [p for p in (self.source, str(self.line) if self.line else "") if p]
        if self.line and self.column:
            parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class LineProtocolError(InputError):
    """A line of line protocol that could not be parsed."""


class TickScriptError(InputError):
    """A TICKscript that does not compile. ``excerpt`` shows the line with a caret under the fault."""

    def __init__(
        self, message: str, line: int = 0, column: int = 0, source: str = "", excerpt: str = ""
    ) -> None:
        super().__init__(message, line, column, source)
        self.excerpt = excerpt


class VarError(TickScriptError):
    """A task var missing or of the wrong type for its template. Without a source file (a task
    defined over the API) its text is Kapacitor's, which names no position (clients compare it);
    the position stays in ``line`` and ``column``. With a file, it is located as any error."""

    def __str__(self) -> str:
        return super().__str__() if self.source else self.message


class EvalError(KapfastError):
    """A lambda expression that cannot be compiled or evaluated."""


class TaskError(KapfastError):
    """A task that cannot be defined, started or run."""


class UDFError(TaskError):
    """A UDF agent that failed: it exited, hung, wrote garbage or answered an error. The task
    running it fails with this message (its node name in front)."""


class StorageError(KapfastError):
    """The data directory or its database cannot be read or written. ``reason`` is ``"locked"``
    (another process holds the database: worth retrying), ``"full"`` (no space left) or ``""``."""

    def __init__(self, message: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class NotFoundError(KapfastError):
    """A task, template, recording or replay that does not exist."""


class RequestError(KapfastError):
    """A request that cannot be carried out as asked (the HTTP API answers 400 with the message;
    ``fields``, such as a script error's ``line`` and ``column``, are added to the JSON answer)."""

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


class ConfigError(KapfastError):
    """A configuration file or option that is not valid."""


class InternalError(KapfastError):
    """A bug in kapfast's Rust core: a panic, caught where the extension's work runs
    (``rust/src/py/errors.rs``) instead of escaping as pyo3's ``PanicException`` (a
    ``BaseException`` the router's and the task master's ``except Exception`` would not stop).
    The call that panicked fails; the process and every other task go on."""


__all__ = [
    "ConfigError",
    "EvalError",
    "InputError",
    "InternalError",
    "KapfastError",
    "LineProtocolError",
    "NotFoundError",
    "RequestError",
    "StorageError",
    "TaskError",
    "TickScriptError",
    "UDFError",
    "VarError",
]
