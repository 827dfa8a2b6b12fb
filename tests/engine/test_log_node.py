"""``|log()`` lines as Kapacitor's LogNode writes them (services/diagnostic: LogPointData and
LogBatchData): logfmt keys ``prefix name db rp group dimension_N tag_K field_K time``.

kapfast's logfmt quotes a value holding ``=`` (and writes an empty one as ``""``), where
Kapacitor's writer quotes only values with a space or a quote: the keys and values are the same."""

from __future__ import annotations

import logging

import pytest

from kapfast.logs import LogfmtFormatter
from kapfast.testing import TaskHarness


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    fmt = LogfmtFormatter()
    # drop ts=... (the wall clock of the record)
    return [fmt.format(r).split(" ", 1)[1] for r in caplog.records if r.name.startswith("kapfast.task.")]


def test_stream_point_line(caplog: pytest.LogCaptureFixture) -> None:
    script = """stream
    |from().measurement('cpu').groupBy('host', 'cpu')
    |log().prefix('P')
"""
    with caplog.at_level(logging.INFO), TaskHarness(script, dbrp="telegraf.autogen", task_id="t") as h:
        h.write('cpu,host=a,cpu=c0 idle=5.5,n=3i,up=true,s="x y" 1500000000')
    assert _lines(caplog) == [
        "lvl=info msg=point service=kapacitor task_master=main task=t node=log2 prefix=P name=cpu "
        'db=telegraf rp=autogen group="cpu=c0,host=a" dimension_0=cpu dimension_1=host tag_cpu=c0 '
        'tag_host=a field_idle=5.5 field_n=3 field_s="x y" field_up=true time=1970-01-01T00:00:01.5Z'
    ]


def test_batch_lines_and_level(caplog: pytest.LogCaptureFixture) -> None:
    script = """batch
    |query('SELECT mean(v) FROM db.rp.m').period(10s).every(10s).groupBy('host')
    |log().level('warn')
"""
    with caplog.at_level(logging.INFO), TaskHarness(script, task_id="b") as h:
        h.write_batch(
            "m",
            [(1_000_000_000, {"v": 1.0}), (2_000_000_000, {"v": 2.0})],
            tags={"host": "a"},
            tmax=10_000_000_000,
        )
    head = (
        'lvl=warn msg={} service=kapacitor task_master=main task=b node=log2 prefix="" name=m group="host=a"'
    )
    assert _lines(caplog) == [
        head.format('"begin batch"') + " tag_host=a time=1970-01-01T00:00:10Z",
        head.format('"batch point"') + " tag_host=a field_v=1 time=1970-01-01T00:00:01Z",
        head.format('"batch point"') + " tag_host=a field_v=2 time=1970-01-01T00:00:02Z",
        head.format('"end batch"') + " tag_host=a time=1970-01-01T00:00:10Z",
    ]
