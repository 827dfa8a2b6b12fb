"""kapfast.lineproto: InfluxDB 1.x line protocol through the Python API."""

from __future__ import annotations

import math
import random
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapfast import _native, lineproto
from kapfast._native import PointBatch
from kapfast.errors import InputError, LineProtocolError

NOW = 1_700_000_000_123_456_789


def parse(data: bytes, precision: str = "ns") -> lineproto.ParseResult:
    return lineproto.parse(data, precision=precision, now_ns=NOW)


# ---- parsing ---------------------------------------------------------------------------------


def test_parses_a_telegraf_body_into_columns() -> None:
    body = (
        b'cpu,host=a,region=x usage_idle=97.5,usage_user=1.5,count=3i,ok=true,msg="hi" 10\n'
        b"cpu,region=x,host=b usage_idle=50,count=4i 20\n"
    )
    res = parse(body)
    assert res.ok and res.errors == []
    b = res.batch
    assert len(b) == 2
    assert b.series() == ["cpu,host=a,region=x", "cpu,host=b,region=x"]
    assert b.measurements() == ["cpu"]
    assert b.tag_keys() == ["host", "region"]
    assert b.field_names() == ["count", "msg", "ok", "usage_idle", "usage_user"]
    kinds = {n: b.field_kind(n) for n in b.field_names()}
    assert kinds == {
        "count": "integer",
        "msg": "string",
        "ok": "boolean",
        "usage_idle": "float",
        "usage_user": "float",
    }
    assert np.asarray(b.time()).tolist() == [10, 20]
    assert np.asarray(b.field("usage_idle")).tolist() == [97.5, 50.0]
    assert np.asarray(b.field_valid("usage_user")).tolist() == [True, False]
    assert b.field_values("msg") == ["hi", None]
    assert b.rows()[1] == ("cpu", {"host": "b", "region": "x"}, {"count": 4, "usage_idle": 50.0}, 20)


def test_bad_lines_are_reported_and_good_lines_kept() -> None:
    body = b'cpu v=1 1\ncpu v=x 2\n# comment\n\ncpu v=3 3\ncpu,host=a\ncpu v="open 4\ncpu v=5 5\n'
    res = parse(body)
    assert [str(e) for e in res.errors] == [
        "2:7: invalid boolean",
        "6:11: missing fields",
        "7:7: unbalanced quotes",
    ]
    assert all(isinstance(e, LineProtocolError) and isinstance(e, InputError) for e in res.errors)
    assert (res.errors[0].line, res.errors[0].column, res.errors[0].message) == (2, 7, "invalid boolean")
    assert np.asarray(res.batch.time()).tolist() == [1, 3, 5]
    assert not res.ok


def test_native_api_shape() -> None:
    batch, errors = _native.parse_line_protocol(b"m v=1 1\nm v=\n", "ns", 0)
    assert isinstance(batch, PointBatch) and len(batch) == 1
    assert errors == [(2, 5, "missing field value")]


@pytest.mark.parametrize(
    ("precision", "multiplier"),
    [
        *[("ns", 1), ("n", 1), ("", 1), ("u", 10**3), ("us", 10**3), ("ms", 10**6), ("s", 10**9)],
        *[("m", 60 * 10**9), ("h", 3600 * 10**9)],
    ],
)
def test_precisions(precision: str, multiplier: int) -> None:
    res = parse(b"m v=1 7\nm v=2\n", precision)
    assert np.asarray(res.batch.time()).tolist() == [7 * multiplier, NOW - NOW % multiplier]


def test_unknown_precision_is_a_line_protocol_error() -> None:
    with pytest.raises(LineProtocolError, match="unknown precision"):
        parse(b"m v=1", "sec")
    with pytest.raises(InputError):
        lineproto.serialize(parse(b"m v=1").batch, precision="x")


def test_accepts_bytearray_and_memoryview() -> None:
    body = bytearray(b"m v=1 1\n")
    assert len(lineproto.parse(body, now_ns=0).batch) == 1  # type: ignore[arg-type]
    assert len(lineproto.parse(memoryview(b"m v=1 1"), now_ns=0).batch) == 1  # type: ignore[arg-type]


def test_parsing_releases_the_gil() -> None:
    body = b"cpu,host=a,region=b usage=1.5,count=3i 1700000000000000000\n" * 400_000
    started = threading.Event()
    done = threading.Event()

    def work() -> None:
        started.set()
        parse(body)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    # With the GIL held for the whole parse (tens of ms) this thread could not spin at all.
    assert spins > 1000


# ---- serializing -----------------------------------------------------------------------------


