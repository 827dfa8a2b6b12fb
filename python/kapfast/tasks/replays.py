"""Replays: run a recording through a task, on a fast (virtual) or real clock.

The bookkeeping lives here (ids, validation, status ``running`` → ``finished``/``failed``, the
final stats); the execution is the engine's: its task master offers ``replay(...)`` (see
:class:`ReplayEngine`). A replay left running by a stopped server is marked failed at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from kapfast.clock import Clock
from kapfast.errors import KapfastError, RequestError
from kapfast.gofmt import go_map, go_quote
from kapfast.jobs import cancel_and_wait
from kapfast.storage import RecordingRecord, ReplayRecord, Storage, TaskRecord
from kapfast.tasks.ids import new_or_valid_id
from kapfast.tasks.recordings import EXTENSIONS, FillJob, RecordingService
from kapfast.tasks.service import API_BASE, compile_task
from kapfast.tick import Pipeline
from kapfast.tick.registry import DeadmanDefaults
from kapfast.tick.udfs import UDFInfo
from kapfast.timefmt import api_time

log = logging.getLogger("kapfast.replays")
T = TypeVar("T")


class ReplayEngine(Protocol):
    """The engine's replay entry point (``kapfast.engine.master.TaskMaster.replay``): run the
    recording at ``recording_path`` through a fresh instance of ``task`` whose alert topics are
    named after ``replay_id``, and return its stats. It blocks until done (``clock="real"``
    sleeps), so the service runs it in a worker thread. ``recording_time`` keeps the recorded
    times instead of shifting them to now."""

    def replay(
        self,
        task: TaskRecord,
        pipeline: Pipeline,
        recording_path: str,
        *,
        replay_id: str,
        clock: str = "fast",
        recording_time: bool = False,
    ) -> dict[str, Any]: ...


async def _in_daemon_thread(fn: Callable[[], T], *, name: str) -> T:
    """Run ``fn`` in its own daemon thread. Unlike ``asyncio.to_thread`` a long replay on the
    real clock never holds up the server's exit: a stopped server marks it failed at next start."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not fut.done():
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(settle, False, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, True, result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await fut


class ReplayService:
    def __init__(
        self, storage: Storage, engine: object, clock: Clock, recordings: RecordingService | None = None
    ) -> None:
        self.storage = storage
        self.engine = engine
        self.clock = clock
        self.recordings = recordings
        self.deadman: DeadmanDefaults | None = None  # [deadman]: replays build tasks as live ones
        self.udfs: Mapping[str, UDFInfo] = {}  # [udf.functions.*], as for live tasks
        self._jobs: dict[str, asyncio.Task[None]] = {}
        #: told of every change to a replay stored (None: deleted), from any thread: a cluster
        #: node shares its replays (kapfast.cluster.recordings)
        self.changed: Callable[[str, ReplayRecord | None], None] = lambda ident, rep: None

    def open(self) -> None:
        n = self.storage.replays.fail_running("the server stopped while the replay was running")
        if n:
            log.warning("marked %d replays left running by the last run as failed", n)

    def _common(self, opts: Mapping[str, Any]) -> tuple[str, TaskRecord, str, bool]:
        """Validated ``id``, ``task``, ``clock`` and ``recording-time`` of a replay request."""
        ident = new_or_valid_id(opts.get("id"), "replay")
        if self.storage.replays.exists(ident):
            raise RequestError(f"replay {ident} already exists")
        task_id = opts.get("task")
        if not isinstance(task_id, str) or not task_id:
            raise RequestError("must provide task ID")
        clock = opts.get("clock") or "fast"
        if clock not in {"fast", "real"}:
            raise RequestError(f"invalid clock {go_quote(clock)}: expected fast or real")
        recording_time = opts.get("recording-time", False)
        if not isinstance(recording_time, bool):
            raise RequestError("recording-time must be true or false")
        return ident, self.storage.tasks.get(task_id), str(clock), recording_time

    def create(self, opts: Mapping[str, Any]) -> ReplayRecord:
        """Replay a stored recording into a task."""
        rec_id = opts.get("recording")
        ident, task, clock, recording_time = self._common(opts)
        task_id = task.id
        if not isinstance(rec_id, str) or not rec_id:
            raise RequestError("must provide recording ID")
        recording = self.storage.recordings.get(rec_id)
        pipeline = self._replayable(task, recording)
        rep = ReplayRecord(
            ident, task_id, rec_id, clock=clock, recording_time=recording_time, date=self.clock.now_ns()
        )
        return self._launch(rep, self._run(rep, task, pipeline, recording))

    def _replayable(self, task: TaskRecord, recording: RecordingRecord) -> Pipeline:
        if recording.status != "finished":
            raise RequestError(f"recording {recording.id} is {recording.status}, it cannot be replayed")
        pipeline = compile_task(task, self.deadman, self.udfs)
        if pipeline.task_type != recording.type:
            raise RequestError(
                f"cannot replay a {recording.type} recording into {pipeline.task_type} task {task.id}"
            )
        return pipeline

    def create_from(
        self, opts: Mapping[str, Any], recording: RecordingRecord, fetch: FillJob
    ) -> ReplayRecord:
        """Replay a recording kept elsewhere (a cluster's object store): ``fetch`` writes it to
        ``recording.path`` first, a file of this replay's own, removed when it is done."""
        ident, task, clock, recording_time = self._common(opts)
        self._replayable(task, recording)
        return self._replay_fetched(ident, task, clock, recording_time, recording.type, fetch, recording.id)

    def create_from_batch(self, opts: Mapping[str, Any]) -> ReplayRecord:
        """``POST /replays/batch``: query InfluxDB for a batch task's data and replay it, without
        keeping a recording."""
        ident, task, clock, recording_time = self._common(opts)
        fill = self._recordings().batch_job({**opts, "task": task.id})
        return self._replay_fetched(ident, task, clock, recording_time, "batch", fill)

    def create_from_query(self, opts: Mapping[str, Any]) -> ReplayRecord:
        """``POST /replays/query``: run a query and replay its result into the task."""
        ident, task, clock, recording_time = self._common(opts)
        kind = compile_task(task, self.deadman, self.udfs).task_type
        fill = self._recordings().query_job(opts, kind)
        return self._replay_fetched(ident, task, clock, recording_time, kind, fill)

    def _recordings(self) -> RecordingService:
        if self.recordings is None:
            raise RequestError("this server cannot query InfluxDB for replays")
        return self.recordings

    def _replay_fetched(
        self,
        ident: str,
        task: TaskRecord,
        clock: str,
        recording_time: bool,
        kind: str,
        fill: FillJob,
        recording_id: str = "",
    ) -> ReplayRecord:
        rep = ReplayRecord(
            ident, task.id, recording_id, clock=clock, recording_time=recording_time, date=self.clock.now_ns()
        )
        path = self._recordings().dir / f"replay-{ident}{EXTENSIONS[kind]}"
        recording = RecordingRecord(f"replay-{ident}", kind, str(path), status="running")

        async def run() -> None:
            try:
                try:
                    self._recordings().dir.mkdir(parents=True, exist_ok=True)
                    await fill(recording)
                except (KapfastError, OSError, ValueError) as exc:
                    what = "fetching the recording" if recording_id else "querying InfluxDB"
                    self._finish(rep, f"{what} failed: {exc}", {})
                    return
                await self._run(rep, task, compile_task(task, self.deadman, self.udfs), recording)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)

        return self._launch(rep, run())

    def _launch(self, rep: ReplayRecord, coro: Coroutine[Any, Any, None]) -> ReplayRecord:
        self.storage.replays.put(rep)
        self.changed(rep.id, rep)
        ident = rep.id
        job = asyncio.get_running_loop().create_task(coro)
        self._jobs[ident] = job
        job.add_done_callback(lambda _: self._jobs.pop(ident, None))
        return rep

    async def _run(
        self, rep: ReplayRecord, task: TaskRecord, pipeline: Pipeline, recording: RecordingRecord
    ) -> None:
        replay = getattr(self.engine, "replay", None)
        error = ""
        stats: dict[str, Any] = {}
        if replay is None:
            error = "this server's task engine cannot replay recordings"
        else:
            try:
                stats = await _in_daemon_thread(
                    lambda: replay(
                        task,
                        pipeline,
                        recording.path,
                        replay_id=rep.id,
                        clock=rep.clock,
                        recording_time=rep.recording_time,
                    ),
                    name=f"replay-{rep.id}",
                )
            except asyncio.CancelledError:
                error = "the replay was cancelled"
            except (KapfastError, OSError, ValueError) as exc:
                error = str(exc)
            except Exception as exc:  # an engine bug fails the replay, not the server
                log.exception("replay %s crashed", rep.id)
                error = f"{type(exc).__name__}: {exc}"
        self._finish(rep, error, stats)

    def _finish(self, rep: ReplayRecord, error: str, stats: dict[str, Any]) -> None:
        rep.status = "failed" if error else "finished"
        rep.error = error
        rep.progress = 1.0 if not error else rep.progress
        rep.stats = stats
        if self.storage.replays.exists(rep.id):  # deleted while running: stay deleted
            self.storage.replays.put(rep)
            self.changed(rep.id, rep)

    def get(self, ident: str) -> ReplayRecord:
        return self.storage.replays.get(ident)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[ReplayRecord]:
        return self.storage.replays.find(pattern, offset, limit)

    def delete(self, ident: str) -> None:
        job = self._jobs.pop(ident, None)
        if job is not None:
            job.cancel()
        if self.storage.replays.delete(ident):
            self.changed(ident, None)

    async def close(self) -> None:
        await cancel_and_wait(*self._jobs.values())

    @staticmethod
    def to_json(rep: ReplayRecord) -> dict[str, Any]:
        return {
            "link": {"rel": "self", "href": f"{API_BASE}/replays/{rep.id}"},
            "id": rep.id,
            "task": rep.task,
            "recording": rep.recording,
            "recording-time": rep.recording_time,
            "clock": rep.clock,
            "date": api_time(rep.date),
            "error": rep.error,
            "status": rep.status,
            "progress": rep.progress,
            # ExecutionStats: a struct of two Go maps (their keys sorted, as Go writes them)
            "stats": {k: go_map(v) for k, v in rep.stats.items()},
        }
