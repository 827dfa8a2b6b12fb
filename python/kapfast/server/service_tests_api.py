"""``/service-tests``: check that a configured service works by using it once (Kapacitor's
``services/servicetest``). ``GET /service-tests`` lists the services and their default test
options, ``GET /service-tests/{name}`` one of them, ``POST /service-tests/{name}`` runs the test
with the body's options over the defaults and answers ``{"success", "message"}`` (200 either way;
400 only for options that do not fit).

Tested services: ``influxdb`` (ping a cluster), ``smtp`` (send a mail), ``slack`` (post a
message), ``httppost`` (post a sample alert to an endpoint or URL), and kapfast's own ``tcp``,
``log`` and ``exec`` (deliver a sample alert the way the handler of that kind does).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.handlers.exec import ExecHandler
from kapfast.engine.alert.handlers.log import DEFAULT_MODE, LogHandler
from kapfast.engine.alert.handlers.tcp import TcpHandler
from kapfast.engine.alert.services import AlertServices
from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.gofmt import go_quote
from kapfast.server.http import API, json_response, read_json
from kapfast.server.state import STATE_KEY, ServerState

Options = dict[str, Any]
Runner = Callable[[ServerState, AlertServices, Options], Awaitable[None]]


def _sample_event(message: str = "test alert from kapfast", level: str = "CRITICAL") -> AlertEvent:
    return AlertEvent(
        id="kapfast-service-test",
        message=message,
        details=message,
        time_ns=0,
        duration_ns=0,
        level=level,
        data=[],
    )


def _text(o: Options, key: str) -> str:
    v = o.get(key, "")
    if not isinstance(v, str):
        raise RequestError(f"option {go_quote(key)} must be a string, got {v!r}")
    return v


def _strings(o: Options, key: str) -> list[str]:
    v = o.get(key) or []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RequestError(f"option {go_quote(key)} must be a list of strings, got {v!r}")
    return list(v)


async def _in_thread(fn: Callable[[], None]) -> None:
    # the handlers are blocking and bounded by their timeouts: keep the event loop free
    await asyncio.get_running_loop().run_in_executor(None, fn)


# --- the tests ------------------------------------------------------------------------------------


def _influxdb_options(st: ServerState, svc: AlertServices) -> Options:
    return {"cluster": st.influx.default_name}


async def _influxdb(st: ServerState, svc: AlertServices, o: Options) -> None:
    cluster = _text(o, "cluster")
    try:
        client = st.influx.client(cluster)
    except RequestError as e:  # no such cluster: the test fails, the request was fine
        raise HandlerError(str(e)) from None
    await client.ping(attempts=1)


def _smtp_options(st: ServerState, svc: AlertServices) -> Options:
    return {"to": list(svc.mailer.settings.to), "subject": "test subject", "body": "test body"}


async def _smtp(st: ServerState, svc: AlertServices, o: Options) -> None:
    to, subject, body = _strings(o, "to"), _text(o, "subject"), _text(o, "body")
    await _in_thread(lambda: svc.mailer.send(to, subject, body))


def _slack_options(st: ServerState, svc: AlertServices) -> Options:
    w = svc.slack.default()
    return {
        "workspace": w.workspace if w else "",
        "channel": w.channel if w else "",
        "message": "test slack message",
        "level": "CRITICAL",
        "username": "",
        "icon-emoji": "",
    }


async def _slack(st: ServerState, svc: AlertServices, o: Options) -> None:
    level = _text(o, "level").upper() or "CRITICAL"
    if level not in ("OK", "INFO", "WARNING", "CRITICAL"):
        raise RequestError(f"option 'level' must be OK, INFO, WARNING or CRITICAL, got {level!r}")
    args = (_text(o, "workspace"), _text(o, "channel"), _text(o, "message"), _text(o, "username"))
    emoji = _text(o, "icon-emoji")
    await _in_thread(lambda: svc.slack.alert(args[0], args[1], args[2], args[3], emoji, level))


def _httppost_options(st: ServerState, svc: AlertServices) -> Options:
    name = next(iter(svc.endpoints), "")
    return {"endpoint": name, "url": "", "headers": {}, "timeout": 0}


async def _httppost(st: ServerState, svc: AlertServices, o: Options) -> None:
    headers = o.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise RequestError("option 'headers' must be an object of strings")
    timeout = o.get("timeout") or 0
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise RequestError(f"option 'timeout' must be a number of nanoseconds, got {timeout!r}")
    url, endpoint = _text(o, "url"), _text(o, "endpoint")
    if url:
        endpoint = ""  # an explicit URL tests that URL
    try:
        handler = svc.post_handler(
            url=url, endpoint=endpoint, headers=headers, timeout_s=timeout / 1e9 or 10.0
        )
    except ValueError as e:
        raise HandlerError(str(e)) from None
    await _in_thread(lambda: handler.handle(_sample_event()))


def _tcp_options(st: ServerState, svc: AlertServices) -> Options:
    return {"address": ""}


async def _tcp(st: ServerState, svc: AlertServices, o: Options) -> None:
    try:
        handler = TcpHandler(_text(o, "address"))
    except ValueError as e:
        raise HandlerError(str(e)) from None
    await _in_thread(lambda: handler.handle(_sample_event()))


def _log_options(st: ServerState, svc: AlertServices) -> Options:
    return {"path": "", "mode": DEFAULT_MODE}


async def _log(st: ServerState, svc: AlertServices, o: Options) -> None:
    mode = o.get("mode", DEFAULT_MODE)
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise RequestError(f"option 'mode' must be an integer, got {mode!r}")
    try:
        handler = LogHandler(_text(o, "path"), mode)
    except ValueError as e:
        raise HandlerError(str(e)) from None
    await _in_thread(lambda: handler.handle(_sample_event()))


def _exec_options(st: ServerState, svc: AlertServices) -> Options:
    return {"prog": "", "args": []}


async def _exec(st: ServerState, svc: AlertServices, o: Options) -> None:
    try:
        handler = ExecHandler([_text(o, "prog"), *_strings(o, "args")])
    except ValueError as e:
        raise HandlerError(str(e)) from None
    await _in_thread(lambda: handler.handle(_sample_event()))


SERVICES: dict[str, tuple[Callable[[ServerState, AlertServices], Options], Runner]] = {
    "exec": (_exec_options, _exec),
    "httppost": (_httppost_options, _httppost),
    "influxdb": (_influxdb_options, _influxdb),
    "log": (_log_options, _log),
    "slack": (_slack_options, _slack),
    "smtp": (_smtp_options, _smtp),
    "tcp": (_tcp_options, _tcp),
}


# --- HTTP -----------------------------------------------------------------------------------------


def _services(request: web.Request) -> AlertServices:
    from kapfast.server.topics_api import WIRING_KEY  # local: topics_api registers these routes

    return request.app[WIRING_KEY].services


def _service_json(request: web.Request, name: str) -> dict[str, Any]:
    options = SERVICES[name][0](request.app[STATE_KEY], _services(request))
    return {"link": {"rel": "self", "href": f"{API}/service-tests/{name}"}, "name": name, "options": options}


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in SERVICES:
        raise NotFoundError(f"service {go_quote(name)} not found (services: {', '.join(SERVICES)})")
    return name


async def list_service_tests(request: web.Request) -> web.StreamResponse:
    pattern = request.query.get("pattern", "")
    services = [_service_json(request, n) for n in SERVICES if not pattern or fnmatch.fnmatchcase(n, pattern)]
    return json_response({"link": {"rel": "self", "href": f"{API}/service-tests"}, "services": services})


async def get_service_test(request: web.Request) -> web.StreamResponse:
    return json_response(_service_json(request, _name(request)))


async def run_service_test(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    defaults, runner = SERVICES[name]
    st = request.app[STATE_KEY]
    svc = _services(request)
    options = defaults(st, svc)
    # kapacitor's client sends `null` when it has no options (a Go nil map)
    given = {} if (await request.read()).strip() == b"null" else await read_json(request)
    unknown = set(given) - set(options)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise RequestError(f"unknown option(s) {names} for service {name} (options: {', '.join(options)})")
    options.update(given)
    try:
        await runner(st, svc, options)
    except RequestError:
        raise
    except (KapfastError, OSError) as e:
        return json_response({"success": False, "message": str(e)})
    except Exception as e:  # a client library's own error (aiohttp ...): still a failed test
        return json_response({"success": False, "message": f"{type(e).__name__}: {e}"})
    return json_response({"success": True, "message": ""})


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_get(f"{prefix}/service-tests", list_service_tests)
    r.add_get(f"{prefix}/service-tests/{{name}}", get_service_test)
    r.add_post(f"{prefix}/service-tests/{{name}}", run_service_test)