def test_serialize_writes_canonical_line_protocol() -> None:
    b = parse(b'cpu,z=1,a=x\\ y b=true,a=1,c=2i,d=3u,e="q\\"\\\\" 5\n').batch
    assert lineproto.serialize(b) == b'cpu,a=x\\ y,z=1 a=1,b=true,c=2i,d=3u,e="q\\"\\\\" 5\n'
    assert b.to_line_protocol("s") == b'cpu,a=x\\ y,z=1 a=1,b=true,c=2i,d=3u,e="q\\"\\\\" 0\n'


def test_float_one_stays_a_float() -> None:
    b = PointBatch.from_rows([("m", {}, {"f": 1.0, "i": 1}, 0)])
    text = lineproto.serialize(b)
    assert text == b"m f=1,i=1i 0\n"
    back = parse(text).batch
    assert back.field_kind("f") == "float" and back.field_kind("i") == "integer"
    assert back == b


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("m", {}, {"f": math.nan}, 0)], "NaN"),
        ([("m", {}, {"f": math.inf}, 0)], "NaN or infinite"),
        ([("m", {"t": "ends\\"}, {"f": 1.0}, 0)], "ends with a backslash"),
        ([("#m", {}, {"f": 1.0}, 0)], "comment"),
        ([("m\nx", {}, {"f": 1.0}, 0)], "newline"),
        ([("m", {}, {"a\\,b": 1.0}, 0)], "backslash before"),
    ],
)
def test_serialize_refuses_what_cannot_round_trip(
    rows: list[tuple[str, dict[str, str], dict[str, float], int]], match: str
) -> None:
    with pytest.raises(LineProtocolError, match=match):
        lineproto.serialize(PointBatch.from_rows(rows))


# ---- properties ------------------------------------------------------------------------------

NAME_CHARS = st.sampled_from(list('ab ,="\\#\té☃'))
names = st.text(NAME_CHARS, min_size=1, max_size=6)
strings = st.text(st.sampled_from(list('ab ,="\\#\n\ré☃')), max_size=8)


def representable(name: str, kind: str) -> bool:
    """Mirror of the serializer's rules (see rust/src/lineproto/escape.rs)."""
    if not name or "\n" in name or name.endswith("\\"):
        return False
    if kind == "measurement" and name[0] in "#\t":
        return False
    return not (kind == "field" and (name[0] == "\t" or any(f"\\{c}" in name for c in ',= "')))


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    strings,
)
rows = st.lists(
    st.tuples(
        names.filter(lambda n: representable(n, "measurement")),
        st.dictionaries(names.filter(lambda n: representable(n, "tag")), names, max_size=3).map(
            lambda d: {k: v for k, v in d.items() if representable(v, "tag")}
        ),
        st.dictionaries(names.filter(lambda n: representable(n, "field")), values, min_size=1, max_size=4),
        st.integers(min_value=-(2**63) + 2, max_value=2**63 - 2),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_serialize_then_parse_round_trips(
    rows: list[tuple[str, dict[str, str], dict[str, object], int]],
) -> None:
    batch = PointBatch.from_rows(rows)  # type: ignore[arg-type]
    text = lineproto.serialize(batch)
    res = parse(text)
    assert res.errors == [], text
    assert res.batch == batch, text
    assert res.batch.series() == batch.series()
    assert res.batch.rows() == batch.rows()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=4))
def test_unsigned_values_round_trip(us: list[int]) -> None:
    batch = PointBatch.from_rows([("m", {}, {"u": u}, i) for i, u in enumerate(us)], kinds={"u": "unsigned"})
    assert batch.field_kind("u") == "unsigned"
    back = parse(lineproto.serialize(batch)).batch
    assert back == batch and back.field_values("u") == us


lp_like = st.text(st.sampled_from(list('cpuv=1.5i-e,"\\ \n\r#tT')), max_size=120).map(str.encode)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), lp_like))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    res = parse(body)
    n = len(res.batch)
    assert all(e.line >= 1 and e.column >= 1 for e in res.errors)
    assert len(np.asarray(res.batch.time())) == n
    for name in res.batch.field_names():
        assert len(res.batch.field_values(name)) == n


def test_random_mutations_never_crash_and_good_output_round_trips() -> None:
    rng = random.Random(7)
    seed = (
        b'cpu,host=a\\ b,region=x usage=1.5,count=-3i,u=4u,ok=T,msg="a \\"q\\" \\\\ b" 1700000000000000000\n'
    )
    specials = b' ,="\\\n\rie.-0#'
    for _ in range(3000):
        body = bytearray(seed * rng.randint(1, 3))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(body) + 1)
            op = rng.randrange(3)
            if op == 0 and pos < len(body):
                body[pos] = rng.randrange(256)
            elif op == 1:
                body.insert(pos, specials[rng.randrange(len(specials))])
            elif pos < len(body):
                del body[pos]
        res = parse(bytes(body))
        if not len(res.batch):
            continue
        # whatever the parser accepts, the serializer writes, and it reads back the same
        text = lineproto.serialize(res.batch)
        again = parse(text)
        assert again.errors == [] and again.batch == res.batch, (bytes(body), text)


