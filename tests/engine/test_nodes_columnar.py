"""The stateless nodes on whole batches (default, delete, shift, sample, groupBy, eval().tags(),
from().truncate/round, httpOut, influxDBOut): the same output however the points are chunked,
the same output and counters as the row-by-row reference of each node, and the edge cases."""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.helpers import Row, S, cpu, make_task, series

from kapfast._native import PointBatch, batch_default, batch_delete, batch_retime, sample_mask
from kapfast.engine.context import BatchPointsWriter
from kapfast.engine.messages import BatchMessage, Group, StreamChunk
from kapfast.engine.node import Node
from kapfast.engine.nodes.base import RowNode
from kapfast.engine.nodes.basic import EvalNode
from kapfast.engine.rows import NO_FIELDS, NULLS, batch_rows, chunk_rows, to_batch
from kapfast.engine.task import Task

# --- harness -----------------------------------------------------------------------------------


def _batch(rows: Sequence[Row]) -> PointBatch:
    # one batch per row, concatenated: a field may change type from row to row (mixed columns)
    return PointBatch.concat([PointBatch.from_rows([r]) for r in rows])


def _capture(node: Node) -> list[Any]:
    """Everything ``node`` emits, one entry per point (stream) or per batch, as comparable text."""
    out: list[Any] = []
    emit = node.emit

    def capturing(msg: Any) -> None:
        if isinstance(msg, StreamChunk):
            for row, g in chunk_rows(msg):
                out.append(repr((row, g.id, g.tags)))
        elif isinstance(msg, BatchMessage):
            out.append(repr((msg.name, msg.group, msg.tmax, batch_rows(msg.points))))
        emit(msg)

    node.emit = capturing  # type: ignore[method-assign]
    return out


def _node(task: Task, kind: str) -> Node:
    return next(n for n in task.nodes.values() if n.spec.kind == kind)


def _run(
    script: str,
    kind: str,
    rows: Sequence[Row],
    sizes: Sequence[int],
    patch: Callable[[Node], None] | None = None,
) -> tuple[list[Any], dict[str, Any], Task]:
    """Feeds ``rows`` as stream chunks of ``sizes`` (cycled; 0 = all at once)."""
    task, clock = make_task(script)
    node = _node(task, kind)
    if patch is not None:
        patch(node)
    out = _capture(node)
    i = 0
    k = 0
    while i < len(rows):
        size = sizes[k % len(sizes)] or len(rows)
        part = rows[i : i + size]
        clock.set(max(r[3] for r in part))
        task.write_points(_batch(part), "db", "rp")
        i += size
        k += 1
    st_ = task.node_stats()[node.name]
    return out, {k: v for k, v in st_.items() if k != "avg_exec_time_ns"}, task


def _row_path(node: Node) -> None:
    """The node's row-by-row reference: RowNode's per-row loop over its ``row()``."""
    if isinstance(node, EvalNode):
        node._eval_tags = node._eval_tags_rows  # type: ignore[method-assign]
    else:
        node.on_chunk = types.MethodType(RowNode.on_chunk, node)  # type: ignore[method-assign]


# --- generated points --------------------------------------------------------------------------

_values = st.one_of(
    st.none(),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-50, 50),
    st.text("abz", max_size=3),
    st.booleans(),
)


@st.composite
def _rows(draw: st.DrawFn) -> list[Row]:
    n = draw(st.integers(0, 30))
    t = draw(st.integers(-5, 0)) * S
    rows: list[Row] = []
    for _ in range(n):
        t += draw(st.integers(0, 3)) * S // 2
        tags = {}
        for k, choices in (("host", ["a", "b", "c"]), ("dc", ["x", "y"])):
            v = draw(st.sampled_from([None, *choices]))
            if v is not None:
                tags[k] = v
        fields: dict[str, Any] = {}
        value = draw(_values)
        if value is not None:
            fields["value"] = value
        if draw(st.booleans()):
            fields["other"] = draw(st.floats(-10, 10, allow_nan=False))
        if not fields:
            fields["other"] = 1.0
        rows.append((draw(st.sampled_from(["cpu", "cpu", "mem"])), tags, fields, t))
    return rows


_sizes = st.lists(st.integers(1, 7), min_size=1, max_size=5)

