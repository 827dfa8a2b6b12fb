"""InfluxDBClient against a real InfluxDB 1.x on loopback."""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiohttp import web
from tests.answer_reference import series_to_batch

from kapfast.engine.replay import batch_message
from kapfast.influxdb import (
    InfluxDBClient,
    InfluxDBConnectionError,
    InfluxDBError,
    make_ssl_context,
    quote_ident,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")
_ids = itertools.count()


def run(make: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    async def main() -> T:
        return await asyncio.wait_for(make(), timeout)

    return asyncio.run(main())


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


def test_ping_answers_the_version(influxdb: Any) -> None:
    async def go() -> str:
        async with InfluxDBClient(influxdb.url) as c:
            return await c.ping()

    assert run(go).startswith("1.")


def test_databases_retention_policies_write_and_query(influxdb: Any) -> None:
    db = unique("cli")

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            await c.create_database(db)  # idempotent in InfluxDB
            assert db in await c.show_databases()
            await c.create_retention_policy(db, "short", "1h", shard_duration="1h")
            rps = {rp.name: rp for rp in await c.show_retention_policies(db)}
            assert set(rps) == {"autogen", "short"}
            assert rps["autogen"].default and not rps["short"].default
            assert rps["short"].duration == "1h0m0s" and rps["short"].replica_n == 1

            await c.write(
                db, None, b"cpu,host=a value=1.5,n=2i 1700000000000000000\ncpu,host=b value=3 1700000001"
            )
            now_s = time.time_ns() // 1_000_000_000  # the 1h policy only keeps recent points
            await c.write(db, "short", b"mem,host=a used=41.2 %d" % now_s, precision="s")
            await c.write(
                db, "autogen", b'cpu,host=c value=4,s="x y" 1700000002000', precision="ms", compress=True
            )

            (res,) = await c.query("SELECT value, n FROM cpu WHERE host = 'a'", db=db)
            (series,) = res["series"]
            assert series["columns"] == ["time", "value", "n"]
            assert series["values"] == [[1_700_000_000_000_000_000, 1.5, 2]]

            (res,) = await c.query("SELECT count(value) FROM cpu", db=db, epoch=None)
            assert res["series"][0]["values"] == [["1970-01-01T00:00:00Z", 3]]

            (res,) = await c.query("SELECT used FROM mem", db=db, rp="short", epoch="s")
            assert res["series"][0]["values"] == [[now_s, 41.2]]

            q = "SELECT value FROM cpu WHERE host = $h; SELECT s FROM cpu WHERE s <> ''"
            r1, r2 = await c.query(q, db=db, params={"h": "c"})
            assert (r1["statement_id"], r2["statement_id"]) == (0, 1)
            assert r1["series"][0]["values"] == [[1_700_000_002_000_000_000, 4]]
            assert r2["series"][0]["values"] == [[1_700_000_002_000_000_000, "x y"]]

            (empty,) = await c.query("SELECT * FROM nothing", db=db)
            assert "series" not in empty
            await c.drop_database(db)
            assert db not in await c.show_databases()

    run(go)


def test_awkward_names_are_quoted(influxdb: Any) -> None:
    db = unique('we"ird db.x')  # InfluxDB refuses / and \\ in names
    rp = 'r\'p "2"'

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            await c.create_retention_policy(db, rp, "INF")
            await c.write(db, rp, b"cpu value=1 1")
            (res,) = await c.query(f"SELECT value FROM {quote_ident(db)}.{quote_ident(rp)}.cpu")
            assert res["series"][0]["values"] == [[1, 1]]
            assert db in await c.show_databases()
            assert rp in {p.name for p in await c.show_retention_policies(db)}
            await c.drop_database(db)

    run(go)


def test_errors_carry_influxdb_text(influxdb: Any) -> None:
    db = unique("err")

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            with pytest.raises(InfluxDBError, match="error parsing query") as err:
                await c.query("SELEC nonsense")
            assert err.value.status == 400 and err.value.statement_id is None

            with pytest.raises(InfluxDBError, match="database not found: nodb_x") as err:
                await c.query("SELECT * FROM cpu", db="nodb_x")
            assert err.value.status == 200 and err.value.statement_id == 0

            (res,) = await c.query('SELECT * FROM "nodb_y"."autogen"."cpu"', raise_errors=False)
            assert res["error"] == "database not found: nodb_y"
            # InfluxDB stops a multi-statement query at the first failing statement.
            res = await c.query(
                'SHOW DATABASES; SHOW RETENTION POLICIES ON "nodb_y"; SHOW DATABASES', raise_errors=False
            )
            assert "series" in res[0] and res[1]["error"] == "not executed" and len(res) == 2
            await c.create_database(db)
            rps = await c.show_all_retention_policies(["nodb_1", db, "nodb_2", db + "_gone"])
            assert list(rps) == [db] and [p.name for p in rps[db]] == ["autogen"]

            with pytest.raises(InfluxDBError, match="database not found") as err:
                await c.write("nodb_z", None, b"cpu value=1 1")
            assert err.value.status == 404

            await c.write(db, None, b"cpu value=1 1")
            with pytest.raises(InfluxDBError, match="field type conflict") as err:
                await c.write(db, None, b"cpu value=2i 2")
            assert err.value.status == 400
            with pytest.raises(InfluxDBError, match="unable to parse") as err:
                await c.write(db, None, b"bad line here")
            assert err.value.status == 400
            await c.drop_database(db)

    run(go)


def test_query_series_reads_answers_as_the_python_reading_does(influxdb: Any) -> None:
    """query_series (the body decoded in Rust into batches) against query + the row-by-row
    Python reading, on a real answer: tags (one point lacking one), ints, floats, strings,
    bools and nulls; errors raise as query raises them."""
    db = unique("qs")
    lines = (
        b'cpu,host=a,dc=x v=1.5,n=2i,s="t",b=true 1000000000\n'
        b"cpu,host=a,dc=x v=2.5 2000000000\n"
        b"cpu,host=b n=9223372036854775807i 3000000000\n"
        b"mem used=4 4000000000\n"
    )

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            await c.write(db, None, lines)
            for q in ("SELECT * FROM cpu GROUP BY *", "SELECT * FROM cpu, mem", "SELECT mean(v) FROM cpu"):
                got = await c.query_series(q, db=db)
                (res,) = await c.query(q, db=db)
                want = [series_to_batch(s, False) for s in res.get("series") or ()]
                assert [(s.name, s.tags, s.tmax_ns, s.batch) for s in got] == [
                    (rb.name, rb.tags, rb.time_ns, batch_message(rb).points) for rb in want
                ], q
            by_host = await c.query_series("SELECT * FROM cpu GROUP BY host", db=db)
            (cpu_b,) = [s for s in by_host if s.tags["host"] == "b"]
            assert cpu_b.batch.rows() == [("cpu", {"host": "b"}, {"n": 9.223372036854776e18}, 3_000_000_000)]
            with pytest.raises(InfluxDBError, match="database not found: nodb_q") as err:
                await c.query_series("SELECT * FROM cpu", db="nodb_q")
            assert err.value.status == 200 and err.value.statement_id == 0
            with pytest.raises(InfluxDBError, match="error parsing query") as err:
                await c.query_series("SELEC nonsense")
            assert err.value.status == 400
            await c.drop_database(db)

    run(go)


def test_subscription_statements(influxdb: Any) -> None:
    db = unique("subs")

    async def go() -> None:
        async with InfluxDBClient(influxdb.url) as c:
            await c.create_database(db)
            dests = ["http://127.0.0.1:1/x?token=a'b", "http://127.0.0.1:2"]
            assert await c.create_subscription("kapfast-t", db, "autogen", "all", dests)
            assert not await c.create_subscription("kapfast-t", db, "autogen", "ALL", dests)  # exists
            mine = [s for s in await c.show_subscriptions() if s.db == db]
            assert [(s.rp, s.name, s.mode, s.destinations) for s in mine] == [
                ("autogen", "kapfast-t", "ALL", tuple(dests))
            ]
            with pytest.raises(InfluxDBError, match="invalid subscription URL"):
                await c.create_subscription("bad", db, "autogen", "ANY", ["ftp://x"])
            with pytest.raises(InfluxDBError, match="retention policy not found"):
                await c.create_subscription("k", db, "nope", "ANY", ["http://127.0.0.1:1"])
            with pytest.raises(ValueError, match="ALL or ANY"):
                await c.create_subscription("k", db, "autogen", "SOME", ["http://127.0.0.1:1"])
            assert await c.drop_subscription("kapfast-t", db, "autogen")
            assert not await c.drop_subscription("kapfast-t", db, "autogen")  # not found: fine
            assert not [s for s in await c.show_subscriptions() if s.db == db]
            await c.drop_database(db)

    run(go)


def test_credentials_in_url_are_sent_as_basic_auth(influxdb: Any) -> None:
    # Auth is off on the test server, so any credentials pass; this checks the URL is parsed.
    async def go() -> str:
        async with InfluxDBClient(influxdb.url.replace("http://", "http://us%40er:p%3Aw@") + "/") as c:
            assert c.url == influxdb.url
            return await c.ping()

    assert run(go)


# -- retries, against a scripted aiohttp server on loopback ---------------------------------------


async def scripted_server(statuses: list[int]) -> tuple[web.AppRunner, str, list[str]]:
    """A server answering the given statuses in turn (then 204); returns the requests it saw."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        status = statuses.pop(0) if statuses else 204
        if status == 204:
            return web.Response(status=204)
        return web.json_response({"error": f"scripted {status}"}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}", seen


def test_5xx_is_retried_with_backoff_and_4xx_is_not() -> None:
    async def go() -> None:
        runner, url, seen = await scripted_server([500, 503, 204, 400, 500, 500, 500])
        try:
            async with InfluxDBClient(url, max_attempts=3, backoff_initial_s=0.01) as c:
                await c.write("db", "rp", b"cpu v=1 1", consistency="one")
                assert seen == ["POST /write?db=db&precision=ns&rp=rp&consistency=one"] * 3
                with pytest.raises(InfluxDBError, match="scripted 400") as err:
                    await c.write("db", None, b"cpu v=1 1")
                assert err.value.status == 400 and len(seen) == 4  # not retried
                with pytest.raises(InfluxDBError, match="scripted 500") as err:
                    await c.write("db", None, b"cpu v=1 1")
                assert err.value.status == 500 and len(seen) == 7  # bounded: 3 attempts
                assert not isinstance(err.value, InfluxDBConnectionError)
        finally:
            await runner.cleanup()

    run(go)


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def go() -> None:
        async with InfluxDBClient(f"http://127.0.0.1:{port}", max_attempts=2, backoff_initial_s=0.01) as c:
            with pytest.raises(InfluxDBConnectionError, match=r"cannot reach InfluxDB .*2 attempt"):
                await c.ping()
            with pytest.raises(InfluxDBConnectionError):
                await c.query("SHOW DATABASES")

    run(go)


def test_bad_urls_are_rejected() -> None:
    for url in ("localhost:8086", "ftp://x", "http://"):
        with pytest.raises(ValueError, match="InfluxDB URL"):
            InfluxDBClient(url)


def test_auth_enabled_server(influxdb_factory: Callable[..., Any]) -> None:
    server = influxdb_factory(auth=True)
    server.start()

    async def go() -> None:
        async with InfluxDBClient(server.url) as anon:
            # No user yet: InfluxDB lets exactly this statement through.
            await anon.query("CREATE USER \"ad'min\" WITH PASSWORD 'p@ss:w\\'d' WITH ALL PRIVILEGES")
            with pytest.raises(InfluxDBError, match="unable to parse authentication credentials") as err:
                await anon.show_databases()
            assert err.value.status == 401
        async with InfluxDBClient(server.url, username="ad'min", password="p@ss:w'd") as admin:
            await admin.create_database("secure")
            assert await admin.create_subscription(
                "kapfast-a", "secure", "autogen", "ANY", ["http://127.0.0.1:9"]
            )
            await admin.query("CREATE USER reader WITH PASSWORD 'r'")
            await admin.write("secure", None, b"cpu v=1 1")
        async with InfluxDBClient(
            server.url.replace("http://", "http://ad%27min:p%40ss%3Aw%27d@")
        ) as via_url:
            assert "secure" in await via_url.show_databases()
        async with InfluxDBClient(server.url, username="reader", password="r") as reader:
            with pytest.raises(InfluxDBError, match="requires admin privilege"):
                await reader.show_subscriptions()
        async with InfluxDBClient(server.url, username="ad'min", password="wrong") as bad:
            with pytest.raises(InfluxDBError, match="authorization failed") as err:
                await bad.query("SHOW DATABASES")
            assert err.value.status == 401

    run(go)


def test_tls_options_build_a_context() -> None:
    ctx = make_ssl_context(insecure_skip_verify=True)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert make_ssl_context().verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(FileNotFoundError):
        make_ssl_context(ca_file="/nonexistent/ca.pem")
    c = InfluxDBClient("https://influx.example:8086/prefix/", insecure_skip_verify=True)
    assert c.url == "https://influx.example:8086/prefix"
