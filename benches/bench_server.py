"""The real kapfastd end to end: points per server CPU-second, write → alert latency, replay and
ingest while a stream recording runs — each beside a peer measured in the same run.

kapfastd runs as a subprocess on loopback with its embedded defaults (a temp data dir) and the
task ``from|where|window|mean|alert``; 2 client processes POST 5,000-line Telegraf ``cpu`` bodies
(bench_lineproto's data) over keep-alive connections. The server's CPU time is read from
``/proc/<pid>/stat`` (user + system) around each round; a round's figure is its points ÷ that
CPU time, and rows quote the median round. Peers, in this process, same run:

- parse only: ``kapfast.lineproto.parse`` of the same 5,000-line bodies, one at a time, through a
  warm series index as the server's ``/write`` parses them (CPU time);
- one large body: the same points parsed as one body on one thread;
- replay: ``kapfast test``'s replay (kapfast.engine.replay.replay_stream) of a gzipped ``.srpl``
  recording of the same points, as kapfast records it, through the same task, against live ingest;
- recording: rounds sent while ``POST /recordings/stream`` captures the task, against rounds without
  (alternating; each write's 204 waits until its points are in the recording's file);
- latency: one probe point every 20 ms on its own connection while a third client sends 100,000
  points/s; the time from sending the probe's POST to its alert arriving at a TCP handler
  (``.tcp()``) in this process, p50 and p99 (the peer figure is the issue's 2 ms target).

    python benches/bench_server.py [--lines N] [--rounds R] [--probes P]
    python benches/bench_server.py --latency-only [--probes P]   # the latency row alone
    pytest benches -s          # same, with KAPFAST_BENCH_SERVER_LINES (default 300,000)
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import multiprocessing as mp
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from bench_lineproto import gen_data, median_seconds
from kapfast import lineproto

BODY_LINES = 5_000
CLIENTS = 2
TICKS = os.sysconf("SC_CLK_TCK")

SCRIPT = """stream
    |from().measurement('cpu').where(lambda: "usage_idle" < 95.0).groupBy('host')
    |window().period(1m).every(1m)
    |mean('usage_user')
    |alert().crit(lambda: "mean" > 90.0).id('{{ .Group }}')
"""

PROBE_SCRIPT = """stream
    |from().measurement('probe').groupBy('n')
    |alert().crit(lambda: "v" > 0).id('{{ index .Tags "n" }}').tcp('127.0.0.1:%d')
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Server:
    def __init__(self, directory: Path, extra: str = "", env: dict[str, str] | None = None) -> None:
        """kapfastd on a free port; ``extra`` is appended to its config (e.g. a ``[cluster]``),
        ``env`` added to its environment."""
        self.port = free_port()
        self.dir = directory
        cfg = directory / "kapfastd.toml"
        cfg.write_text(
            f'hostname = "127.0.0.1"\ndata_dir = "{directory / "data"}"\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            '[logging]\n  level = "WARN"\n[[influxdb]]\n  enabled = false\n  name = "default"\n' + extra
        )
        own = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
        self.log = open(directory / "kapfastd.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kapfast.daemon", "-config", str(cfg)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=own | (env or {}),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kapfastd exited: {(directory / 'kapfastd.log').read_text()[-2000:]}")
            try:
                if self.request("GET", "/kapacitor/v1/ping")[0] == 204:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kapfastd did not start")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def request_raw(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` as it is (line protocol)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("POST", path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def define(self, ident: str, script: str) -> None:
        status, text = self.request(
            "POST",
            "/kapacitor/v1/tasks",
            {
                "id": ident,
                "type": "stream",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": script,
                "status": "enabled",
            },
        )
        if status != 200:
            raise RuntimeError(f"define {ident}: {status} {text!r}")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _post_all(port: int, bodies: list[bytes], start: Any, done: Any) -> None:
    """A client process: POST each body on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start.wait()
    for body in bodies:
        conn.request("POST", "/write?db=telegraf&rp=autogen", body=body)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 204:
            raise RuntimeError(f"write answered {resp.status}")
    conn.close()
    done.put(1)


def _paced(port: int, bodies: list[bytes], per_s: float, stop: Any) -> None:
    """A client process sending ``per_s`` bodies a second until ``stop`` is set (or out of bodies)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.monotonic()
    for i, body in enumerate(bodies):
        if stop.is_set():
            break
        delay = t0 + i / per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        conn.request("POST", "/write?db=telegraf&rp=autogen", body=body)
        conn.getresponse().read()
    conn.close()


def send_round(server: Server, bodies: list[bytes]) -> tuple[float, float]:
    """All bodies through CLIENTS client processes: (the server's CPU seconds, wall seconds)."""
    ctx = mp.get_context("fork")
    start, done = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_post_all, args=(server.port, bodies[i::CLIENTS], start, done))
        for i in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    time.sleep(0.3)  # clients connected and idle: their start-up is not the server's
    c0, w0 = server.cpu(), time.perf_counter()
    start.set()
    for _ in procs:
        done.get(timeout=600)
    c1, w1 = server.cpu(), time.perf_counter()
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError("a client failed")
    return c1 - c0, w1 - w0


