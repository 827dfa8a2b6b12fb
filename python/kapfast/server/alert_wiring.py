"""What the alert APIs share on the aiohttp app: the alert services and the topic registry.

Its own module so that the topic API and the service-test API (which topics_api mounts) both
read it without importing each other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from kapfast.engine.alert.services import AlertServices
from kapfast.engine.alert.topics import TopicRegistry


@dataclass
class AlertWiring:
    """The alert services and the topic registry the API and the engine share.

    ``closed``: anonymous topics (``main:TASK:NODE``, an alert without ``.topic()``) of tasks
    that stopped: hidden until their task starts again (their saved states stay), as Kapacitor
    closes them. ``deleted``: topics deleted through the API that still have handlers: hidden
    until an event or a handler comes (Kapacitor's topic is gone until then).
    """

    services: AlertServices
    registry: TopicRegistry
    closed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    #: one change of the topic handlers at a time: a change checks the store, attaches the
    #: handler and stores it, awaiting the store's thread in between (kapfast.server.offload)
    handlers_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


WIRING_KEY = web.AppKey("alert_wiring", AlertWiring)
