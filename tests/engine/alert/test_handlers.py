"""Every inline handler against real local receivers: files, an HTTP server, a TCP listener, a
program."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.servers import HttpReceiver, TcpReceiver
from tests.engine.alert.util import values_chunk

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.handlers.exec import ExecHandler
from kapfast.engine.alert.handlers.log import LogHandler
from kapfast.engine.alert.handlers.post import PostHandler
from kapfast.engine.alert.handlers.tcp import TcpHandler, split_address

EVENT = AlertEvent(
    id="cpu:nil",
    message="cpu:nil is CRITICAL <b>",
    details="",
    time_ns=10_000_000_000,
    duration_ns=0,
    level="CRITICAL",
    data=[{"name": "cpu", "tags": {}, "columns": ["time", "value"], "values": [[10_000_000_000, 5.0]]}],
)


def _wait(pred: object, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:  # type: ignore[operator]
        time.sleep(0.01)


def test_log_appends_lines_with_mode(tmp_path: Path) -> None:
    p = tmp_path / "alerts.log"
    h = LogHandler(str(p), 0o640)
    h.handle(EVENT)
    h.handle(EVENT)
    assert p.read_bytes() == EVENT.to_json_bytes() * 2
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640 & ~umask
    assert b"\\u003cb\\u003e" in p.read_bytes()  # Go's HTML-safe JSON


def test_log_relative_path_rejected() -> None:
    with pytest.raises(ValueError, match="absolute"):
        LogHandler("alerts.log")


def test_log_unwritable_is_handler_error(tmp_path: Path) -> None:
    h = LogHandler(str(tmp_path / "missing" / "a.log"))
    with pytest.raises(HandlerError, match="failed to open"):
        h.handle(EVENT)


def test_post_body_and_headers() -> None:
    with HttpReceiver() as srv:
        h = PostHandler(srv.url, {"X-Token": "abc"})
        h.handle(EVENT)
    assert srv.bodies == [EVENT.to_json_bytes()]
    assert srv.headers[0]["X-Token"] == "abc"
    assert srv.headers[0]["Content-Type"] == "application/json"


def test_post_http_error_captured() -> None:
    with HttpReceiver(status=500) as srv:
        h = PostHandler(srv.url, capture_response=True)
        with pytest.raises(HandlerError, match="HTTP 500: ok"):
            h.handle(EVENT)


def test_post_timeout_is_bounded() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)  # accepts the connection, never answers
    try:
        h = PostHandler(f"http://127.0.0.1:{s.getsockname()[1]}/", timeout_s=0.3)
        start = time.monotonic()
        with pytest.raises(HandlerError):
            h.handle(EVENT)
        assert time.monotonic() - start < 5
    finally:
        s.close()


def test_post_connection_refused() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(HandlerError, match="POST"):
        PostHandler(f"http://127.0.0.1:{port}/").handle(EVENT)


def test_tcp_sends_json_and_extra_newline() -> None:
    with TcpReceiver() as rcv:
        TcpHandler(rcv.address).handle(EVENT)
        _wait(lambda: rcv.payloads)
    assert rcv.payloads == [EVENT.to_json_bytes() + b"\n"]


def test_tcp_refused_is_handler_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(HandlerError, match="tcp"):
        TcpHandler(f"127.0.0.1:{port}").handle(EVENT)


def test_tcp_dials_an_ip_address_as_it_is_and_resolves_a_name() -> None:
    with TcpReceiver() as rcv:
        port = rcv.address.rsplit(":", 1)[1]
        by_ip, by_name = TcpHandler(f"127.0.0.1:{port}"), TcpHandler(f"localhost:{port}")
        assert by_ip.family is not None and by_name.family is None
        by_ip.handle(EVENT)
        by_name.handle(EVENT)
        _wait(lambda: len(rcv.payloads) == 2)
    assert rcv.payloads == [EVENT.to_json_bytes() + b"\n"] * 2
    assert TcpHandler("[::1]:9000").family is not None


def _start(h: TcpHandler, event: AlertEvent) -> None:
    """``start`` then, as the delivery lane would, the rest it left."""
    rest = h.start(event)
    if rest is not None:
        rest()


def test_tcp_start_delivers_what_handle_delivers_one_dial_per_event() -> None:
    with TcpReceiver() as rcv:
        h = TcpHandler(rcv.address)
        assert h.starts_without_waiting
        _start(h, EVENT)
        _start(h, EVENT)
        got = rcv.wait(2)
    assert got == [EVENT.to_json_bytes() + b"\n"] * 2


def test_tcp_start_refused_is_the_same_handler_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    h = TcpHandler(f"127.0.0.1:{port}")
    with pytest.raises(HandlerError) as by_handle:
        h.handle(EVENT)
    with pytest.raises(HandlerError) as by_start:
        _start(h, EVENT)
    assert str(by_start.value) == str(by_handle.value)


def test_tcp_start_leaves_a_connection_not_made_yet_to_its_rest() -> None:
    """A listener whose backlog is full drops the SYN: the connection is still being made when
    ``start`` returns, so the rest (run where waiting is allowed) finishes it once the listener
    accepts."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):  # never waited for: whatever the backlog takes fills it
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(listener.getsockname())
        fillers.append(f)
    host, port = listener.getsockname()
    h = TcpHandler(f"{host}:{port}")
    rest = h.start(EVENT)
    want = EVENT.to_json_bytes() + b"\n"
    got: list[bytes] = []

    def accept_until_delivered() -> None:
        listener.settimeout(30)
        while want not in got:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                got.append(data)

    t = threading.Thread(target=accept_until_delivered, daemon=True)
    t.start()
    for f in fillers:
        f.close()
    if rest is not None:  # (where the SYN was taken after all, start delivered it)
        rest()
    t.join(60)
    listener.close()
    assert want in got


