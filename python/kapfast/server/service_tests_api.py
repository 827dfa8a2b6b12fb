"""``/service-tests``: check that a configured service works by using it once (Kapacitor's
``services/servicetest``). ``GET /service-tests`` lists the services and their default test
options, ``GET /service-tests/{name}`` one of them, ``POST /service-tests/{name}`` runs the test
with the body's options over the defaults and answers ``{"success", "message"}`` (200 either way;
400 only for options that do not fit).

Tested services: ``influxdb`` (ping a cluster), and every handler of :mod:`kapfast.handler_table`
whose module has a test (named by its config section: ``smtp``, ``slack``, ``httppost`` ...; and
kapfast's own ``tcp``, ``log`` and ``exec``, which deliver a sample alert).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kapfast.engine.alert.handlers.base import HandlerError, OptionError
from kapfast.engine.alert.handlers.base import Options as HandlerOptions
from kapfast.engine.alert.services import AlertServices
from kapfast.errors import KapfastError, NotFoundError, RequestError
from kapfast.gofmt import go_quote
from kapfast.handler_table import HANDLERS, HandlerRow
from kapfast.server.alert_wiring import WIRING_KEY
from kapfast.server.http import API, json_response, read_json
from kapfast.server.state import STATE_KEY, ServerState

Options = dict[str, Any]
Runner = Callable[[ServerState, AlertServices, Options], Awaitable[None]]


def _text(o: Options, key: str) -> str:
    v = o.get(key, "")
    if not isinstance(v, str):
        raise RequestError(f"option {go_quote(key)} must be a string, got {v!r}")
    return v


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


def _handler_test(row: HandlerRow) -> tuple[Callable[[ServerState, AlertServices], Options], Runner]:
    """The service test of a handler kind: its module's ``test_options`` and ``test`` (blocking,
    run on a thread: the handlers are bounded by their timeouts)."""
    impl = row.implementation()
    assert impl.test is not None and impl.test_options is not None
    test, test_options = impl.test, impl.test_options

    def defaults(st: ServerState, svc: AlertServices) -> Options:
        return test_options(svc.service(row.kind))

    async def run(st: ServerState, svc: AlertServices, o: Options) -> None:
        opts = HandlerOptions(row.service_test, o)
        service = svc.service(row.kind)
        try:
            await asyncio.get_running_loop().run_in_executor(None, lambda: test(service, opts))
        except OptionError as e:
            raise RequestError(str(e)) from None

    return defaults, run


SERVICES: dict[str, tuple[Callable[[ServerState, AlertServices], Options], Runner]] = dict(
    sorted(
        [("influxdb", (_influxdb_options, _influxdb))]
        + [
            (row.service_test, _handler_test(row))
            for row in HANDLERS.values()
            if row.supported and row.implementation().test is not None
        ]
    )
)


# --- HTTP -----------------------------------------------------------------------------------------


def _services(request: web.Request) -> AlertServices:
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