def split_bodies(data: bytes, lines: int) -> list[bytes]:
    rows = data.split(b"\n")[:-1]
    return [b"\n".join(rows[i : i + lines]) + b"\n" for i in range(0, len(rows), lines)]


class AlertListener:
    """A TCP handler target: records the arrival time of each alert by its id.

    One thread and a selector: an alert's time is taken as soon as its bytes can be read, not
    after a thread was started for its connection (which cost the row ~0.1-0.3 ms of the bench's
    own)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.arrived: dict[str, int] = {}
        self._closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._closed.set()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        bufs: dict[socket.socket, bytes] = {}
        while not self._closed.is_set():
            for key, _ in sel.select(0.1):
                t = time.monotonic_ns()
                if key.data is None:
                    with suppress(BlockingIOError):
                        conn, _ = self.sock.accept()
                        conn.setblocking(False)
                        sel.register(conn, selectors.EVENT_READ, t)
                        bufs[conn] = b""
                    continue
                conn = cast(socket.socket, key.fileobj)
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    continue
                buf = bufs[conn] + data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._got(line, t)
                bufs[conn] = buf
                if not data:
                    if buf.strip():
                        self._got(buf, t)
                    sel.unregister(conn)
                    conn.close()
                    del bufs[conn]
        sel.close()
        self.sock.close()

    def _got(self, line: bytes, t: int) -> None:
        with suppress(ValueError, KeyError):
            self.arrived.setdefault(json.loads(line)["id"], t)


class Prober:
    """Probe writes on one keep-alive connection, each request built before its clock starts and
    sent with one ``sendall`` (http.client spent ~0.2 ms of the bench's own CPU building each
    one after the 20 ms pause, counted as the server's latency before)."""

    PATH = "/write?db=telegraf&rp=autogen"

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def request(body: bytes) -> bytes:
        head = f"POST {Prober.PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def send(self, request: bytes) -> int:
        """Send ``request``: the monotonic time it started going out."""
        t0 = time.monotonic_ns()
        self.sock.sendall(request)
        return t0

    def answer(self) -> int:
        """Read the answer to the last request: its status."""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self.buf += self._recv()
        self.buf = self.buf[length:]
        return int(head.split(b" ", 2)[1])

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the probe connection")
        return data

    def close(self) -> None:
        self.sock.close()


def latency(server: Server, load: list[bytes], probes: int) -> tuple[float, float]:
    """(p50, p99) ms from sending a probe's POST to its alert's arrival, under 100 K pts/s."""
    listener = AlertListener()
    server.define("probe", PROBE_SCRIPT % listener.port)
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    per_body = len(load[0].split(b"\n")) - 1
    loader = ctx.Process(target=_paced, args=(server.port, load, 100_000 / per_body, stop))
    loader.start()
    time.sleep(0.5)
    prober = Prober(server.port)
    sent: dict[str, int] = {}
    t_ns = 1_800_000_000_000_000_000
    for n in range(probes):
        ident = f"p{n}"
        request = Prober.request(f"probe,n={ident} v=1 {t_ns + n}\n".encode())
        sent[ident] = prober.send(request)
        if (status := prober.answer()) != 204:
            raise RuntimeError(f"probe write answered {status}")
        time.sleep(0.02)
    deadline = time.monotonic() + 5
    while len(listener.arrived) < probes and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loader.join()
    prober.close()
    listener.close()
    lat = sorted((listener.arrived[k] - t0) / 1e6 for k, t0 in sent.items() if k in listener.arrived)
    if len(lat) < probes * 0.9:
        raise RuntimeError(f"only {len(lat)} of {probes} probe alerts arrived")
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]


