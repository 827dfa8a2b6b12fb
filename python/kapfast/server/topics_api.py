"""``/alerts/topics``: alert topics, their events' last states and their handlers.

Event states come from the alert-state store (the engine's alert nodes save there) merged with
the live topics of the engine (so ``[alert] persist-topics = false`` still shows them). Topics list
only events that are not OK (an event going back to OK is removed from the store, as Kapacitor's
topic store does); a topic with handlers is listed even without events.

Handlers (``/alerts/topics/{topic}/handlers[/{id}]``) are specs ``{id, kind, options, match}``
kept in the ``topic_handlers`` store and attached to the engine's topic registry, so every event
published to the topic reaches them. :func:`add_routes` also wires the alert services (``[smtp]``,
``[[slack]]``, ``[[httppost]]``, ``[alert]``) into the engine's services, once per application.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kapfast.config import Config
from kapfast.engine.alert.services import SERVICE_KEY, AlertServices, HandlerSpec, HandlerSpecError
from kapfast.engine.alert.topics import TopicRegistry, anonymous_topic
from kapfast.errors import NotFoundError, RequestError
from kapfast.gofmt import duration_string, go_map, go_quote
from kapfast.handler_table import HANDLERS
from kapfast.server import service_tests_api
from kapfast.server.alert_wiring import WIRING_KEY, AlertWiring
from kapfast.server.http import API, json_error, json_response, read_json, self_link
from kapfast.server.jsonpatch import apply_patch
from kapfast.server.state import STATE_KEY, ServerState
from kapfast.server.storage_io import storage_io
from kapfast.storage import AlertState, HandlerRecord
from kapfast.timefmt import format_rfc3339_ns

log = logging.getLogger("kapfast.server.topics")


LEVELS = ("OK", "INFO", "WARNING", "CRITICAL")


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def _min_level(request: web.Request) -> int:
    raw = request.query.get("min-level", "OK").upper()
    if raw not in LEVELS:
        raise RequestError(f"invalid min-level {go_quote(raw)}: expected OK, INFO, WARNING or CRITICAL")
    return LEVELS.index(raw)


def _topic_json(topic: str, states: list[AlertState], collected: int) -> dict[str, Any]:
    level = max((s.level for s in states), key=_rank, default="OK")
    base = f"{API}/alerts/topics/{topic}"
    return {
        "link": {"rel": "self", "href": base},
        "id": topic,
        "level": level,
        "collected": collected,
        "events-link": {"rel": "events", "href": f"{base}/events"},
        "handlers-link": {"rel": "handlers", "href": f"{base}/handlers"},
    }


def _event_json(topic: str, s: AlertState) -> dict[str, Any]:
    return {
        "link": {"rel": "self", "href": f"{API}/alerts/topics/{topic}/events/{s.event_id}"},
        "id": s.event_id,
        "state": {
            "message": s.message,
            "details": s.details,
            "time": format_rfc3339_ns(s.time),
            "duration": duration_string(s.duration),
            "level": s.level,
        },
    }


def _live_states(request: web.Request, topic: str) -> dict[str, AlertState]:
    """The event states the engine holds for ``topic`` right now (a recovered one as OK)."""
    t = request.app[WIRING_KEY].registry.get(topic)
    if t is None:
        return {}
    return {
        event_id: AlertState(topic, event_id, s.level, s.time_ns, s.duration_ns, s.message, s.details)
        for event_id, s in list(t.events.items())
    }


def _collected(request: web.Request, topic: str) -> int:
    """Kapacitor's topic counter: the events collected since the server started."""
    t = request.app[WIRING_KEY].registry.get(topic)
    return 0 if t is None else t.collected


@dataclass(frozen=True)
class _Stored:
    """What the topic endpoints read of the store (the saved event states per topic, the topics
    with handlers), read in one call on the storage threads: reading alert states waits for
    their pending commit, which waits for SQLite's lock (issue #19: never on the event loop)."""

    states: dict[str, dict[str, AlertState]]
    handler_topics: frozenset[str]


def _read_stored(st: ServerState, topic: str | None) -> _Stored:
    alerts, handlers = st.storage.alert_states, st.storage.topic_handlers
    if topic is not None:
        with_handlers = frozenset({topic}) if handlers.for_topic(topic) else frozenset()
        return _Stored({topic: alerts.for_topic(topic)}, with_handlers)
    return _Stored({t: alerts.for_topic(t) for t in alerts.topics()}, frozenset(handlers.topics()))


async def _stored_topics(request: web.Request, topic: str | None = None) -> _Stored:
    """The store's part of one topic (or of every topic: None)."""
    return await storage_io(_read_stored, request.app[STATE_KEY], topic)


