"""Write backpressure (a bounded queue, then 503 with Retry-After, counted) and the read timeout
that cuts request bodies which stop arriving. Uploads left half-sent hold their places in the
write queue, which makes the queue's bound observable without any timing."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kapfastd_proc import Kapfastd

LIMITS = """  max-concurrent-write-limit = 1
  max-enqueued-write-limit = 1
  read-timeout = "1s"
"""


@contextmanager
def half_sent(server: Kapfastd, path: str, length: int = 1000) -> Iterator[socket.socket]:
    """A request whose headers and first bytes were sent, and then nothing more."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "Content-Type: application/json\r\n\r\n"
    )
    sock.sendall(head.encode() + b"cpu value=1")
    try:
        yield sock
    finally:
        sock.close()


def _answer(sock: socket.socket) -> bytes:
    """The server's answer (its headers and body, once the body has begun)."""
    got = b""
    while b"\r\n\r\n" not in got or got.endswith(b"\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _rejected(server: Kapfastd) -> int:
    return int(
        server.request("GET", "/kapacitor/v1/debug/vars").json()["kapacitor"]["kapfast_http"]["values"][
            "writes_rejected"
        ]
    )


def test_a_full_write_queue_answers_503_with_retry_after(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = kapfastd_factory(http_options=LIMITS)
    assert _rejected(server) == 0
    with (
        half_sent(server, "/write?db=telegraf") as a,
        half_sent(server, "/kapacitor/v1/write?db=telegraf") as b,
    ):
        # both places taken (wait for the server to have seen them: the 3rd write is refused)
        busy = server.write("cpu value=2\n")
        while busy.status == 204:
            busy = server.write("cpu value=2\n")
        assert busy.status == 503, busy
        assert busy.headers["Retry-After"] == "1"
        assert "overloaded, retry later" in busy.text
        assert server.write("cpu value=3\n", "db=telegraf&rp=autogen").status == 503
        # the API and /ping are not behind the write queue
        assert server.request("GET", "/ping").status == 204
        assert server.api("GET", "/tasks").status == 200
        assert _rejected(server) >= 2
        # the stalled uploads are cut by the read timeout: 408, and the connection closed
        for sock in (a, b):
            answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert b"read-timeout" in answer
    # their places are free again
    assert server.write("cpu value=4\n").status == 204


def test_a_stalled_api_body_is_cut_by_the_read_timeout(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = kapfastd_factory(http_options=LIMITS)
    with half_sent(server, "/kapacitor/v1/tasks") as sock:
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"request body stalled" in answer
    assert server.request("GET", "/ping").status == 204


def test_without_limits_writes_are_never_refused(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    unlimited = '  max-concurrent-write-limit = 0\n  max-enqueued-write-limit = 0\n  read-timeout = "0s"\n'
    server = kapfastd_factory(http_options=unlimited)
    with half_sent(server, "/write?db=telegraf"), half_sent(server, "/write?db=telegraf"):
        assert all(server.write(f"cpu value={i}\n").status == 204 for i in range(20))
    assert _rejected(server) == 0
