"""InfluxDB 2.x targets, tested against a real aiohttp server that implements the parts of the
2.x HTTP API kapfast uses (``/api/v2/write`` with token, org, bucket, precision and gzip checks,
``/health``, ``/ping``, and the 1.x-compatible ``/query`` and ``/write``). InfluxDB 2.x itself
cannot be installed here (Debian ships 1.6): this is that peer, not a real 2.x.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from kapfast.influxdb import InfluxDB2Writer, InfluxDBClient, InfluxDBConnectionError, InfluxDBError
from kapfast.influxdb.v2 import rescale_to_seconds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from kapfastd_proc import Kapfastd, free_port, wait_for

TOKEN = "s3cr3t-t0ken"


@dataclass
class Write:
    org: str
    bucket: str
    precision: str
    gzip: bool
    body: str


@dataclass
class Influx2:
    """The fake InfluxDB 2.x: ``writes`` it accepted, ``auth`` headers it saw on 1.x paths."""

    url: str = ""
    org: str = "acme"
    buckets: set[str] = field(default_factory=set)
    writes: list[Write] = field(default_factory=list)
    auth: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/ping", self.ping)
        app.router.add_post("/api/v2/write", self.write_v2)
        app.router.add_post("/query", self.query_v1)
        app.router.add_post("/write", self.write_v1)
        return app

    @staticmethod
    def _error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Token {TOKEN}"

    async def health(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"name": "influxdb", "status": "pass", "version": "v2.7.0"})

    async def ping(self, request: web.Request) -> web.Response:
        del request
        return web.Response(status=204, headers={"X-Influxdb-Version": "v2.7.0"})

    async def write_v2(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "unauthorized", "unauthorized access")
        q = request.query
        if q.get("org") != self.org:
            return self._error(404, "not found", f'organization name "{q.get("org")}" not found')
        bucket = q.get("bucket", "")
        if bucket not in self.buckets:
            return self._error(404, "not found", f'bucket "{bucket}" not found')
        precision = q.get("precision", "ns")
        if precision not in {"ns", "us", "ms", "s"}:
            return self._error(400, "invalid", f"invalid precision {precision!r}")
        raw = await request.read()
        zipped = request.headers.get("Content-Encoding") == "gzip"
        text = (gzip.decompress(raw) if zipped else raw).decode()
        for line in text.splitlines():
            if line and " " not in line:
                return self._error(400, "invalid", f"unable to parse '{line}': missing fields")
        self.writes.append(Write(q["org"], bucket, precision, zipped, text))
        return web.Response(status=204)

    async def query_v1(self, request: web.Request) -> web.Response:
        self.auth.append(("query", request.headers.get("Authorization", "")))
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized access"}, status=401)
        return web.json_response(
            {
                "results": [
                    {
                        "statement_id": 0,
                        "series": [{"name": "databases", "columns": ["name"], "values": [["telegraf"]]}],
                    }
                ]
            }
        )

    async def write_v1(self, request: web.Request) -> web.Response:
        self.auth.append(("write", request.headers.get("Authorization", "")))
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized access"}, status=401)
        db, rp = request.query.get("db", ""), request.query.get("rp", "")
        self.writes.append(
            Write(
                "",
                f"{db}/{rp}" if rp else db,
                request.query.get("precision", "ns"),
                False,
                (await request.read()).decode(),
            )
        )
        return web.Response(status=204)


@pytest.fixture
def influx2_factory() -> Iterator[Callable[..., Influx2]]:
    """Start fake 2.x servers on free loopback ports, each on a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    def make(buckets: set[str] | None = None) -> Influx2:
        fake = Influx2(buckets=buckets or set())
        port = free_port()

        async def start() -> None:
            runner = web.AppRunner(fake.app(), access_log=None, auto_decompress=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)

        asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        fake.url = f"http://127.0.0.1:{port}"
        return fake

    yield make

    async def stop() -> None:
        for r in runners:
            await r.cleanup()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


# ---- the writer and the client on their own ------------------------------------------------------


def test_writer_sends_to_the_dbrp_bucket_with_org_precision_and_gzip(
    influx2_factory: Callable[..., Influx2],
) -> None:
    fake = influx2_factory({"telegraf/autogen", "telegraf", "fixed"})

    async def main() -> None:
        w = InfluxDB2Writer(fake.url, token=TOKEN, org="acme")
        z = InfluxDB2Writer(fake.url, token=TOKEN, org="acme", bucket="fixed", gzip=True)
        try:
            await w.write("telegraf", "autogen", b"cpu,host=a usage=1 1000\n", "ms")
            await w.write("telegraf", "", b"cpu,host=a usage=2 2\n", "m")  # no rp: the db's default
            await z.write("anything", "autogen", b"mem free=3i 4\n", "u")
        finally:
            await w.close()
            await z.close()

    asyncio.run(main())
    assert [(x.org, x.bucket, x.precision, x.gzip, x.body) for x in fake.writes] == [
        ("acme", "telegraf/autogen", "ms", False, "cpu,host=a usage=1 1000"),
        ("acme", "telegraf", "s", False, "cpu,host=a usage=2 120"),
        ("acme", "fixed", "us", True, "mem free=3i 4"),
    ]