def _topic_states(request: web.Request, stored: _Stored, topic: str) -> list[AlertState]:
    merged = dict(stored.states.get(topic, {}))
    merged.update(_live_states(request, topic))
    return sorted(merged.values(), key=lambda s: s.event_id)


def _visible(request: web.Request, stored: _Stored, topic: str, states: list[AlertState]) -> bool:
    """Whether the topic exists for the API (see :class:`AlertWiring`)."""
    wiring = request.app[WIRING_KEY]
    if topic in wiring.closed:
        return False
    if states:
        wiring.deleted.discard(topic)
        return True
    return topic not in wiring.deleted and topic in stored.handler_topics


async def _states(request: web.Request, topic: str, unknown: str = "unknown topic: {}") -> list[AlertState]:
    stored = await _stored_topics(request, topic)
    states = _topic_states(request, stored, topic)
    if not _visible(request, stored, topic, states):
        raise NotFoundError(unknown.format(go_quote(topic)))
    return states


def _all_topics(request: web.Request, stored: _Stored) -> list[str]:
    names = set(stored.states) | stored.handler_topics
    registry = request.app[WIRING_KEY].registry
    for name in registry.topics():
        t = registry.get(name)
        if t is not None and t.events:
            names.add(name)
    closed = request.app[WIRING_KEY].closed | request.app[WIRING_KEY].deleted
    return sorted(names - closed)


async def topics_json(request: web.Request) -> list[dict[str, Any]]:
    """Every topic as ``GET /alerts/topics`` lists it (the web page's topics list)."""
    stored = await _stored_topics(request)
    return [
        _topic_json(t, _topic_states(request, stored, t), _collected(request, t))
        for t in _all_topics(request, stored)
    ]