_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# (script, node kind, has a row reference)
_STREAM_CASES = {
    "default": (
        "stream|from().measurement('cpu')|default().field('value', 0.5).field('extra', 'none')"
        ".field('value', 9).tag('host', 'unknown').tag('dc', '')",
        "default",
        True,
    ),
    "delete": (
        "stream|from().measurement('cpu')|delete().field('other').tag('dc').tag('absent')",
        "delete",
        True,
    ),
    "delete_all_fields": (
        "stream|from().measurement('cpu')|delete().field('value').field('other').tag('host')",
        "delete",
        True,
    ),
    "shift": ("stream|from().measurement('cpu')|shift(-5s)", "shift", True),
    "sample_count": ("stream|from().measurement('cpu').groupBy('host')|sample(3)", "sample", True),
    "sample_every": ("stream|from().groupBy('host')|sample(2s)", "sample", True),
    "groupBy_star": ("stream|from()|groupBy(*).exclude('dc')", "groupBy", False),
    "groupBy_by_measurement": ("stream|from()|groupBy('host').byMeasurement()", "groupBy", False),
    "eval_tags": (
        "stream|from().measurement('cpu').groupBy('host')"
        "|eval(lambda: if(\"other\" > 0.0, 'pos', ''), lambda: count(), lambda: \"sign\" + '!')"
        ".as('sign', 'n', 'mark').tags('sign')",
        "eval",
        True,
    ),
    "eval_tags_keep": (
        "stream|from().measurement('cpu')"
        "|eval(lambda: \"host\" + '-x', lambda: \"other\" * 2.0).as('host', 'value').tags('host').keep()",
        "eval",
        True,
    ),
    "eval_tags_keep_list": (
        "stream|from().measurement('cpu')"
        "|eval(lambda: 'k').as('sign').tags('sign').keep('value', 'sign', 'dc')",
        "eval",
        True,
    ),
    "eval_field_hides_tag": (
        "stream|from().measurement('cpu')"
        "|eval(lambda: 1.5, lambda: 'z', lambda: \"dc\" * 2.0).as('dc', 'zz', 'twice').tags('zz').keep()",
        "eval",
        True,
    ),
    "eval_tag_non_string": (
        "stream|from().measurement('cpu')|eval(lambda: \"other\").as('t').tags('t')",
        "eval",
        True,
    ),
    "from_truncate": ("stream|from().measurement('cpu').truncate(2s).groupBy('host')", "from", False),
    "from_round": ("stream|from().round(2s)", "from", False),
}


@pytest.mark.parametrize("case", sorted(_STREAM_CASES))
@_SETTINGS
@given(rows=_rows(), sizes=_sizes)
def test_stream_output_does_not_depend_on_chunking(case: str, rows: list[Row], sizes: list[int]) -> None:
    script, kind, _ = _STREAM_CASES[case]
    whole = _run(script, kind, rows, [0])
    single = _run(script, kind, rows, [1])
    mixed = _run(script, kind, rows, sizes)
    assert whole[0] == single[0] == mixed[0]
    assert whole[1] == single[1] == mixed[1]


@pytest.mark.parametrize("case", sorted(c for c, v in _STREAM_CASES.items() if v[2]))
@_SETTINGS
@given(rows=_rows(), sizes=_sizes)
def test_stream_output_and_counters_match_the_row_path(case: str, rows: list[Row], sizes: list[int]) -> None:
    script, kind, _ = _STREAM_CASES[case]
    columnar = _run(script, kind, rows, sizes)
    reference = _run(script, kind, rows, sizes, patch=_row_path)
    assert columnar[0] == reference[0]
    assert columnar[1] == reference[1]


@_SETTINGS
@given(rows=_rows())
def test_from_truncate_and_round_move_times_like_the_row_path(rows: list[Row]) -> None:
    out, _, _ = _run("stream|from().truncate(2s).round(3s)", "from", rows, [0])
    expected = []
    for name, tags, fields, t in rows:
        t -= t % (2 * S)
        r = t % (3 * S)
        t = t - r + 3 * S if r + r >= 3 * S else t - r
        expected.append((name, tags, fields, t))
    got = [eval(o)[0] for o in out]
    assert [r[3] for r in got] == [r[3] for r in expected]
    assert [(r[0], r[1], r[2]) for r in got] == [(r[0], r[1], r[2]) for r in expected]


