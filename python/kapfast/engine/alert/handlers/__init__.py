"""Alert handlers: one module per handler kind, each with its ``IMPL``
(:class:`~kapfast.engine.alert.handlers.base.HandlerImpl`); which kinds exist, and what they take,
is :mod:`kapfast.handler_table`. :class:`~kapfast.engine.alert.services.AlertServices` builds them.
"""

from __future__ import annotations

from kapfast.engine.alert.handlers.base import AlertHandler, HandlerError

__all__ = ["AlertHandler", "HandlerError"]