async def topic_json(request: web.Request, topic: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A topic and its events as the API answers them (404 for an unknown topic)."""
    states = await _states(request, topic)
    return _topic_json(topic, states, _collected(request, topic)), [_event_json(topic, s) for s in states]


async def list_topics(request: web.Request) -> web.StreamResponse:
    pattern = request.query.get("pattern", "")
    min_level = _min_level(request)
    topics = []
    stored = await _stored_topics(request)
    for topic in _all_topics(request, stored):
        if pattern and not fnmatch.fnmatchcase(topic, pattern):
            continue
        body = _topic_json(topic, _topic_states(request, stored, topic), _collected(request, topic))
        if _rank(body["level"]) >= min_level:
            topics.append(body)
    return json_response({"link": self_link(request), "topics": topics})


async def get_topic(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    return json_response(_topic_json(topic, await _states(request, topic), _collected(request, topic)))


async def delete_topic(request: web.Request) -> web.StreamResponse:
    """Forget the topic's events (stored and live); its handlers stay defined."""
    topic = request.match_info["topic"]
    await storage_io(request.app[STATE_KEY].storage.alert_states.delete_topic, topic)
    request.app[WIRING_KEY].registry.delete_topic(topic)
    request.app[WIRING_KEY].deleted.add(topic)
    return web.Response(status=204)


async def list_events(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    min_level = _min_level(request)
    states = await _states(request, topic, "failed to get topic events: unknown topic {}")
    events = [_event_json(topic, s) for s in states if _rank(s.level) >= min_level]
    return json_response(
        {
            "link": {"rel": "self", "href": f"{API}/alerts/topics/{topic}/events"},
            "topic": topic,
            "events": events,
        }
    )


async def get_event(request: web.Request) -> web.StreamResponse:
    topic, event = request.match_info["topic"], request.match_info["event"]
    for s in await _states(request, topic):
        if s.event_id == event:
            return json_response(_event_json(topic, s))
    raise NotFoundError(f"unknown event {go_quote(event)} in topic {go_quote(topic)}")


# --- handlers ----------------------------------------------------------------------------------


def _handler_json(h: HandlerRecord) -> dict[str, Any]:
    return {
        "link": {"rel": "self", "href": f"{API}/alerts/topics/{h.topic}/handlers/{h.id}"},
        "id": h.id,
        "kind": h.kind,
        "options": go_map(h.options),  # a Go map[string]interface{}
        "match": h.match,
    }


def _record(spec: HandlerSpec) -> HandlerRecord:
    return HandlerRecord(spec.topic, spec.id, spec.kind, dict(spec.options), spec.match)


def _attach(app: web.Application, spec: HandlerSpec, replaces: str = "") -> None:
    """Build the handler (400 with the reason when it cannot be) and attach it to its topic."""
    wiring = app[WIRING_KEY]
    if spec.kind.lower() in app[STATE_KEY].tasks.disabled_handlers:
        raise RequestError(
            f"handler kind {spec.kind!r} is disabled on this server (kapfastd -disable-handlers)"
        )
    try:
        entry = wiring.services.build_entry(spec, wiring.registry)
    except HandlerSpecError as e:
        raise RequestError(str(e)) from None
    wiring.registry.set_entry(spec.topic, entry, replaces=replaces)


async def _stored(request: web.Request, topic: str, handler_id: str) -> HandlerRecord:
    h = await storage_io(request.app[STATE_KEY].storage.topic_handlers.get, topic, handler_id)
    if h is None:
        raise NotFoundError(f"unknown handler: {go_quote(handler_id)}")
    return h


async def list_handlers(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    pattern = request.query.get("pattern", "")
    handlers = await storage_io(request.app[STATE_KEY].storage.topic_handlers.for_topic, topic, pattern)
    return json_response(
        {
            "link": self_link(request),
            "topic": topic,
            "handlers": [_handler_json(h) for h in handlers],
        }
    )


async def create_handler(request: web.Request) -> web.StreamResponse:
    async with request.app[WIRING_KEY].handlers_lock:
        return await _create_handler(request)


async def _create_handler(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    try:
        spec = HandlerSpec.from_json(topic, await read_json(request))
    except HandlerSpecError as e:
        raise RequestError(str(e)) from None
    store = request.app[STATE_KEY].storage.topic_handlers
    if spec.id and await storage_io(store.get, topic, spec.id) is not None:
        # Kapacitor's registrar refuses it and its API answers every registrar error with a 500
        # (services/alert/api.go handleCreateHandler)
        return json_error(
            500,
            "failed to create handler: cannot register handler, "
            f"handler with ID {go_quote(spec.id)} already exists",
        )
    _attach(request.app, spec)
    request.app[WIRING_KEY].deleted.discard(topic)
    try:
        await storage_io(store.put, _record(spec))
    except Exception:
        request.app[WIRING_KEY].registry.remove_entry(topic, spec.id)  # not stored: not running
        raise
    return json_response(_handler_json(_record(spec)))


async def _update(request: web.Request, old: HandlerRecord, spec: HandlerSpec) -> web.StreamResponse:
    async with request.app[WIRING_KEY].handlers_lock:
        return await _update_locked(request, old, spec)


async def _update_locked(request: web.Request, old: HandlerRecord, spec: HandlerSpec) -> web.StreamResponse:
    store = request.app[STATE_KEY].storage.topic_handlers
    if spec.id != old.id and await storage_io(store.get, spec.topic, spec.id) is not None:
        raise RequestError(f"handler {go_quote(spec.id)} already exists in topic {go_quote(spec.topic)}")
    _attach(request.app, spec, replaces=old.id)
    await storage_io(store.replace, old.id, _record(spec))
    return json_response(_handler_json(_record(spec)))


async def put_handler(request: web.Request) -> web.StreamResponse:
    topic, handler_id = request.match_info["topic"], request.match_info["handler"]
    old = await _stored(request, topic, handler_id)
    try:
        spec = HandlerSpec.from_json(topic, await read_json(request))
    except HandlerSpecError as e:
        raise RequestError(str(e)) from None
    return await _update(request, old, spec)


async def patch_handler(request: web.Request) -> web.StreamResponse:
    topic, handler_id = request.match_info["topic"], request.match_info["handler"]
    old = await _stored(request, topic, handler_id)
    raw = await request.read()
    try:
        patch = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"invalid patch json: {exc}") from None
    current = HandlerSpec(old.id, old.topic, old.kind, dict(old.options), old.match).to_json()
    patched = apply_patch(current, patch)
    try:
        spec = HandlerSpec.from_json(topic, patched)
    except HandlerSpecError as e:
        raise RequestError(str(e)) from None
    return await _update(request, old, spec)


async def get_handler(request: web.Request) -> web.StreamResponse:
    return json_response(
        _handler_json(await _stored(request, request.match_info["topic"], request.match_info["handler"]))
    )


async def delete_handler(request: web.Request) -> web.StreamResponse:
    """204 even when there was no such handler (Kapacitor's delete is idempotent)."""
    topic, handler_id = request.match_info["topic"], request.match_info["handler"]
    await storage_io(request.app[STATE_KEY].storage.topic_handlers.delete, topic, handler_id)
    request.app[WIRING_KEY].registry.remove_entry(topic, handler_id)
    return web.Response(status=204)


class LoadedHandlers:
    """Topic handlers as the ``[load]`` directory defines them: create or replace, delete."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def put_handler(self, topic: str, spec_json: dict[str, Any]) -> None:
        try:
            spec = HandlerSpec.from_json(topic, spec_json)
        except HandlerSpecError as e:
            raise RequestError(str(e)) from None
        store = self.app[STATE_KEY].storage.topic_handlers
        old = store.get(topic, spec.id)
        _attach(self.app, spec, replaces=old.id if old is not None else "")
        if old is None:
            store.put(_record(spec))
        else:
            store.replace(old.id, _record(spec))

    def delete_handler(self, topic: str, handler_id: str) -> None:
        self.app[STATE_KEY].storage.topic_handlers.delete(topic, handler_id)
        self.app[WIRING_KEY].registry.remove_entry(topic, handler_id)


# --- wiring --------------------------------------------------------------------------------------


def install(app: web.Application) -> AlertWiring:
    """Wire the alert services into the engine (once per application) and attach the stored
    handlers. Runs before any task starts: tasks start in the application's startup."""
    existing = app.get(WIRING_KEY)
    if existing is not None:
        return existing
    st: ServerState = app[STATE_KEY]
    services = AlertServices.from_config(st.config)
    engine_services = st.master.services
    if not isinstance(engine_services, dict):
        engine_services = {}  # an engine without services: topics live here only
    registry = engine_services.get("alert_topics")
    if not isinstance(registry, TopicRegistry):
        registry = TopicRegistry()
        engine_services["alert_topics"] = registry
    registry.buffer_length = services.topic_buffer_length
    # handlers run on a delivery thread: a slow mail server or web hook never stalls ingestion
    registry.start()
    if services.persist_topics:
        registry.states = st.storage.alert_states
    else:
        engine_services.pop("alert_states", None)  # [alert] persist-topics = false
    engine_services[SERVICE_KEY] = services
    wiring = AlertWiring(services, registry)
    app[WIRING_KEY] = wiring
    st.tasks.listeners.append(lambda task_id, what: _task_changed(st, wiring, task_id, what))
    if st.config_service is not None:
        # a change of these sections through the config API applies at once
        async def reconfigure(cfg: Config) -> None:
            services.configure(cfg)
            registry.buffer_length = services.topic_buffer_length
            if services.persist_topics:
                registry.states = engine_services["alert_states"] = st.storage.alert_states
            else:
                registry.states = None
                engine_services.pop("alert_states", None)

        sections = {"alert"} | {row.section for row in HANDLERS.values() if row.section}
        for section in sections:
            st.config_service.live[section] = reconfigure
    for h in st.storage.topic_handlers.all():
        spec = HandlerSpec(h.id, h.topic, h.kind, dict(h.options), h.match)
        if h.kind.lower() in st.tasks.disabled_handlers:
            log.warning(
                "stored handler %s of topic %s not started: kind %s is disabled", h.id, h.topic, h.kind
            )
            continue
        try:
            registry.set_entry(h.topic, services.build_entry(spec, registry))
        except HandlerSpecError as e:
            # kept in the store (and shown by the API) so it can be fixed with PUT/PATCH
            log.error("stored handler %s of topic %s cannot run: %s", h.id, h.topic, e)
    app.on_cleanup.append(_close)
    return wiring


def _task_changed(st: ServerState, wiring: AlertWiring, task_id: str, what: str) -> None:
    """A task's anonymous topics close when it stops, reopen when it starts and are deleted
    with it (saved states included), as Kapacitor's alert service does."""
    prefix = anonymous_topic("main", task_id, "")
    names = {
        n
        for n in (*st.storage.alert_states.topics(), *wiring.registry.topics(), *wiring.closed)
        if n.startswith(prefix)
    }
    for name in names:
        if what == "started":
            wiring.closed.discard(name)
        elif what == "stopped":
            wiring.closed.add(name)
        elif what == "deleted":
            wiring.closed.discard(name)
            st.storage.alert_states.delete_topic(name)
            wiring.registry.delete_topic(name)


async def _close(app: web.Application) -> None:
    wiring = app[WIRING_KEY]
    wiring.registry.close()
    wiring.services.close()


def add_routes(app: web.Application, prefix: str) -> None:
    install(app)
    r = app.router
    r.add_get(f"{prefix}/alerts/topics", list_topics)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}", get_topic)
    r.add_delete(f"{prefix}/alerts/topics/{{topic}}", delete_topic)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}/events", list_events)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}/events/{{event}}", get_event)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}/handlers", list_handlers)
    r.add_post(f"{prefix}/alerts/topics/{{topic}}/handlers", create_handler)
    handler = f"{prefix}/alerts/topics/{{topic}}/handlers/{{handler}}"
    r.add_get(handler, get_handler)
    r.add_put(handler, put_handler)
    r.add_patch(handler, patch_handler)
    r.add_delete(handler, delete_handler)
    # the service tests belong to the same alert services
    service_tests_api.add_routes(app, prefix)
