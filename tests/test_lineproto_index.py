"""lineproto.SeriesIndex: series kept across bodies give exactly the plain parse's result, within
a memory cap, from any thread; the write path keeps one per db/rp."""

from __future__ import annotations

import threading

import pytest

from kapfast import lineproto
from kapfast.errors import LineProtocolError

T = 1_700_000_000_000_000_000


def body(series: range, t: int, value: str = "1.5") -> bytes:
    return "".join(f"cpu,host=h{s},cpu=c{s % 4} v={value},n={s}i {t}\n" for s in series).encode()


def same(a: lineproto.ParseResult, b: lineproto.ParseResult) -> None:
    assert a.batch == b.batch
    assert a.batch.series() == b.batch.series()
    assert [(e.line, e.column, e.message) for e in a.errors] == [
        (e.line, e.column, e.message) for e in b.errors
    ]


def test_indexed_parses_equal_plain_parses_body_after_body() -> None:
    idx = lineproto.SeriesIndex()
    for i, rng in enumerate([range(0, 40), range(20, 90), range(0, 5), range(85, 130)]):
        data = body(rng, T + i)
        same(idx.parse(data, now_ns=T), lineproto.parse(data, now_ns=T))
        same(lineproto.parse(data, now_ns=T, index=idx), lineproto.parse(data, now_ns=T))
    assert len(idx) == 130
    assert 0 < idx.bytes <= idx.max_bytes == lineproto.INDEX_MAX_BYTES
    assert idx.resets == 0


def test_bad_lines_and_precision_with_a_warm_index() -> None:
    idx = lineproto.SeriesIndex()
    data = b"cpu,host=a v=1 1\ncpu,host=a,host=b v=1 2\ncpu,host=a v=x 3\nmem v=2\n"
    for _ in range(2):
        same(idx.parse(data, precision="s", now_ns=T), lineproto.parse(data, precision="s", now_ns=T))
    with pytest.raises(LineProtocolError):
        idx.parse(data, precision="fortnight", now_ns=T)
    with pytest.raises(ValueError):
        idx.parse(data, now_ns=T, threads=0)


def test_over_its_cap_the_index_starts_again() -> None:
    idx = lineproto.SeriesIndex(max_bytes=10_000)
    data = body(range(200), T)
    same(idx.parse(data, now_ns=T), lineproto.parse(data, now_ns=T))
    assert (len(idx), idx.resets) == (0, 1)
    small = body(range(3), T)
    same(idx.parse(small, now_ns=T), lineproto.parse(small, now_ns=T))
    assert (len(idx), idx.resets) == (3, 1) and idx.bytes <= 10_000
    with pytest.raises(ValueError):
        lineproto.SeriesIndex(max_bytes=-1)


@pytest.mark.parametrize("wait", [False, True])
def test_threads_sharing_an_index_get_the_plain_result(wait: bool) -> None:
    idx = lineproto.SeriesIndex()
    bodies = [body(range(k * 50, k * 50 + 400), T + k) for k in range(8)]
    want = [lineproto.parse(b, now_ns=T) for b in bodies]
    failures: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(5):
                same(idx.parse(bodies[k], now_ns=T, wait=wait), want[k])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_indexes_are_per_db_rp_and_bounded() -> None:
    idxs = lineproto.SeriesIndexes(max_indexes=2, max_bytes=1 << 20)
    a = idxs.get("db", "autogen")
    assert idxs.get("db", "autogen") is a and a.max_bytes == 1 << 20
    b = idxs.get("db", "other")
    assert b is not a
    idxs.get("db", "autogen")  # a is now the most recently used
    idxs.get("db2", "autogen")
    assert len(idxs) == 2
    assert idxs.get("db", "autogen") is a and idxs.get("db", "other") is not b
    with pytest.raises(ValueError):
        lineproto.SeriesIndexes(max_indexes=0)
