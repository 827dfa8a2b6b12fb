"""Batch recordings (.brpl): concatenated JSON, time shift, wrappings, errors, round trip."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from kapfast.recordings import (
    BatchArchiveWriter,
    BatchRecordingWriter,
    RecordedBatch,
    RecordedPoint,
    RecordingError,
    batch_recording_sources,
    format_rfc3339_ns,
    parse_rfc3339_ns,
    read_batch_recording,
)

S = 1_000_000_000
T0 = 31_536_000 * S  # 1971-01-01T00:00:00Z


def write(tmp_path: Path, text: str, name: str = "b.brpl", *, gz: bool = False) -> Path:
    p = tmp_path / name
    data = text.encode()
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


def batch(name: str, times: list[str], *, tags: dict[str, str] | None = None, **extra: object) -> str:
    obj: dict[str, object] = {"name": name, "points": [{"fields": {"v": 1}, "time": t} for t in times]}
    if tags is not None:
        obj["tags"] = tags
    obj.update(extra)
    return json.dumps(obj)


# -- every conformance file -------------------------------------------------------------------


def test_conformance_file_reads(brpl_file: Path) -> None:
    text = brpl_file.read_text()
    decoder = json.JSONDecoder()
    objs, i = [], 0
    while i < len(text.rstrip()):
        while text[i].isspace():
            i += 1
        obj, i = decoder.raw_decode(text, i)
        objs.append(obj)
    expected = [o for o in objs if o.get("points")]
    got = list(read_batch_recording(brpl_file, clock_zero_ns=T0))
    assert len(got) == len(expected) > 0
    assert [b.name for b in got] == [o["name"] for o in expected]
    assert [len(b.points) for b in got] == [len(o["points"]) for o in expected]
    assert got[0].points[0].time_ns == T0
    first = parse_rfc3339_ns(expected[0]["points"][0]["time"])
    for b, o in zip(got, expected, strict=True):
        assert b.tags == o.get("tags", {})
        for p, raw in zip(b.points, o["points"], strict=True):
            assert p.time_ns == parse_rfc3339_ns(raw["time"]) - first + T0
            assert p.tags == (raw.get("tags") or o.get("tags", {}))
            want = {k: float(v) if type(v) is int else v for k, v in raw["fields"].items() if v is not None}
            assert p.fields == want
        assert b.time_ns == max(b.points[-1].time_ns, b.tmax_ns or b.points[-1].time_ns)
    unshifted = list(read_batch_recording(brpl_file))
    assert unshifted[0].points[0].time_ns == first


def test_multiline_objects_and_empty_batches(conformance_data: Path) -> None:
    (b,) = read_batch_recording(conformance_data / "TestBatch_FluxQuery.0.brpl")
    assert b.name == "yeas" and b.tags == {"vote": "should we orange juice"}
    assert [p.fields["value"] for p in b.points] == ["yea", "nay", "yea", "yea", "nay", "yea"]
    assert b.lineno == 1


def test_tmax_is_not_shifted(conformance_data: Path) -> None:
    path = conformance_data / "TestBatch_Combine.0.brpl"
    batches = list(read_batch_recording(path, clock_zero_ns=T0))
    raw = [parse_rfc3339_ns(json.loads(line)["tmax"]) for line in path.read_text().splitlines() if line]
    assert [b.tmax_ns for b in batches] == raw
    assert all(b.time_ns == b.tmax_ns for b in batches)  # 2015 tmax beats points shifted to 1971
    assert batches[0].points[0].time_ns == T0


# -- synthetic cases -----------------------------------------------------------------------------


def test_shift_relative_to_first_point_of_first_nonempty_batch(tmp_path: Path) -> None:
    text = "\n".join(
        [
            batch("a", []),
            batch("a", ["2020-01-01T00:00:10Z", "2020-01-01T00:00:12.5Z"], tags={"h": "x"}),
            batch("a", ["2020-01-01T00:00:05Z"], tmax="2020-01-01T00:00:20Z"),
            batch("a", ["2020-01-01T00:01:00.000000001Z"], tmax="0001-01-01T00:00:00Z"),
        ]
    )
    p = write(tmp_path, text)
    got = list(read_batch_recording(p, clock_zero_ns=0))
    assert [[pt.time_ns for pt in b.points] for b in got] == [[0, 2_500_000_000], [-5 * S], [50 * S + 1]]
    assert got[0].time_ns == 2_500_000_000 and got[0].tmax_ns is None
    tmax = parse_rfc3339_ns("2020-01-01T00:00:20Z")
    assert got[1].tmax_ns == tmax and got[1].time_ns == tmax  # tmax unshifted, larger
    assert got[2].tmax_ns is None and got[2].time_ns == 50 * S + 1
    assert got[0].points[0].tags == {"h": "x"} and got[1].points[0].tags == {}


def test_point_tags_win_over_batch_tags_and_fields_types(tmp_path: Path) -> None:
    obj = {
        "name": "m",
        "tags": {"host": "a"},
        "group": "m\nhost=a",
        "byname": True,
        "points": [
            {"fields": {"i": 3, "f": 1.5, "s": "x", "b": False, "n": None}, "tags": {"host": "b"}, "time": 5},
            {"fields": {"i": 4}, "tags": {}, "time": "1970-01-01T00:00:01+01:00"},
        ],
    }
    p = write(tmp_path, json.dumps(obj, indent=2))
    (b,) = read_batch_recording(p)
    assert b.points[0] == RecordedPoint(5, {"i": 3.0, "f": 1.5, "s": "x", "b": False}, {"host": "b"})
    assert type(b.points[0].fields["i"]) is float
    assert b.points[1] == RecordedPoint(1 * S - 3600 * S, {"i": 4.0}, {"host": "a"})
    assert (b.group, b.by_name) == ("m\nhost=a", True)


def test_several_objects_on_one_line_and_a_top_level_array(tmp_path: Path) -> None:
    one, two = batch("a", ["1970-01-01T00:00:01Z"]), batch("b", ["1970-01-01T00:00:02Z"])
    p = write(tmp_path, f"{one}{two}  [{one}, {two}]")
    assert [b.name for b in read_batch_recording(p)] == ["a", "b", "a", "b"]


def test_large_object_spanning_read_blocks(tmp_path: Path) -> None:
    times = [format_rfc3339_ns(i * S) for i in range(20_000)]
    p = write(tmp_path, batch("big", times, tags={"t": "é✓"}) + "\n" + batch("x", times[:1]), gz=True)
    got = list(read_batch_recording(p, clock_zero_ns=T0))
    assert [len(b.points) for b in got] == [20_000, 1]
    assert got[0].points[-1].time_ns == T0 + 19_999 * S and got[0].tags == {"t": "é✓"}
    assert got[1].lineno == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{"name":"a","points":[]}\n{"name": "b",\n "points": [}', 3, "bad JSON"),
        ('{"name":"a","points":[]}\n{"name": "b", "points": [', 2, "truncated JSON"),
        ('{"name":"a","points":[{"fields":{},"time":"2015-13-01T00:00:00Z"}]}', 1, "point 1"),
        ('\n{"name":"a","points":[{"fields":{},"time":"yesterday"}]}', 2, "not an RFC 3339 time"),
        ('{"name":"a","points":[{"fields":{}}]}', 1, "has no time"),
        ('{"name":"a","points":[{"fields":{"v":[1]},"time":0}]}', 1, "field 'v' has a list value"),
        ('{"name":"a","tags":{"t":1},"points":[]}', 1, "tags must be an object of strings"),
        ('{"name":"a","points":[{"fields":{},"time":"3000-01-01T00:00:00Z"}]}', 1, "outside the range"),
        ("42", 1, "expected a batch object"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(RecordingError, match=message) as err:
        list(read_batch_recording(p))
    assert err.value.line == line
    assert str(p) in str(err.value)


def test_bad_json_column(tmp_path: Path) -> None:
    p = write(tmp_path, '{"name":"a","points":[]}\n  {"name" "b"}')
    with pytest.raises(RecordingError) as err:
        list(read_batch_recording(p))
    assert (err.value.line, err.value.column) == (2, 11)


def test_zip_archive_sources(tmp_path: Path) -> None:
    p = tmp_path / "k.brpl"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("1", batch("second", ["1970-01-01T00:00:09Z"]) + "\n")
        zf.writestr("0", batch("first", ["1970-01-01T00:00:05Z"]) + "\n")
    assert batch_recording_sources(p) == 2
    assert [b.name for b in read_batch_recording(p, source=0)] == ["first"]
    (b,) = read_batch_recording(p, source=1, clock_zero_ns=0)
    assert b.name == "second" and b.points[0].time_ns == 0  # each source shifts on its own
    with pytest.raises(RecordingError, match="source 2 does not exist"):
        list(read_batch_recording(p, source=2))
    plain = write(tmp_path, batch("a", ["1970-01-01T00:00:05Z"]))
    assert batch_recording_sources(plain) == 1
    with pytest.raises(RecordingError, match="source 1 does not exist"):
        list(read_batch_recording(plain, source=1))


def test_writer_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "rec.brpl"
    batches = [
        RecordedBatch(
            "cpu",
            {"host": "a"},
            [
                RecordedPoint(1_445_000_000_123_456_789, {"v": 1.5, "s": "x", "b": True}, {"host": "a"}),
                RecordedPoint(1_445_000_001_000_000_000, {"v": 2.0}, {"host": "a", "cpu": "0"}),
            ],
            tmax_ns=1_445_000_010_000_000_000,
            group="cpu\nhost=a",
            by_name=True,
        ),
        RecordedBatch("mem", {}, [RecordedPoint(-1, {"v": 3.0}, {})]),
        RecordedBatch("empty", {}, []),
    ]
    with BatchRecordingWriter(p) as w:
        for b in batches:
            w.write(b)
        with pytest.raises(RecordingError, match="cannot be recorded"):
            w.write(RecordedBatch("nan", {}, [RecordedPoint(0, {"v": float("nan")}, {})]))
        assert w.batches == 3
    assert p.read_bytes()[:2] == b"\x1f\x8b"
    got = list(read_batch_recording(p))
    assert len(got) == 2  # the empty batch is dropped on read
    assert got[0].points == batches[0].points and got[0].tmax_ns == batches[0].tmax_ns
    assert (got[0].name, got[0].tags, got[0].group, got[0].by_name) == (
        "cpu",
        {"host": "a"},
        "cpu\nhost=a",
        True,
    )
    assert got[0].time_ns == 1_445_000_010_000_000_000
    assert got[1].points == batches[1].points and got[1].tmax_ns is None and got[1].time_ns == -1
    first = json.loads(gzip.decompress(p.read_bytes()).split(b"\n")[0])
    assert first["tmax"] == "2015-10-16T12:53:30Z"
    assert first["points"][0]["time"] == "2015-10-16T12:53:20.123456789Z"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2015-10-30T17:14:12Z", 1_446_225_252 * S),
        ("2015-10-30T17:14:12.1Z", 1_446_225_252 * S + 100_000_000),
        ("2015-10-30T17:14:12.123456789Z", 1_446_225_252 * S + 123_456_789),
        ("2015-10-30T17:14:12.1234567891Z", 1_446_225_252 * S + 123_456_789),
        ("2015-10-30T19:14:12+02:00", 1_446_225_252 * S),
        ("1969-12-31T23:59:59.5Z", -500_000_000),
        ("2262-04-11T23:47:16.854775807Z", 2**63 - 1),
    ],
)
def test_rfc3339_exact(text: str, ns: int) -> None:
    assert parse_rfc3339_ns(text) == ns
    if "+" not in text and not text.endswith("1Z"):
        assert format_rfc3339_ns(ns) == text


@pytest.mark.parametrize(
    "text",
    ["2015-10-30 17:14:12Z", "2015-10-30T17:14:12", "2015-02-30T00:00:00Z", "2015-10-30T24:00:00Z", ""],
)
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339_ns(text)


def test_archive_writer_makes_kapacitors_zip_format(tmp_path: Path) -> None:
    p = tmp_path / "arch.brpl"
    with BatchArchiveWriter(p, sources=2) as w:
        w.write(1, RecordedBatch("b", {}, [RecordedPoint(2 * S, {"v": 2.0}, {})]))
        w.write(0, RecordedBatch("a", {"h": "x"}, [RecordedPoint(1 * S, {"v": 1.0}, {"h": "x"})]))
        w.write(1, RecordedBatch("c", {}, [RecordedPoint(3 * S, {"v": 3.0}, {})]))
        with pytest.raises(ValueError, match="out of range"):
            w.write(2, RecordedBatch("x", {}, []))
    with zipfile.ZipFile(p) as zf:
        assert zf.namelist() == ["0", "1"]
    assert batch_recording_sources(p) == 2
    assert [b.name for b in read_batch_recording(p, source=0)] == ["a"]
    assert [(b.name, b.points[0].time_ns) for b in read_batch_recording(p, source=1, clock_zero_ns=0)] == [
        ("b", 0),
        ("c", S),
    ]


@pytest.mark.parametrize("chunk", [3, 17, 1 << 16])
def test_chunked_reads_agree_and_errors_stop_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from kapfast.recordings import batch as batch_mod

    monkeypatch.setattr(batch_mod, "_READ_CHUNK", chunk)
    objs = [batch(f"m{i}", [format_rfc3339_ns(i * S)], tags={"k": 'v "q" \\ é'}) for i in range(50)]
    p = write(tmp_path, "\n".join(objs))
    got = list(read_batch_recording(p))
    assert [b.name for b in got] == [f"m{i}" for i in range(50)]
    assert [b.lineno for b in got] == list(range(1, 51))
    assert got[7].tags == {"k": 'v "q" \\ é'}
    bad = write(tmp_path, objs[0] + "\n{nope}\n" + "\n".join(objs), "bad.brpl")
    with pytest.raises(RecordingError, match="bad JSON") as err:
        list(read_batch_recording(bad))
    assert (err.value.line, err.value.column) == (2, 2)
