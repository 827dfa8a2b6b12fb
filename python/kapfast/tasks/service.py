"""Task definitions: create, update, enable/disable, delete, describe — Kapacitor's task store.

This layer validates a definition by compiling its TICKscript, persists it durably (the answer is
sent after the SQLite commit), and starts or stops it through a :class:`TaskRunner` (the task
master). It knows nothing of HTTP; the API maps :class:`~kapfast.errors.RequestError` to 400 and
:class:`~kapfast.errors.NotFoundError` to 404.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from kapfast.clock import Clock
from kapfast.errors import InputError, NotFoundError, RequestError
from kapfast.gofmt import go_map, go_quote
from kapfast.storage import DBRP, Storage, TaskRecord
from kapfast.tasks.ids import new_or_valid_id, valid_id
from kapfast.tick import Pipeline, compile_script, format_script
from kapfast.tick.lint import lint
from kapfast.tick.registry import DeadmanDefaults
from kapfast.tick.udfs import UDFInfo
from kapfast.timefmt import api_time

API_BASE = "/kapacitor/v1"
log = logging.getLogger("kapfast.tasks")
T = TypeVar("T")
ON_LOOP_TIMEOUT_S = 60.0


class TaskRunner(Protocol):
    """What the task master offers the task store (a subset of ``TaskMasterAPI``)."""

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None: ...

    def stop(self, task_id: str) -> None: ...

    def is_executing(self, task_id: str) -> bool: ...

    def dot(self, task_id: str, labels: bool) -> str: ...

    def stats(self, task_id: str) -> dict[str, Any]: ...


class _OnLoop:
    """The task runner as the service sees it: the task master belongs to the event loop's thread,
    and definitions are compiled on executor threads (so that a big script does not hold up every
    other request), so a call made from another thread is run on the loop and waited for."""

    def __init__(self, runner: TaskRunner) -> None:
        self.runner = runner
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.thread = loop, threading.get_ident()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = self.loop
        if loop is None or threading.get_ident() == self.thread:
            return fn(*args)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        # bounded: a loop stopped meanwhile (shutdown) must not leave this thread waiting for ever
        return done.result(timeout=ON_LOOP_TIMEOUT_S)

    def start(self, task: TaskRecord, pipeline: Pipeline) -> None:
        self.call(self.runner.start, task, pipeline)

    def stop(self, task_id: str) -> None:
        self.call(self.runner.stop, task_id)

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of the running tasks: on the caller's thread when the runner allows it (its
        task master's calls are serialized with the engine thread), else on the loop."""
        return fn(*args) if getattr(self.runner, "reads_anywhere", False) else self.call(fn, *args)

    def is_executing(self, task_id: str) -> bool:
        return self.read(self.runner.is_executing, task_id)

    def dot(self, task_id: str, labels: bool) -> str:
        return self.read(self.runner.dot, task_id, labels)

    def stats(self, task_id: str) -> dict[str, Any]:
        return self.read(self.runner.stats, task_id)


def parse_dbrps(raw: Any) -> list[DBRP]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError('dbrps must be a list of {"db": ..., "rp": ...}')
    out = []
    for item in raw:
        ok = isinstance(item, dict) and isinstance(item.get("db"), str) and isinstance(item.get("rp"), str)
        if not ok or not item["db"]:
            raise RequestError(f'invalid dbrp {item!r}: expected {{"db": "name", "rp": "name"}}')
        out.append(DBRP(item["db"], item["rp"]))
    return out


