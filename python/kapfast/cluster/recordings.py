"""Recordings and replays of a cluster (docs/scaleout.md, "Recordings and replays"): the
``/recordings`` and ``/replays`` API against any node acts on the whole cluster.

- A **stream recording** made on a node reads the points from the cluster's stream itself (every
  point written to any node passes through it): a consumer of ``kapfast.in.*`` from the
  sequence the stream had when the request came, the points of one write request put back in
  the order they were written (as a placed task reads them), kept by the node's own recorder
  (the task's dbrps and measurements, up to ``stop``). So it is complete whichever node ingested
  the points. When ``stop`` is reached on the clock the node first reads what the stream holds
  up to then.
- A **finished recording's file** is stored in the object store ``kapfast_recordings`` (by id)
  and its description in KV ``kapfast_records`` (``recording.<hex id>``), with the node that made
  it; a **replay**'s description likewise (``replay.<hex id>``). Each node keeps its own in its
  store as on one node, publishes every change to them, and mirrors the others' (a KV watch).
- ``GET /recordings`` and ``/replays`` (and by id) from any node list the cluster's: the node's
  own and the mirror's. One still ``running`` on a node that left the cluster (its member key
  expired) is shown ``failed``; the node marks it so itself when it comes back.
- A **replay** runs on the node that received the request, in its own task instance as on one
  node; a recording made on another node is fetched from the object store first.
- A delete on any node deletes everywhere (the owner stops what still runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from nats.js.api import ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from kapfast.batch import PointBatch
from kapfast.cluster import kvdocs
from kapfast.cluster.connection import SUBJECT_PREFIX, TRANSIENT, ClusterHandles
from kapfast.cluster.kvdocs import DELETES, encode, ident_of, key
from kapfast.cluster.worker import Feed
from kapfast.errors import KapfastError, RequestError
from kapfast.errors import NotFoundError as KapfastNotFound
from kapfast.gofmt import go_quote
from kapfast.jobs import cancel_and_wait
from kapfast.storage import RecordingRecord, ReplayRecord
from kapfast.tasks.recordings import RecordingService
from kapfast.tasks.replays import ReplayService

log = logging.getLogger("kapfast.cluster")

RECORDS = "kapfast_records"
FILES = "kapfast_recordings"
#: a stream recording's consumer left behind by a node that died is deleted by NATS after this
_INACTIVE_S = 120.0
#: how long a stream recording whose stop time came waits to read what the stream held then
DRAIN_TIMEOUT_S = 10.0
#: answers that wait for NATS wait this long at most
OP_TIMEOUT_S = 5.0

Record = RecordingRecord | ReplayRecord
#: runs ``fn(*args)`` on the engine thread, behind the points handed to it (a future), or None
Call = Callable[..., "Future[Any] | None"]


def _doc(rec: Record, node: str) -> dict[str, Any]:
    out = asdict(rec)
    out.pop("path", None)  # where the node that made it keeps it
    out["node"] = node
    return out


def _durable(node: str, ident: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{node}-{ident}")
    return f"kapfast-r-{safe}"


class SharedRecords:
    """The node's side of the cluster's recordings and replays: what it publishes, what it
    mirrors, and the stream recordings it reads from the stream."""

    def __init__(
        self,
        h: ClusterHandles,
        node_id: str,
        stream: str,
        replicas: int,
        recordings: RecordingService,
        replays: ReplayService,
        call: Call | None = None,
    ) -> None:
        self.h = h
        self.node_id = node_id
        self.stream = stream
        self.replicas = replicas
        self.recordings = recordings
        self.replays = replays
        #: how a stream recording's points reach the recorder: on the engine thread, where the
        #: write path feeds it and where it ends (RecordingService.serialized)
        self.call = call
        self.kv: KeyValue | None = None
        self.files: ObjectStore | None = None
        #: the other nodes' recordings and replays by kind ("recording", "replay") and id
        self.mirror: dict[str, dict[str, dict[str, Any]]] = {"recording": {}, "replay": {}}
        self._out: asyncio.Queue[tuple[str, str, Record | None]] = asyncio.Queue()
        #: what the bucket holds of this node's own, by key (a change equal to it is not sent)
        self._published: dict[str, bytes] = {}
        self._feeds: dict[str, Feed] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()
        self.facades = {"recordings": SharedRecordings(self), "replays": SharedReplays(self)}

    # --- start, stop ---------------------------------------------------------------------------

    async def open(self) -> None:
        js = self.h.js
        self.kv = await kvdocs.bucket(js, RECORDS, self.replicas)
        try:
            self.files = await js.object_store(FILES)
        except (NotFoundError, BucketNotFoundError):
            self.files = await js.create_object_store(FILES, config=ObjectStoreConfig(replicas=self.replicas))

    async def start(self) -> None:
        """The bucket first (a recording of this node deleted elsewhere while it was down is
        deleted here too), then this node's own published where the bucket differs; from then
        on every change both ways."""
        self._loop = asyncio.get_running_loop()
        if self.kv is None:
            await self.open()
        assert self.kv is not None
        # this node's own that the bucket lacks or holds otherwise: sent below
        watcher, _seen = await kvdocs.read_all(self.kv, self._apply)
        for rec in self.recordings.find(limit=-1):
            self._changed("recording", rec.id, rec)
        for rep in self.replays.find(limit=-1):
            self._changed("replay", rep.id, rep)
        self.recordings.changed = lambda ident, rec: self._changed("recording", ident, rec)
        self.replays.changed = lambda ident, rep: self._changed("replay", ident, rep)
        self.recordings.stop_reached = self._stop_reached
        self._jobs = [self._loop.create_task(self._watch(watcher)), self._loop.create_task(self._publisher())]

    async def close(self) -> None:
        await cancel_and_wait(*self._jobs, *self._spawned)
        for ident in list(self._feeds):
            await self._stop_feed(ident)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        job: asyncio.Task[None] = self._loop.create_task(coro)
        self._spawned.add(job)
        job.add_done_callback(self._spawned.discard)

    # --- this node's changes out ---------------------------------------------------------------

    def _changed(self, kind: str, ident: str, rec: Record | None) -> None:
        """From any thread (a recording ends on the engine thread, is compressed on its own)."""
        loop = self._loop
        if loop is None:
            return
        item = (kind, ident, rec)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            loop.call_soon_threadsafe(self._out.put_nowait, item)
            if kind == "recording" and (rec is None or rec.status != "running") and ident in self._feeds:
                loop.call_soon_threadsafe(lambda: self._spawn(self._stop_feed(ident)))

    async def _publisher(self) -> None:
        """This node's changes in the order they were made; one NATS does not take now (it is
        away, or electing a leader) is tried again until it does, the later ones waiting."""
        while True:
            kind, ident, rec = await self._out.get()
            while True:
                try:
                    await self._publish(kind, ident, rec)
                    break
                except TRANSIENT as exc:
                    log.warning("cluster: %s %s not published yet: %r (retrying)", kind, ident, exc)
                    await asyncio.sleep(1.0)
                except Exception as exc:  # said; the next change of it is sent whole
                    log.error("cluster: %s %s not published: %r", kind, ident, exc)
                    break

    async def _publish(self, kind: str, ident: str, rec: Record | None) -> None:
        assert self.kv is not None and self.files is not None
        k = key(kind, ident)
        if rec is None:
            self._published.pop(k, None)
            with contextlib.suppress(NotFoundError):
                await self.kv.delete(k)
            if kind == "recording":
                with contextlib.suppress(NotFoundError):
                    await self.files.delete(ident)
            return
        doc = _doc(rec, self.node_id)
        if isinstance(rec, RecordingRecord) and rec.status == "finished":
            # the file before its description: "finished" in the bucket means replayable.
            # Sent again only when it changed (compressed after it finished): ``file`` is the
            # size and modification time of the file sent
            try:
                st = os.stat(rec.path)
            except FileNotFoundError:
                return  # deleted meanwhile: its delete follows
            doc["size"] = st.st_size
            doc["file"] = [st.st_size, st.st_mtime_ns]
            before = json.loads(self._published.get(k) or b"{}")
            if before.get("file") != doc["file"]:
                data = await asyncio.to_thread(Path(rec.path).read_bytes)
                await self.files.put(ident, data)
        body = encode(doc)
        if self._published.get(k) != body:
            await self.kv.put(k, body)
            self._published[k] = body

    # --- the others' changes in ----------------------------------------------------------------

    async def _watch(self, watcher: Any) -> None:
        async for entry in watcher:
            if entry is not None:
                self._apply(entry.key, entry.value, entry.operation)

    def _apply(self, k: str, value: bytes | None, operation: str | None) -> None:
        try:
            kind, ident = ident_of(k)
        except ValueError:
            return
        if kind not in self.mirror:
            return
        if operation in DELETES or not value:
            self.mirror[kind].pop(ident, None)
            self._published.pop(k, None)
            self._deleted_elsewhere(kind, ident)
            return
        doc = json.loads(value)
        if doc.get("node") == self.node_id:
            self._published[k] = value  # this node's own: its store decides
            return
        self.mirror[kind][ident] = doc

    def _deleted_elsewhere(self, kind: str, ident: str) -> None:
        """Deleted through another node: this node's own copy goes too (a running recording or
        replay stopped)."""
        if kind == "recording":
            if self.recordings.storage.recordings.exists(ident):
                self.recordings.delete(ident)
        elif self.replays.storage.replays.exists(ident):
            self.replays.delete(ident)

    # --- reads ---------------------------------------------------------------------------------

    async def _gone(self, nodes: set[str]) -> set[str]:
        """Which of ``nodes`` have left the cluster (their member key expired)."""
        gone: set[str] = set()
        for node in nodes:
            try:
                await asyncio.wait_for(self.h.members.get(node), OP_TIMEOUT_S)
            except NotFoundError:
                gone.add(node)
            except Exception:  # NATS not answering: not taken for gone
                pass
        return gone

    async def others(self, kind: str, pattern: str = "") -> list[dict[str, Any]]:
        """The other nodes' recordings (replays) whose id matches ``pattern``; one still running
        on a node that left the cluster shown failed."""
        docs = [
            d for i, d in sorted(self.mirror[kind].items()) if not pattern or fnmatch.fnmatchcase(i, pattern)
        ]
        return await self._settled(docs)

    async def _settled(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        running = {str(d.get("node")) for d in docs if d.get("status") == "running"}
        gone = await self._gone(running) if running else set()
        out = []
        for d in docs:
            if d.get("status") == "running" and d.get("node") in gone:
                d = {**d, "status": "failed", "error": f"node {d['node']} left the cluster while it ran"}
            out.append(d)
        return out

    async def other(self, kind: str, ident: str) -> dict[str, Any] | None:
        """Another node's recording (replay) ``ident``: the mirror's, or the bucket's (one made
        a moment ago elsewhere, not yet in the mirror); None when the cluster has none."""
        doc = self.mirror[kind].get(ident)
        if doc is None and self.kv is not None:
            try:
                entry = await asyncio.wait_for(self.kv.get(key(kind, ident)), OP_TIMEOUT_S)
            except NotFoundError:  # never, or deleted (KeyDeletedError)
                return None
            if not entry.value:
                return None
            doc = json.loads(entry.value)
            if doc.get("node") == self.node_id:
                return None
        return (await self._settled([doc]))[0] if doc is not None else None

    async def exists(self, kind: str, ident: Any) -> None:
        """Refuse an id the cluster has already (the local check is the service's)."""
        if isinstance(ident, str) and ident and await self.other(kind, ident) is not None:
            raise RequestError(f"{kind} {ident} already exists")

    # --- stream recordings from the stream -----------------------------------------------------

    async def record_stream(self, opts: Mapping[str, Any]) -> RecordingRecord:
        await self.exists("recording", opts.get("id"))
        try:
            info = await asyncio.wait_for(self.h.js.stream_info(self.stream), OP_TIMEOUT_S)
        except Exception as exc:
            raise KapfastError(
                f"the cluster's stream is unreachable, no recording started: {exc!r}"
            ) from None
        start = int(info.state.last_seq)  # every point written after the answer is in it
        rec = self.recordings.record_stream(opts, external=True)
        ident = rec.id

        def apply(db: str, rp: str, batch: PointBatch, _replay: bool) -> Future[None] | None:
            if self.call is None:
                self.recordings.feed(ident, db, rp, batch)
                return None
            return self.call(self.recordings.feed, ident, db, rp, batch)

        feed = Feed(
            self.h,
            self.stream,
            _durable(self.node_id, ident),
            f"{SUBJECT_PREFIX}.*",
            apply,
            reorder=True,
            inactive_threshold=_INACTIVE_S,
        )
        try:
            await feed.start(start)
        except Exception as exc:
            self.recordings.finish_stream(ident, f"reading the cluster's stream failed: {exc!r}")
            raise KapfastError(f"the cluster's stream is unreachable: {exc!r}") from None
        if self.recordings.is_recording(ident):  # not ended already (deleted, stopped)
            self._feeds[ident] = feed
        else:
            await self._delete_feed(feed)
        return rec

    def _stop_reached(self, ident: str) -> None:
        """The clock passed the recording's stop: what the stream holds up to now is read first
        (written before the stop, maybe on another node), then the recording ends."""
        if ident not in self._feeds:
            self.recordings.finish_stream(ident)
            return
        self._spawn(self._drain_and_finish(ident))

    async def _drain_and_finish(self, ident: str) -> None:
        feed = self._feeds.get(ident)
        try:
            if feed is not None:
                info = await asyncio.wait_for(self.h.js.stream_info(self.stream), OP_TIMEOUT_S)
                target = int(info.state.last_seq)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + DRAIN_TIMEOUT_S
                # read (and handed to the engine thread, where the end is queued behind them);
                # no write request half read
                while (feed.last_seq < target or feed.checkpoint_seq() is None) and loop.time() < deadline:
                    await asyncio.sleep(0.05)
        except Exception as exc:  # ends with what it has
            log.warning("recording %s: reading the stream up to its stop: %r", ident, exc)
        finally:
            self.recordings.finish_stream(ident)

    async def _stop_feed(self, ident: str) -> None:
        feed = self._feeds.pop(ident, None)
        if feed is not None:
            await self._delete_feed(feed)

    async def _delete_feed(self, feed: Feed) -> None:
        await feed.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.h.js.delete_consumer(self.stream, feed.durable), OP_TIMEOUT_S)

    # --- replays of another node's recording ---------------------------------------------------

    async def replay(self, opts: Mapping[str, Any]) -> ReplayRecord:
        await self.exists("replay", opts.get("id"))
        rec_id = opts.get("recording")
        if not isinstance(rec_id, str) or not rec_id or self.recordings.storage.recordings.exists(rec_id):
            return self.replays.create(opts)  # this node's own (or the service's error)
        doc = await self.other("recording", rec_id)
        if doc is None:
            raise KapfastNotFound(f"no recording exists with id {go_quote(rec_id)}")
        # its path is the replay's own file (ReplayService.create_from), written by fetch
        recording = RecordingRecord(rec_id, str(doc.get("type")), "", status=str(doc.get("status")))
        files = self.files
        assert files is not None

        async def fetch(rec: RecordingRecord) -> None:
            try:
                obj = await files.get(rec_id)
            except NotFoundError:
                raise KapfastError(f"recording {rec_id} is not in the cluster's object store") from None
            await asyncio.to_thread(Path(rec.path).write_bytes, obj.data or b"")

        return self.replays.create_from(opts, recording, fetch)


