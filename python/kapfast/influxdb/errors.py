"""Errors from talking to InfluxDB."""

from __future__ import annotations

from kapfast.errors import KapfastError


class InfluxDBError(KapfastError):
    """InfluxDB answered with an error. ``message`` is InfluxDB's own error text.

    ``status`` is the HTTP status (None when no answer came), ``statement_id`` the failing
    statement of a multi-statement query (None when the whole request failed).
    """

    def __init__(self, message: str, *, status: int | None = None, statement_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.statement_id = statement_id


class InfluxDBConnectionError(InfluxDBError):
    """InfluxDB could not be reached (refused, timed out, TLS failure, or kept answering 5xx)."""


__all__ = ["InfluxDBConnectionError", "InfluxDBError"]
