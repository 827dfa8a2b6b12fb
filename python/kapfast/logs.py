"""Structured logging for kapfastd: every log line carries tags, as Kapacitor's do.

A line is ``ts``, ``lvl``, ``msg`` and then tags::

    ts=2026-11-23T07:45:00.123Z lvl=info msg="started task" service=kapacitor task_master=main task=cpu

Tags come from two places, so that code logging through the standard :mod:`logging` module gets
them without ceremony:

* the logger's name: ``kapfast.task.<task>.<node>`` (the engine's node loggers) gives
  ``service=kapacitor task_master=main task=<task> node=<node>``; other ``kapfast.*`` loggers give
  ``service=<name>`` (``kapfast.http`` → ``service=http``, ``kapfast.influxdb.*`` →
  ``service=influxdb``);
* ``extra={"tags": {...}}`` on the call, or a :func:`tagged` logger adapter.

The same :class:`LogEntry` is rendered as logfmt (the log file) or as a flat JSON object (the
``/kapacitor/v1preview/logs`` stream for clients that ask for JSON, e.g. Chronograf).

:class:`LogBroker` is a :class:`logging.Handler` that hands matching entries to the live log
streams. A stream whose reader is slower than the log drops lines (counted, and said in the
stream) instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

#: Kapacitor's level names, lowest first.
LEVELS: tuple[str, ...] = ("debug", "info", "warn", "error")
_LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
#: The ``[logging] level`` / ``-log-level`` / ``POST /loglevel`` names and their logging levels.
LEVEL_NUMBERS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "OFF": logging.CRITICAL + 1,
}

# `kapfast.<first part>` logger names whose service tag differs from that part.
_SERVICE_NAMES = {
    "tasks": "task_store",
    "recordings": "replay",
    "replays": "replay",
    "router": "kapacitor",
    "server": "kapacitor",
    "influxdb_out": "influxdb_out",
}
_TASK_PREFIX = "kapfast.task."


def level_name(levelno: int) -> str:
    """A logging level as Kapacitor names it (``WARNING`` → ``warn``, ``CRITICAL`` → ``error``)."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def parse_level(text: str) -> int:
    """``DEBUG``/``INFO``/``WARN``/``ERROR``/``OFF`` (any case) as a logging level; ValueError else."""
    try:
        return LEVEL_NUMBERS[text.strip().upper()]
    except KeyError:
        raise ValueError(f"invalid log level {text!r}: expected DEBUG, INFO, WARN, ERROR or OFF") from None


def tags_of_logger(name: str) -> dict[str, str]:
    """The tags a logger's name implies (see the module docstring)."""
    if name.startswith(_TASK_PREFIX):
        # Task IDs may hold dots; node names (`alert3`, `log2`) never do.
        task, _, node = name[len(_TASK_PREFIX) :].rpartition(".")
        if not task:
            task, node = node, ""
        tags = {"service": "kapacitor", "task_master": "main", "task": task}
        if node:
            tags["node"] = node
        return tags
    if name == "kapfastd":
        return {"service": "run"}
    if name.startswith("kapfast."):
        part = name.split(".", 2)[1]
        return {"service": _SERVICE_NAMES.get(part, part)}
    return {"service": name or "root"}


@dataclass(frozen=True, slots=True)
class LogEntry:
    ts: str
    lvl: str
    msg: str
    tags: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        if key == "lvl":
            return self.lvl
        if key == "msg":
            return self.msg
        return self.tags.get(key)

    def logfmt(self) -> str:
        parts = [f"ts={self.ts}", f"lvl={self.lvl}", f"msg={_logfmt_value(self.msg)}"]
        parts += [f"{_logfmt_key(k)}={_logfmt_value(v)}" for k, v in self.tags.items()]
        return " ".join(parts)

    def json(self) -> str:
        return json.dumps(
            {"ts": self.ts, "lvl": self.lvl, "msg": self.msg, **self.tags},
            ensure_ascii=False,
            separators=(",", ":"),
        )


def _logfmt_key(key: str) -> str:
    return "".join(c if c > " " and c not in '="' else "_" for c in key) or "_"


