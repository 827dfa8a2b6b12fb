"""Alert templates render exactly what Kapacitor produced.

Every alert case in the shared conformance suite (Kapacitor's own integration tests) is replayed
through the template engine: the ``.id()``, ``.message()`` and ``.details()`` templates of its
TICKscript (or Kapacitor's defaults) are rendered with the data of each expected event and must
give the expected strings. Captured alert lines from Kapacitor's issue tracker check the default
details (HTML-escaped JSON) byte for byte.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kapfast.alert_event import (
    AlertEvent,
    alert_template_data,
    group_id,
    id_template_data,
    message_template_data,
)
from kapfast.gofmt import GoStruct, GoTime
from kapfast.gotemplate import Template
from kapfast.gotemplate.html import json_compact_func, json_func

CASES_DIR = Path("/work/shared/conformance/alert_cases")
if not CASES_DIR.is_dir():  # the suite may also sit next to the repository
    CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "alert_cases"

DEFAULT_ID = "{{ .Name }}:{{ .Group }}"
DEFAULT_MESSAGE = "{{ .ID }} is {{ .Level }}"
DEFAULT_DETAILS = "{{ json . }}"
DETAILS_FUNCS = {"json": json_func, "jsonCompact": json_compact_func}
DEADMAN_MESSAGE = (
    '{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: '
    '{{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL.'
)

_PROP = re.compile(r"\.(id|message|details)\(\s*(?:'''(.*?)'''|'((?:[^'\\]|\\.)*)')\s*\)", re.S)
_GROUP_BY = re.compile(r"\.groupBy\(([^)]*)\)")


def _script_templates(script: str) -> dict[str, str]:
    out = {"id": DEFAULT_ID, "message": DEFAULT_MESSAGE, "details": DEFAULT_DETAILS}
    for m in _PROP.finditer(script):
        raw = m.group(2) if m.group(2) is not None else m.group(3).replace("\\'", "'")
        out[m.group(1)] = raw
    return out


def _group_by(script: str) -> list[str]:
    m = _GROUP_BY.search(script)
    return re.findall(r"'([^']*)'", m.group(1)) if m else []


def _iso_to_ns(s: str) -> int:
    from kapfast.alert_event import parse_rfc3339

    return parse_rfc3339(s)


def _load_cases() -> list[tuple[str, dict[str, Any], int, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any], int, dict[str, Any]]] = []
    if not CASES_DIR.is_dir():
        return out
    for path in sorted(CASES_DIR.glob("*.json")):
        case = json.loads(path.read_text())
        for i, ev in enumerate(case.get("expected_events") or []):
            out.append((path.stem, case, i, ev))
    return out


CASES = _load_cases()


def test_alert_cases_present() -> None:
    if not CASES_DIR.is_dir():
        pytest.skip("the shared conformance suite is not on this machine")
    assert len(CASES) >= 40


@pytest.mark.parametrize(("name", "case", "index", "event"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_alert_case_templates(name: str, case: dict[str, Any], index: int, event: dict[str, Any]) -> None:
    tmpls = _script_templates(case["script"])
    series = (event.get("data") or {}).get("series") or [{}]
    s0 = series[0]
    meas = s0.get("name") or "cpu"
    tags = dict(s0.get("tags") or {})
    cols = s0.get("columns") or []
    row = (s0.get("values") or [[]])[0]
    fields = {c: v for c, v in zip(cols, row, strict=False) if c != "time"}
    dims = _group_by(case["script"])
    group = group_id(meas, tags, dims)
    task = case.get("task_name") or name

    id_t = Template.parse(tmpls["id"], name="id")
    msg_t = Template.parse(tmpls["message"], name="message")
    det_t = Template.parse(tmpls["details"], name="details", html=True, funcs=DETAILS_FUNCS)

    alert_id = id_t.render(id_template_data(meas, task, group, tags))
    assert alert_id == event["id"]
    time_ns = _iso_to_ns(event["time"])
    minfo = message_template_data(
        meas, task, group, tags, None, alert_id, fields, event["level"], time_ns, event["duration"]
    )
    message = msg_t.render(minfo)
    assert message == event["message"]
    dinfo = alert_template_data(
        meas, task, group, tags, None, alert_id, fields, event["level"], time_ns, event["duration"], message
    )
    assert det_t.render(dinfo) == event["details"]


# --- captured Kapacitor output (issues #901, #912, #370, #246, #295) ----------------------------


def _old_details_data(**kw: Any) -> GoStruct:
    """Template data as Kapacitor 1.0 had it (no ServerInfo, no Duration): its captured lines."""
    keys = ["Name", "TaskName", "Group", "Tags", "ID", "Fields", "Level", "Time", "Message"]
    return GoStruct("kapacitor.detailsInfo", {k: kw[k] for k in keys if k in kw})


def _details(data: Any) -> str:
    return Template.parse(DEFAULT_DETAILS, name="details", html=True, funcs=DETAILS_FUNCS).render(data)


def test_issue_912_default_details() -> None:
    data = _old_details_data(
        Name="pompa",
        TaskName="temp_motion_alert",
        Group="nil",
        Tags={"device_name": "banner"},
        ID="pompa:nil",
        Fields={"ambient_temps": 20, "devices_temp": 20, "motion": 60},
        Level="CRITICAL",
        Time=GoTime(_iso_to_ns("2016-09-16T12:46:48.394131373Z")),
        Message="pompa:nil is CRITICAL",
    )
    details = _details(data)
    want_in_file = (
        '"details":"{\\u0026#34;Name\\u0026#34;:\\u0026#34;pompa\\u0026#34;,\\u0026#34;TaskName\\u0026#34;'
        ":\\u0026#34;temp_motion_alert\\u0026#34;,\\u0026#34;Group\\u0026#34;:\\u0026#34;nil\\u0026#34;,"
        "\\u0026#34;Tags\\u0026#34;:{\\u0026#34;device_name\\u0026#34;:\\u0026#34;banner\\u0026#34;},"
        "\\u0026#34;ID\\u0026#34;:\\u0026#34;pompa:nil\\u0026#34;,\\u0026#34;Fields\\u0026#34;:"
        "{\\u0026#34;ambient_temps\\u0026#34;:20,\\u0026#34;devices_temp\\u0026#34;:20,"
        "\\u0026#34;motion\\u0026#34;:60},\\u0026#34;Level\\u0026#34;:\\u0026#34;CRITICAL\\u0026#34;,"
        "\\u0026#34;Time\\u0026#34;:\\u0026#34;2016-09-16T12:46:48.394131373Z\\u0026#34;,"
        '\\u0026#34;Message\\u0026#34;:\\u0026#34;pompa:nil is CRITICAL\\u0026#34;}\\n"'
    )
    ev = AlertEvent("pompa:nil", "pompa:nil is CRITICAL", details, 0, 0, "CRITICAL")
    assert want_in_file in ev.to_json()


def test_issue_901_default_details() -> None:
    data = _old_details_data(
        Name="cpuStats",
        TaskName="high_cpu",
        Group="nil",
        Tags={"host": "callhandler-vos"},
        ID="cpuStats:nil",
        Fields={
            "idle": 99.09,
            "interval": 60,
            "iowait": 0.09,
            "nice": 0.13,
            "processorid": "-1",
            "steal": 0,
            "system": 0.2,
            "user": 0.49,
        },
        Level="INFO",
        Time=GoTime(_iso_to_ns("2016-09-14T09:21:01Z")),
        Message="Tomer Test",
    )
    want = (
        "{&#34;Name&#34;:&#34;cpuStats&#34;,&#34;TaskName&#34;:&#34;high_cpu&#34;,&#34;Group&#34;:&#34;nil&#34;,"
        "&#34;Tags&#34;:{&#34;host&#34;:&#34;callhandler-vos&#34;},&#34;ID&#34;:&#34;cpuStats:nil&#34;,"
        "&#34;Fields&#34;:{&#34;idle&#34;:99.09,&#34;interval&#34;:60,&#34;iowait&#34;:0.09,&#34;nice&#34;:0.13,"
        "&#34;processorid&#34;:&#34;-1&#34;,&#34;steal&#34;:0,&#34;system&#34;:0.2,&#34;user&#34;:0.49},"
        "&#34;Level&#34;:&#34;INFO&#34;,&#34;Time&#34;:&#34;2016-09-14T09:21:01Z&#34;,"
        "&#34;Message&#34;:&#34;Tomer Test&#34;}\n"
    )
    assert _details(data) == want


def test_issue_370_plus_sign_and_map_in_id() -> None:
    # The id printed the tags map; the message the time; '+' is escaped as &#43; in details.
    tags = {"platform_id": "2", "test_id": "118"}
    t_ns = _iso_to_ns("2016-03-22T15:19:30Z")
    idt = Template.parse("kapacitor/{{ .TaskName }}/{{ .Tags }}/{{ .Name }}", name="id")
    alert_id = idt.render(id_template_data("d_response_time", "rt", "platform_id=2,test_id=118", tags))
    assert alert_id == "kapacitor/rt/map[platform_id:2 test_id:118]/d_response_time"
    msgt = Template.parse(
        "{{ .Time }} - {{ .ID }} is {{ .Level }} - Average Response time over last 5 min: "
        '{{ index .Fields "mean" }}',
        name="message",
    )
    minfo = message_template_data(
        "d_response_time",
        "rt",
        "platform_id=2,test_id=118",
        tags,
        None,
        alert_id,
        {"mean": 8.797988},
        "WARNING",
        t_ns,
        0,
    )
    msg = msgt.render(minfo)
    assert msg == (
        "2016-03-22 15:19:30 +0000 UTC - kapacitor/rt/map[platform_id:2 test_id:118]/d_response_time "
        "is WARNING - Average Response time over last 5 min: 8.797988"
    )
    details = _details({"Message": msg})
    assert "15:19:30 &#43;0000 UTC" in details
    ev = AlertEvent(alert_id, msg, details, t_ns, 0, "WARNING")
    assert "15:19:30 \\u0026#43;0000 UTC" in ev.to_json()


def test_issue_295_nil_maps_are_null() -> None:
    data = _old_details_data(
        Name="alertName",
        TaskName="highalertName",
        Group="nil",
        Tags=None,
        ID="alertName:nil",
        Fields=None,
        Level="OK",
        Message="alertName:nil is OK",
    )
    assert _details(data) == (
        "{&#34;Name&#34;:&#34;alertName&#34;,&#34;TaskName&#34;:&#34;highalertName&#34;,"
        "&#34;Group&#34;:&#34;nil&#34;,&#34;Tags&#34;:null,&#34;ID&#34;:&#34;alertName:nil&#34;,"
        "&#34;Fields&#34;:null,&#34;Level&#34;:&#34;OK&#34;,"
        "&#34;Message&#34;:&#34;alertName:nil is OK&#34;}\n"
    )


def test_default_details_current_shape() -> None:
    data = alert_template_data(
        "cpu",
        "task",
        "",
        {"host": "a"},
        {"Hostname": "h", "ClusterID": "c", "ServerID": "s"},
        "cpu:nil",
        {"value": 10.0},
        "CRITICAL",
        31536000 * 10**9,
        2 * 10**9,
        "cpu:nil is CRITICAL",
    )
    assert _details(data) == (
        "{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;task&#34;,&#34;Group&#34;:&#34;nil&#34;,"
        "&#34;Tags&#34;:{&#34;host&#34;:&#34;a&#34;},&#34;ServerInfo&#34;:{&#34;Hostname&#34;:&#34;h&#34;,"
        "&#34;ClusterID&#34;:&#34;c&#34;,&#34;ServerID&#34;:&#34;s&#34;},&#34;ID&#34;:&#34;cpu:nil&#34;,"
        "&#34;Fields&#34;:{&#34;value&#34;:10},&#34;Level&#34;:&#34;CRITICAL&#34;,"
        "&#34;Time&#34;:&#34;1971-01-01T00:00:00Z&#34;,&#34;Duration&#34;:2000000000,"
        "&#34;Message&#34;:&#34;cpu:nil is CRITICAL&#34;}\n"
    )
    compact = Template.parse("{{ jsonCompact . }}", html=True, funcs=DETAILS_FUNCS).render(data)
    assert compact == _details(data)[:-1]


@pytest.mark.parametrize(
    ("level", "emitted", "want"),
    [
        ("CRITICAL", 0.0, "cpu:nil is dead: 0.000 points/INTERVAL."),
        ("OK", 12.5, "cpu:nil is alive: 12.500 points/INTERVAL."),
        ("CRITICAL", 0.12345, "cpu:nil is dead: 0.123 points/INTERVAL."),
        ("OK", 1000.0, "cpu:nil is alive: 1000.000 points/INTERVAL."),
    ],
)
def test_deadman_default_message(level: str, emitted: float, want: str) -> None:
    t = Template.parse(DEADMAN_MESSAGE, name="message")
    data = message_template_data("cpu", "t", "", {}, None, "cpu:nil", {"emitted": emitted}, level, 0, 0)
    assert t.render(data) == want


@pytest.mark.parametrize(
    ("tmpl", "want"),
    [
        # Examples from Kapacitor's AlertNode documentation.
        ("{{ .Name }}:{{ .Group }}", "cpu:host=serverA"),
        ("kapacitor/{{ .Name }}/{{ .Group }}", "kapacitor/cpu/host=serverA"),
        ('kapacitor/{{ index .Tags "host" }}', "kapacitor/serverA"),
        ('{{ index .Tags "host" }}', "serverA"),
        ("{{ .TaskName }}", "cpu_alert"),
        ("{{ .ServerInfo.Hostname }}", "kapa-host"),
        (
            '{{ .ID }} is {{ .Level }} value: {{ index .Fields "value" }}',
            "cpu:host=serverA is WARNING value: 92.5",
        ),
        ("{{ .ID }} is {{ .Level }}", "cpu:host=serverA is WARNING"),
        ("{{ .Duration }}", "5m0s"),
        ("{{ .Time }}", "2016-01-01 00:00:00 +0000 UTC"),
        ("{{ .Level }} for {{ .Duration }}", "WARNING for 5m0s"),
        ('{{ if eq .Level "OK" }}recovered{{ else }}firing{{ end }}', "firing"),
        ("{{ range $k, $v := .Tags }}{{ $k }}={{ $v }} {{ end }}", "host=serverA region=east "),
        ('{{ printf "%.2f" (index .Fields "value") }}', "92.50"),
        ("{{ .Fields.value }}", "92.5"),
        ("{{ if gt .Fields.value 90.0 }}hot{{ end }}", "hot"),
    ],
)
def test_documented_examples(tmpl: str, want: str) -> None:
    tags = {"host": "serverA", "region": "east"}
    data = message_template_data(
        "cpu",
        "cpu_alert",
        group_id("cpu", tags, ["host"]),
        tags,
        {"Hostname": "kapa-host"},
        "cpu:host=serverA",
        {"value": 92.5},
        "WARNING",
        1451606400 * 10**9,
        300 * 10**9,
    )
    assert Template.parse(tmpl).render(data) == want


def test_documented_details_html_example() -> None:
    tmpl = """
<h1>{{ .ID }}</h1>
<b>{{ .Message }}</b>
Value: {{ index .Fields "value" }}
"""
    data = alert_template_data("cpu", "t", "", {}, None, "cpu<1>", {"value": 1.5}, "OK", 0, 0, "a & b")
    out = Template.parse(tmpl, name="details", html=True, funcs=DETAILS_FUNCS).render(data)
    assert out == "\n<h1>cpu&lt;1&gt;</h1>\n<b>a &amp; b</b>\nValue: 1.5\n"
