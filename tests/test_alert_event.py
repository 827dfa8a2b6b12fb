"""The alert event's exact JSON (Go's json.Encoder of Kapacitor's alert.Data) and template data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kapfast.alert_event import (
    AlertEvent,
    AlertEventError,
    alert_template_data,
    compile_alert_templates,
    deadman_message,
    group_id,
    group_string,
    id_template_data,
    message_template_data,
    parse_rfc3339,
    series_to_json,
)
from kapfast.gofmt import GoDuration, GoMap, GoStringMap, GoStruct, GoTime
from kapfast.gotemplate import Template, TemplateError

S = 1_000_000_000
T0 = 1451483440 * S  # 2015-12-30T13:50:40Z


def _event(**kw: Any) -> AlertEvent:
    base: dict[str, Any] = {
        "id": "cpu:nil",
        "message": "cpu:nil is CRITICAL",
        "details": "",
        "time_ns": T0,
        "duration_ns": 0,
        "level": "CRITICAL",
        "data": [
            {
                "name": "cpu",
                "tags": {"host": "h"},
                "columns": ["time", "usage_idle"],
                "values": [[T0, 5.2]],
            }
        ],
    }
    base.update(kw)
    return AlertEvent(**base)


def test_spec_example_line() -> None:
    assert _event().to_json_bytes() == (
        b'{"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"","time":"2015-12-30T13:50:40Z",'
        b'"duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","tags":{"host":"h"},'
        b'"columns":["time","usage_idle"],"values":[["2015-12-30T13:50:40Z",5.2]]}]},'
        b'"previousLevel":"OK","recoverable":true}\n'
    )


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"time_ns": T0 + 500_000_000}, '"time":"2015-12-30T13:50:40.5Z"'),
        ({"time_ns": T0 + 123_000}, '"time":"2015-12-30T13:50:40.000123Z"'),
        ({"duration_ns": 60 * S}, '"duration":60000000000'),
        ({"level": "OK", "previous_level": "CRITICAL"}, '"level":"OK","data"'),
        ({"previous_level": "WARNING"}, '"previousLevel":"WARNING"'),
        ({"recoverable": False}, '"recoverable":false}'),
        ({"id": "a<b>&c"}, '"id":"a\\u003cb\\u003e\\u0026c"'),
        ({"message": 'say "hi"\n'}, '"message":"say \\"hi\\"\\n"'),
        ({"details": "&#34;"}, '"details":"\\u0026#34;"'),
        ({"details": "\u2028"}, '"details":"\\u2028"'),
        ({"message": "é"}, '"message":"é"'),
        ({"data": []}, '"data":{"series":[]}'),
        ({"data": None}, '"data":{"series":null}'),
        ({"data": [{"name": "cpu"}]}, '"data":{"series":[{"name":"cpu"}]}'),
        ({"data": [{"name": "cpu", "tags": {}, "columns": [], "values": []}]}, '{"series":[{"name":"cpu"}]}'),
        (
            {"data": [{"name": "", "columns": ["time"], "values": [[0]]}]},
            '{"series":[{"columns":["time"],"values":[["1970-01-01T00:00:00Z"]]}]}',
        ),
        (
            {"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, 10.0]]}]},
            '["1970-01-01T00:00:00Z",10]',
        ),
        (
            {"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, 10]]}]},
            '["1970-01-01T00:00:00Z",10]',
        ),
        ({"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, 1e21]]}]}, ",1e+21]"),
        ({"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, 1e-7]]}]}, ",1e-7]"),
        ({"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, "<s>"]]}]}, ',"\\u003cs\\u003e"]'),
        ({"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, True]]}]}, ",true]"),
        ({"data": [{"name": "m", "columns": ["time", "v"], "values": [[0, None]]}]}, ",null]"),
        (
            {"data": [{"name": "m", "columns": ["time", "v"], "values": [[GoTime(S), 1]]}]},
            '"1970-01-01T00:00:01Z",1',
        ),
        ({"data": [{"name": "m", "tags": {"b": "2", "a": "1"}}]}, '"tags":{"a":"1","b":"2"}'),
        ({"data": [{"name": "a"}, {"name": "b"}]}, '{"series":[{"name":"a"},{"name":"b"}]}'),
    ],
)
def test_encoding_details(kw: dict[str, Any], fragment: str) -> None:
    out = _event(**kw).to_json()
    assert fragment in out
    assert json.loads(out)  # always valid JSON


def test_field_order() -> None:
    keys = list(json.loads(_event().to_json()))
    assert keys == [
        "id",
        "message",
        "details",
        "time",
        "duration",
        "level",
        "data",
        "previousLevel",
        "recoverable",
    ]


def test_trailing_newline_only_once() -> None:
    b = _event().to_json_bytes()
    assert b.endswith(b"}\n") and b.count(b"\n") == 1


@pytest.mark.parametrize("level", ["BAD", "ok", ""])
def test_bad_level_rejected(level: str) -> None:
    with pytest.raises(AlertEventError):
        _event(level=level).to_json()


def test_nan_value_rejected() -> None:
    ev = _event(data=[{"name": "m", "columns": ["time", "v"], "values": [[0, float("nan")]]}])
    with pytest.raises(AlertEventError, match="unsupported value"):
        ev.to_json()


def test_round_trip() -> None:
    ev = _event(time_ns=T0 + 5, duration_ns=7, previous_level="INFO", recoverable=False, details="<x>")
    back = AlertEvent.from_json(ev.to_json_bytes())
    assert back == ev
    assert back.to_json_bytes() == ev.to_json_bytes()


def test_from_json_of_kapacitor_line() -> None:
    line = (
        '{"id":"cpuStats:nil","message":"My Test Message","details":"x","time":"2016-09-14T09:21:01Z",'
        '"duration":60000000000,"level":"INFO","data":{"series":[{"name":"cpuStats","tags":{"host":"c"},'
        '"columns":["time","idle","processorid"],"values":[["2016-09-14T09:21:01Z",99.09,"-1"]]}]}}'
    )
    ev = AlertEvent.from_json(line)
    assert ev.level == "INFO"
    assert ev.previous_level == "OK"
    assert ev.recoverable is True
    assert ev.duration_ns == 60 * S
    assert ev.data is not None
    assert ev.data[0]["values"][0][0] == parse_rfc3339("2016-09-14T09:21:01Z")
    assert ev.data[0]["values"][0][1] == 99.09


@pytest.mark.parametrize("text", ["not json", "[1]", '{"time": 5}', '{"data": {"series": [1]}}'])
def test_from_json_errors(text: str) -> None:
    with pytest.raises(AlertEventError):
        AlertEvent.from_json(text)


@pytest.mark.parametrize(
    ("s", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2015-12-30T13:50:40Z", T0),
        ("2015-12-30T13:50:40.5Z", T0 + 500_000_000),
        ("2015-12-30T13:50:40.123456789Z", T0 + 123456789),
        ("2015-12-30T14:50:40+01:00", T0),
        ("2015-12-30T12:50:40-01:00", T0),
        ("1969-12-31T23:59:59Z", -S),
    ],
)
def test_parse_rfc3339(s: str, ns: int) -> None:
    assert parse_rfc3339(s) == ns


def test_parse_rfc3339_rejects() -> None:
    with pytest.raises(AlertEventError):
        parse_rfc3339("2015-12-30 13:50:40")


def test_conformance_events_round_trip() -> None:
    # Every expected event of the shared alert cases survives from_json -> to_json -> from_json.
    cases = Path("/work/shared/conformance/alert_cases")
    if not cases.is_dir():
        pytest.skip("conformance suite not present")
    n = 0
    for path in sorted(cases.glob("*.json")):
        for ev in json.loads(path.read_text()).get("expected_events") or []:
            parsed = AlertEvent.from_json(json.dumps(ev))
            again = AlertEvent.from_json(parsed.to_json_bytes())
            assert again == parsed
            assert json.loads(parsed.to_json())["id"] == ev["id"]
            n += 1
    assert n > 40


@pytest.mark.parametrize(
    ("tags", "dims", "by_name", "want"),
    [
        ({"host": "a"}, [], False, ""),
        ({"host": "a"}, [], True, "cpu"),
        ({"host": "a"}, ["host"], False, "host=a"),
        ({"host": "a", "region": "r"}, ["region", "host"], False, "host=a,region=r"),
        ({"host": "a"}, ["host", "missing"], False, "host=a,missing="),
        ({"host": "a"}, ["host"], True, "cpu\nhost=a"),
    ],
)
def test_group_id(tags: dict[str, str], dims: list[str], by_name: bool, want: str) -> None:
    assert group_id("cpu", tags, dims, by_name) == want


def test_group_string() -> None:
    assert group_string("") == "nil"
    assert group_string("host=a") == "host=a"


def test_default_id_template() -> None:
    t = Template.parse("{{ .Name }}:{{ .Group }}", name="id")
    assert t.render(id_template_data("cpu", "task", "", {})) == "cpu:nil"
    assert (
        t.render(id_template_data("cpu", "task", group_id("cpu", {"host": "a"}, ["host"]), {}))
        == "cpu:host=a"
    )


def test_template_data_types_and_order() -> None:
    d = alert_template_data(
        "cpu", "task", "", {"host": "a"}, None, "cpu:nil", {"v": 1.0}, "OK", T0, 5 * S, "msg"
    )
    assert isinstance(d, GoStruct)
    assert list(d) == [
        "Name",
        "TaskName",
        "Group",
        "Tags",
        "ServerInfo",
        "ID",
        "Fields",
        "Level",
        "Time",
        "Duration",
        "Message",
    ]
    assert isinstance(d["Tags"], GoStringMap)
    assert isinstance(d["Fields"], GoMap)
    assert d["Time"] == GoTime(T0)
    assert d["Duration"] == GoDuration(5 * S)
    assert d["Group"] == "nil"
    assert list(d["ServerInfo"]) == ["Hostname", "ClusterID", "ServerID"]


def test_id_data_has_no_message_fields() -> None:
    d = id_template_data("cpu", "task", "", {})
    with pytest.raises(TemplateError, match=r"can't evaluate field Level in type kapacitor\.idInfo"):
        Template.parse("{{ .Level }}", name="id").render(d)


def test_message_data_missing_tag_and_field() -> None:
    d = message_template_data("cpu", "t", "", {"host": "a"}, None, "x", {"v": 1}, "OK", 0, 0)
    t = Template.parse('[{{ index .Tags "nope" }}][{{ index .Fields "nope" }}][{{ .Tags.nope }}]')
    assert t.render(d) == "[][<nil>][<no value>]"


def test_series_to_json_direct() -> None:
    assert series_to_json({}) == "{}"
    assert series_to_json({"name": "x", "columns": ["a"], "values": [[1], [2]]}) == (
        '{"name":"x","columns":["a"],"values":[[1],[2]]}'
    )


def test_nil_tags_and_fields() -> None:
    d = alert_template_data("cpu", "t", "", None, None, "cpu:nil", None, "OK", 0, 0, "m")
    _, msg_t, det_t = compile_alert_templates(message='{{ .Tags }} {{ .Fields }} {{ index .Tags "x" }}.')
    assert msg_t.render(d) == "map[] map[] ."
    out = det_t.render(d)
    assert "&#34;Tags&#34;:null" in out
    assert "&#34;Fields&#34;:null" in out


def test_compile_alert_templates_defaults() -> None:
    id_t, msg_t, det_t = compile_alert_templates()
    d = alert_template_data("cpu", "t", "", {}, None, "cpu:nil", {}, "CRITICAL", 0, 0, "cpu:nil is CRITICAL")
    assert id_t.render(d) == "cpu:nil"
    assert msg_t.render(d) == "cpu:nil is CRITICAL"
    assert det_t.render(d).startswith("{&#34;Name&#34;:&#34;cpu&#34;")
    assert det_t.html and not msg_t.html


def test_compile_alert_templates_errors() -> None:
    with pytest.raises(TemplateError, match="template: message:1"):
        compile_alert_templates(message="{{ .ID ")
    with pytest.raises(TemplateError, match="details"):
        compile_alert_templates(details="<a href='{{ .ID }}")


@pytest.mark.parametrize(
    ("interval", "level", "emitted", "want"),
    [
        (10 * S, "CRITICAL", 0.0, "cpu:nil is dead: 0.000 points/10s."),
        (60 * S, "OK", 12.0, "cpu:nil is alive: 12.000 points/1m0s."),
        (90 * S, "CRITICAL", 0.5, "cpu:nil is dead: 0.500 points/1m30s."),
    ],
)
def test_deadman_message(interval: int, level: str, emitted: float, want: str) -> None:
    _, msg_t, _ = compile_alert_templates(message=deadman_message(interval))
    d = message_template_data("cpu", "t", "", {}, None, "cpu:nil", {"emitted": emitted}, level, 0, 0)
    assert msg_t.render(d) == want
