"""The config API: ``/kapacitor/v1/config[/{section}[/{element}]]``.

``GET`` shows the effective configuration of the overridable sections (the file, the environment,
then the overrides), secrets shown as whether they are set, in Kapacitor's bodies: kapacitord's
options only (:func:`kapfast.config.element_options`; ``?kapfast=true`` adds kapfast's own),
elements sorted by id, ``json.NewEncoder``'s compact line. ``POST`` changes it::

    POST /kapacitor/v1/config/influxdb/default   {"set": {"urls": ["http://db2:8086"]}, "delete": ["timeout"]}
    POST /kapacitor/v1/config/influxdb           {"add": {"name": "other", "urls": [...]}, "remove": ["old"]}

``set`` overrides option values and ``delete`` drops overrides (the file's value comes back);
``add`` and ``remove`` create and remove elements of list sections (``[[influxdb]]``). A change is
validated as a whole before it is stored; it persists in the store and is applied over the file at
every boot (unless ``skip-config-overrides = true``). ``[config-override] enabled = false``
answers 403 on every path.

Every section applies at once: ``[[influxdb]]`` (the clusters' clients and subscriptions restart
on the new settings; a cluster that stops subscribing has ours dropped), ``[smtp]``,
``[[slack]]``, ``[[httppost]]`` and ``[alert]`` (the alert services change in place: handlers
already running send with the new settings), ``[stats]`` (restarted), ``[load]`` (the directory
loaded again), ``[deadman]`` and ``[groups]`` (for the tasks defined or started from then on).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kapfast.config import (
    Config,
    Override,
    SectionInfo,
    apply_overrides,
    element_options,
    enabled_unrunnable,
    overridable_sections,
    section_elements,
)
from kapfast.errors import ConfigError, NotFoundError, RequestError
from kapfast.gofmt import go_quote, json_marshal
from kapfast.server.http import API, json_error, read_json
from kapfast.server.storage_io import storage_io
from kapfast.storage.db import ConfigOverrideStore, OverrideRow

log = logging.getLogger("kapfast.config")

#: Called with the new effective config after a change of a section that applies live.
LiveUpdate = Callable[[Config], Awaitable[None]]


class ConfigService:
    """The base config (file + environment), the stored overrides, and the effective config."""

    def __init__(self, base: Config, store: ConfigOverrideStore) -> None:
        self.base = base
        self.store = store
        self.live: dict[str, LiveUpdate] = {}
        self.effective = base

    def boot(self) -> tuple[Config, list[str]]:
        """The config to start with: overrides applied unless ``skip-config-overrides``."""
        if self.base.skip_config_overrides:
            rows = self.store.all()
            msgs = (
                [f"skip-config-overrides: {len(rows)} stored config override(s) not applied"] if rows else []
            )
            return self.base, msgs
        try:
            self.effective, warnings = apply_overrides(self.base, _overrides(self.store.all()))
        except ConfigError as exc:
            # A file edit can make a stored override invalid; boot on the file rather than not at all.
            return self.base, [f"config overrides not applied: {exc}"]
        return self.effective, warnings

    async def update(self, section: SectionInfo, element: str | None, body: dict[str, Any]) -> Config:
        rows = {(r.section, r.element): r for r in await storage_io(self.store.all)}
        changed = _change(self.effective, section, element, body, rows)
        candidate = [r for r in rows.values() if (r.section, r.element) not in changed] + [
            r for r in changed.values() if r is not None
        ]
        try:
            new, _ = apply_overrides(self.base, _overrides(candidate))
        except ConfigError as exc:
            raise RequestError(f"invalid configuration: {exc}") from None
        started = sorted(set(enabled_unrunnable(new)) - set(enabled_unrunnable(self.effective)))
        if started:
            # kapacitord would start scraping; kapfast cannot, so it says so rather than store it
            raise RequestError(
                f"cannot enable {', '.join(started)}: kapfast has no Prometheus scraper or service "
                "discovery (the section's other options can be set)"
            )

        def store() -> None:
            for (sec, elem), row in changed.items():
                if row is None:
                    self.store.remove(sec, elem)
                else:
                    self.store.put(row)

        await storage_io(store)
        self.effective = new
        hook = self.live.get(section.name)
        if hook is not None:
            await hook(new)
            log.info("config of [%s] changed through the API: applied", section.name)
        else:
            log.info("config of [%s] changed through the API: takes effect at the next restart", section.name)
        return new


def _overrides(rows: list[OverrideRow]) -> list[Override]:
    return [Override(r.section, r.element, r.options, r.created, r.deleted) for r in rows]


def _str_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestError(f"{go_quote(key)} must be a list of option names")
    return list(value)


def _change(
    cfg: Config,
    section: SectionInfo,
    element: str | None,
    body: dict[str, Any],
    rows: dict[tuple[str, str], OverrideRow],
) -> dict[tuple[str, str], OverrideRow | None]:
    """The override rows a POST changes (None: deleted), checked against the request's shape."""
    unknown = set(body) - {"set", "delete", "add", "remove"}
    if unknown:
        raise RequestError(
            f"unknown action {go_quote(sorted(unknown)[0])}: expected set, delete, add or remove"
        )
    set_ = body.get("set") or {}
    delete = _str_list(body, "delete")
    add = body.get("add") or {}
    remove = _str_list(body, "remove")
    if not isinstance(set_, dict) or not isinstance(add, dict):
        raise RequestError("'set' and 'add' must be objects of option values")
    if not (set_ or delete or add or remove):
        raise RequestError("nothing to change: give set, delete, add or remove")
    name = section.name
    listed = section.element_key is not None
    names = {n for n, _ in section_elements(cfg, section)}
    out: dict[tuple[str, str], OverrideRow | None] = {}
    if add or remove:
        if not listed:
            raise RequestError(f"[{name}] has a single element: use set and delete")
        if element:
            raise RequestError(f"add and remove apply to the section: POST {API}/config/{name}")
    if set_ or delete:
        if listed and element is None:
            raise RequestError(f"set and delete apply to an element: POST {API}/config/{name}/<element>")
        elem = element or ""
        if listed and elem not in names:
            raise NotFoundError(f"no element {go_quote(elem)} in section [{name}]")
        if section.element_key in set_ and str(set_[section.element_key]) != elem:
            raise RequestError(
                f"cannot change the {go_quote(section.element_key)} of an element (remove it and add it)"
            )
        row = rows.get((name, elem)) or OverrideRow(name, elem, {}, False, False)
        options = {k: v for k, v in row.options.items() if k not in delete}
        options.update(set_)
        out[(name, elem)] = row._replace(options=options)
    if add:
        key = section.element_key or ""
        new = add.get(key)
        if not isinstance(new, str) or not new:
            raise RequestError(f"an element added to [{name}] needs a {go_quote(key)}")
        if new in names:
            raise RequestError(f"[{name}] already has an element {go_quote(new)}")
        old = rows.get((name, new))
        options = {k: v for k, v in add.items() if k != key}
        # Adding back an element of the file that the API removed: it comes back with these options.
        out[(name, new)] = OverrideRow(name, new, options, not (old and old.deleted), False)
    for gone in remove:
        if gone not in names:
            raise NotFoundError(f"no element {go_quote(gone)} in section [{name}]")
        had = rows.get((name, gone))
        out[(name, gone)] = None if had and had.created else OverrideRow(name, gone, {}, False, True)
    return out


