"""kapfast.lineproto.parse on several threads: the same batch and errors as on one thread."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kapfast import _native, lineproto

NOW = 1_700_000_000_123_456_789


def observed(res: lineproto.ParseResult) -> dict[str, object]:
    """Everything the public API shows of a parse, dictionaries and their order included."""
    b = res.batch
    codes, names = _native.batch_measurement_codes(b)
    tags = {}
    for key in b.tag_keys():
        view, values = b.tag(key)
        tags[key] = (np.asarray(view).tolist(), values)
    return {
        "len": len(b),
        "series": b.series(),
        "measurements": (bytes(codes), names),
        "tags": tags,
        "kinds": b.field_kinds(),
        "fields": {name: b.field_values(name) for name in b.field_names()},
        "time": np.asarray(b.time()).tolist(),
        "rows": b.rows(),
        "errors": [(e.line, e.column, e.message) for e in res.errors],
    }


def random_body(rng: random.Random, lines: int) -> bytes:
    meas = ["cpu", "mem", "disk", r"m\ x", r"m\,y", "net", "é"]
    keys = ["host", "dc", r"k\=1", "zone"]
    vals = ["a", "b", r"c\ d", "☃", "g"]
    fields = ["v", "n", "s", r"f\ 1", "b"]
    values = ["1", "2.5", "-3e2", "4i", "6u", "t", "false", '"str"', '"a\nb"', '"q\\"q"']
    bad = ["bad", "m v=", "m v=1x 1", "m,=x v=1", 'm v="open', "m v=1 12a", "m,t=1,t=2 v=1", '="x']
    out = []
    for _ in range(lines):
        r = rng.random()
        if r < 0.05:
            out.append(rng.choice(bad))
        elif r < 0.07:
            out.append('# comment "')
        else:
            tags = "".join(f",{rng.choice(keys)}={rng.choice(vals)}" for _ in range(rng.randrange(3)))
            fs = ",".join(f"{rng.choice(fields)}={rng.choice(values)}" for _ in range(1 + rng.randrange(3)))
            ts = f" {rng.randrange(10**9)}" if rng.random() < 0.8 else ""
            out.append(f"{rng.choice(meas)}{tags} {fs}{ts}")
    return ("\n".join(out) + "\n").encode()


def test_large_body_parses_the_same_on_one_and_two_threads() -> None:
    rng = random.Random(7)
    body = random_body(rng, 40_000)
    one = lineproto.parse(body, now_ns=NOW, threads=1)
    assert one.errors and len(one.batch) > 30_000
    want = observed(one)
    for threads in (None, 2, 3, 8):
        got = lineproto.parse(body, now_ns=NOW, threads=threads)
        assert observed(got) == want, threads
        assert got.batch == one.batch


@pytest.mark.parametrize("seed", range(6))
def test_error_lines_are_counted_from_the_start_of_the_body(seed: int) -> None:
    rng = random.Random(seed)
    good = b"cpu,host=a v=1 1\n" * 20_000
    at = sorted(rng.randrange(good.count(b"\n")) for _ in range(5))
    lines = good.split(b"\n")
    for i in at:
        lines[i] = b"cpu,host=a v=oops 1"
    body = b"\n".join(lines)
    one = lineproto.parse(body, now_ns=NOW, threads=1)
    two = lineproto.parse(body, now_ns=NOW, threads=2)
    assert [e.line for e in one.errors] == sorted({i + 1 for i in at})
    assert [(e.line, e.column, e.message) for e in two.errors] == [
        (e.line, e.column, e.message) for e in one.errors
    ]
    assert len(two.batch) == len(one.batch)


def test_mixed_field_types_across_the_halves_stay_mixed() -> None:
    half = 256 * 1024
    body = b"m v=1 1\n" * (half // 8) + b"m v=2i 2\n" * (half // 9)
    one = lineproto.parse(body, now_ns=NOW, threads=1)
    two = lineproto.parse(body, now_ns=NOW, threads=2)
    assert one.batch.field_kind("v") == "mixed"
    assert observed(two) == observed(one)


def test_default_uses_threads_on_a_large_body_with_the_same_result() -> None:
    n = lineproto.PARALLEL_MIN_BYTES // 12
    body = b"cpu,host=a v=1 1\n" * (n // 2) + b"mem,host=b v=2i 2\nbad\n" * (n // 4)
    one = lineproto.parse(body, now_ns=NOW, threads=1)
    auto = lineproto.parse(body, now_ns=NOW)
    assert len(body) >= lineproto.PARALLEL_MIN_BYTES
    assert auto.batch == one.batch
    assert auto.batch.series() == one.batch.series() == ["cpu,host=a", "mem,host=b"]
    assert auto.batch.field_values("v") == one.batch.field_values("v")
    assert [(e.line, e.column) for e in auto.errors] == [(e.line, e.column) for e in one.errors]


def test_thread_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads"):
        lineproto.parse(b"m v=1 1\n", now_ns=NOW, threads=0)


def test_small_bodies_are_the_same_with_any_thread_count() -> None:
    rng = random.Random(3)
    for _ in range(50):
        body = random_body(rng, rng.randrange(1, 40))
        want = observed(lineproto.parse(body, now_ns=NOW, threads=1))
        assert observed(lineproto.parse(body, now_ns=NOW, threads=4)) == want
