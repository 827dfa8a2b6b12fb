"""sideload, as Kapacitor's sideload.go and services/sideload: values from a folder of YAML/JSON
files found through .order() templates over the point's tags, first file holding a key wins,
converted to the default's type, defaults otherwise; files read again on reload only."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine.helpers import S, feed, series

from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.nodes.sideload import SERVICE_KEY, SideloadError, SideloadService, convert
from kapfast.engine.task import Task
from kapfast.errors import InputError, TaskError
from kapfast.tick import compile_script


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "host").mkdir()
    (tmp_path / "hostgroup").mkdir()
    (tmp_path / "host" / "h1.yml").write_text("cpu_threshold: 98\nrole: db\n")
    (tmp_path / "host" / "h2.json").write_text('{"cpu_threshold": 90.5, "count": "7"}')
    (tmp_path / "hostgroup" / "web.yaml").write_text("cpu_threshold: 80\nrole: web\ncount: 3\nflag: 'true'\n")
    (tmp_path / "notes.txt").write_text("not a values file")
    return tmp_path


def _script(folder: Path) -> str:
    return f"""
stream|from().measurement('cpu').groupBy('host')
  |sideload()
    .source('file://{folder}')
    .order('host/{{{{.host}}}}.yml', 'host/{{{{.host}}}}.json', 'hostgroup/{{{{.hostgroup}}}}.yaml')
    .field('cpu_threshold', 0.0)
    .field('count', 0)
    .field('flag', FALSE)
    .tag('role', 'unknown')
  |httpOut('out')
"""


def _task(script: str, service: SideloadService | None = None) -> tuple[Task, VirtualClock]:
    clock = VirtualClock(0)
    services = {SERVICE_KEY: service} if service is not None else {}
    return Task("t", compile_script(script), TaskContext(task_id="t", clock=clock, services=services)), clock


def _by_host(task: Task) -> dict[str, dict[str, object]]:
    out = {}
    for s in series(task):
        cols = s["columns"]
        out[s["tags"]["host"]] = {**s["tags"], **dict(zip(cols, s["values"][0], strict=True))}
    return out


def test_order_first_file_wins_types_converted_defaults_filled(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    task, clock = _task(_script(folder))
    feed(
        task,
        clock,
        [
            ("cpu", {"host": "h1", "hostgroup": "web"}, {"value": 1.0}, S),
            ("cpu", {"host": "h2", "hostgroup": "web"}, {"value": 2.0}, S),
            ("cpu", {"host": "h3", "hostgroup": "web"}, {"value": 3.0}, S),
            ("cpu", {"host": "h4"}, {"value": 4.0}, S),
        ],
    )
    got = _by_host(task)
    # h1: host file first (98 -> float), role from it; count from the group file (3)
    assert got["h1"]["cpu_threshold"] == 98.0 and got["h1"]["role"] == "db" and got["h1"]["count"] == 3
    # h2: JSON file; "7" converts to the int default's type
    assert got["h2"]["cpu_threshold"] == 90.5 and got["h2"]["count"] == 7 and got["h2"]["role"] == "web"
    # h3: only the group file; 'true' string converts to bool
    assert got["h3"]["cpu_threshold"] == 80.0 and got["h3"]["flag"] is True
    # h4: nothing matches: every default
    assert got["h4"]["cpu_threshold"] == 0.0 and got["h4"]["count"] == 0
    assert got["h4"]["flag"] is False and got["h4"]["role"] == "unknown"


def test_values_that_do_not_convert_get_the_default(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("n: 1.5\nb: 3\ns: 2.25\n")
    script = f"""
stream|from()|sideload().source('file://{tmp_path}').order('a.yml')
  .field('n', 0).field('b', TRUE).field('s', 'x')|httpOut('out')
"""
    task, clock = _task(script)
    feed(task, clock, [("m", {}, {"v": 1}, 0)])
    row = dict(zip(series(task)[0]["columns"], series(task)[0]["values"][0], strict=True))
    assert row["n"] == 0  # 1.5 is not an integer: the default
    assert row["b"] is True  # a number is no bool
    assert row["s"] == "2.25"  # a number as a string, Go's 'f' -1 format


def _t(task: Task) -> object:
    s = series(task)[0]
    return s["values"][0][s["columns"].index("t")]


def test_files_are_read_again_only_on_reload(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("t: 1.0\n")
    service = SideloadService()
    script = (
        f"stream|from()|sideload().source('file://{tmp_path}').order('a.yml').field('t', 0.0)|httpOut('out')"
    )
    task, clock = _task(script, service)
    (tmp_path / "a.yml").write_text("t: 2.0\n")
    feed(task, clock, [("m", {}, {"v": 1}, S)])
    assert _t(task) == 1.0
    service.reload()
    feed(task, clock, [("m", {}, {"v": 1}, 2 * S)])
    assert _t(task) == 2.0
    # a broken file makes the reload fail and keeps the values read before
    (tmp_path / "a.yml").write_text("t: [unclosed\n")
    with pytest.raises(SideloadError, match="failed to update source"):
        service.reload()
    feed(task, clock, [("m", {}, {"v": 1}, 3 * S)])
    assert _t(task) == 2.0


def test_batch_points_are_sideloaded(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("t: 5\n")
    script = f"""
stream|from().groupBy('host')|window().period(10s).every(10s)
  |sideload().source('file://{tmp_path}').order('{{{{.host}}}}.yml', 'a.yml').field('t', 0)|httpOut('out')
"""
    task, clock = _task(script)
    feed(task, clock, [("m", {"host": "x"}, {"v": 1}, S), ("m", {"host": "x"}, {"v": 2}, 11 * S)], chunk=1)
    s = series(task)[0]
    assert s["columns"] == ["time", "t", "v"] and s["values"] == [["1970-01-01T00:00:01Z", 5, 1]]


def test_bad_sources_are_refused(tmp_path: Path) -> None:
    # at define time: what Kapacitor refuses when the task starts, and the http(s) sources
    for source, message in (
        ("ftp://x/y", "unsupported source scheme 'ftp', must be 'file'"),
        ("https://cmdb/values", "unsupported source scheme 'https', must be 'file'"),
        ("/no/scheme", "unsupported source scheme '', must be 'file'"),
        ("file:relative/dir", "sideload source path must be absolute"),
    ):
        with pytest.raises(InputError, match=message):
            compile_script(f"stream|from()|sideload().source('{source}').field('a', 1)")
    # when the task starts: a folder that is not there
    with pytest.raises(TaskError, match="not a folder"):
        _task(f"stream|from()|sideload().source('file://{tmp_path}/missing').field('a', 1)")


def test_convert_follows_go_convert_type() -> None:
    assert convert(3.0, 0) == 3 and type(convert(3.0, 0)) is int
    assert convert("12", 0) == 12
    assert convert(2, 0.0) == 2.0
    assert convert("1e3", 0.0) == 1000.0
    assert convert("t", False) is True
    assert convert(True, "") == "true"
    assert convert(100000000.0, "") == "100000000"
    with pytest.raises(ValueError, match="cannot convert value of type bool to type int64"):
        convert(True, 0)
