"""A thread of its own for one alert node's inline handlers (``.post()``, ``.tcp()``, ``.exec()``,
``.log()``, ...) when the task runs in the server.

Kapacitor hands an alert node's events to its handlers through a buffered channel, so a web hook
that hangs does not hold up the task. kapfast does the same: the task thread only queues the
event, and the node's lane delivers the events one at a time and in order. A lane that is full
(``[alert] topic-buffer-length`` events waiting) drops the event; the drop is counted in
``events_dropped`` and logged. Ingestion does not stall. When the task stops, the lane first
delivers what is queued (for up to a bound) and then stops.

``kapfast test`` and the test harness have no lanes: there the handlers run on the task's thread,
so what a test reads right after a write is already delivered, deterministically.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from kapfast.alert_event import AlertEvent

#: delivers an event as far as it goes without waiting; returns the rest (None: delivered)
Starter = Callable[[AlertEvent], Callable[[], None] | None]

#: how long a stopping task waits for its queued events to be delivered
CLOSE_TIMEOUT_S = 10.0


class DeliveryLane:
    """A bounded queue of events and the thread that hands them to ``deliver`` in order."""

    def __init__(
        self, name: str, capacity: int, deliver: Callable[[AlertEvent], None], log: logging.Logger
    ) -> None:
        self.name = name
        self.deliver = deliver
        self.log = log
        #: events, or the rest of an event's delivery begun by :meth:`put`'s ``start``
        self.queue: queue.Queue[AlertEvent | Callable[[], None] | None] = queue.Queue(
            maxsize=max(1, capacity)
        )
        self.thread: threading.Thread | None = None
        self.dropped = 0

    def put(self, event: AlertEvent, start: Starter | None = None) -> bool:
        """Queue ``event``; False (and logged) when the lane is full.

        ``start``: when the lane is idle (nothing queued, nothing being delivered), the event is
        first given to ``start``, on the caller's thread, which delivers what it can without
        waiting and returns the rest (None: delivered), queued in the event's place. The lane's
        thread then need not wake and get the GIL back for an event delivered at once
        (write → alert latency), and the events stay in order: one started here had nothing
        before it."""
        if start is not None and not self.queue.unfinished_tasks:
            rest = start(event)
            if rest is None:
                return True
            return self._put(rest)
        return self._put(event)

    def _put(self, item: AlertEvent | Callable[[], None]) -> bool:
        if self.thread is None:
            # started on the first event: a task whose alert never fires costs no thread
            self.thread = threading.Thread(target=self._run, name=f"alert-lane-{self.name}", daemon=True)
            self.thread.start()
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self.log.error(
                    "%s: handlers are %d events behind ([alert] topic-buffer-length): event dropped "
                    "(%d so far)",
                    self.name,
                    self.queue.maxsize,
                    self.dropped,
                )
            return False
        return True

    def _run(self) -> None:
        q = self.queue
        while True:
            event = q.get()
            try:
                if event is None:
                    return
                if isinstance(event, AlertEvent):
                    self.deliver(event)
                else:
                    event()
            except Exception:  # the lane must outlive any handler bug
                self.log.exception("%s: alert delivery failed", self.name)
            finally:
                q.task_done()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Deliver what is queued (for up to ``timeout_s``), then stop the thread."""
        t = self.thread
        if t is None:
            return
        with contextlib.suppress(queue.Full):  # still full after the wait: reported below
            self.queue.put(None, timeout=timeout_s)
        t.join(timeout_s)
        if t.is_alive():
            self.log.error(
                "%s: %d alert events not delivered when the task stopped", self.name, self.queue.qsize()
            )
        self.thread = None
