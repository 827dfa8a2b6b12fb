"""One connection to a UDF agent: a process of its own (stdin/stdout) or a unix socket.

Framing and messages are built and parsed in Rust (``kapfast.udf.wire``);
this module moves the bytes. A writer thread writes what the node queued (so a chunk never waits
for a slow agent unless 64 MB are already queued for it); a reader thread reads the agent's
output as it comes (agents need not flush per message) and queues the decoded events; a third
logs the process's stderr tagged with the UDF's name. Every wait is bounded by the function's
``timeout``: an agent that hangs, exits, writes a malformed frame or answers ``Error`` raises
:class:`UDFError`, never a hang.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from kapfast.config import UDFFunctionConfig
from kapfast.errors import UDFError
from kapfast.gofmt import time_string
from kapfast.logs import tagged
from kapfast.udf.wire import (
    UdfDecoder,
    udf_encode_info,
    udf_encode_init,
    udf_encode_keepalive,
    udf_encode_restore,
    udf_encode_snapshot,
)

log = logging.getLogger("kapfast.udf")

#: the events that carry data the node passes on (``UdfDecoder.feed``)
DATA_EVENTS = frozenset({"points", "batch", "skipped"})
#: bytes queued for an agent beyond which a sender waits for it to read (at most its timeout)
MAX_PENDING = 64 << 20
_READ_SIZE = 1 << 20


class Agent:
    """A started agent. ``name`` is the UDF's config name (messages and log tags name it)."""

    def __init__(self, name: str, fc: UDFFunctionConfig, *, label: str = "") -> None:
        self.name = name
        self.timeout = fc.timeout_ns / 1e9
        self.log = tagged(log, udf=name, **({"node": label} if label else {}))
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._decoder = UdfDecoder()
        self._keepalive_seq = itertools.count(1)
        self.last_response = time.monotonic()
        self._last_keepalive_ns = 0
        self._keepalive_sent = 0.0
        #: when the oldest keepalive not answered by any response was sent (monotonic)
        self._unanswered_since: float | None = None
        self._barrier_ns = 0
        self.failure: str | None = None
        #: called by the reader thread after it queued what it read (the node drains then)
        self.notify: Callable[[], None] | None = None
        self.closed = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        #: what the writer thread has still to write (bytes, or None: close the input)
        self._out: queue.Queue[bytes | None] = queue.Queue()
        self._pending = 0
        self._pending_cond = threading.Condition()
        self._write_error: str | None = None
        if fc.socket:
            self._connect(fc.socket)
        else:
            self._spawn(fc)
        threading.Thread(target=self._read_loop, name=f"udf-{name}-out", daemon=True).start()
        self._writer = threading.Thread(target=self._write_loop, name=f"udf-{name}-in", daemon=True)
        self._writer.start()

    # --- transport -----------------------------------------------------------------------------

    def _spawn(self, fc: UDFFunctionConfig) -> None:
        env = dict(os.environ)
        env.update(fc.env)
        try:
            self.proc = subprocess.Popen(
                [fc.prog, *fc.args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            raise UDFError(f"UDF {self.name}: cannot start {fc.prog!r}: {exc.strerror or exc}") from None
        assert self.proc.stdin is not None and self.proc.stderr is not None
        threading.Thread(target=self._stderr_loop, name=f"udf-{self.name}-err", daemon=True).start()

    def _connect(self, path: str) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(path)
        except OSError as exc:
            s.close()
            raise UDFError(
                f"UDF {self.name}: cannot connect to socket {path!r}: {exc.strerror or exc}"
            ) from None
        self.sock = s

    def _read_chunk(self) -> bytes:
        if self.sock is not None:
            while True:
                try:
                    return self.sock.recv(_READ_SIZE)
                except TimeoutError:
                    if self.closed:
                        return b""
                    continue  # an idle agent; the keepalive decides whether it hangs
        assert self.proc is not None and self.proc.stdout is not None
        return os.read(self.proc.stdout.fileno(), _READ_SIZE)

    def _read_loop(self) -> None:
        put = self._events.put
        try:
            while True:
                data = self._read_chunk()
                if not data:
                    put(("eof",))
                    return
                try:
                    events = self._decoder.feed(data)
                except ValueError as exc:
                    put(("garbage", str(exc)))
                    return
                for ev in events:
                    put(ev)
                if events and self.notify is not None:
                    self.notify()
        except OSError as exc:
            put(("eof", str(exc)))
        finally:
            if self.notify is not None and not self.closed:
                self.notify()  # the end (or garbage) fails the task now, not at the next tick
            if self.proc is not None and self.proc.stdout is not None:
                self.proc.stdout.close()

    def _stderr_loop(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        with self.proc.stderr:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line:
                    self.log.info("%s", line)

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the writer thread (order kept). More than ``MAX_PENDING`` bytes
        queued waits, at most the timeout: an agent that stops reading its input fails."""
        if self.failure is not None:
            raise UDFError(self.failure)
        with self._pending_cond:
            deadline = time.monotonic() + self.timeout
            while self._pending > MAX_PENDING and self._write_error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(f"write timed out after {self.timeout:g}s: the agent does not read its input")
                self._pending_cond.wait(left)
            if self._write_error is not None:
                self._fail(self._exit_reason() or f"write error: {self._write_error}")
            self._pending += len(data)
        self._out.put(data)

    def _write_all(self, data: bytes) -> None:
        if self.sock is not None:
            view = memoryview(data)
            while view:
                try:
                    view = view[self.sock.send(view) :]
                except TimeoutError:
                    if self.closed:
                        raise
            return
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def _write_loop(self) -> None:
        """Writes what :meth:`send` queued; ``None`` ends the agent's input (a clean close). The
        process's stdin is this thread's: only it closes it (no write can hit a reused fd)."""
        try:
            while True:
                data = self._out.get()
                if data is None:
                    return
                try:
                    self._write_all(data)
                except (OSError, ValueError) as exc:
                    with self._pending_cond:
                        self._write_error = getattr(exc, "strerror", None) or str(exc)
                        self._pending_cond.notify_all()
                    return
                with self._pending_cond:
                    self._pending -= len(data)
                    self._pending_cond.notify_all()
        finally:
            with contextlib.suppress(OSError):
                if self.sock is not None:
                    self.sock.shutdown(socket.SHUT_WR)
                elif self.proc is not None and self.proc.stdin is not None:
                    self.proc.stdin.close()

    # --- responses -----------------------------------------------------------------------------

    def _exit_reason(self) -> str | None:
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=min(self.timeout, 1.0))
        except subprocess.TimeoutExpired:
            return None
        if code < 0:
            return f"process exited unexpectedly: signal: {-code}"
        return f"process exited unexpectedly: exit status {code}"

    def _fail(self, reason: str) -> Any:
        if self.failure is None:
            self.failure = f"UDF {self.name}: {reason}"
        self.abort()
        raise UDFError(self.failure)

    def _timed_out(self) -> Any:
        # Kapacitor's message, with Go's time format (the epoch when none was ever received)
        return self._fail(
            "keepalive timedout, last keepalive received was: " + time_string(self._last_keepalive_ns)
        )

    def _check(self, ev: tuple[Any, ...]) -> None:
        """Raise for the events that end the agent."""
        kind = ev[0]
        if kind == "error":
            self._fail(f"agent error: {ev[1]}")
        if kind == "garbage":
            self._fail(f"failed to read response: {ev[1]}")
        if kind == "eof":
            if self.sock is not None:
                self._fail("socket closed by the agent" + (f": {ev[1]}" if len(ev) > 1 else ""))
            self._fail(self._exit_reason() or "process closed its output")

    def _next(self, asked: float) -> tuple[Any, ...]:
        """The next event, waiting at most ``timeout`` after the last response or after we asked
        (``asked``, monotonic), whichever is later."""
        while True:
            left = max(self.last_response, asked) + self.timeout - time.monotonic()
            try:
                ev = self._events.get(timeout=max(left, 0.0))
            except queue.Empty:
                self._timed_out()
            self.last_response = time.monotonic()
            if ev[0] == "keepalive":
                self._last_keepalive_ns = time.time_ns()
            self._check(ev)
            return ev

    def _wait(
        self,
        kind: str,
        out: list[tuple[Any, ...]],
        match: Callable[[tuple[Any, ...]], bool] | None = None,
    ) -> tuple[Any, ...]:
        """Events up to the first ``kind`` one (data events before it go to ``out``)."""
        if self.failure is not None:
            raise UDFError(self.failure)
        asked = time.monotonic()
        while True:
            ev = self._next(asked)
            if ev[0] == kind and (match is None or match(ev)):
                return ev
            if ev[0] in DATA_EVENTS:
                out.append(ev)

    def info(self) -> tuple[Any, ...]:
        """``("info", wants, provides, {option: [value types]})``."""
        self.send(udf_encode_info())
        return self._wait("info", [])

    def init(self, options: list[tuple[str, list[tuple[int, Any]]]], task_id: str, node_id: str) -> None:
        self.send(udf_encode_init(options, task_id, node_id))
        ev = self._wait("init", [])
        if not ev[1]:
            self._fail(f"failed to initialize processes {ev[2]}")

    def snapshot(self, out: list[tuple[Any, ...]]) -> bytes:
        self.send(udf_encode_snapshot())
        ev = self._wait("snapshot", out)
        return bytes(ev[1])

    def restore(self, data: bytes) -> None:
        self.send(udf_encode_restore(data))
        ev = self._wait("restore", [])
        if not ev[1]:
            self._fail(f"error restoring snapshot: {ev[2]}")

    def barrier(self, out: list[tuple[Any, ...]]) -> None:
        """Wait until the agent handled everything sent so far: a keepalive of our own answered
        (agents answer requests in order). Data it sent meanwhile goes to ``out``."""
        t = self._barrier_ns = max(time.time_ns(), self._barrier_ns + 1)
        self.send(udf_encode_keepalive(t))
        self._wait("keepalive", out, lambda ev: bool(ev[1] == t))

    def poll(self, out: list[tuple[Any, ...]]) -> None:
        """Take what the agent sent (no waiting), and keep it alive: a keepalive every
        timeout/2; no response for a whole timeout while one is due fails it."""
        self.take(out)
        now = time.monotonic()
        if self._unanswered_since is not None and self._unanswered_since <= self.last_response:
            self._unanswered_since = None  # it answered (any response counts, as in Kapacitor)
        if self._unanswered_since is not None and now - self._unanswered_since > self.timeout:
            self._timed_out()
        if now - max(self._keepalive_sent, self.last_response) >= self.timeout / 2:
            self._keepalive_sent = now
            if self._unanswered_since is None:
                self._unanswered_since = now
            self.send(udf_encode_keepalive(time.time_ns()))

    def take(self, out: list[tuple[Any, ...]]) -> None:
        """What the agent sent so far, without waiting (failures raise, after the data before
        them went to ``out``)."""
        if self.failure is not None:
            raise UDFError(self.failure)
        while True:
            try:
                ev = self._events.get_nowait()
            except queue.Empty:
                break
            self.last_response = time.monotonic()
            if ev[0] == "keepalive":
                self._last_keepalive_ns = time.time_ns()
            self._check(ev)
            if ev[0] in DATA_EVENTS:
                out.append(ev)

    # --- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """A clean stop: close the agent's input (a process exits on EOF), wait up to the timeout,
        then kill it."""
        if self.closed:
            return
        self.closed = True
        self._out.put(None)  # after what is queued: the agent sees the end of its input
        self._writer.join(self.timeout)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            return
        assert self.proc is not None
        try:
            self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=self.timeout)

    def abort(self) -> None:
        """A failed agent: kill it now."""
        if self.closed:
            return
        self.closed = True
        self._out.put(None)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
                self.sock.close()
            return
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()  # a write in progress fails now; the writer closes stdin
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=self.timeout)
