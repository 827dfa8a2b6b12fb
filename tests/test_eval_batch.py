"""Lambdas over real batches (parsed from line protocol): masks, filters, values, errors, state."""

from __future__ import annotations

import threading
from array import array

import numpy as np
import pytest

from kapfast import lineproto
from kapfast._native import Group, PointBatch, StreamChunk
from kapfast.errors import EvalError
from kapfast.lambdas import EvalState, Program, batch_with_field

S = 1_000_000_000
T0 = 1_509_630_330 * S  # 2017-11-02T13:45:30Z, a Thursday

LP = f"""cpu,host=web01 usage_idle=5.0,usage_user=60.0,n=3i {T0}
cpu,host=db02 usage_idle=50.0,usage_user=70.0,n=0i {T0 + S}
cpu,host=web03 usage_user=90.0,n=2i {T0 + 2 * S}
cpu,host=web04 usage_idle=1.5,usage_user=10.0,n=4i {T0 + 3 * 3600 * S}
""".encode()


def parse(data: bytes) -> PointBatch:
    res = lineproto.parse(data, now_ns=T0)
    assert res.ok, res.errors
    return res.batch


def ref(name: str) -> tuple[str, str]:
    return ("ref", name)


def binary(op: str, left: object, right: object) -> tuple[object, ...]:
    return ("binary", op, left, right)


def call(name: str, *args: object) -> tuple[object, ...]:
    return ("call", name, list(args))


WHERE = binary(
    "AND", binary("<", ref("usage_idle"), ("int", 10)), binary(">", ref("usage_user"), ("int", 50))
)


def test_mask_counts_rows_that_fail_and_names_the_first() -> None:
    batch = parse(LP)
    mask, errors, first = Program(WHERE).mask(batch)
    assert isinstance(mask, memoryview) and mask.readonly and mask.format == "?"
    assert np.frombuffer(mask, dtype=np.bool_).tolist() == [True, False, False, False]
    assert errors == 1  # row 3 has no usage_idle
    assert first == 'left reference value "usage_idle" is missing value'


def test_filter_keeps_matching_rows() -> None:
    batch = parse(LP)
    kept, errors, first = Program(binary("=~", ref("host"), ("regex", "^web"))).filter(batch)
    assert (len(kept), errors, first) == (3, 0, None)
    assert kept.tag_values("host") == ["web01", "web03", "web04"]
    none, errors, _ = Program(("bool", False)).filter(batch)
    assert len(none) == 0 and errors == 0


def test_filter_chunk_keeps_rows_with_their_groups() -> None:
    """where() on a stream chunk: the kept rows with their group codes, errors counted; the chunk
    itself when every row is kept; the same rows as filtering by the mask."""
    batch = parse(LP)
    groups = [Group("a"), Group("b")]
    chunk = StreamChunk(batch, [1, 0, 1, 0], groups)
    prog = Program(binary("<", ref("usage_idle"), ("int", 10)))
    kept, errors, first = prog.filter_chunk(chunk)
    assert (len(kept), errors, first) == (2, 1, 'left reference value "usage_idle" is missing value')
    assert list(kept.codes) == [1, 0] and kept.groups == chunk.groups
    assert kept.batch.tag_values("host") == ["web01", "web04"]
    mask, _, _ = prog.mask(batch)
    assert kept.batch == chunk.filter(mask).batch == batch.filter(mask)
    assert prog.filter(batch)[0] == kept.batch
    everything = Program(binary(">", ref("n"), ("int", -1)))
    same, errors, _ = everything.filter_chunk(chunk)
    assert same is chunk and errors == 0
    assert everything.filter(batch)[0] is batch


def test_filter_chunk_keeps_stateful_state_per_group() -> None:
    # count() per group: rows 0 and 2 are group 1's first and second, rows 1 and 3 group 0's
    batch = parse(LP)
    chunk = StreamChunk(batch, [1, 0, 1, 0], [Group("a"), Group("b")])
    prog = Program(binary("==", call("count"), ("int", 2)))
    groups = np.array([1, 0, 1, 0], dtype=np.uint32)
    kept, errors, _ = prog.filter_chunk(chunk, state=EvalState(), groups=groups)
    assert errors == 0 and kept.batch.tag_values("host") == ["web03", "web04"]


def test_float_results_are_zero_copy_buffers() -> None:
    batch = parse(LP)
    res = Program(binary("+", ref("usage_user"), binary("*", ref("usage_idle"), ("float", 2.0)))).eval(batch)
    assert res.kind == "float" and len(res) == 4
    values = res.values
    assert isinstance(values, memoryview) and values.format == "d" and values.readonly
    valid = np.frombuffer(res.valid, dtype=np.bool_)
    assert valid.tolist() == [True, True, False, True]
    got = np.frombuffer(values, dtype=np.float64)
    assert got[valid].tolist() == [70.0, 170.0, 13.0]
    assert res.error_count == 1 and res.first_error == 'left reference value "usage_idle" is missing value'
    # The buffer stays valid after the result object is gone.
    del res
    assert got[0] == 70.0
    with pytest.raises(TypeError):
        values[0] = 1.0  # type: ignore[index]