# --- counters and edge cases -------------------------------------------------------------------


def test_default_counts_exactly_and_fills_nulls() -> None:
    rows = [
        cpu(0, 1.0, host="a"),
        ("cpu", {}, {"other": 2}, 1 * S),
        ("cpu", {"host": "b"}, {"other": 3, NULLS: "value\x00x"}, 2 * S),
    ]
    b, nf, nt = batch_default(_batch(rows), [("value", 0.0), ("x", "d")], [("host", "h")])
    assert (nf, nt) == (5, 1)
    got = batch_rows(b)
    assert got[1] == ("cpu", {"host": "h"}, {"other": 2, "value": 0.0, "x": "d"}, 1 * S)
    assert got[2] == ("cpu", {"host": "b"}, {"other": 3, "value": 0.0, "x": "d"}, 2 * S)
    assert NULLS not in b.field_names()


def test_delete_counts_null_fields_and_marks_fieldless_rows() -> None:
    rows = [("cpu", {"dc": "x"}, {"value": 1.0, NULLS: "other"}, 0), ("cpu", {}, {"other": 2.0}, 1)]
    b, nf, nt = batch_delete(_batch(rows), ["other", "value"], ["dc"])
    assert (nf, nt) == (3, 1)
    assert b.field_names() == [NO_FIELDS]
    assert batch_rows(b) == [("cpu", {}, {}, 0), ("cpu", {}, {}, 1)]
    assert b.series() == ["cpu"]


def test_edits_of_an_empty_batch_are_empty() -> None:
    empty = PointBatch.from_rows([])
    assert len(batch_default(empty, [("v", 1)], [("t", "x")])[0]) == 0
    assert batch_default(empty, [("v", 1)], [("t", "x")])[1:] == (0, 0)
    assert batch_delete(empty, ["v"], ["t"])[1:] == (0, 0)
    assert len(batch_retime(empty, 5, 2, 3)) == 0
    mask, counts = sample_mask(b"", [4], 3)
    assert (mask, counts) == (b"", [4])


def test_retime_overflow_is_a_clear_error_and_negative_steps_are_refused() -> None:
    b = PointBatch.from_rows([cpu(1, 1.0)])
    with pytest.raises(ValueError, match="int64 nanosecond range"):
        batch_retime(b, 2**63 - 1)
    with pytest.raises(ValueError, match="must not be negative"):
        batch_retime(b, 0, -1)
    with pytest.raises(ValueError, match="4 bytes per row"):
        sample_mask(b"\x00", [0], 1)
    with pytest.raises(ValueError, match="only 1 counts"):
        sample_mask(b"\x01\x00\x00\x00", [0], 1)


def test_default_field_of_an_unusable_type_is_refused_when_the_task_is_built() -> None:
    from kapfast.errors import TaskError

    with pytest.raises(TaskError, match="number, string or bool"):
        make_task("stream|from()|default().field('x', 5s)")


def test_field_type_changes_between_chunks_keep_each_rows_type() -> None:
    script = "stream|from()|default().field('value', 'none')|httpOut('out')"
    rows = [cpu(0, 1.0, host="a"), cpu(1, 2, host="b"), ("cpu", {"host": "c"}, {"o": True}, 2 * S)]
    out, st_, task = _run(script, "default", rows, [1])
    assert [eval(o)[0][2] for o in out] == [{"value": 1.0}, {"value": 2}, {"o": True, "value": "none"}]
    assert st_["fields_defaulted"] == 1
    assert series(task)[0]["values"] == [["1970-01-01T00:00:02Z", True, "none"]]