# Bytes that make escapes, separators, blanks and bad UTF-8: whatever parses must round-trip.
tricky = st.lists(
    st.sampled_from(
        [
            b"\\",
            b",",
            b"=",
            b" ",
            b"\t",
            b'"',
            b"a",
            b"b",
            b"1",
            b"i",
            b"#",
            b"\xe9",
            b"\xff",
            b"\xc3\xa9",
            b"\n",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(tricky)
def test_whatever_parses_is_written_back_and_reads_the_same(body: bytes) -> None:
    res = parse(body)
    if not len(res.batch):
        return
    text = lineproto.serialize(res.batch)
    again = parse(text)
    assert again.errors == [], (body, text)
    assert again.batch == res.batch and again.batch.rows() == res.batch.rows(), (body, text)


def test_field_key_starting_with_a_tab_round_trips() -> None:
    body = b"cpu v=1,\tx=2 10\n"
    res = parse(body)
    assert res.errors == [] and res.batch.rows() == [("cpu", {}, {"v": 1.0, "\tx": 2.0}, 10)]
    text = lineproto.serialize(res.batch)
    assert parse(text).batch == res.batch, text
    # a point left with only such a field cannot be written: said, not written differently
    only = PointBatch.from_rows([("cpu", {}, {"\tx": 2.0}, 10)])
    with pytest.raises(LineProtocolError, match="starts with a tab"):
        lineproto.serialize(only)


def test_measurement_unescapes_as_influxdb_name() -> None:
    """InfluxDB's Name() unescapes ``\\,`` ``\\ `` ``\\=`` ``\\"``: ``cpu\\=load`` is ``cpu=load``."""
    res = parse(b'cpu\\=load,t\\=x=1 v=1 1\nm\\"q v=1 2\nback\\\\=s v=1 3\n')
    assert res.errors == []
    assert [r[0] for r in res.batch.rows()] == ["cpu=load", 'm"q', "back\\=s"]
    assert res.batch.rows()[0][1] == {"t=x": "1"}
    text = lineproto.serialize(res.batch)
    assert parse(text).batch == res.batch, text


def test_invalid_utf8_is_kept_as_influxdb_keeps_it() -> None:
    """InfluxDB 1.x stores the bytes of a line that is not UTF-8 (Latin-1 from old agents): the
    point is accepted, its bytes make their own group, and they are written out unchanged."""
    body = b'cpu,host=caf\xe9 s="na\xefve",v=1 1\ncpu,host=caf\xe8 v=2 2\n'
    res = parse(body)
    assert res.errors == []
    hosts = [r[1]["host"] for r in res.batch.rows()]
    assert len(set(hosts)) == 2  # two distinct hosts, not merged into one replacement character
    assert lineproto.serialize(res.batch) == body


def test_text_holding_the_raw_byte_characters_goes_out_unchanged() -> None:
    """Valid UTF-8 holding U+10FF80..U+10FFFF (the characters that stand for raw bytes) in a
    measurement, tag or string value is written back byte for byte (the fuzzer's round trip)."""
    body = b'c\xf4\x8f\xbf\xb1,t=\xf4\x8f\xbe\x80\xe9 s="\xf4\x8f\xbf\xbf" 1\n'
    res = parse(body)
    assert res.errors == []
    assert lineproto.serialize(res.batch) == body
    assert parse(lineproto.serialize(res.batch)).batch == res.batch


def test_a_field_key_that_is_not_utf8_is_a_line_error() -> None:
    """InfluxDB 1.x cannot store such a field key (it fails the whole write with a 500); kapfast
    rejects that line, with its position, and keeps the others."""
    res = parse(b"cpu v=1 1\ncpu caf\xe9=2 2\ncpu w=3 3\n")
    assert [(e.line, e.column, e.message) for e in res.errors] == [
        (2, 5, "invalid field key: not valid UTF-8")
    ]
    assert [r[2] for r in res.batch.rows()] == [{"v": 1.0}, {"w": 3.0}]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_full_precision_floats_parse_to_the_same_bits_as_python(values: list[float]) -> None:
    """Telegraf writes floats at full precision (``97.28643216080402``): each parses to the float
    Python's correctly rounded ``float()`` gives (Go's ParseFloat gives the same), to the last bit."""
    body = "".join(f"m v={v!r} {i}\n" for i, v in enumerate(values)).encode()
    res = lineproto.parse(body, now_ns=0)
    assert not res.errors
    got = res.batch.field_values("v")
    assert [float.hex(g) for g in got] == [float.hex(v) for v in values]
