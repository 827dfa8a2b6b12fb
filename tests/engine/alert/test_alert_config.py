"""``[alert]``, ``[smtp]``, ``[[slack]]`` and ``[[httppost]]`` in kapfastd's config, and the alert
services built from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.servers import HttpReceiver
from tests.engine.alert.util import values_chunk

from kapfast import config
from kapfast.engine.alert.services import AlertServices
from kapfast.errors import ConfigError

FULL = """
[alert]
  persist-topics = false
  topic-buffer-length = 100
[smtp]
  enabled = true
  host = "mail.example.com"
  port = 587
  username = "kap"
  password = "pw"
  no-verify = true
  global = true
  state-changes-only = true
  from = "kapacitor@example.com"
  to = ["oncall@example.com", "ops@example.com"]
  idle-timeout = "1m"
[[slack]]
  enabled = true
  default = true
  workspace = "main"
  url = "https://hooks.slack.com/services/A/B/C"
  channel = "#alerts"
  icon-emoji = ":bell:"
  global = true
[[slack]]
  enabled = true
  workspace = "other"
  url = "https://hooks.slack.com/services/D/E/F"
[[httppost]]
  endpoint = "example"
  url = "http://example.com/alert"
  headers = { Authorization = "Bearer x" }
  basic-auth = { username = "u", password = "p" }
  alert-template = "{{.Message}}"
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Config:
    path = tmp_path / "k.toml"
    path.write_text(text)
    cfg, warnings = config.load(path, environ=env or {})
    assert warnings == []
    return cfg


def test_sections_are_read(tmp_path: Path) -> None:
    cfg = load(tmp_path, FULL)
    assert (cfg.alert.persist_topics, cfg.alert.topic_buffer_length) == (False, 100)
    s = cfg.handlers["smtp"]
    assert (s.host, s.port, s.username, s.no_verify, s.global_, s.state_changes_only) == (
        "mail.example.com",
        587,
        "kap",
        True,
        True,
        True,
    )
    assert (s.from_, s.to, s.idle_timeout) == (
        "kapacitor@example.com",
        ["oncall@example.com", "ops@example.com"],
        "1m",
    )
    assert [(w.workspace, w.default, w.global_, w.username) for w in cfg.handlers["slack"]] == [
        ("main", True, True, "kapacitor"),
        ("other", False, False, "kapacitor"),
    ]
    (h,) = cfg.handlers["httppost"]
    assert (h.endpoint, h.headers, h.basic_auth, h.alert_template) == (
        "example",
        {"Authorization": "Bearer x"},
        {"username": "u", "password": "p"},
        "{{.Message}}",
    )
    # the rendered config reads back the same
    again = load(tmp_path, config.render(cfg))
    assert config.render(again) == config.render(cfg)


def test_environment_overrides_keyword_keys(tmp_path: Path) -> None:
    cfg = load(tmp_path, FULL, {"KAPACITOR_SMTP_GLOBAL": "false", "KAPACITOR_SMTP_FROM": "x@y.z"})
    assert (cfg.handlers["smtp"].global_, cfg.handlers["smtp"].from_) == (False, "x@y.z")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\n  enabled = true\n", "must provide a 'from' address"),
        ('[smtp]\n  from = "nobody"\n', "invalid from email address"),
        ('[smtp]\n  to = ["x"]\n', "invalid to email address"),
        ("[smtp]\n  port = 0\n", "invalid port 0"),
        ('[smtp]\n  idle-timeout = "soon"\n', "not a duration"),
        ("[smtp]\n  hots = 1\n", "unknown key 'hots' in \\[smtp\\]"),
        ("[[slack]]\n  enabled = true\n", "must specify url"),
        (
            '[[slack]]\n  url = "u"\n[[slack]]\n  workspace = "b"\n  url = "v"\n',
            "workspace must not be empty",
        ),
        (
            '[[slack]]\n  workspace = "a"\n[[slack]]\n  workspace = "b"\n',
            "at least one Slack config must be set as default",
        ),
        (
            '[[slack]]\n  workspace = "a"\n  default = true\n[[slack]]\n  workspace = "b"\n  global = true\n',
            "only the default",
        ),
        ("[[slack]]\n  state-changes-only = true\n", "state-changes-only may only be set"),
        ('[[httppost]]\n  url = "x"\n', "endpoint must be set"),
        ('[[httppost]]\n  endpoint = "a"\n  headers = { A = 1 }\n', "headers must be a table of strings"),
        ('[[httppost]]\n  endpoint = "a"\n[[httppost]]\n  endpoint = "a"\n', "endpoint names must be unique"),
        ("[alert]\n  topic-buffer-length = 0\n", "topic-buffer-length must be positive"),
    ],
)
def test_bad_sections_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "k.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(path, environ={})


