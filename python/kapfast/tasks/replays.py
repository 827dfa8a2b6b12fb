"""Replays: run a recording through a task, on a fast (virtual) or real clock.

The bookkeeping lives here (ids, validation, status ``running`` → ``finished``/``failed``, the
final stats); the execution is the engine's: its task master offers ``replay(...)`` (see
:class:`ReplayEngine`). A replay left running by a stopped server is marked failed at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from kapfast.clock import Clock
from kapfast.errors import KapfastError, RequestError
from kapfast.storage import RecordingRecord, ReplayRecord, Storage, TaskRecord
from kapfast.tasks.ids import new_or_valid_id
from kapfast.tasks.service import API_BASE, compile_task
from kapfast.tick import Pipeline
from kapfast.timefmt import api_time

log = logging.getLogger("kapfast.replays")


class ReplayEngine(Protocol):
    """The engine's replay entry point: run ``recording`` through a fresh instance of ``task``
    (named ``replay_id`` where Kapacitor names its task master) and return the execution stats
    (``{"task-stats": ..., "node-stats": ...}``). ``clock`` is ``"fast"`` or ``"real"``;
    ``recording_time`` keeps the recorded times instead of shifting them to now."""

    async def replay(
        self,
        replay_id: str,
        task: TaskRecord,
        pipeline: Pipeline,
        recording: RecordingRecord,
        *,
        clock: str,
        recording_time: bool,
    ) -> dict[str, Any]: ...


class ReplayService:
    def __init__(self, storage: Storage, engine: object, clock: Clock) -> None:
        self.storage = storage
        self.engine = engine
        self.clock = clock
        self._jobs: dict[str, asyncio.Task[None]] = {}

    def open(self) -> None:
        n = self.storage.replays.fail_running("the server stopped while the replay was running")
        if n:
            log.warning("marked %d replays left running by the last run as failed", n)

    def create(self, opts: Mapping[str, Any]) -> ReplayRecord:
        ident = new_or_valid_id(opts.get("id"), "replay")
        if self.storage.replays.exists(ident):
            raise RequestError(f"replay {ident} already exists")
        task_id, rec_id = opts.get("task"), opts.get("recording")
        if not isinstance(task_id, str) or not task_id:
            raise RequestError("must provide task ID")
        if not isinstance(rec_id, str) or not rec_id:
            raise RequestError("must provide recording ID")
        clock = opts.get("clock") or "fast"
        if clock not in {"fast", "real"}:
            raise RequestError(f"invalid clock {clock!r}: expected fast or real")
        recording_time = opts.get("recording-time", False)
        if not isinstance(recording_time, bool):
            raise RequestError("recording-time must be true or false")
        task = self.storage.tasks.get(task_id)  # 404 when unknown
        recording = self.storage.recordings.get(rec_id)
        if recording.status != "finished":
            raise RequestError(f"recording {rec_id} is {recording.status}, it cannot be replayed")
        pipeline = compile_task(task)
        if pipeline.task_type != recording.type:
            raise RequestError(
                f"cannot replay a {recording.type} recording into {pipeline.task_type} task {task_id}"
            )
        rep = ReplayRecord(
            ident, task_id, rec_id, clock=str(clock), recording_time=recording_time, date=self.clock.now_ns()
        )
        self.storage.replays.put(rep)
        job = asyncio.get_running_loop().create_task(self._run(rep, task, pipeline, recording))
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
                stats = await replay(
                    rep.id, task, pipeline, recording, clock=rep.clock, recording_time=rep.recording_time
                )
            except asyncio.CancelledError:
                error = "the replay was cancelled"
            except (KapfastError, OSError, ValueError) as exc:
                error = str(exc)
            except Exception as exc:  # an engine bug fails the replay, not the server
                log.exception("replay %s crashed", rep.id)
                error = f"{type(exc).__name__}: {exc}"
        rep.status = "failed" if error else "finished"
        rep.error = error
        rep.progress = 1.0 if not error else rep.progress
        rep.stats = stats
        if self.storage.replays.exists(rep.id):
            self.storage.replays.put(rep)

    def get(self, ident: str) -> ReplayRecord:
        return self.storage.replays.get(ident)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[ReplayRecord]:
        return self.storage.replays.find(pattern, offset, limit)

    def delete(self, ident: str) -> None:
        job = self._jobs.pop(ident, None)
        if job is not None:
            job.cancel()
        self.storage.replays.delete(ident)

    async def close(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel()
        for job in list(self._jobs.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await job

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
            "stats": rep.stats,
        }
