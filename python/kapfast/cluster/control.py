"""One control plane: task and template definitions live in NATS KV (bucket ``kapfast_control``),
so ``kapfast define/enable/disable/delete`` against any node acts on the whole cluster.

Each node publishes what its API changed (``task.<hex id>`` / ``template.<hex id>`` = the
definition as the API takes it; a delete leaves KV's delete marker) and applies what it watches,
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
from typing import Any

from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from kapfast.cluster.connection import ClusterHandles
from kapfast.cluster.worker import task_state_key
from kapfast.jobs import cancel_and_wait
from kapfast.storage import TaskRecord, TemplateRecord
from kapfast.tasks.service import TaskService
from kapfast.tasks.templates import TemplateService

log = logging.getLogger("kapfast.cluster")

CONTROL = "kapfast_control"
_DELETES = ("DEL", "PURGE")


def _key(kind: str, ident: str) -> str:
    return f"{kind}.{ident.encode().hex()}"


def _ident(key: str) -> tuple[str, str]:
    kind, _, hexid = key.partition(".")
    return kind, bytes.fromhex(hexid).decode()


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


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class ControlPlane:
    def __init__(
        self, h: ClusterHandles, tasks: TaskService, templates: TemplateService, replicas: int, stream: str
    ) -> None:
        self.h = h
        self.stream = stream
        self.tasks = tasks
        self.templates = templates
        self.replicas = replicas
        self.kv: KeyValue | None = None
        self._out: asyncio.Queue[tuple[str, bytes | None]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self.applied = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self.kv = await self.h.js.key_value(CONTROL)
        except Exception:  # not found: the first node creates it
            self.kv = await self.h.js.create_key_value(
                config=KeyValueConfig(bucket=CONTROL, history=1, replicas=self.replicas)
            )
        watcher = await self.kv.watchall()
        seen: set[str] = set()
        async for entry in watcher:  # the bucket as it is, then None
            if entry is None:
                break
            seen.add(entry.key)
            await self._apply(entry.key, entry.value, entry.operation)
        # definitions made here while the cluster never saw them
        for rec in self.templates.find(limit=1_000_000):
            if _key("template", rec.id) not in seen:
                self._publish(_key("template", rec.id), _encode(template_definition(rec)))
        for task in self.tasks.find(limit=1_000_000):
            if _key("task", task.id) not in seen:
                self._publish(_key("task", task.id), _encode(task_definition(task)))
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

    def _template_changed(self, ident: str, rec: TemplateRecord | None) -> None:
        self._publish(_key("template", ident), None if rec is None else _encode(template_definition(rec)))

    def _mark_start(self, ident: str) -> None:
        """A task enabled here sees every point written after the API answered, as on one node.

        Workers learn of the task from KV a moment later, and a placed task without a checkpoint
        reads from where the stream is when its owner takes it: the points written in between
        would be lost. So before the answer, the stream's sequence now is stored as the task's
        first checkpoint (that sequence, no state), unless it has one. Overwriting a worker's
        newer checkpoint in a race is harmless: (sequence at define, empty state) is always a
        true checkpoint of the task, the next owner only reads more of the stream.
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
        try:
            asyncio.run_coroutine_threadsafe(self._store_start(ident), loop).result(timeout=10)
        except Exception as exc:  # NATS away: the task still runs, from when its owner takes it
            log.warning("control plane: no starting sequence stored for task %s: %s", ident, exc)

    async def _store_start(self, ident: str) -> None:
        key = task_state_key(ident)
        with contextlib.suppress(Exception):  # not found: none yet
            await self.h.state.get(key)
            return
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
        async with self.tasks.define_lock:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self._apply_sync, kind, ident, doc)
            except Exception as exc:  # a definition this node cannot run: said, others go on
                log.error("control plane: %s %s not applied here: %s", kind, ident, exc)

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