def test_writer_errors_keep_influxdbs_text_and_status(influx2_factory: Callable[..., Influx2]) -> None:
    fake = influx2_factory({"telegraf/autogen"})

    async def main() -> list[InfluxDBError]:
        errors: list[InfluxDBError] = []
        cases = [
            (InfluxDB2Writer(fake.url, token="wrong", org="acme"), "telegraf", "autogen"),
            (InfluxDB2Writer(fake.url, token=TOKEN, org="acme"), "nope", "autogen"),
            (InfluxDB2Writer(fake.url, token=TOKEN, org="other"), "telegraf", "autogen"),
            (
                InfluxDB2Writer(f"http://127.0.0.1:{free_port()}", token=TOKEN, org="acme"),
                "telegraf",
                "autogen",
            ),
        ]
        for w, db, rp in cases:
            try:
                await w.write(db, rp, b"cpu v=1 1\n")
            except InfluxDBError as exc:
                errors.append(exc)
            finally:
                await w.close()
        return errors

    unauthorized, no_bucket, no_org, down = asyncio.run(main())
    assert unauthorized.status == 401 and "unauthorized access" in unauthorized.message
    assert no_bucket.status == 404 and 'bucket "nope/autogen" not found' in no_bucket.message
    assert no_org.status == 404 and "organization name" in no_org.message
    assert isinstance(down, InfluxDBConnectionError) and down.status is None
    assert fake.writes == []


def test_rescale_minutes_and_hours() -> None:
    assert rescale_to_seconds(b'a v=1 2\nb s="x y" 3\nc v=1\n', 60) == b'a v=1 120\nb s="x y" 180\nc v=1\n'


def test_client_sends_the_token_on_1x_compatible_paths(influx2_factory: Callable[..., Influx2]) -> None:
    fake = influx2_factory()

    async def main() -> list[str]:
        async with InfluxDBClient(fake.url, token=TOKEN) as c:
            await c.write("telegraf", "autogen", b"cpu v=1 1\n")
            return await c.show_databases()

    assert asyncio.run(main()) == ["telegraf"]
    assert fake.auth == [("write", f"Token {TOKEN}"), ("query", f"Token {TOKEN}")]


# ---- kapfastd: influxDBOut to a 2.x cluster, chosen by .cluster('name') ------------------------------

OUT_TICK = """stream
    |from()
        .measurement('cpu')
    |influxDBOut()
        .database('out')
        .retentionPolicy('autogen')
        .measurement('cpu_copy')
        .buffer(1)
    |
"""


def test_kapfastd_writes_to_influxdb2_buckets(
    influx2_factory: Callable[..., Influx2], tmp_path: Path
) -> None:
    main = influx2_factory({"out/autogen"})
    second = influx2_factory({"everything"})
    server = Kapfastd(
        tmp_path,
        '[[influxdb]]\n  enabled = true\n  default = true\n  name = "main"\n'
        f'  urls = ["{main.url}"]\n  token = "{TOKEN}"\n  org = "acme"\n'
        '[[influxdb]]\n  enabled = true\n  name = "second"\n'
        f'  urls = ["{second.url}"]\n  token = "{TOKEN}"\n  org = "acme"\n  bucket = "everything"\n',
    )
    server.start()
    try:
        for task_id, script in [
            ("to_main", OUT_TICK.rstrip("|\n") + "\n"),
            (
                "to_second",
                OUT_TICK.rstrip("|\n").replace(".buffer(1)", ".buffer(1)\n        .cluster('second')") + "\n",
            ),
        ]:
            body = {
                "id": task_id,
                "type": "stream",
                "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                "script": script,
                "status": "enabled",
            }
            ans = server.api("POST", "/tasks", body)
            assert ans.status == 200, ans
        assert server.write("cpu,host=a usage_idle=5 1000000000").status == 204
        got = wait_for(lambda: main.writes, what="a write to the main 2.x cluster")
        assert (got[0].org, got[0].bucket, got[0].precision) == ("acme", "out/autogen", "ns")
        assert got[0].body.strip() == "cpu_copy,host=a usage_idle=5 1000000000"
        other = wait_for(lambda: second.writes, what="a write to the cluster chosen by .cluster()")
        assert other[0].bucket == "everything"
        assert "treated as InfluxDB 2.x, which has no subscriptions" in server.log_tail()
        assert wait_for(lambda: "answers (version v2.7.0)" in server.log_tail(), what="the 2.x probe")
        task = server.api("GET", "/tasks/to_main").json()
        stats = json.dumps(task["stats"])
        assert '"points_written": 1' in stats, stats
    finally:
        server.kill()
