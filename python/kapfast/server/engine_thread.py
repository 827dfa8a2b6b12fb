"""The engine thread: written points run through the task pipelines off the event loop.

Under a write load that saturates the server, the pipelines' Python work is most of the CPU. Run
on the event loop, it made every other request (``/ping``, the API) wait behind the writes that
were queued before it (``/ping`` p99 of seconds at ~900 K points/s, issue #19). So:

* One thread, ``kapfast-engine``, runs the router (every task, live recordings) on the batches
  that ``/write`` parsed, one at a time in arrival order, and whatever else is posted to it (UDF
  agents' answers, the clock tick). The event loop only does HTTP: reading bodies, enqueueing,
  answering. A written body of 16 KB or more is parsed here too, just before its points run (the
  Rust parser releases the GIL, so the loop reads the next bodies meanwhile): one hop per write
  instead of two (loop → parse worker → loop → engine → loop cost ~20 % more server CPU per
  point in benches/bench_server.py). (A smaller body is parsed on the loop, and a write of a few
  points that finds the engine idle is run by the loop itself, holding the engine's lock: see
  :meth:`Engine.submit`.)
* The queue is bounded by the write gate (kapfast.server.write.WriteGate): a write holds its turn
  from its parse until the engine has run its points, so at most ``[http]
  max-concurrent-write-limit`` batches wait here; other writes wait for a turn at most
  ``enqueued-write-timeout`` and are then answered ``503`` with ``Retry-After`` (counted).
* Everything else that touches the running tasks runs on the engine thread too, in the same FIFO:
  the task master the rest of the server holds is a :class:`Serialized` proxy whose every method
  is queued and waited for (:meth:`Engine.run`), so an API call that starts, stops or reads a task
  (define, enable, show with stats, httpOut, /metrics) from any thread waits at most for the write
  batches already queued (the gate's turns), never for the writes behind it. (A lock was tried
  first: Python's locks are not fair, and the engine thread, taking it again for each next batch,
  starved the API calls waiting for it for hundreds of ms.) The reads are made from executor
  threads, so the event loop does not wait for them.
* A write's ``204`` means what it meant before: every task has handled its points and the alert
  states they made are committed (the engine hands back the commit, the handler awaits it).

With ``KAPFAST_ENGINE_INLINE=1`` in kapfastd's environment, items run on the caller's thread (the
event loop) as before #19: for benches/bench_responsive.py's before/after comparison and for
debugging, not for production.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from kapfast.batch import PointBatch
from kapfast.server.router import Router

log = logging.getLogger("kapfast.engine")
T = TypeVar("T")

#: how long a stopping server waits for the engine to finish the batches already queued
STOP_TIMEOUT_S = 30.0
#: a written batch of at most this many points finding the engine idle runs on the caller's
#: thread (Engine.submit): ~0.3 ms of a loop's time for the hop it saves
INLINE_POINTS = 64


class Engine:
    """The engine thread and its queue (see the module's docstring)."""

    def __init__(
        self, *, durable: Callable[[], Future[None] | None] | None = None, inline: bool = False
    ) -> None:
        #: what written points go through (set once the router, which holds the serialized task
        #: master, is built)
        self.router: Router | None = None
        #: held while an item runs (on the engine thread, or on the caller's when none runs)
        self.lock = threading.RLock()
        #: the commit of the alert states queued so far (kapfast.storage.AlertStateStore.pending)
        self.durable = durable
        self.inline = inline
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any] | None] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        #: queueing and stopping do not interleave (an item queued after the stop still runs)
        self._state = threading.Lock()
        #: write batches the engine has run
        self.batches = 0
        #: the thread running a small batch in place of the engine thread (:meth:`submit`): its
        #: nested calls run at once, as on the engine thread
        self._owner: int | None = None
        #: whether a small batch may run on the caller's thread now (None: always): kapfastd
        #: says no while a task may wait on something outside the process (Node.may_wait), which
        #: would hold the event loop instead of the engine thread
        self.inline_ok: Callable[[], bool] | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        with self._state:
            if self.inline or self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="kapfast-engine", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Run what is queued, then end the thread (bounded: a stuck pipeline does not hold up the
        shutdown for ever; it is logged). Work given afterwards runs on the caller's thread."""
        with self._state:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout_s)
        if thread.is_alive():
            log.error("the engine thread did not finish its queue within %gs", timeout_s)
            return
        while True:  # queued just before the stop, after the end mark
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._run_one(*item)

    def depth(self) -> int:
        """Items queued, not yet run (the write gate keeps the writes among them at most
        ``max-concurrent-write-limit``)."""
        return self._queue.qsize()

    # --- work ------------------------------------------------------------------------------------

    def _queued(self, fn: Callable[[], Any], fut: Future[Any] | None) -> bool:
        """Queue ``(fn, fut)`` for the engine thread; False when none runs (the caller runs it)."""
        with self._state:
            if self._thread is None:
                return False
            self._queue.put((fn, fut))
            return True

    def call(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """``fn(*args)`` on the engine thread, after what is queued; its result as a future."""
        fut: Future[T] = Future()
        work = functools.partial(fn, *args)
        if not self._queued(work, fut):
            self._run_one(work, fut)
        return fut

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` serialized with the engine, waited for: on the engine thread
        after what is queued (FIFO: an API call waits for the write batches ahead of it, at most
        the gate's turns, never for the writes behind them), or at once on the engine thread
        itself (re-entrant), or on the caller's thread holding the lock when no engine runs."""
        work = functools.partial(fn, *args, **kwargs)
        thread = self._thread
        if thread is None or thread is threading.current_thread() or self._owner == threading.get_ident():
            with self.lock:
                return work()
        fut: Future[T] = Future()
        if not self._queued(work, fut):
            self._run_one(work, fut)
        return fut.result()

    def post(self, fn: Callable[[], Any]) -> None:
        """``fn()`` on the engine thread, nothing waited for (an exception is logged): how UDF
        agents' reader threads hand their answers to the tasks (TaskMaster.post)."""
        if not self._queued(fn, None):
            self._run_one(fn, None)

    def submit(
        self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None
    ) -> Future[Future[None] | None]:
        """Route a written batch on the engine thread. The future's result is the commit the
        write's answer waits for (alert states its points made), None when none is pending.

        A small batch (at most :data:`INLINE_POINTS`) finding the engine idle (nothing queued,
        nothing running) runs at once on the caller's thread, holding the engine's lock: the hop
        to the engine thread (its wake-up, the GIL handed over and back) was a large part of
        write → alert latency, and a few points cost the loop less than that hop. Nothing queued
        is overtaken: an item the engine thread took but has not started yet belongs to a
        request not answered yet. Not while a running task may wait on something outside the
        process (:attr:`inline_ok`): the loop would wait with it."""
        if (
            len(batch) <= INLINE_POINTS
            and self._thread is not None
            and (self.inline_ok is None or self.inline_ok())
            and self._queue.empty()
            and self.lock.acquire(blocking=False)
        ):
            fut: Future[Future[None] | None] = Future()
            self._owner = threading.get_ident()
            try:
                fut.set_result(self.route(db, rp, batch, raw))
            except BaseException as exc:
                fut.set_exception(exc)
            finally:
                self._owner = None
                self.lock.release()
            return fut
        return self.call(self.route, db, rp, batch, raw)

    @contextlib.contextmanager
    def unlocked(self) -> Iterator[None]:
        """Inside an item (which holds the engine's lock once): the lock let go meanwhile, for work
        that touches no task, such as a large body's parse (GIL released), so a small write finding
        nothing queued may run on the loop meanwhile (:meth:`submit`) instead of waiting for the
        parse and then for the large body's points. It overtakes only the request being parsed,
        one not answered yet: no write a client saw answered, and nothing queued."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def write_points(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> None:
        """Route a batch serialized with the engine, waited for (from a thread that may wait: the
        engine thread itself, kapacitorLoopback; never the event loop)."""
        self.run(self._router().write_points, db, rp, batch, raw)

    def hand_off(self, db: str, rp: str, batch: PointBatch) -> Future[None]:
        """Route a batch on the engine thread after what is queued, not waited for: how the
        event loop's own inputs (UDP listeners, the ``[stats]`` points) hand their points over
        and go on answering; the future says when (and whether) they ran."""
        return self.call(self._router().write_points, db, rp, batch)

    def wants_raw(self) -> bool:
        return self._router().wants_raw()

    def _router(self) -> Router:
        if self.router is None:
            raise RuntimeError("the engine has no router")
        return self.router

    def route(self, db: str, rp: str, batch: PointBatch, raw: bytes | None = None) -> Future[None] | None:
        """Run a written batch through the router, on the engine thread (``/write`` parses and
        routes a large body in one item, kapfast.server.write). Returns the commit the write's
        answer waits for (alert states its points made), None when none is pending."""
        self._router().write_points(db, rp, batch, raw)
        self.batches += 1
        return self.durable() if self.durable is not None else None

    def _run_one(self, fn: Callable[[], Any], fut: Future[Any] | None) -> None:
        if fut is not None and not fut.set_running_or_notify_cancel():
            return
        try:
            with self.lock:
                result = fn()
        except BaseException as exc:
            if fut is None:
                log.exception("engine work failed")
            else:
                fut.set_exception(exc)
            return
        if fut is not None:
            fut.set_result(result)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run_one(*item)


class Serialized:
    """The task master as the server shares it: every method call runs serialized with the engine
    (:meth:`Engine.run`), wherever it is made from. Attributes (``tasks``, ``services``...) are the
    master's own; set ones are set on it.

    ``replay`` and ``explain_at`` run a task of their own on a recording (a replay can take
    minutes): they run on the caller's thread, so the live tasks go on meanwhile."""

    UNLOCKED = frozenset({"replay", "explain_at"})

    def __init__(self, inner: Any, engine: Engine) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "engine", engine)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or name in self.UNLOCKED or not callable(value):
            return value
        return functools.partial(self.engine.run, value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)


__all__ = ["Engine", "Serialized"]
