"""POST /write and /kapacitor/v1/write over HTTP: codes, partial writes, gzip, limits, precision."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd

from kapfast.recordings import read_stream_recording


def ingress(k: Kapfastd) -> dict[tuple[str, str, str], int]:
    vars_ = k.api("GET", "/debug/vars").json()["kapacitor"]
    return {
        (v["tags"]["database"], v["tags"]["retention_policy"], v["tags"]["measurement"]): v["values"][
            "points_received"
        ]
        for v in vars_.values()
        if v["name"] == "ingress"
    }


def test_write_codes_and_headers(kapfastd: Kapfastd) -> None:
    ok = kapfastd.write("cpu,host=a usage_idle=50 1\n")
    assert ok.status == 204, ok
    assert ok.headers["X-Kapacitor-Version"]
    # a time UUID (version 1) per answer, as Kapacitor's uuid.NewV1, each one new
    first = uuid.UUID(ok.headers["Request-Id"])
    empty = kapfastd.write("")
    assert empty.status == 200  # Kapacitor: an empty body is 200
    assert kapfastd.write(" \n\t\r\n").status == 200  # so is one of blanks only
    second = uuid.UUID(empty.headers["Request-Id"])
    assert (first.version, second.version) == (1, 1)
    assert first.variant == uuid.RFC_4122 and second.time > first.time
    assert kapfastd.request("POST", "/kapacitor/v1/write?db=telegraf", raw=b"cpu v=1 2").status == 204
    missing = kapfastd.request("POST", "/write", raw=b"cpu v=1")
    assert missing.status == 400
    assert missing.text == "database is required\n"
    assert missing.headers["Content-Type"].startswith("text/plain")
    assert ingress(kapfastd) == {("telegraf", "autogen", "cpu"): 1, ("telegraf", "", "cpu"): 1}


def test_partial_write_keeps_good_lines_and_names_the_bad(kapfastd: Kapfastd) -> None:
    body = 'cpu,host=a usage_idle=10 1\ncpu,host=a usage_idle= 2\nmem free=3i 3\ncpu v="x 4\n'
    ans = kapfastd.write(body)
    assert ans.status == 400
    assert ans.text.startswith("partial write: unable to parse 'cpu,host=a usage_idle= 2': ")
    assert "(line 2, column " in ans.text
    assert "(line 4, column " in ans.text
    assert "2 bad lines dropped, 2 points accepted" in ans.text
    assert ingress(kapfastd) == {("telegraf", "autogen", "cpu"): 1, ("telegraf", "autogen", "mem"): 1}


def test_gzip_and_bad_gzip(kapfastd: Kapfastd) -> None:
    assert kapfastd.write("cpu v=1 1\ncpu v=2 2\n", gz=True).status == 204
    bad = kapfastd.request(
        "POST", "/write?db=telegraf&rp=autogen", raw=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert bad.status == 400
    assert "unable to decode gzip body" in bad.text
    assert ingress(kapfastd) == {("telegraf", "autogen", "cpu"): 2}


def test_corrupt_gzip_rejects_the_whole_body(kapfastd: Kapfastd) -> None:
    """InfluxDB reads the whole gzip body before it writes a point: a body that is truncated,
    corrupt halfway, or fails its CRC is a 400 and none of its lines are applied."""
    import gzip
    import zlib

    body = "".join(f"cpu,host=h{i % 7} v={i} {i}\n" for i in range(20_000)).encode()
    good = gzip.compress(body)
    mid = len(good) // 2
    flipped = bytearray(good)
    flipped[mid] ^= 0xFF
    bad_crc = bytearray(good)
    bad_crc[-8] ^= 0xFF  # the CRC32 of the trailer
    raw_deflate = zlib.compress(body)  # zlib, not gzip, framing
    for name, data in [
        ("truncated", good[:mid]),
        ("no trailer", good[:-8]),
        ("flipped byte", bytes(flipped)),
        ("bad crc", bytes(bad_crc)),
        ("zlib framing", raw_deflate),
    ]:
        ans = kapfastd.request(
            "POST", "/write?db=telegraf&rp=autogen", raw=data, headers={"Content-Encoding": "gzip"}
        )
        assert ans.status == 400, (name, ans)
        assert "unable to decode gzip body" in ans.text, (name, ans.text)
    assert ingress(kapfastd) == {}
    ok = kapfastd.request(
        "POST", "/write?db=telegraf&rp=autogen", raw=good, headers={"Content-Encoding": "gzip"}
    )
    assert ok.status == 204
    assert ingress(kapfastd) == {("telegraf", "autogen", "cpu"): 20_000}


def test_body_size_limit_counts_decompressed_bytes(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory(http_options="  max-body-size = 1000")
    small = "cpu v=1 1\n" * 10
    assert k.write(small).status == 204
    big = "cpu v=1 1\n" * 200  # 2000 bytes
    too_big = k.write(big)
    assert too_big.status == 413, too_big
    assert "limit is 1000 bytes" in too_big.text
    bomb = k.write("cpu v=1 1\n" * 100_000, gz=True)  # ~3 KB of gzip, 1 MB inflated
    assert bomb.status == 413
    assert ingress(k) == {("telegraf", "autogen", "cpu"): 10}


def test_precision_and_default_time(kapfastd: Kapfastd) -> None:
    task = {
        "id": "t",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": "stream\n    |from()\n        .measurement('cpu')\n",
    }
    assert kapfastd.api("POST", "/tasks", task).status == 200
    stop = time.time() + 60
    rec = kapfastd.api(
        "POST",
        "/recordings/stream",
        {"id": "r", "task": "t", "stop": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stop))},
    )
    assert rec.status == 201, rec
    before = time.time_ns()
    assert kapfastd.write("cpu v=1 1700000000", "db=telegraf&rp=autogen&precision=s").status == 204
    assert kapfastd.write("cpu v=2 1700000000001", "db=telegraf&rp=autogen&precision=ms").status == 204
    assert kapfastd.write("cpu v=3", "db=telegraf&rp=autogen").status == 204
    assert kapfastd.write("cpu v=4 5", "db=telegraf&rp=autogen&precision=n").status == 204
    bad = kapfastd.write("cpu v=4 5", "db=telegraf&rp=autogen&precision=x")
    assert bad.status == 400 and "invalid precision" in bad.text
    # A point newer than stop ends the recording (Kapacitor's rule) and is not recorded.
    assert kapfastd.write(f"cpu v=9 {int(stop + 10)}", "db=telegraf&rp=autogen&precision=s").status == 204
    done = kapfastd.wait_status("recordings", "r")
    assert done["status"] == "finished", done
    times: list[Any] = [r.line.rsplit(b" ", 1)[1] for r in read_stream_recording(_path(kapfastd, "r"))]
    assert times[:2] == [b"1700000000000000000", b"1700000000001000000"]
    assert before <= int(times[2]) <= time.time_ns()
    assert times[3] == b"5"
    assert len(times) == 4


def _path(k: Kapfastd, ident: str) -> str:
    return str(k.data_dir / "replay" / f"{ident}.srpl")


def test_ping_get_and_head(kapfastd: Kapfastd) -> None:
    for path in ("/kapacitor/v1/ping", "/kapacitor/v1preview/ping", "/ping"):
        for method in ("GET", "HEAD"):
            ans = kapfastd.request(method, path)
            assert ans.status == 204, (method, path, ans)
            assert ans.body == b""
            assert ans.headers["X-Kapacitor-Version"]
    unknown = kapfastd.api("GET", "/nowhere")
    assert unknown.status == 404
    assert unknown.json()["error"] == "Not Found"


def test_options_and_loglevel(kapfastd: Kapfastd) -> None:
    opt = kapfastd.request("OPTIONS", "/kapacitor/v1/tasks/x")
    assert opt.status == 204 and "PATCH" in opt.headers["Access-Control-Allow-Methods"]
    assert kapfastd.api("POST", "/loglevel", {"level": "WARN"}).status == 204
    bad = kapfastd.api("POST", "/loglevel", {"level": "LOUD"})
    assert bad.status == 400 and "invalid log level" in bad.json()["error"]


def test_query_accepts_only_telegrafs_create_database(kapfastd: Kapfastd) -> None:
    created = kapfastd.request(
        "POST",
        "/query",
        raw=b"q=CREATE+DATABASE+%22telegraf%22",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert created.status == 200 and created.json() == {"results": [{"statement_id": 0}]}
    other = kapfastd.request("GET", "/query?q=SELECT+*+FROM+cpu")
    assert other.status == 400 and "only accepts CREATE DATABASE" in other.json()["error"]
    sneaky = kapfastd.request("GET", "/query?q=CREATE+DATABASE+a%3B+DROP+DATABASE+b")
    assert sneaky.status == 400


def test_a_large_body_is_parsed_off_the_event_loop_with_the_same_answer(kapfastd: Kapfastd) -> None:
    # over OFF_LOOP_BYTES (16 KB) and over the 2-thread threshold (4 MB): same partial-write answer
    good = "".join(f"cpu,host=h{i % 50} usage_idle={i % 100}.5 {i}\n" for i in range(120_000))
    body = good + "cpu,host=x usage_idle= 5\n" + good
    assert len(body) > 5_000_000
    ans = kapfastd.write(body)
    assert ans.status == 400
    assert "unable to parse 'cpu,host=x usage_idle= 5'" in ans.text and "(line 120001, column " in ans.text
    assert "240000 points accepted" in ans.text
    assert ingress(kapfastd) == {("telegraf", "autogen", "cpu"): 240_000}