LATENCY = "write → alert p99 at 100 K pts/s"


def latency_row(probes: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """The latency row on a kapfastd of its own (``env`` added to its environment)."""
    with kapfastd(env) as server:
        server.define("bench", SCRIPT)
        # 100 K pts/s for as long as the probes take (one each 20 ms) and a margin, bodies of 1,000
        load_data, _ = gen_data(max(60, probes // 50 * 10 + 20) * 100_000 // 10)
        return latency(server, split_bodies(load_data, 1_000), probes)


@contextmanager
def kapfastd(env: dict[str, str] | None = None) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="kapfast-bench-") as tmp:
        server = Server(Path(tmp), env=env)
        try:
            yield server
        finally:
            server.stop()


def record_srpl(path: Path, data: bytes) -> int:
    from kapfast.recordings import StreamRecordingWriter

    with StreamRecordingWriter(path) as w:
        return w.write("telegraf", "autogen", data)


def replay_cpu(path: Path) -> float:
    """CPU seconds of `kapfast test`'s replay of ``path`` through the bench task."""
    from kapfast.clock import VirtualClock
    from kapfast.engine.context import TaskContext
    from kapfast.engine.replay import replay_stream
    from kapfast.engine.task import Task
    from kapfast.tick import compile_script

    clock = VirtualClock(0)
    task = Task("bench", compile_script(SCRIPT), TaskContext(task_id="bench", clock=clock))
    gc.collect()
    t0 = time.process_time()
    replay_stream(task, path, clock, clock_zero_ns=None, precision="ns")
    task.finish()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000, help="points per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--latency-only", action="store_true", help="only the write → alert latency row")
    args = ap.parse_args(argv)
    if args.latency_only:
        p50, p99 = latency_row(args.probes)
        print(f"\n  write → alert latency:    p50 {p50:.2f} ms, p99 {p99:.2f} ms at 100 K pts/s")
        report.row(LATENCY, p99, 2.0, "target 2 ms", "ms", "≥ 1", higher_is_better=False)
        return
    n, rounds = args.lines, args.rounds
    # every round (and the recording rounds) gets points of its own, later in time
    all_data, _ = gen_data(n * (2 * rounds + 1))
    all_bodies = split_bodies(all_data, BODY_LINES)
    per = n // BODY_LINES
    live_rounds = [all_bodies[i * per : (i + 1) * per] for i in range(rounds)]
    rec_rounds = [all_bodies[(rounds + i) * per : (rounds + i + 1) * per] for i in range(rounds)]
    first = b"".join(live_rounds[0])
    points = per * BODY_LINES

    # the peer parses as the server's /write does: through a series index kept across bodies (warmed
    # once, as the server's is after its first round); without it a body costs ~2.5x the CPU
    index = lineproto.SeriesIndex()
    for body in live_rounds[0]:
        lineproto.parse(body, now_ns=0, index=index)
    parse_bodies = median_seconds(
        lambda: [lineproto.parse(b, now_ns=0, index=index) for b in live_rounds[0]], 3
    )[0]
    parse_large = median_seconds(lambda: lineproto.parse(first, now_ns=0, threads=1), 3)[0]

    with kapfastd() as server:
        server.define("bench", SCRIPT)
        send_round(server, all_bodies[-per:][:4])  # warm-up (imports, first allocations)
        # rounds with and without a recording alternate, so that a shared machine's changing
        # load falls on both alike
        live_t, rec_t = [], []
        for i in range(rounds):
            live_t.append(send_round(server, live_rounds[i]))
            status, text = server.request(
                "POST",
                "/kapacitor/v1/recordings/stream",
                {"id": f"rec{i}", "task": "bench", "stop": "2100-01-01T00:00:00Z"},
            )
            if status not in (200, 201):
                raise RuntimeError(f"record stream: {status} {text!r}")
            rec_t.append(send_round(server, rec_rounds[i]))
            server.request("DELETE", f"/kapacitor/v1/recordings/rec{i}")  # ends it
    p50, p99 = latency_row(args.probes)

    with tempfile.TemporaryDirectory(prefix="kapfast-bench-rec-") as tmp:
        path = Path(tmp) / "bench.srpl"
        record_srpl(path, first)
        replay = statistics.median(points / replay_cpu(path) for _ in range(3))

    live = [points / c for c, _ in live_t]
    live_m = statistics.median(live)
    rec_m = statistics.median(points / c for c, _ in rec_t)
    live_w = statistics.median(points / w for _, w in live_t)
    rec_w = statistics.median(points / w for _, w in rec_t)
    rate_bodies, rate_large = points / parse_bodies, points / parse_large
    print(f"\nserver bench: {points:,} points a round, {CLIENTS} clients, {BODY_LINES:,}-line bodies")
    print(f"  kapfastd end to end:      {live_m:14,.0f} pts/server-CPU-s, {live_w:,.0f} pts/s")
    print(f"    rounds: {[round(x) for x in live]}")
    print(f"  parse only, same bodies:  {rate_bodies:14,.0f} pts/CPU-s")
    print(f"  parse only, one body:     {rate_large:14,.0f} pts/CPU-s")
    print(f"  while recording:          {rec_m:14,.0f} pts/server-CPU-s, {rec_w:,.0f} pts/s")
    print(f"  replay (kapfast test):    {replay:14,.0f} pts/CPU-s")
    print(f"  write → alert latency:    p50 {p50:.2f} ms, p99 {p99:.2f} ms at 100 K pts/s")
    e2e = "kapfastd e2e from|where|window|mean|alert, 2 clients, 5k-line bodies"
    report.row(e2e, live_m, 3e6, "target 3 M", "pts/server-CPU-s", "≥ 1 (3 M/CPU-s)")
    report.row(e2e, live_m, rate_bodies, "parse-only same bodies", "pts/CPU-s", "≥ 0.6")
    report.row(e2e, live_m, rate_large, "parse one large body", "pts/CPU-s", "≥ 0.5")
    report.row(LATENCY, p99, 2.0, "target 2 ms", "ms", "≥ 1", higher_is_better=False)
    report.row("replay (kapfast test) of a .srpl", replay, live_m, "live ingest", "pts/CPU-s", "≥ 1")
    rec = "ingest while record stream runs"
    report.row(rec, rec_m, live_m, "ingest, no recording", "pts/server-CPU-s", "≥ 0.8")
    report.row(rec, rec_w, live_w, "ingest, no recording", "pts/s (wall)", "≥ 0.8")


def test_bench_server() -> None:
    main(["--lines", os.environ.get("KAPFAST_BENCH_SERVER_LINES", "300000"), "--rounds", "3"])


if __name__ == "__main__":
    main()
