"""``/alerts/topics``: alert topics and their events' last states, read from the alert-state store
(the engine's alert nodes save there). Topics list only events that are not OK (an event going
back to OK is removed from the store, as Kapacitor's topic store does)."""

from __future__ import annotations

import fnmatch
from typing import Any

from aiohttp import web

from kapfast.errors import NotFoundError, RequestError
from kapfast.gofmt import duration_string
from kapfast.server.http import API, json_response
from kapfast.server.state import STATE_KEY
from kapfast.storage import AlertState
from kapfast.timefmt import format_rfc3339_ns

LEVELS = ("OK", "INFO", "WARNING", "CRITICAL")


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def _min_level(request: web.Request) -> int:
    raw = request.query.get("min-level", "OK").upper()
    if raw not in LEVELS:
        raise RequestError(f"invalid min-level {raw!r}: expected OK, INFO, WARNING or CRITICAL")
    return LEVELS.index(raw)


def _topic_json(topic: str, states: list[AlertState]) -> dict[str, Any]:
    level = max((s.level for s in states), key=_rank, default="OK")
    base = f"{API}/alerts/topics/{topic}"
    return {
        "link": {"rel": "self", "href": base},
        "id": topic,
        "level": level,
        "collected": len(states),
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


def _states(request: web.Request, topic: str) -> list[AlertState]:
    states = list(request.app[STATE_KEY].storage.alert_states.for_topic(topic).values())
    if not states:
        raise NotFoundError(f"topic {topic!r} does not exist")
    return sorted(states, key=lambda s: s.event_id)


async def list_topics(request: web.Request) -> web.StreamResponse:
    store = request.app[STATE_KEY].storage.alert_states
    pattern = request.query.get("pattern", "")
    min_level = _min_level(request)
    topics = []
    for topic in store.topics():
        if pattern and not fnmatch.fnmatchcase(topic, pattern):
            continue
        body = _topic_json(topic, list(store.for_topic(topic).values()))
        if _rank(body["level"]) >= min_level:
            topics.append(body)
    return json_response({"link": {"rel": "self", "href": f"{API}/alerts/topics"}, "topics": topics})


async def get_topic(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    return json_response(_topic_json(topic, _states(request, topic)))


async def delete_topic(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].storage.alert_states.delete_topic(request.match_info["topic"])
    return web.Response(status=204)


async def list_events(request: web.Request) -> web.StreamResponse:
    topic = request.match_info["topic"]
    min_level = _min_level(request)
    events = [_event_json(topic, s) for s in _states(request, topic) if _rank(s.level) >= min_level]
    return json_response(
        {
            "link": {"rel": "self", "href": f"{API}/alerts/topics/{topic}/events"},
            "topic": topic,
            "events": events,
        }
    )


async def get_event(request: web.Request) -> web.StreamResponse:
    topic, event = request.match_info["topic"], request.match_info["event"]
    for s in _states(request, topic):
        if s.event_id == event:
            return json_response(_event_json(topic, s))
    raise NotFoundError(f"event {event!r} does not exist in topic {topic!r}")


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/alerts/topics", list_topics)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}", get_topic)
    r.add_delete(f"{prefix}/alerts/topics/{{topic}}", delete_topic)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}/events", list_events)
    r.add_get(f"{prefix}/alerts/topics/{{topic}}/events/{{event}}", get_event)