# ---- JSON shapes -----------------------------------------------------------------------------------


def _link(path: str) -> dict[str, str]:
    return {"rel": "self", "href": f"{API}/config{path}"}


def _element_json(section: str, element: str, obj: Any, kapfast: bool = False) -> dict[str, Any]:
    options, redacted = element_options(section, obj, kapfast)
    # Kapacitor's element link: the section's path and the element's id, or a trailing "/" for
    # the one element of a single-element section (or an element whose id is "")
    return {"link": _link(f"/{section}/{element}"), "options": options, "redacted": redacted or None}


def _elements(cfg: Config, info: SectionInfo) -> list[tuple[str, Any]]:
    """A section's elements in Kapacitor's order: sorted by element id (``override.Section``)."""
    return sorted(section_elements(cfg, info), key=lambda e: e[0].encode("utf-8"))


def _section_json(cfg: Config, info: SectionInfo, kapfast: bool = False) -> dict[str, Any]:
    return {
        "link": _link(f"/{info.name}"),
        "elements": [_element_json(info.name, e, obj, kapfast) for e, obj in _elements(cfg, info)],
    }


def _kapfast(request: web.Request) -> bool:
    """``?kapfast=true``: the elements show the options only kapfast has too (a Kapacitor client
    never asks for them, so its bodies have Kapacitor's options only)."""
    return request.query.get("kapfast", "").lower() in ("true", "1")


