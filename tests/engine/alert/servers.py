"""Real local receivers for the alert handlers on 127.0.0.1: HTTP servers (http.server and
aiohttp), a TCP listener and an SMTP server."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from types import TracebackType
from typing import Any

from aiohttp import web
from tests.engine.recorder import Recorder


class HttpReceiver(Recorder):
    """Collects request bodies (and headers) in arrival order; answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(lambda _req: (self.status, "text/plain", b"ok"))
        self.status = status

    @property
    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]

    @property
    def headers(self) -> list[dict[str, str]]:
        return [r.headers for r in self.requests]

    @property
    def url(self) -> str:
        return super().url + "/alert"


class TcpReceiver:
    """Accepts connections and keeps what each one sent until it closed its side; then answers
    ``reply`` (a Sensu client answers ``ok``) and closes."""

    def __init__(self, reply: bytes = b"") -> None:
        self.reply = reply
        self.received = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.payloads: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                chunks = []
                while True:
                    b = conn.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                if self.reply:
                    conn.sendall(self.reply)
            with self.received:
                self.payloads.append(b"".join(chunks))
                self.received.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list[bytes]:
        with self.received:
            self.received.wait_for(lambda: len(self.payloads) >= n, timeout)
        return list(self.payloads)

    def __enter__(self) -> TcpReceiver:
        self.thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


class SmtpServer:
    """A small real SMTP server on 127.0.0.1 (asyncio, in a thread): EHLO/HELO, AUTH PLAIN and
    LOGIN (offered only when ``credentials`` are set), MAIL, RCPT, DATA, RSET, NOOP, QUIT.

    Written here rather than taking aiosmtpd as a test dependency: the handler needs only this
    much of the protocol, and a server we control can also count connections and refuse logins.
    Received mail is kept as ``(mail_from, rcpt_to, message bytes)``.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.logins: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self.thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0
        self.received = threading.Condition()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)

        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 127.0.0.1 test SMTP ready")
        mail_from, rcpt = "", []
        authed = self.credentials is None
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                arg = line[len(verb) :].strip()
                if verb in ("EHLO", "HELO"):
                    if verb == "EHLO" and self.credentials is not None:
                        await say("250-127.0.0.1")
                        await say("250 AUTH PLAIN LOGIN")
                    else:
                        await say("250 127.0.0.1")
                elif verb == "AUTH":
                    authed = await self._auth(arg, reader, say)
                elif verb == "MAIL":
                    if not authed:
                        await say("530 5.7.0 Authentication required")
                        continue
                    mail_from, rcpt = arg.split(":", 1)[1].strip().strip("<>"), []
                    await say("250 OK")
                elif verb == "RCPT":
                    rcpt.append(arg.split(":", 1)[1].strip().strip("<>"))
                    await say("250 OK")
                elif verb == "DATA":
                    await say("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while True:
                        d = await reader.readline()
                        if d in (b".\r\n", b""):
                            break
                        lines.append(d[1:] if d.startswith(b"..") else d)
                    with self.received:
                        self.messages.append((mail_from, rcpt, b"".join(lines)))
                        self.received.notify_all()
                    await say("250 OK queued")
                elif verb == "RSET":
                    mail_from, rcpt = "", []
                    await say("250 OK")
                elif verb == "NOOP":
                    await say("250 OK")
                elif verb == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("502 command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _auth(self, arg: str, reader: asyncio.StreamReader, say: Any) -> bool:
        mech, _, initial = arg.partition(" ")
        user = password = ""
        if mech.upper() == "PLAIN":
            if not initial:
                await say("334 ")
                initial = (await reader.readline()).decode().strip()
            parts = base64.b64decode(initial).split(b"\0")
            user, password = parts[1].decode(), parts[2].decode()
        elif mech.upper() == "LOGIN":
            await say("334 VXNlcm5hbWU6")
            user = base64.b64decode((await reader.readline()).strip()).decode()
            await say("334 UGFzc3dvcmQ6")
            password = base64.b64decode((await reader.readline()).strip()).decode()
        if self.credentials == (user, password):
            self.logins.append(user)
            await say("235 2.7.0 Authentication successful")
            return True
        await say("535 5.7.8 Authentication credentials invalid")
        return False

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[str, list[str], bytes]]:
        with self.received:
            self.received.wait_for(lambda: len(self.messages) >= n, timeout)
        return list(self.messages)

    def __enter__(self) -> SmtpServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()
            await asyncio.sleep(0)
            if self._server is not None:
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(5)
        self._loop.close()


class AiohttpReceiver:
    """A real aiohttp server (own loop, in a thread) that records POSTs (path, headers, body) and
    answers ``status`` with ``reply`` (a Slack webhook answers 200 ``ok``)."""

    def __init__(self, status: int = 200, reply: bytes = b"ok") -> None:
        self.status = status
        self.reply = reply
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        #: the query string of each request, in the same order
        self.queries: list[str] = []
        self._loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.received = threading.Condition()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.received:
            self.requests.append((request.path, dict(request.headers), body))
            self.queries.append(request.query_string)
            self.received.notify_all()
        return web.Response(status=self.status, body=self.reply)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[str, dict[str, str], bytes]]:
        with self.received:
            self.received.wait_for(lambda: len(self.requests) >= n, timeout)
        return list(self.requests)

    def __enter__(self) -> AiohttpReceiver:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(5)
        self._loop.close()
