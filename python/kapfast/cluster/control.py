"""One control plane: task and template definitions and alert topic handlers live in NATS KV
(bucket ``kapfast_control``), so ``kapfast define/enable/disable/delete`` (and the topic handler
API) against any node acts on the whole cluster.

Each node publishes what its API changed (``task.<hex id>`` / ``template.<hex id>`` /
``handler.<hex topic NUL id>`` = the definition as the API takes it; a delete leaves KV's delete
marker) and applies what it watches,
skipping what it already has: a change made on node A is applied by every other node, whose
re-publication of the same content is skipped, so nothing loops. A node that starts applies the
bucket first (a task deleted while it was down is deleted there too), then publishes the
definitions it has that the bucket never saw. Definitions are applied one at a time under the
same lock as the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections.abc import Callable
from typing import Any, Protocol

from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from kapfast.cluster import kvdocs
from kapfast.cluster.connection import ClusterHandles
from kapfast.cluster.kvdocs import DELETES as _DELETES
from kapfast.cluster.kvdocs import encode as _encode
from kapfast.cluster.kvdocs import ident_of as _ident
from kapfast.cluster.kvdocs import key as _key
from kapfast.cluster.worker import task_state_key
from kapfast.jobs import cancel_and_wait
from kapfast.storage import TaskRecord, TemplateRecord
from kapfast.storage.topic_handlers import HandlerRecord, TopicHandlerStore
from kapfast.tasks.service import TaskService
from kapfast.tasks.templates import TemplateService

log = logging.getLogger("kapfast.cluster")

CONTROL = "kapfast_control"
#: how long a define connected to NATS waits for its task's starting sequence to be stored
#: (three NATS round trips; more only while a JetStream cluster elects a leader)
MARK_TIMEOUT_S = 5.0


def task_definition(rec: TaskRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rec.id,
        "type": rec.type,
        "dbrps": [{"db": d.db, "rp": d.rp} for d in rec.dbrps],
        "status": rec.status,
        "vars": rec.vars,
    }
    if rec.template_id:
        out["template-id"] = rec.template_id
    else:
        out["script"] = rec.script
    return out


def template_definition(rec: TemplateRecord) -> dict[str, Any]:
    return {"id": rec.id, "type": rec.type, "script": rec.script}


def handler_definition(rec: HandlerRecord) -> dict[str, Any]:
    return {"topic": rec.topic, "id": rec.id, "kind": rec.kind, "options": rec.options, "match": rec.match}


class HandlerSink(Protocol):
    """How a node applies a topic handler (kapfast.server.topics_api.LoadedHandlers)."""

    def put_handler(self, topic: str, spec_json: dict[str, Any]) -> None: ...

    def delete_handler(self, topic: str, handler_id: str) -> None: ...


class ControlPlane:
    def __init__(
        self,
        h: ClusterHandles,
        tasks: TaskService,
        templates: TemplateService,
        replicas: int,
        stream: str,
        handlers: tuple[TopicHandlerStore, HandlerSink] | None = None,
    ) -> None:
        self.h = h
        #: the node's topic handlers (its store, and how it applies one): None, not shared
        self.handlers = handlers
        self.stream = stream
        self.tasks = tasks
        self.templates = templates
        self.replicas = replicas
        self.kv: KeyValue | None = None
        self._out: asyncio.Queue[tuple[str, bytes | None]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self.applied = 0

    async def open(self) -> None:
        """Find the bucket (the first node creates it)."""
        self.kv = await kvdocs.bucket(self.h.js, CONTROL, self.replicas)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.kv is None:
            await self.open()
        assert self.kv is not None
        watcher, seen = await kvdocs.read_all(self.kv, self._apply)
        # definitions made here while the cluster never saw them
        for rec in self.templates.find(limit=1_000_000):
            if _key("template", rec.id) not in seen:
                self._publish(_key("template", rec.id), _encode(template_definition(rec)))
        for task in self.tasks.find(limit=1_000_000):
            if _key("task", task.id) not in seen:
                self._publish(_key("task", task.id), _encode(task_definition(task)))
        if self.handlers is not None:
            for handler in self.handlers[0].all():
                if _key("handler", f"{handler.topic}\x00{handler.id}") not in seen:
                    self._handler_changed(handler.topic, handler.id, handler)
            self.handlers[0].on_change = self._handler_changed
        self.tasks.on_change = self._task_changed
        self.templates.on_change = self._template_changed
        self._jobs = [
            self._loop.create_task(self._watch(watcher)),
            self._loop.create_task(self._publisher()),
        ]

    async def close(self) -> None:
        await cancel_and_wait(*self._jobs)

    # -- local changes out ------------------------------------------------------------------------

    def _publish(self, key: str, value: bytes | None) -> None:
        loop = self._loop
        if loop is not None:  # from the executor threads that define
            loop.call_soon_threadsafe(self._out.put_nowait, (key, value))

    def _task_changed(self, ident: str, rec: TaskRecord | None) -> None:
        if rec is not None and rec.status == "enabled":
            self._mark_start(ident)
        self._publish(_key("task", ident), None if rec is None else _encode(task_definition(rec)))

    def _handler_changed(self, topic: str, ident: str, rec: HandlerRecord | None) -> None:
        key = _key("handler", f"{topic}\x00{ident}")
        self._publish(key, None if rec is None else _encode(handler_definition(rec)))

    def _template_changed(self, ident: str, rec: TemplateRecord | None) -> None:
        self._publish(_key("template", ident), None if rec is None else _encode(template_definition(rec)))

    def _mark_start(self, ident: str) -> None:
        """A task enabled here sees every point written after the API answered, as on one node.

        Workers learn of the task from KV a moment later, and a placed task without a checkpoint
        reads from where the stream is when its owner takes it: the points written in between
        would be lost. So before the answer, the stream's sequence now is stored as the task's
        first checkpoint (that sequence, no state), unless it has one.

        The answer never waits long for NATS: a node not connected to it answers at once, a
        connected one waits at most MARK_TIMEOUT_S; then the guarantee is lost (logged) and the
        task reads from where the stream is when its owner takes it.
        """
        loop = self._loop
        if loop is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # not from an API call (they run on executor threads): best effort
            loop.create_task(self._store_start(ident))
            return
        nc = self.h.nc
        if not nc.is_connected:
            # NATS away (reconnecting): the define answers at once rather than wait for it; the
            # task reads from where the stream is when its owner takes it (docs/scaleout.md)
            log.warning("control plane: NATS unreachable, no starting sequence stored for task %s", ident)
            return
        fut = asyncio.run_coroutine_threadsafe(self._store_start(ident), loop)
        try:
            fut.result(timeout=MARK_TIMEOUT_S)
        except Exception as exc:  # NATS stalled: the answer goes out; the guarantee is lost
            fut.cancel()
            log.warning("control plane: no starting sequence stored for task %s: %r", ident, exc)

    async def _store_start(self, ident: str) -> None:
        key = task_state_key(ident)
        try:
            await self.h.state.get(key)
            return  # it has a checkpoint already
        except NotFoundError:
            pass
        info = await self.h.js.stream_info(self.stream)
        await self.h.state.put(key, struct.pack("<Q", int(info.state.last_seq)))

    async def _publisher(self) -> None:
        assert self.kv is not None
        while True:
            key, value = await self._out.get()
            try:
                current: bytes | None = None
                with contextlib.suppress(Exception):  # not found or deleted
                    current = (await self.kv.get(key)).value
                if value is None:
                    if current is not None:
                        await self.kv.delete(key)
                elif value != current:
                    await self.kv.put(key, value)
            except Exception:  # NATS away: the change stays local; logged loudly
                log.exception("control plane: could not publish %s", key)

    # -- the cluster's changes in -----------------------------------------------------------------

    async def _watch(self, watcher: Any) -> None:
        async for entry in watcher:
            if entry is not None:
                await self._apply(entry.key, entry.value, entry.operation)

    async def _apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        try:
            kind, ident = _ident(key)
        except ValueError:
            return
        doc = None if operation in _DELETES or not value else json.loads(value)
        if kind == "handler":  # on the loop, as the topic handler API applies them
            try:
                self._apply_handler(ident, doc)
            except Exception as exc:  # a handler this node cannot build: said, others go on
                log.error("control plane: topic handler %r not applied here: %s", ident, exc)
            return
        async with self.tasks.define_lock:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self._apply_sync, kind, ident, doc)
            except Exception as exc:  # a definition this node cannot run: said, others go on
                log.error("control plane: %s %s not applied here: %s", kind, ident, exc)

    def _apply_handler(self, ident: str, doc: dict[str, Any] | None) -> None:
        if self.handlers is None:
            return
        store, sink = self.handlers
        topic, _, handler_id = ident.partition("\x00")
        have = store.get(topic, handler_id)
        if doc is None:
            if have is not None:
                sink.delete_handler(topic, handler_id)
                self.applied += 1
            return
        if have is not None and handler_definition(have) == doc:
            return
        self.applied += 1
        sink.put_handler(topic, {k: doc.get(k) for k in ("id", "kind", "options", "match")})

    def _apply_sync(self, kind: str, ident: str, doc: dict[str, Any] | None) -> None:
        service: Any = self.tasks if kind == "task" else self.templates
        encode: Callable[[Any], dict[str, Any]] = task_definition if kind == "task" else template_definition
        try:
            have = service.get(ident)
        except Exception:  # not defined here
            have = None
        if doc is None:
            if have is not None:
                service.delete(ident)
                self.applied += 1
            return
        if have is not None and encode(have) == doc:
            return
        self.applied += 1
        if have is None:
            service.create(doc)
        else:
            service.update(ident, {k: v for k, v in doc.items() if k != "id"})