def _encoded(body: Any) -> web.Response:
    """Kapacitor's config GETs write with ``json.NewEncoder(w).Encode``: compact JSON and a
    newline, unlike the rest of its API (``MarshalJSON``: indented, no newline)."""
    return web.Response(text=json_marshal(body) + "\n", content_type="application/json", charset="utf-8")


# ---- handlers --------------------------------------------------------------------------------------

SERVICE_KEY = web.AppKey("config_service", ConfigService)


def _service(request: web.Request) -> ConfigService:
    return request.app[SERVICE_KEY]


def _section(name: str) -> SectionInfo:
    info = overridable_sections().get(name)
    if info is None:
        raise NotFoundError(f"unknown section: {name}")
    return info


def _enabled(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if SERVICE_KEY not in request.app:
            raise NotFoundError("this server has no config API (no store of overrides)")
        if not _service(request).effective.config_override.enabled:
            return json_error(403, "config override service is disabled ([config-override] enabled = false)")
        return await handler(request)

    return wrapped


@_enabled
async def get_config(request: web.Request) -> web.StreamResponse:
    cfg = _service(request).effective
    kapfast = _kapfast(request)
    sections = {name: _section_json(cfg, info, kapfast) for name, info in overridable_sections().items()}
    return _encoded({"link": _link(""), "sections": sections})


@_enabled
async def get_no_section(request: web.Request) -> web.StreamResponse:
    raise RequestError("section not specified, do you have an extra trailing '/'?")


@_enabled
async def get_section(request: web.Request) -> web.StreamResponse:
    info = _section(request.match_info["section"])
    return _encoded(_section_json(_service(request).effective, info, _kapfast(request)))


@_enabled
async def get_element(request: web.Request) -> web.StreamResponse:
    info = _section(request.match_info["section"])
    element = request.match_info.get("element", "")
    for name, obj in _elements(_service(request).effective, info):
        if name == element:
            return _encoded(_element_json(info.name, name, obj, _kapfast(request)))
    raise NotFoundError(f"unknown section/element: {info.name}/{element}")


@_enabled
async def post_config(request: web.Request) -> web.StreamResponse:
    info = _section(request.match_info["section"])
    body = await read_json(request)
    # Kapacitor's paths: /config/SECTION is the section (add, remove), /config/SECTION/ its
    # element "" (a single-element section's, or a list element whose id is ""), and
    # /config/SECTION/ID the element ID
    element = request.match_info.get("element", "" if request.path.endswith("/") else None)
    await _service(request).update(info, element, body)
    return web.Response(status=204)


def add_routes(app: web.Application, prefix: str) -> None:
    base = f"{prefix}/config"
    app.router.add_get(base, get_config)
    app.router.add_get(base + "/", get_no_section)
    app.router.add_get(base + "/{section}", get_section)
    app.router.add_get(base + "/{section}/", get_element)
    app.router.add_get(base + "/{section}/{element}", get_element)
    app.router.add_post(base + "/{section}", post_config)
    app.router.add_post(base + "/{section}/", post_config)
    app.router.add_post(base + "/{section}/{element}", post_config)