def test_a_handler_that_cannot_start_without_waiting_leaves_it_all_to_its_rest() -> None:
    by_name = TcpHandler("localhost:9")
    assert not by_name.starts_without_waiting
    assert not PostHandler("http://127.0.0.1:9/").starts_without_waiting


def test_tcp_address_parsing() -> None:
    assert split_address("[::1]:9000") == ("::1", 9000)
    with pytest.raises(ValueError):
        split_address("nohost")


def _script(tmp_path: Path, body: str) -> str:
    p = tmp_path / "prog.py"
    p.write_text(f"#!{sys.executable}\n{body}")
    p.chmod(0o755)
    return str(p)


def test_exec_gets_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    prog = _script(tmp_path, f"import sys\nopen({str(out)!r}, 'ab').write(sys.stdin.buffer.read())\n")
    h = ExecHandler([prog, "arg"])
    h.handle(EVENT)
    assert json.loads(out.read_bytes())["id"] == "cpu:nil"


def test_exec_failure_and_timeout(tmp_path: Path) -> None:
    bad = _script(tmp_path, "import sys\nprint('nope')\nsys.exit(3)\n")
    with pytest.raises(HandlerError, match="exit status 3: nope"):
        ExecHandler([bad]).handle(EVENT)
    slow = _script(tmp_path, "import time\ntime.sleep(10)\n")
    with pytest.raises(HandlerError, match="killed"):
        ExecHandler([slow], timeout_s=0.3).handle(EVENT)
    with pytest.raises(HandlerError):
        ExecHandler([str(tmp_path / "missing")]).handle(EVENT)


def test_handlers_through_the_node_in_order(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    out = tmp_path / "exec.json"
    prog = _script(tmp_path, f"import sys\nopen({str(out)!r}, 'ab').write(sys.stdin.buffer.read())\n")
    with HttpReceiver() as srv, TcpReceiver() as rcv:
        script = (
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 1)"
            f".log('{log}').mode(0644).post('{srv.url}').header('A', 'b').timeout(2s)"
            f".tcp('{rcv.address}').exec('{prog}')"
        )
        r = build(script, "t")
        r.node.push(values_chunk([5, 0, 7]))
        _wait(lambda: len(rcv.payloads) == 3)
    levels = ["CRITICAL", "OK", "CRITICAL"]
    assert [json.loads(line)["level"] for line in log.read_text().splitlines()] == levels
    assert [json.loads(b)["level"] for b in srv.bodies] == levels
    assert srv.headers[0]["A"] == "b"
    assert sorted(json.loads(p)["time"] for p in rcv.payloads) == sorted(
        json.loads(line)["time"] for line in log.read_text().splitlines()
    )
    assert [json.loads(line)["level"] for line in out.read_text().splitlines()] == levels
    assert r.node.stats.extra["events_dropped"] == 0


def test_failing_handler_counted_others_still_run(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = tmp_path / "a.log"
    r = build(
        f"stream|from().measurement('cpu')|alert().crit(lambda: TRUE).tcp('127.0.0.1:{port}').log('{log}')",
        "t",
    )
    r.node.push(values_chunk([1, 2]))
    assert r.node.stats.extra["events_dropped"] == 2
    # counted per handler kind too (kapfast's own node counters), the one that works is not
    assert r.node.stats.extra["handler_errors_tcp"] == 2
    assert "handler_errors_log" not in r.node.stats.extra
    assert r.node.extra_values()["handler_errors_tcp"] == 2
    assert len(log.read_text().splitlines()) == 2


def _services_with_endpoint(name: str, url: str, headers: dict[str, str]) -> object:
    from kapfast.config import from_mapping
    from kapfast.engine.alert.services import AlertServices

    cfg, _ = from_mapping({"httppost": [{"endpoint": name, "url": url, "headers": headers}]})
    return AlertServices(cfg)


def test_post_endpoint_from_services(tmp_path: Path) -> None:
    with HttpReceiver() as srv:
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).post().endpoint('ops')",
            "t",
            {"alert_services": _services_with_endpoint("ops", srv.url, {"K": "v"})},
        )
        r.node.push(values_chunk([1]))
    assert len(srv.bodies) == 1 and srv.headers[0]["K"] == "v"


def test_unknown_endpoint_fails_start() -> None:
    from kapfast.errors import TaskError

    with pytest.raises(TaskError, match="endpoint"):
        build("stream|from().measurement('cpu')|alert().crit(lambda: TRUE).post().endpoint('nope')", "t")


def test_delivery_is_synchronous_in_order() -> None:
    # a slow receiver still gets events in order: delivery is one at a time
    order: list[str] = []
    lock = threading.Lock()
    with HttpReceiver() as srv:
        h = PostHandler(srv.url)
        for lvl in ("CRITICAL", "WARNING", "OK"):
            e = AlertEvent("x", "m", "", 0, 0, lvl, [])
            h.handle(e)
            with lock:
                order.append(lvl)
    assert [json.loads(b)["level"] for b in srv.bodies] == order


def test_post_loopback_ignores_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with HttpReceiver() as srv:
        PostHandler(srv.url).handle(EVENT)
    assert len(srv.bodies) == 1