def _logfmt_value(value: str) -> str:
    if value and not any(c <= " " or c in '="\\' for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def timestamp(created: float) -> str:
    # RFC 3339 with milliseconds in UTC, as Go prints a UTC time ("Z").
    t = _dt.datetime.fromtimestamp(created, _dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def entry_of(record: logging.LogRecord) -> LogEntry:
    """The structured form of a record (its message formatted, its tags gathered)."""
    tags = tags_of_logger(record.name)
    extra = getattr(record, "tags", None)
    if isinstance(extra, Mapping):
        tags.update({str(k): str(v) for k, v in extra.items()})
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        tags["err"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return LogEntry(timestamp(record.created), level_name(record.levelno), record.getMessage(), tags)


class LogfmtFormatter(logging.Formatter):
    """One logfmt line per record; a traceback, when there is one, follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = entry_of(record).logfmt()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class TaggedLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose every record carries ``tags`` (merged with the call's own ``extra`` tags)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(kwargs.get("extra") or {})
        base = dict(self.extra or {})
        extra["tags"] = {**base, **(extra.get("tags") or {})}
        kwargs["extra"] = extra
        return msg, kwargs


def tagged(logger: str | logging.Logger, **tags: str) -> TaggedLogger:
    """``tagged("kapfast.http", method="GET")``: a logger adding these tags to every line."""
    base = logging.getLogger(logger) if isinstance(logger, str) else logger
    return TaggedLogger(base, tags)


# ---- filters of the live log streams -----------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """Which entries a stream wants: every tag equal, and the level (exactly, or at least with ``+``).

    Built from query parameters as Kapacitor takes them: ``task=cpu_alert&lvl=info+``.
    """

    tags: tuple[tuple[str, str], ...] = ()
    level: str = ""
    at_least: bool = False

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> LogFilter:
        tags: list[tuple[str, str]] = []
        level, at_least = "", False
        for key, value in pairs:
            if key == "lvl":
                at_least = value.endswith("+")
                level = value.rstrip("+").strip().lower()
                if level == "warning":
                    level = "warn"
                if level not in _LEVEL_RANK:
                    raise ValueError(
                        f"invalid lvl {value!r}: expected debug, info, warn or error, "
                        "optionally with + (that level or above)"
                    )
            elif key:
                tags.append((key, value))
        return cls(tuple(tags), level, at_least)

    def matches(self, entry: LogEntry) -> bool:
        if self.level:
            rank, want = _LEVEL_RANK[entry.lvl], _LEVEL_RANK[self.level]
            if rank < want or (rank != want and not self.at_least):
                return False
        return all(entry.get(k) == v for k, v in self.tags)


class LogStream:
    """One reader of the live log: a bounded queue of matching entries."""

    def __init__(self, flt: LogFilter, loop: asyncio.AbstractEventLoop, max_lines: int) -> None:
        self.filter = flt
        self.loop = loop
        # None ends the stream (the server is stopping).
        self.queue: asyncio.Queue[LogEntry | None] = asyncio.Queue(max_lines)
        #: lines lost because the reader fell behind (reported to it, then reset)
        self.dropped = 0

    def _put(self, entry: LogEntry) -> None:
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1

    def _end(self) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(None)


class LogBroker(logging.Handler):
    """Fans log records out to the live streams (``GET /kapacitor/v1preview/logs``).

    Attach it to the root logger; it costs nothing while no stream is open. Records may come from
    any thread; entries are queued on each stream's event loop.
    """

    def __init__(self, max_lines_per_stream: int = 10_000) -> None:
        super().__init__(logging.NOTSET)
        self.max_lines = max_lines_per_stream
        self._streams: list[LogStream] = []
        self._guard = threading.Lock()

    def open(self, flt: LogFilter) -> LogStream:
        stream = LogStream(flt, asyncio.get_running_loop(), self.max_lines)
        with self._guard:
            self._streams = [*self._streams, stream]
        return stream

    def close_stream(self, stream: LogStream) -> None:
        with self._guard:
            self._streams = [s for s in self._streams if s is not stream]

    def end_all(self) -> None:
        """End every stream (the server is stopping); call on the streams' event loop."""
        with self._guard:
            streams, self._streams = self._streams, []
        for s in streams:
            s._end()

    @property
    def streams(self) -> int:
        return len(self._streams)

    def emit(self, record: logging.LogRecord) -> None:
        streams = self._streams  # replaced, never mutated: no lock needed to read
        if not streams:
            return
        try:
            entry = entry_of(record)
        except Exception:  # a bad %-format in somebody's log call must not break logging
            self.handleError(record)
            return
        for s in streams:
            if not s.filter.matches(entry):
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is s.loop:
                s._put(entry)
            elif not s.loop.is_closed():
                s.loop.call_soon_threadsafe(s._put, entry)


__all__ = [
    "LEVELS",
    "LEVEL_NUMBERS",
    "LogBroker",
    "LogEntry",
    "LogFilter",
    "LogStream",
    "LogfmtFormatter",
    "TaggedLogger",
    "entry_of",
    "level_name",
    "parse_level",
    "tagged",
    "tags_of_logger",
    "timestamp",
]
