"""Task templates: a TICKscript with typed vars that tasks are made from.

Updating a template re-validates it and gives its new script to every task made from it; if any of
those tasks would no longer compile with its vars, nothing changes and the request fails naming
the task (Kapacitor's behaviour, with the task named).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kapfast.clock import Clock
from kapfast.errors import InputError, RequestError
from kapfast.gofmt import go_map, go_quote
from kapfast.storage import Storage, TemplateRecord
from kapfast.tasks.ids import new_or_valid_id, valid_id
from kapfast.tasks.service import API_BASE, TaskService
from kapfast.tick import Pipeline, compile_template, format_script
from kapfast.timefmt import api_time


def _script_dbrps(script: str) -> set[tuple[str, str]]:
    """The ``dbrp`` statements of a template's script (none when it no longer compiles)."""
    try:
        return set(compile_template(script, source="").dbrps)
    except InputError:
        return set()


def _compile(script: Any, task_type: Any) -> Pipeline:
    if not isinstance(script, str) or not script:
        raise RequestError("must provide TICKscript")
    try:
        pipeline = compile_template(script, source="")
    except InputError as exc:
        raise RequestError(f"invalid TICKscript: {exc}") from None
    if task_type and task_type not in {"stream", "batch"}:
        raise RequestError(f"invalid type {go_quote(task_type)}: expected stream or batch")
    return pipeline


class TemplateService:
    def __init__(self, storage: Storage, tasks: TaskService, clock: Clock) -> None:
        self.storage = storage
        self.tasks = tasks
        self.clock = clock
        #: called with (template id, its record or None when deleted) after each create, update
        #: and delete (kapfast.cluster.control publishes them)
        self.on_change: Callable[[str, TemplateRecord | None], None] | None = None

    def _changed(self, ident: str, rec: TemplateRecord | None) -> None:
        if self.on_change is not None:
            self.on_change(ident, rec)

    def create(self, opts: Mapping[str, Any]) -> TemplateRecord:
        ident = new_or_valid_id(opts.get("id"), "template")
        if self.storage.templates.exists(ident):
            raise RequestError(f"template {ident} already exists")
        pipeline = _compile(opts.get("script"), opts.get("type"))
        now = self.clock.now_ns()
        rec = TemplateRecord(ident, pipeline.task_type, str(opts["script"]), created=now, modified=now)
        self.storage.templates.put(rec)
        self._changed(ident, rec)
        return rec

    def update(self, ident: str, opts: Mapping[str, Any]) -> TemplateRecord:
        rec = self.storage.templates.get(ident)
        old = replace(rec)
        new_id = opts.get("id")
        if new_id and new_id != ident:
            valid_id(new_id, "template")
            if self.storage.templates.exists(new_id):
                raise RequestError(f"template {new_id} already exists")
        implicit: set[tuple[str, str]] = set()
        if opts.get("script"):
            pipeline = _compile(opts["script"], opts.get("type"))
            implicit = _script_dbrps(rec.script)
            rec.script = str(opts["script"])
            rec.type = pipeline.task_type
            # Every task made from the template must still compile with its own vars and dbrps.
            for task in self.storage.tasks.using_template(ident):
                try:
                    self.tasks.with_template_script(replace(task), rec.script, implicit)
                except RequestError as exc:
                    msg = f"error reloading associated task {task.id}: {exc}"
                    raise RequestError(msg, **exc.fields) from None
        rec.modified = self.clock.now_ns()
        if new_id and new_id != ident:
            self.storage.templates.delete(ident)
            for task in self.storage.tasks.using_template(ident):
                task.template_id = new_id
                self.storage.tasks.put(task)
            rec.id = new_id
        self.storage.templates.put(rec)
        if opts.get("script"):
            failed = self.tasks.restart_from_template(rec.id, rec.script, implicit)
            if failed:
                # Kapacitor rolls the template back when a task of it cannot reload
                self.storage.templates.put(replace(old, id=rec.id))
                self.tasks.restart_from_template(rec.id, old.script, _script_dbrps(rec.script))
                task_id, reason = failed[0]
                raise RequestError(f"error reloading associated task {task_id}: {reason}")
        if rec.id != ident:
            self._changed(ident, None)
        self._changed(rec.id, rec)
        return rec

    def delete(self, ident: str) -> None:
        self.storage.templates.delete(ident)
        self._changed(ident, None)

    def get(self, ident: str) -> TemplateRecord:
        return self.storage.templates.get(ident)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TemplateRecord]:
        return self.storage.templates.find(pattern, offset, limit)

    def to_json(self, rec: TemplateRecord, *, script_format: str = "formatted") -> dict[str, Any]:
        if script_format not in {"formatted", "raw"}:
            raise RequestError(f"invalid script-format {go_quote(script_format)}: expected formatted or raw")
        script = rec.script
        if script_format == "formatted":
            with contextlib.suppress(InputError):
                script = format_script(rec.script)
        try:
            pipeline = compile_template(rec.script)
            variables, dot = pipeline.vars, pipeline.to_dot(rec.id)
        except InputError:
            variables, dot = {}, ""
        return {
            "link": {"rel": "self", "href": f"{API_BASE}/templates/{rec.id}"},
            "id": rec.id,
            "type": rec.type,
            "script": script,
            "vars": go_map(variables, 1),  # a Go map of var structs
            "dot": dot,
            "error": rec.error,
            "created": api_time(rec.created),
            "modified": api_time(rec.modified),
        }
