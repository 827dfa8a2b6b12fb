"""Golden strings: kapacitor's output layouts, byte for byte (cmd/kapacitor format strings)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kapfast.cli import render
from kapfast.client import DBRP, Recording, Replay, Task, Template, Topic, Var


@pytest.fixture
def utc_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture(autouse=True)
def _restore_tz() -> object:
    yield None
    time.tzset()


def test_tasks_table_pads_to_longest_id_and_sorts() -> None:
    tasks = [
        Task(
            id="cpu_alert",
            type="stream",
            status="enabled",
            executing=True,
            dbrps=[DBRP("telegraf", "autogen")],
        ),
        Task(
            id="a",
            type="batch",
            status="disabled",
            executing=False,
            dbrps=[DBRP("db", "rp"), DBRP("db2", "rp2")],
        ),
        Task(id="nodbrp", type="stream", status="disabled"),
    ]
    assert render.tasks_table(tasks) == (
        "ID        Type      Status    Executing Databases and Retention Policies\n"
        'a         batch     disabled  false     ["db"."rp" "db2"."rp2"]\n'
        'cpu_alert stream    enabled   true      ["telegraf"."autogen"]\n'
        "nodbrp    stream    disabled  false     []\n"
    )


def test_tasks_table_empty_has_header_only() -> None:
    assert render.tasks_table([]) == "ID Type      Status    Executing Databases and Retention Policies\n"


def test_width_counts_bytes_padding_counts_characters() -> None:
    # Go sizes the column with len() (bytes: "é" is 2) and pads with fmt (runes).
    out = render.tasks_table([Task(id="éé", type="stream", status="disabled")]).splitlines()
    assert out[0].startswith("ID   Type")  # 4 bytes + 1
    assert out[1] == "éé   stream    disabled  false     []"


def test_dbrp_quoting_is_go_q() -> None:
    assert render.dbrps_text([DBRP('we"ird', "r\\p")]) == '["we\\"ird"."r\\\\p"]'


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (9, "9 B"),
        (10, "10 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1500, "1.5 kB"),
        (12345, "12 kB"),
        (99999, "100 kB"),
        (82854982, "83 MB"),
        (5 * 10**12, "5.0 TB"),
    ],
)
def test_humanize_bytes(size: int, text: str) -> None:
    assert render.humanize_bytes(size) == text


def test_recordings_table(utc_local: None) -> None:
    recs = [
        Recording(
            id="rec-1", type="stream", status="finished", size=1500, date="2016-06-07T14:30:05.123456789Z"
        ),
        Recording(
            id="a-much-longer-recording", type="batch", status="running", size=3, date="2016-06-07T14:30:00Z"
        ),
    ]
    assert render.recordings_table(recs) == (
        "ID                      Type    Status    Size      Date                   \n"
        "rec-1                   stream  finished  1.5 kB    07 Jun 16 14:30 UTC    \n"
        "a-much-longer-recording batch   running   3 B       07 Jun 16 14:30 UTC    \n"
    )


def test_replays_table(utc_local: None) -> None:
    replays = [
        Replay(
            id="r1",
            task="cpu",
            recording="rec-1",
            status="finished",
            clock="fast",
            date="2016-06-07T14:30:00Z",
        )
    ]
    assert render.replays_table(replays) == (
        "ID Task Recording Status   Clock   Date                   \n"
        "r1 cpu  rec-1     finished fast    07 Jun 16 14:30 UTC    \n"
    )


def test_list_dates_are_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    assert render.rfc822_local("2016-06-07T14:30:00Z") == "07 Jun 16 16:30 CEST"
    assert render.rfc822_local("2016-01-07T14:30:00Z") == "07 Jan 16 15:30 CET"


def test_show_dates_keep_the_zone_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    assert render.rfc822_as_sent("2016-06-07T14:30:59.999999999Z") == "07 Jun 16 14:30 UTC"
    assert render.rfc822_as_sent("0001-01-01T00:00:00Z") == "01 Jan 01 00:00 UTC"
    # an offset that is the local zone's prints its name; another prints as +hhmm (Go's rule)
    assert render.rfc822_as_sent("2016-06-07T16:30:00+02:00") == "07 Jun 16 16:30 CEST"
    assert render.rfc822_as_sent("2016-06-07T20:00:00+05:30") == "07 Jun 16 20:00 +0530"


def test_templates_table() -> None:
    templates = [
        Template(
            id="generic_mean_alert",
            type="stream",
            vars={"measurement": Var("string"), "crit": Var("lambda"), "window": Var("duration", 60)},
        )
    ]
    assert render.templates_table(templates) == (
        "ID                 Type      Vars                                    \n"
        "generic_mean_alert stream    crit,measurement,window                 \n"
    )


def test_topics_and_handlers_tables() -> None:
    topics = [Topic(id="main:cpu:alert2", level="CRITICAL", collected=12), Topic(id="system", level="OK")]
    assert render.topics_table(topics) == (
        "ID              Level     Collected\n"
        "main:cpu:alert2 CRITICAL         12\n"
        "system          OK                0\n"
    )
    assert render.topic_handlers_table([("system", "slack", "slack")]) == (
        "Topic      ID         Kind       \nsystem     slack      slack      \n"
    )


SCRIPT = "stream\n    |from()\n        .measurement('cpu')\n"
DOT = 'digraph cpu_alert {\ngraph [throughput="0.00 points/s"];\n\nstream0 [avg_exec_time_ns="0s" ];\n}'


def test_show_task_layout() -> None:
    task = Task(
        id="cpu_alert",
        type="stream",
        status="enabled",
        executing=True,
        dbrps=[DBRP("telegraf", "autogen")],
        script=SCRIPT,
        dot=DOT,
        created="2017-03-13T15:09:20.123Z",
        modified="2017-03-13T15:10:00Z",
        last_enabled="2017-03-13T15:10:00Z",
    )
    assert render.show_task(task) == (
        "ID: cpu_alert\n"
        "Error: \n"
        "Template: \n"
        "Type: stream\n"
        "Status: enabled\n"
        "Executing: true\n"
        "Created: 13 Mar 17 15:09 UTC\n"
        "Modified: 13 Mar 17 15:10 UTC\n"
        "LastEnabled: 13 Mar 17 15:10 UTC\n"
        'Databases Retention Policies: ["telegraf"."autogen"]\n'
        f"TICKscript:\n{SCRIPT}\n"
        f"DOT:\n{DOT}\n"
    )


def test_show_task_lists_kapfast_counters_after_the_dot() -> None:
    task = Task(
        id="t",
        dot=DOT,
        stats={
            "node-stats": {"alert2": {"errors": 0}},
            "kapfast-node-stats": {
                "alert2": {"events_dropped": 3, "handler_errors_pagerduty2": 3},
                "from1": {},
            },
        },
    )
    text = render.show_task(task)
    assert text.endswith(
        f"DOT:\n{DOT}\nkapfast node stats:\n"
        "  alert2.events_dropped: 3\n  alert2.handler_errors_pagerduty2: 3\n"
    )


def test_show_task_vars_table() -> None:
    task = Task(
        id="t",
        template_id="tpl",
        type="stream",
        status="disabled",
        vars={
            "window": Var("duration", 60_000_000_000),
            "period": Var("duration", "90s"),
            "crit": Var("lambda", '"value" > 90'),
            "threshold": Var("float", 1.5),
            "big": Var("float", 1e21),
            "count": Var("int", 3),
            "tags": Var("list", [{"type": "string", "value": "host"}, {"type": "star", "value": None}]),
            "on": Var("bool", True),
        },
    )
    page = render.show_task(task)
    table = page.split("Vars:\n", 1)[1].split("DOT:\n", 1)[0]
    rows = [
        ("Name", "Type", "Value"),
        ("big", "float", "1e+21"),
        ("count", "int", "3"),
        ("crit", "lambda", '"value" > 90'),
        ("on", "bool", "true"),
        ("period", "duration", "1m30s"),
        ("tags", "list", "[host, *]"),
        ("threshold", "float", "1.5"),
        ("window", "duration", "1m0s"),
    ]
    assert table == "".join(f"{n:<30}{t:<10}{v:<40}\n" for n, t, v in rows)
    assert "Template: tpl\n" in page


def test_show_template_marks_required_vars() -> None:
    tpl = Template(
        id="tpl",
        type="batch",
        script="batch\n",
        dot="digraph tpl {\n}",
        vars={"crit": Var("lambda", None, "the critical condition"), "every": Var("duration", 10**10)},
        created="2017-03-13T15:09:00Z",
        modified="2017-03-13T15:09:00Z",
    )
    assert render.show_template(tpl) == (
        "ID: tpl\n"
        "Error: \n"
        "Type: batch\n"
        "Created: 13 Mar 17 15:09 UTC\n"
        "Modified: 13 Mar 17 15:09 UTC\n"
        "TICKscript:\nbatch\n\n"
        "Vars:\n"
        f"{'Name':<30}{'Type':<10}{'Default Value':<40}{'Description':<40}\n"
        f"{'crit':<30}{'lambda':<10}{'<required>':<40}{'the critical condition':<40}\n"
        f"{'every':<30}{'duration':<10}{'10s':<40}{'':<40}\n"
        "DOT:\ndigraph tpl {\n}\n"
    )


DEBUG_VARS = {
    "cluster_id": "c1",
    "server_id": "s1",
    "host": "localhost",
    "num_tasks": 3,
    "num_enabled_tasks": 1,
    "num_subscriptions": 0,
    "platform": "Linux x86_64",
    "version": "0.1.0",
    "kapacitor": {
        "a": {
            "name": "ingress",
            "tags": {
                "database": "telegraf",
                "retention_policy": "autogen",
                "measurement": "mem",
                "task_master": "main",
            },
            "values": {"points_received": 42.0},
        },
        "b": {
            "name": "ingress",
            "tags": {
                "database": "telegraf",
                "retention_policy": "autogen",
                "measurement": "cpu",
                "task_master": "main",
            },
            "values": {"points_received": 7},
        },
        "c": {
            "name": "ingress",
            "tags": {"database": "x", "retention_policy": "y", "measurement": "z", "task_master": "other"},
            "values": {"points_received": 1},
        },
        "d": {"name": "edges", "tags": {}, "values": {}},
    },
}


def test_stats_general() -> None:
    assert render.stats_general(DEBUG_VARS) == (
        f"{'ClusterID:':<30}{'c1':<30}\n"
        f"{'ServerID:':<30}{'s1':<30}\n"
        f"{'Host:':<30}{'localhost':<30}\n"
        f"{'Tasks:':<30}{'3':<30}\n"
        f"{'Enabled Tasks:':<30}{'1':<30}\n"
        f"{'Subscriptions:':<30}{'0':<30}\n"
        f"{'Platform:':<30}{'Linux x86_64':<30}\n"
        f"{'Version:':<30}{'0.1.0':<30}\n"
    )


def test_stats_ingress_sorted_main_task_master_only() -> None:
    assert render.stats_ingress(DEBUG_VARS) == (
        "Database Retention Policy Measurement Points Received\n"
        "telegraf autogen          cpu                       7\n"
        "telegraf autogen          mem                      42\n"
    )


def test_parse_time_truncates() -> None:
    t, utc = render.parse_time("2016-06-07T14:30:59.9999999Z")
    assert utc and t == dt.datetime(2016, 6, 7, 14, 30, 59, 999999, tzinfo=dt.UTC)