def test_services_from_config(tmp_path: Path) -> None:
    svc = AlertServices.from_config(load(tmp_path, FULL))
    assert svc.service("smtp").settings.idle_timeout_s == 60.0
    assert svc.state_changes_only() is True
    assert [type(h).__name__ for h in svc.global_handlers(set())] == ["EmailHandler", "SlackHandler"]
    assert [type(h).__name__ for h in svc.global_handlers({"email"})] == ["SlackHandler"]
    assert svc.service("slack").default().workspace == "main"
    ep = svc.service("post")["example"]
    assert ep.headers == {"Authorization": "Basic dTpw"}  # basic-auth wins over a header of the same name


def test_httppost_endpoint_with_alert_template(tmp_path: Path) -> None:
    with HttpReceiver() as rx:
        cfg = load(
            tmp_path,
            f"""
[[httppost]]
  endpoint = "ep"
  url = "{rx.url}"
  headers = {{ X-Team = "ops" }}
  alert-template = "{{{{.Level}}}}: {{{{.Message}}}} ({{{{.ID}}}})"
""",
        )
        svc = AlertServices.from_config(cfg)
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5).post().endpoint('ep')",
            "t",
            services={"alert_services": svc},
        )
        r.node.push(values_chunk([10]))
    assert rx.bodies == [b"CRITICAL: cpu:nil is CRITICAL (cpu:nil)"]
    assert rx.headers[0]["X-Team"] == "ops"


def test_httppost_alert_template_has_the_json_functions(tmp_path: Path) -> None:
    """``json``/``jsonCompact`` (Kapacitor's template functions) parse and render: a config using
    them used to stop kapfastd from starting."""
    with HttpReceiver() as rx:
        cfg = load(
            tmp_path,
            f"""
[[httppost]]
  endpoint = "ep"
  url = "{rx.url}"
  alert-template = "{{{{ jsonCompact .Level }}}} {{{{ json .ID }}}}"
""",
        )
        svc = AlertServices.from_config(cfg)
        r = build(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5).post().endpoint('ep')",
            "t",
            services={"alert_services": svc},
        )
        r.node.push(values_chunk([10]))
    assert rx.bodies == [b'"CRITICAL" "cpu:nil"\n']


def test_environment_sets_list_sections(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        FULL,
        {
            "KAPACITOR_SLACK_1_CHANNEL": "#other",
            "KAPACITOR_HTTPPOST_0_URL": "http://127.0.0.1:1/x",
            "KAPFAST_SLACK_ICON_EMOJI": ":x:",
        },
    )
    assert [w.channel for w in cfg.handlers["slack"]] == ["#alerts", "#other"]
    assert cfg.handlers["slack"][0].icon_emoji == ":x:"
    assert cfg.handlers["httppost"][0].url == "http://127.0.0.1:1/x"
    with pytest.raises(ConfigError, match="cannot be set from the environment"):
        load(tmp_path, FULL, {"KAPACITOR_HTTPPOST_0_HEADERS": "x"})


def test_alert_template_json_is_alert_data_json() -> None:
    """``{{ json . }}`` in an alert-template writes alert.Data as Go encodes it (its JSON tags:
    the post handler's own body), and a template sees a row's times as Go times."""
    from kapfast.alert_event import DETAILS_FUNCS, AlertEvent
    from kapfast.engine.alert.handlers.post import _alert_data
    from kapfast.gotemplate import Template

    series = {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"], "values": [[10**9, 99]]}
    event = AlertEvent("cpu:nil", "hot", "", 10**9, 0, "CRITICAL", [series], "OK")
    render = Template.parse("{{ json . }}", funcs=DETAILS_FUNCS).render
    assert render(_alert_data(event)) == event.to_json() + "\n"
    first = Template.parse("{{ index (index .Data.Series 0).Values 0 0 }} {{ .Level }}", funcs=DETAILS_FUNCS)
    assert first.render(_alert_data(event)) == "1970-01-01 00:00:01 +0000 UTC CRITICAL"
    empty = AlertEvent("x", "m", "", 0, 0, "OK", None)
    assert Template.parse("{{ jsonCompact .Data }}", funcs=DETAILS_FUNCS).render(_alert_data(empty)) == (
        '{"series":null}'
    )
