"""A live tap on a node of a running task: what the node emits, as line protocol, to a reader.

"Why didn't my alert fire?" usually ends with someone adding ``|log()`` nodes to a production
script and redefining it. A tap shows the same without touching the task: ``kapfast tap cpu
where2`` prints the points leaving ``where2`` as they flow (``GET /kapfast/v1/tap/{task}/{node}``).

A node with no tap pays one attribute test per message. A tapped node serializes what it emits
in Rust and hands the text to each reader's queue on the reader's event loop. A slow reader
loses points; it is not allowed to slow the task. A comment line tells it how many points were lost.
Batch edges show each batch as a comment line (name, group, time) and then its points.
"""

from __future__ import annotations

import asyncio

from kapfast.engine.messages import Barrier, BatchMessage, BatchSet, DeleteGroup, Message, StreamChunk
from kapfast.timefmt import format_rfc3339_ns

#: chunks of text a reader may fall behind by before points are dropped
MAX_QUEUED = 1000


class Tap:
    """One reader of one node. ``queue`` yields text, ``None`` when the tap ended."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_queued: int = MAX_QUEUED) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.max_queued = max_queued
        #: points lost since the reader last heard of it
        self.dropped = 0

    def offer(self, text: str, points: int) -> None:
        """From any thread: queue ``text`` (``points`` points) for the reader."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(text, points)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._put, text, points)

    def _put(self, text: str, points: int) -> None:
        if self.queue.qsize() >= self.max_queued:
            self.dropped += points
            return
        if self.dropped:
            self.queue.put_nowait(f"# {self.dropped} points dropped: this reader is slower than the task\n")
            self.dropped = 0
        self.queue.put_nowait(text)

    def end(self) -> None:
        """The task stopped (or the server is stopping): the reader's stream ends."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.queue.put_nowait(None)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.queue.put_nowait, None)


def _group(gid: str) -> str:
    return gid.replace("\n", " ") if gid else "nil"


def render(msg: Message) -> tuple[str, int]:
    """A message as the tap shows it, and how many points it carries."""
    if isinstance(msg, StreamChunk):
        return msg.batch.to_line_protocol().decode("utf-8", "replace"), len(msg.batch)
    if isinstance(msg, BatchMessage):
        head = (
            f"# batch {msg.name} group={_group(msg.group.id)} time={format_rfc3339_ns(msg.tmax)} "
            f"points={len(msg.points)}\n"
        )
        return head + msg.points.to_line_protocol().decode("utf-8", "replace"), len(msg.points)
    if isinstance(msg, BatchSet):
        parts = [render(b) for b in msg.batches]
        return "".join(t for t, _ in parts), sum(n for _, n in parts)
    if isinstance(msg, Barrier):
        return f"# barrier group={_group(msg.group.id)} time={format_rfc3339_ns(msg.time)}\n", 0
    if isinstance(msg, DeleteGroup):
        return f"# delete group={_group(msg.group.id)}\n", 0
    return "", 0
