"""The error raised for a recording file that cannot be read."""

from __future__ import annotations

from kapfast.errors import InputError


class RecordingError(InputError):
    """A recording (``.srpl``/``.brpl``) that is truncated, malformed or has a bad timestamp.

    ``line`` is the 1-based line of the (decompressed) file where the fault is, ``column`` the
    1-based column when known, ``source`` the file name. ``record`` is the 1-based record (stream)
    or batch (batch recording) number, 0 when unknown.
    """

    def __init__(
        self, message: str, line: int = 0, column: int = 0, source: str = "", record: int = 0
    ) -> None:
        super().__init__(message, line, column, source)
        self.record = record


__all__ = ["RecordingError"]