def test_int_division_by_zero_fails_that_row_only() -> None:
    res = Program(binary("/", ("int", 12), ref("n"))).eval(parse(LP))
    assert res.kind == "int"
    assert np.frombuffer(res.valid, dtype=np.bool_).tolist() == [True, False, True, True]
    assert np.frombuffer(res.values, dtype=np.int64)[[0, 2, 3]].tolist() == [4, 6, 3]
    assert (res.error_count, res.first_error) == (1, "integer divide by zero")


def test_mixed_int_and_float_arithmetic_is_a_row_error() -> None:
    res = Program(binary("*", ref("n"), ref("usage_user"))).eval(parse(LP))
    assert res.error_count == 4
    assert res.first_error == (
        "mismatched type to binary operator. got int * float. "
        "see bool(), int(), float(), string(), duration()"
    )


def test_string_results_are_lists_with_none_for_failed_rows() -> None:
    res = Program(binary("+", ref("host"), call("string", ref("usage_idle")))).eval(parse(LP))
    assert res.kind == "string"
    assert res.values == ["web015", "db0250", None, "web041.5"]


def test_time_functions_and_now() -> None:
    batch = parse(LP)
    hours = Program(call("hour", ref("time"))).eval(batch)
    assert np.frombuffer(hours.values, dtype=np.int64).tolist() == [13, 13, 13, 16]
    now = Program(call("unixNano", call("now"))).eval(batch, now_ns=42)
    assert np.frombuffer(now.values, dtype=np.int64).tolist() == [42] * 4
    dur = Program(binary("*", ("duration", S), ref("n"))).eval(batch)
    assert dur.kind == "duration"
    assert np.frombuffer(dur.values, dtype=np.int64).tolist() == [3 * S, 0, 2 * S, 4 * S]


def test_results_become_fields() -> None:
    batch = parse(LP)
    res = Program(binary("*", ref("usage_user"), ("float", 0.5))).eval(batch)
    out = res.assign(batch, "half")
    assert out.field_values("half") == [30.0, 35.0, 45.0, 5.0]
    assert batch_with_field(batch, "half", res) == out
    assert "half" not in batch.field_names()  # the input batch is unchanged
    partial = Program(binary("+", ref("usage_idle"), ("float", 1.0))).eval(batch).assign(batch, "usage_idle")
    assert partial.field_values("usage_idle") == [6.0, 51.0, None, 2.5]
    with pytest.raises(ValueError, match="rows"):
        res.assign(parse(LP + LP), "x")


def test_count_keeps_state_per_group_across_batches() -> None:
    batch = parse(LP)
    count = Program(call("count"))
    state = EvalState()
    first = count.eval(batch, state=state, groups=[0, 1, 0, 1])
    assert np.frombuffer(first.values, dtype=np.int64).tolist() == [1, 1, 2, 2]
    second = count.eval(batch, state=state, groups=array("I", [0, 0, 1, 2]))
    assert np.frombuffer(second.values, dtype=np.int64).tolist() == [3, 4, 3, 1]
    assert len(state) == 3
    state.reset(group=0)
    third = count.eval(batch, state=state, groups=np.array([0, 0, 0, 0], dtype=np.uint32))
    assert np.frombuffer(third.values, dtype=np.int64).tolist() == [1, 2, 3, 4]
    fourth = count.eval(batch, state=state, groups=np.array([0, 0, 0, 1]))  # int64 ids
    assert np.frombuffer(fourth.values, dtype=np.int64).tolist() == [5, 6, 7, 4]
    with pytest.raises(ValueError, match="group ids must be in"):
        count.eval(batch, state=state, groups=np.array([0, 0, 0, -1]))
    # Without a state each call starts afresh.
    assert np.frombuffer(count.eval(batch).values, dtype=np.int64).tolist() == [1, 2, 3, 4]


def test_sigma_flags_outliers() -> None:
    lines = b"".join(b"m v=%d.0 %d\n" % (v, i) for i, v in enumerate([10, 11, 9, 10, 11, 10, 50]))
    program = Program(binary(">", call("sigma", ref("v")), ("float", 2.0)))
    mask, errors, _ = program.mask(parse(lines), state=EvalState())
    assert errors == 0
    assert np.frombuffer(mask, dtype=np.bool_).tolist() == [False] * 6 + [True]


def test_bad_arguments() -> None:
    batch = parse(LP)
    program = Program(call("count"))
    with pytest.raises(ValueError, match="groups has 2 entries but the batch has 4 rows"):
        program.eval(batch, groups=[0, 1])
    with pytest.raises(TypeError, match="groups"):
        program.eval(batch, groups=["a"])  # type: ignore[list-item]
    with pytest.raises(EvalError, match="evaluates to float, but a boolean is needed"):
        Program(ref_plus_one := binary("+", ref("usage_user"), ("float", 1.0))).mask(batch)
    with pytest.raises(EvalError):
        Program(ref_plus_one).filter(batch)


def test_programs_are_shared_between_threads() -> None:
    batch = parse(LP * 2000)
    program = Program(WHERE)
    state = EvalState()
    counter = Program(call("count"))
    results: list[int] = []

    def work() -> None:
        for _ in range(20):
            mask, _, _ = program.mask(batch)
            results.append(int(np.frombuffer(mask, dtype=np.bool_).sum()))
            counter.eval(batch, state=state)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2000] * 80
    last = counter.eval(batch, state=state)
    assert np.frombuffer(last.values, dtype=np.int64)[-1] == 81 * len(batch)