def parse_vars(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError('vars must be an object {"name": {"type": ..., "value": ...}}')
    return dict(raw)


def compile_task(
    rec: TaskRecord, deadman: DeadmanDefaults | None = None, udfs: Mapping[str, UDFInfo] | None = None
) -> Pipeline:
    """Compile a task's script with its vars (and ``[deadman]`` settings, and the configured UDFs'
    Info); 400-class errors name line and column."""
    try:
        pipeline = compile_script(rec.script, vars=rec.vars or None, source="", deadman=deadman, udfs=udfs)
    except InputError as exc:
        # the position also goes apart, as fields a client can use (Kapacitor's ignore them)
        where = {"line": exc.line, "column": exc.column} if exc.line else {}
        raise RequestError(f"invalid TICKscript: {exc}", **where) from None
    # A stored task keeps its script's dbrps (as Kapacitor stores them), so equal sets are fine.
    if pipeline.dbrps and rec.dbrps and {(d.db, d.rp) for d in rec.dbrps} != set(pipeline.dbrps):
        raise RequestError("invalid TICKscript: cannot specify dbrp in both implicitly and explicitly")
    if not pipeline.dbrps and not rec.dbrps:
        raise RequestError("must provide at least one database and retention policy.")
    return pipeline


def refuse_disabled_handlers(pipeline: Pipeline, disabled: frozenset[str]) -> None:
    """A task using an alert handler the server runs without (``-disable-handlers``) is refused
    when defined, rather than running with its alerts silently going nowhere."""
    for node in pipeline.nodes:
        for h in node.handlers:
            if h.kind.lower() in disabled:
                raise RequestError(
                    f"invalid TICKscript: line {h.line}: the {h.kind} alert handler is disabled on "
                    "this server (kapfastd -disable-handlers)"
                )


def _warn_lint(rec: TaskRecord, pipeline: Pipeline) -> None:
    """Log what ``kapfast check`` would warn about (kapfast.tick.lint): a definition that cannot do
    what it says is accepted, as Kapacitor accepts it, but no longer silently."""
    for w in lint(pipeline):
        log.warning("task script: %s", w.format(), extra={"tags": {"task": rec.id, "node": w.node}})


def _take_script_dbrps(rec: TaskRecord, pipeline: Pipeline, *, explicit: bool) -> None:
    """Store the script's ``dbrp`` statements as the task's dbrps (Kapacitor lists them in the
    task); dbrps given in the request as well as in the script are an error, as in Kapacitor."""
    if not pipeline.dbrps:
        return
    if explicit:
        raise RequestError("invalid TICKscript: cannot specify dbrp in both implicitly and explicitly")
    rec.dbrps = [DBRP(db, rp) for db, rp in pipeline.dbrps]


def effective_dbrps(rec: TaskRecord, pipeline: Pipeline) -> list[DBRP]:
    """The task's dbrps: the explicit ones, else those of the script's ``dbrp`` statements."""
    return rec.dbrps or [DBRP(db, rp) for db, rp in pipeline.dbrps]


def _check_type(raw: Any) -> None:
    """Kapacitor's API knows two task types; the type a task runs as still follows its script."""
    if raw not in (None, "", "stream", "batch"):
        raise RequestError(f"unknown type {raw!r}: expected stream or batch")


def _status(raw: Any) -> str:
    if raw not in {"enabled", "disabled"}:
        raise RequestError(f"invalid status {go_quote(raw)}: expected enabled or disabled")
    return str(raw)


class TaskService:
    def __init__(
        self, storage: Storage, runner: TaskRunner, clock: Clock, deadman: DeadmanDefaults | None = None
    ) -> None:
        self.storage = storage
        self.runner = runner
        # every runner call goes through here: safe from the executor threads that compile
        self._on_loop = _OnLoop(runner)
        # definitions (tasks and templates) happen one at a time, each on an executor thread
        self.define_lock = asyncio.Lock()
        self.clock = clock
        self.deadman = deadman  # [deadman]: every .deadman()'s id/message, and a global one
        #: [udf.functions.*]: what `@name()` is checked against (kapfast.udf.UDFService.infos)
        self.udfs: Mapping[str, UDFInfo] = {}
        #: Called with (task id, "started" | "stopped" | "deleted"): the alert topics API closes
        #: and deletes a task's anonymous topics with it, as Kapacitor does.
        self.listeners: list[Callable[[str, str], None]] = []
        #: called with (task id, its record or None when deleted) after each create, update and
        #: delete made through this service (kapfast.cluster.control publishes them)
        self.on_change: Callable[[str, TaskRecord | None], None] | None = None

        #: `kapfastd -disable-handlers exec,log`: alert handler kinds no task may use
        self.disabled_handlers: frozenset[str] = frozenset()

    def _notify(self, ident: str, what: str) -> None:
        for listener in self.listeners:
            try:
                # listeners (the alert topics) belong to the loop's thread, as the task master does
                self._on_loop.call(listener, ident, what)
            except Exception:  # a listener's bug must not fail the task operation
                log.exception("task listener failed on %s %s", what, ident)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on the service may be called from executor threads (kapfast.server.offload)."""
        self._on_loop.bind(loop)

    def compile(self, rec: TaskRecord) -> Pipeline:
        pipeline = compile_task(rec, self.deadman, self.udfs)
        refuse_disabled_handlers(pipeline, self.disabled_handlers)
        return pipeline

    # --- lifecycle -----------------------------------------------------------------------------

    def _template_script(self, template_id: Any) -> str:
        valid_id(template_id, "template")
        try:
            return self.storage.templates.get(template_id).script
        except NotFoundError:
            raise RequestError(f"unknown template {go_quote(template_id)}") from None

    def create(self, opts: Mapping[str, Any]) -> TaskRecord:
        ident = new_or_valid_id(opts.get("id"), "task")
        _check_type(opts.get("type"))
        if self.storage.tasks.exists(ident):
            raise RequestError(f"task {ident} already exists")
        template_id = opts.get("template-id") or ""
        script = opts.get("script") or ""
        if not isinstance(script, str):
            raise RequestError("script must be a string")
        if template_id:
            if script:
                raise RequestError("cannot specify both a template-id and a script")
            script = self._template_script(template_id)
        elif not script:
            raise RequestError("must provide TICKscript")
        status = _status(opts.get("status") or "disabled")
        now = self.clock.now_ns()
        rec = TaskRecord(
            id=ident,
            type="stream",
            dbrps=parse_dbrps(opts.get("dbrps")),
            script=script,
            status=status,
            template_id=template_id,
            vars=parse_vars(opts.get("vars")),
            created=now,
            modified=now,
            last_enabled=now if status == "enabled" else 0,
        )
        pipeline = self.compile(rec)
        _warn_lint(rec, pipeline)
        _take_script_dbrps(rec, pipeline, explicit=bool(rec.dbrps))
        # The type always follows the script, as Kapacitor re-derives it.
        rec.type = pipeline.task_type
        self.storage.tasks.put(rec)
        try:
            if rec.status == "enabled":
                self._start(rec, pipeline)
        finally:
            self._changed(rec.id, rec)
        return rec

    def _changed(self, ident: str, rec: TaskRecord | None) -> None:
        if self.on_change is not None:
            self.on_change(ident, rec)

    def update(self, ident: str, opts: Mapping[str, Any]) -> TaskRecord:
        rec = self.get(ident)
        _check_type(opts.get("type"))
        was = rec.status
        new_id = opts.get("id")
        if new_id and new_id != ident:
            valid_id(new_id, "task")
            if self.storage.tasks.exists(new_id):
                raise RequestError(f"task {new_id} already exists")
        template_id = opts.get("template-id")
        if template_id:
            rec.script = self._template_script(template_id)
            rec.template_id = template_id
        elif opts.get("script"):
            if not isinstance(opts["script"], str):
                raise RequestError("script must be a string")
            if rec.template_id:
                raise RequestError("cannot update the script of a task created from a template")
            rec.script = opts["script"]
        if opts.get("dbrps") is not None:
            rec.dbrps = parse_dbrps(opts["dbrps"])
        if opts.get("vars") is not None:
            rec.vars = parse_vars(opts["vars"])
        if opts.get("status"):
            rec.status = _status(opts["status"])
        explicit = opts.get("dbrps") is not None and bool(rec.dbrps)
        if not explicit and (opts.get("script") or template_id):
            # the new script's dbrp statements decide; without any, the task keeps its list
            kept, rec.dbrps = rec.dbrps, []
            try:
                pipeline = self.compile(rec)
            except RequestError:
                rec.dbrps = kept
                pipeline = self.compile(rec)
        else:
            pipeline = self.compile(rec)
        if opts.get("script") or template_id or opts.get("vars") is not None:
            _warn_lint(rec, pipeline)
        _take_script_dbrps(rec, pipeline, explicit=explicit)
        rec.type = pipeline.task_type
        now = self.clock.now_ns()
        rec.modified = now
        if rec.status == "enabled" and was != "enabled":
            rec.last_enabled = now
        if self._on_loop.is_executing(ident):
            self._stop(ident)  # a changed definition restarts; a disable stops
        if new_id and new_id != ident:
            self.storage.tasks.rename(ident, new_id)
            rec.id = new_id
        if rec.status != "enabled":
            rec.error = ""
        self.storage.tasks.put(rec)
        if rec.id != ident:
            self._changed(ident, None)
        try:
            if rec.status == "enabled":
                self._start(rec, pipeline)
        finally:
            self._changed(rec.id, rec)
        return rec

    def delete(self, ident: str) -> None:
        """Stop and forget a task; deleting an unknown task is not an error (as Kapacitor)."""
        if self._on_loop.is_executing(ident):
            self._stop(ident)
        self.storage.tasks.delete(ident)
        self._notify(ident, "deleted")
        self._changed(ident, None)

    def _stop(self, ident: str) -> None:
        self._on_loop.stop(ident)
        log.info("stopped task", extra={"tags": {"task": ident, "task_master": "main"}})
        self._notify(ident, "stopped")

    def _start(self, rec: TaskRecord, pipeline: Pipeline) -> None:
        """Start an enabled task. A task that cannot start stays defined and enabled, with the
        reason in ``error`` (as Kapacitor keeps it), and the request fails with that reason."""
        try:
            self._on_loop.start(rec, pipeline)
        except Exception as exc:
            rec.error = str(exc)
            self.storage.tasks.put(rec)
            log.error("failed to start task", extra={"tags": {"task": rec.id, "err": str(exc)}})
            raise RequestError(f"failed to start task {rec.id}: {exc}") from None
        log.info("started task", extra={"tags": {"task": rec.id, "task_master": "main"}})
        self._notify(rec.id, "started")
        if rec.error:
            rec.error = ""
            self.storage.tasks.put(rec)

    def start_enabled(self) -> list[str]:
        """Start every enabled task (at boot). Returns the ids that failed to start."""
        failed = []
        for rec in self.storage.tasks.find():
            if rec.status != "enabled":
                continue
            try:
                self._start(rec, self.compile(rec))
            except RequestError as exc:
                log.error("task %s did not start: %s", rec.id, exc)
                if not rec.error:
                    rec.error = str(exc)
                    self.storage.tasks.put(rec)
                failed.append(rec.id)
        return failed

    def with_template_script(self, rec: TaskRecord, script: str, implicit: set[tuple[str, str]]) -> Pipeline:
        """``rec`` given its template's new ``script``: dbrps that came from the old script's
        ``dbrp`` statements (``implicit``) are replaced by the new script's; a task left with no
        dbrp at all is refused, as Kapacitor refuses it. Raises RequestError; ``rec`` changes."""
        rec.script = script
        if rec.dbrps and {(d.db, d.rp) for d in rec.dbrps} == implicit:
            rec.dbrps = []
        pipeline = self.compile(rec)
        if pipeline.dbrps:
            rec.dbrps = [DBRP(db, rp) for db, rp in pipeline.dbrps]
        rec.type = pipeline.task_type
        return pipeline

    def restart_from_template(
        self, template_id: str, script: str, implicit: set[tuple[str, str]] | None = None
    ) -> list[tuple[str, str]]:
        """Give every task of a template the template's new script (and restart the running
        ones). Returns ``(id, reason)`` of each task whose restart failed (its error is stored)."""
        failed = []
        for rec in self.storage.tasks.using_template(template_id):
            pipeline = self.with_template_script(rec, script, implicit or set())
            rec.modified = self.clock.now_ns()
            if self._on_loop.is_executing(rec.id):
                self._stop(rec.id)
            self.storage.tasks.put(rec)
            if rec.status == "enabled":
                try:
                    self._start(rec, pipeline)
                except RequestError as exc:
                    failed.append((rec.id, str(exc)))
        return failed

    # --- reading -------------------------------------------------------------------------------

    def get(self, ident: str) -> TaskRecord:
        return self.storage.tasks.get(ident)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TaskRecord]:
        return self.storage.tasks.find(pattern, offset, limit)

    def to_json(
        self, rec: TaskRecord, *, dot_view: str = "attributes", script_format: str = "formatted"
    ) -> dict[str, Any]:
        if dot_view not in {"attributes", "labels"}:
            raise RequestError(f"invalid dot-view {go_quote(dot_view)}: expected attributes or labels")
        if script_format not in {"formatted", "raw"}:
            raise RequestError(f"invalid script-format {go_quote(script_format)}: expected formatted or raw")
        executing = self._on_loop.is_executing(rec.id)
        script = rec.script
        if script_format == "formatted":
            # An unformattable stored script is still shown, as written.
            with contextlib.suppress(InputError):
                script = format_script(rec.script)
        # Kapacitor's ExecutionStats: its maps are null when the task is not executing
        stats: dict[str, Any] = {"task-stats": None, "node-stats": None}
        if executing:
            dot = self._on_loop.dot(rec.id, dot_view == "labels")
            stats = {k: go_map(v) for k, v in self._on_loop.stats(rec.id).items()}
        else:
            try:
                dot = compile_script(rec.script, vars=rec.vars or None).to_dot(rec.id)
            except InputError:
                dot = ""
        return {
            "link": {"rel": "self", "href": f"{API_BASE}/tasks/{rec.id}"},
            "id": rec.id,
            "template-id": rec.template_id,
            "type": rec.type,
            "dbrps": [{"db": d.db, "rp": d.rp} for d in rec.dbrps],
            "script": script,
            "vars": go_map(rec.vars, 1),  # a Go map of var structs
            "dot": dot,
            "status": rec.status,
            "executing": executing,
            "error": rec.error,
            "stats": stats,
            "created": api_time(rec.created),
            "modified": api_time(rec.modified),
            "last-enabled": api_time(rec.last_enabled),
        }