def _record(kind: str, doc: Mapping[str, Any]) -> Record:
    cls: type[Record] = RecordingRecord if kind == "recording" else ReplayRecord
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in {"path": "", **doc}.items() if k in known})


class _Facade:
    """One resource of the API (``/recordings``, ``/replays``) for the whole cluster."""

    kind = ""

    def __init__(self, shared: SharedRecords) -> None:
        self.shared = shared

    @property
    def local(self) -> Any:
        return self.shared.recordings if self.kind == "recording" else self.shared.replays

    async def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[Record]:
        mine: list[Record] = list(self.local.find(pattern, 0, -1))
        own = {r.id for r in mine}
        theirs = [_record(self.kind, d) for d in await self.shared.others(self.kind, pattern)]
        items = sorted([*mine, *(r for r in theirs if r.id not in own)], key=lambda r: r.id)
        return items[offset : offset + limit if limit >= 0 else None]

    async def get(self, ident: str) -> Record:
        try:
            rec: Record = self.local.get(ident)
            return rec
        except KapfastNotFound:
            doc = await self.shared.other(self.kind, ident)
            if doc is None:
                raise
            return _record(self.kind, doc)

    async def delete(self, ident: str) -> None:
        """Deleted everywhere: this node's own through its service (which publishes it), another
        node's through the bucket (its node deletes its copy)."""
        self.local.delete(ident)
        if ident in self.shared.mirror[self.kind] or await self.shared.other(self.kind, ident) is not None:
            self.shared.mirror[self.kind].pop(ident, None)
            await self.shared._publish(self.kind, ident, None)

    def to_json(self, rec: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.local.to_json(rec)
        return out


class SharedRecordings(_Facade):
    kind = "recording"

    async def record_stream(self, opts: Mapping[str, Any]) -> RecordingRecord:
        return await self.shared.record_stream(opts)

    async def record_batch(self, opts: Mapping[str, Any]) -> RecordingRecord:
        await self.shared.exists(self.kind, opts.get("id"))
        rec: RecordingRecord = self.local.record_batch(opts)
        return rec

    async def record_query(self, opts: Mapping[str, Any]) -> RecordingRecord:
        await self.shared.exists(self.kind, opts.get("id"))
        rec: RecordingRecord = self.local.record_query(opts)
        return rec


class SharedReplays(_Facade):
    kind = "replay"

    async def create(self, opts: Mapping[str, Any]) -> ReplayRecord:
        return await self.shared.replay(opts)

    async def create_from_batch(self, opts: Mapping[str, Any]) -> ReplayRecord:
        await self.shared.exists(self.kind, opts.get("id"))
        rep: ReplayRecord = self.local.create_from_batch(opts)
        return rep

    async def create_from_query(self, opts: Mapping[str, Any]) -> ReplayRecord:
        await self.shared.exists(self.kind, opts.get("id"))
        rep: ReplayRecord = self.local.create_from_query(opts)
        return rep