def test_sample_counts_groups_that_appear_and_vanish() -> None:
    script = "stream|from().groupBy('host')|sample(2)"
    rows = [cpu(t, 1.0, host=h) for t, h in enumerate("aabbbaacb")]
    out, st_, _ = _run(script, "sample", rows, [2])
    kept = [(eval(o)[0][1]["host"], eval(o)[0][3] // S) for o in out]
    assert kept == [("a", 0), ("b", 2), ("b", 4), ("a", 5), ("c", 7)]
    assert st_["working_cardinality"] == 3


def test_huge_group_counts_stay_columnar() -> None:
    rows = [cpu(i, float(i), host=f"h{i}") for i in range(5000)]
    script = "stream|from().groupBy('host')|sample(2)|default().tag('dc', 'z')|httpOut('out')"
    out, _, task = _run(script, "sample", rows, [0])
    assert len(out) == 5000  # each group's first point
    body = series(task)
    assert len(body) == 5000
    assert body[-1]["tags"] == {"dc": "z", "host": "h4999"}


def test_eval_tags_with_null_fields_takes_the_row_path() -> None:
    task, _ = make_task("stream|from()|eval(lambda: 'v').as('t').tags('t').keep()")
    node = _node(task, "eval")
    assert isinstance(node, EvalNode)
    rows = [("cpu", {}, {"a": 1.0, "b": None}, 0)]
    b, alive = node._eval_tags(to_batch(rows), [""], [0])
    assert batch_rows(b) == [("cpu", {"t": "v"}, {"a": 1.0, "b": None}, 0)]
    assert list(alive) == [0]


# --- batch edges -------------------------------------------------------------------------------


def _batch_task(script: str, kind: str) -> tuple[Task, list[Any]]:
    task, _ = make_task(script, task_type="batch")
    return task, _capture(_node(task, kind))


def _msg(rows: Sequence[Row], tmax: int, group: Group | None = None) -> BatchMessage:
    return BatchMessage("cpu", group or Group(), tmax, _batch(rows) if rows else PointBatch.from_rows([]))


QUERY = "batch|query('SELECT value FROM db.rp.cpu').period(10s).every(10s)"


def test_batch_default_delete_shift_update_points_group_and_tmax() -> None:
    g = Group("host=a", ("host",), False, (("host", "a"),))
    rows = [cpu(1, 1.0, host="a"), ("cpu", {"host": "a"}, {"other": 1}, 2 * S)]
    task, out = _batch_task(QUERY + "|default().field('value', 0).tag('dc', 'd')", "default")
    task.write_batch(0, _msg(rows, 10 * S, g))
    _name, group, _tmax, got = eval(out[0], {"Group": Group})
    assert group.tags == (("dc", "d"), ("host", "a"))
    assert got[1][2] == {"other": 1, "value": 0}
    counters = task.node_stats()[_node(task, "default").name]
    assert (counters["fields_defaulted"], counters["tags_defaulted"]) == (1, 2)
    task, out = _batch_task(QUERY + "|delete().tag('host')", "delete")
    task.write_batch(0, _msg(rows, 10 * S, g))
    _, group, _, got = eval(out[0], {"Group": Group})
    assert group.tags == () and got[0][1] == {}
    task, out = _batch_task(QUERY + "|shift(1s)", "shift")
    task.write_batch(0, _msg(rows, 10 * S, g))
    task.write_batch(0, _msg([], 20 * S, g))
    assert [eval(o, {"Group": Group})[2] for o in out] == [11 * S, 21 * S]
    assert [r[3] for r in eval(out[0], {"Group": Group})[3]] == [2 * S, 3 * S]


def test_batch_group_by_merges_batches_of_one_time_in_time_order() -> None:
    task, out = _batch_task(QUERY + "|groupBy('host')", "groupBy")
    a = [cpu(5, 1.0, host="b"), cpu(1, 2.0, host="a"), cpu(3, 3.0, host="b")]
    b = [cpu(2, 4.0, host="b"), cpu(3, 5.0, host="b")]
    task.write_batch(0, _msg(a, 10 * S))
    task.write_batch(0, _msg(b, 10 * S))
    name = _node(task, "groupBy").name
    # Kapacitor's working_cardinality of a groupBy: the groups of the batches it holds
    assert task.node_stats()[name]["working_cardinality"] == 2
    task.write_batch(0, _msg([], 20 * S))  # time moves on: the merged groups go out
    got = [eval(o, {"Group": Group}) for o in out]
    assert [m[1].id for m in got] == ["host=a", "host=b"]
    assert [(r[3] // S, r[2]["value"]) for r in got[1][3]] == [(2, 4.0), (3, 3.0), (3, 5.0), (5, 1.0)]
    assert task.node_stats()[name]["working_cardinality"] == 0


def test_batch_group_by_star_by_measurement() -> None:
    task, out = _batch_task(QUERY + "|groupBy(*).exclude('dc').byMeasurement()", "groupBy")
    rows = [cpu(1, 1.0, host="a", dc="x"), ("mem", {"dc": "y"}, {"v": 1}, 2 * S)]
    task.write_batch(0, _msg(rows, 10 * S))
    task.write_batch(0, _msg([], 20 * S))
    got = [eval(o, {"Group": Group}) for o in out]
    assert [m[1].id for m in got] == ["cpu\nhost=a", "mem\n"]
    assert got[1][1].by_measurement and got[1][1].tags == ()


# --- outputs -----------------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, cluster: str, db: str, rp: str, body: bytes, precision: str) -> None:
        self.lines.append(body)

    def create_database(self, cluster: str, db: str, rp: str = "") -> None:
        pass


class _BatchWriter(_Writer):
    def __init__(self) -> None:
        super().__init__()
        self.counts: list[int] = []

    def write_batch(self, cluster: str, db: str, rp: str, batch: PointBatch, precision: str) -> None:
        self.counts.append(len(batch))
        self.write(cluster, db, rp, batch.to_line_protocol(precision), precision)


@_SETTINGS
@given(rows=_rows(), sizes=_sizes)
def test_influxdb_out_writes_the_same_bytes_however_chunked(rows: list[Row], sizes: list[int]) -> None:
    script = (
        "stream|from().measurement('cpu')|default().field('value', 0)"
        "|influxDBOut().database('d').measurement('m').tag('k', 'v').tag('dc', '').buffer(4)"
    )
    bodies = []
    for writer, chunking in ((_Writer(), [0]), (_Writer(), [1]), (_BatchWriter(), sizes)):
        task, _clock = make_task(script, writer=writer)
        i = 0
        k = 0
        while i < len(rows):
            size = chunking[k % len(chunking)] or len(rows)
            task.write_points(_batch(rows[i : i + size]), "db", "rp")
            i += size
            k += 1
        task.finish()
        bodies.append(b"".join(writer.lines))
        assert task.node_stats()["influxdb_out3"]["points_written"] == sum(r[0] == "cpu" for r in rows)
    assert bodies[0] == bodies[1] == bodies[2]
    assert all(b",dc=" not in line for line in bodies[0].splitlines())


def test_batch_writer_protocol_is_recognised() -> None:
    assert isinstance(_BatchWriter(), BatchPointsWriter)
    assert not isinstance(_Writer(), BatchPointsWriter)


@_SETTINGS
@given(rows=_rows(), sizes=_sizes)
def test_http_out_keeps_the_last_point_per_group_however_chunked(rows: list[Row], sizes: list[int]) -> None:
    script = "stream|from().groupBy('host')|httpOut('out')"
    bodies = []
    for chunking in ([0], [1], sizes):
        _, _, task = _run(script, "httpOut", rows, chunking)
        bodies.append(task.http_out("out"))
    # the shown points copied out of their chunks after every chunk: the same body
    _, _, task = _run(script, "httpOut", rows, sizes, patch=lambda n: setattr(n, "compact_slack", -(10**9)))
    bodies.append(task.http_out("out"))
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    last: dict[str, Row] = {}
    for r in rows:
        gid = r[1].get("host", "")
        last.pop(gid, None)
        last[gid] = r
    got = bodies[0]["series"] or [] if bodies[0] else []
    assert [s["values"][0][1:] for s in got] == [[r[2][c] for c in sorted(r[2])] for r in last.values()]


def test_http_out_batch_rows_from_columns_match_the_row_rendering() -> None:
    from kapfast.engine.nodes.outputs import batch_row, batch_row_columns

    rows = [
        ("cpu", {"host": "a", "dc": "x"}, {"value": 1.0}, 1 * S),
        ("cpu", {"host": "a"}, {"value": "s", "dc": 2}, 2 * S),
        ("cpu", {"host": "a", "dc": "y"}, {"other": True}, 3 * S),
    ]
    b = _batch(rows)
    for tags in ({"host": "a"}, {}):
        assert batch_row_columns("cpu", tags, b) == batch_row("cpu", tags, batch_rows(b))
    assert batch_row_columns("cpu", {}, PointBatch.from_rows([])) == {"name": "cpu"}
    nulls = to_batch([("cpu", {}, {"value": None, "o": 1}, 0)])
    assert batch_row_columns("cpu", {}, nulls)["values"] == [["1970-01-01T00:00:00Z", 1, None]]


def test_influxdb_writer_write_batch_posts_rust_line_protocol_with_exact_counts() -> None:
    import asyncio

    from aiohttp import web

    from kapfast.influxdb import InfluxDBClient
    from kapfast.outputs.influxdb_writer import InfluxDBWriter, WriteStats

    posted: list[tuple[str, str, bytes]] = []

    async def write(request: web.Request) -> web.Response:
        posted.append((request.query["db"], request.query["precision"], await request.read()))
        return web.Response(status=204)

    async def main() -> tuple[InfluxDBWriter, WriteStats]:
        app = web.Application()
        app.router.add_post("/write", write)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client = InfluxDBClient(f"http://127.0.0.1:{port}")
        writer = InfluxDBWriter(lambda cluster: client, buffer_points=3, flush_interval_s=0.05)
        stats = WriteStats()
        rows = [cpu(1, 1.5, host="a"), cpu(2, 2, host="b"), ("cpu", {}, {"s": 'q"x'}, 3 * S)]
        writer.write_batch("", "db", "rp", _batch(rows), "s", stats=stats)
        writer.write_batch("", "db", "rp", PointBatch.from_rows([]), "s", stats=stats)  # nothing
        await writer.flush()
        await writer.close()
        await client.close()
        await runner.cleanup()
        return writer, stats

    writer, stats = asyncio.run(main())
    assert stats.points_written == 3 and stats.write_errors == 0
    assert writer.points_written == 3
    assert posted == [("db", "s", b'cpu,host=a value=1.5 1\ncpu,host=b value=2i 2\ncpu s="q\\"x" 3\n')]


def test_influxdb_writer_write_batch_refuses_points_line_protocol_cannot_carry() -> None:
    from kapfast.errors import LineProtocolError
    from kapfast.outputs.influxdb_writer import InfluxDBWriter

    writer = InfluxDBWriter(lambda cluster: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(LineProtocolError, match="NaN or infinite"):
        writer.write_batch("", "db", "rp", PointBatch.from_rows([cpu(0, float("inf"))]), "ns")
    assert writer.buffered_points() == 0


def test_group_codes_fetch_tags_only_for_new_groups() -> None:
    from kapfast._native import batch_group_codes
    from kapfast.engine.vec import GroupCache, group_chunk

    b = _batch([cpu(0, 1.0, host="a", dc="x"), cpu(1, 1.0, host="b"), cpu(2, 1.0, host="a", dc="x")])
    cache = GroupCache()
    for star, dims, by_name in ((False, ["dc", "host"], False), (True, [], True), (False, [], False)):
        chunk = group_chunk(b, dims, star, ["zz"], by_name, cache, "db", "rp")
        groups = chunk.groups
        raw, expected = batch_group_codes(b, dims, star, ["zz"], by_name)
        assert bytes(memoryview(chunk.codes)) == raw  # type: ignore[arg-type]
        assert chunk.batch is b and (chunk.db, chunk.rp) == ("db", "rp")
        assert [(g.id, list(g.tags)) for g in groups] == expected
        again = group_chunk(b, dims, star, ["zz"], by_name, cache).groups
        assert all(x is y for x, y in zip(groups, again, strict=True))  # the cached objects


@_SETTINGS
@given(codes=st.lists(st.integers(0, 9), max_size=60))
def test_first_seen_and_last_rows_match_the_sorting_way(codes: list[int]) -> None:
    import numpy as np

    from kapfast.engine.node import first_seen, last_rows

    arr = np.asarray(codes, dtype=np.intp)
    used, first = np.unique(arr, return_index=True)
    assert first_seen(arr, 10).tolist() == used[np.argsort(first, kind="stable")].tolist()
    _, rev_first = np.unique(arr[::-1], return_index=True)
    assert last_rows(arr, 10).tolist() == np.sort(len(arr) - 1 - rev_first).tolist()
