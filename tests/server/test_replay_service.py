"""ReplayService with an engine: status transitions, final stats, engine errors, cancellation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from kapfast.clock import VirtualClock
from kapfast.errors import NotFoundError, RequestError, TaskError
from kapfast.storage import DBRP, RecordingRecord, Storage, TaskRecord
from kapfast.tasks.replays import ReplayService
from kapfast.tick import Pipeline

SCRIPT = "stream\n    |from()\n        .measurement('cpu')\n"


class FakeEngine:
    def __init__(self, fail: Exception | None = None, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.calls: list[tuple[str, str, str, str, bool]] = []

    def replay(
        self,
        task: TaskRecord,
        pipeline: Pipeline,
        recording_path: str,
        *,
        replay_id: str,
        clock: str = "fast",
        recording_time: bool = False,
    ) -> dict[str, Any]:
        self.calls.append((replay_id, task.id, recording_path, clock, recording_time))
        assert pipeline.task_type == "stream"
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return {"points": 3, "batches": 0, "first": 1, "last": 3}


def storage(tmp_path: Path) -> Storage:
    st = Storage(tmp_path / "k.db")
    st.tasks.put(TaskRecord("t", "stream", [DBRP("telegraf", "autogen")], SCRIPT))
    st.recordings.put(RecordingRecord("r", "stream", str(tmp_path / "r.srpl"), status="finished"))
    st.recordings.put(RecordingRecord("running", "stream", str(tmp_path / "x.srpl"), status="running"))
    st.recordings.put(RecordingRecord("b", "batch", str(tmp_path / "b.brpl"), status="finished"))
    return st


async def settle(svc: ReplayService) -> None:
    for _ in range(100):
        if not svc._jobs:
            return
        await asyncio.sleep(0.01)


def test_replay_finishes_with_the_engines_stats(tmp_path: Path) -> None:
    st = storage(tmp_path)
    engine = FakeEngine()

    async def main() -> None:
        svc = ReplayService(st, engine, VirtualClock(5))
        rep = svc.create({"id": "rp", "task": "t", "recording": "r", "clock": "real", "recording-time": True})
        assert rep.status == "running" and rep.date == 5
        await settle(svc)

    asyncio.run(main())
    done = st.replays.get("rp")
    assert done.status == "finished" and done.progress == 1.0 and done.error == ""
    assert done.stats == {"points": 3, "batches": 0, "first": 1, "last": 3}
    assert engine.calls == [("rp", "t", str(tmp_path / "r.srpl"), "real", True)]


def test_replay_errors(tmp_path: Path) -> None:
    st = storage(tmp_path)

    async def main() -> None:
        svc = ReplayService(st, FakeEngine(fail=TaskError("node alert2: boom")), VirtualClock())
        with pytest.raises(NotFoundError):
            svc.create({"task": "nope", "recording": "r"})
        with pytest.raises(RequestError, match="is running, it cannot be replayed"):
            svc.create({"task": "t", "recording": "running"})
        with pytest.raises(RequestError, match="cannot replay a batch recording into stream task t"):
            svc.create({"task": "t", "recording": "b"})
        svc.create({"id": "bad", "task": "t", "recording": "r"})
        await settle(svc)
        slow = ReplayService(st, FakeEngine(delay=0.5), VirtualClock())
        slow.create({"id": "cut", "task": "t", "recording": "r"})
        await asyncio.sleep(0.05)
        await slow.close()

    asyncio.run(main())
    bad = st.replays.get("bad")
    assert bad.status == "failed" and bad.error == "node alert2: boom"
    cut = st.replays.get("cut")
    assert cut.status == "failed" and cut.error == "the replay was cancelled"
