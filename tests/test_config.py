"""kapfastd's configuration: kapacitord's names, defaults, env overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapfast import config
from kapfast.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "kapfast.conf"
    p.write_text(text)
    return p


def test_defaults_need_nothing_outside() -> None:
    cfg, warnings = config.load(None, environ={})
    assert warnings == []
    assert cfg.http.bind_address == "127.0.0.1:9092"
    assert cfg.influxdb == []
    assert cfg.storage_path == cfg.data_path / "kapfast.db"
    assert cfg.replay_path == cfg.data_path / "replay"


def test_reads_kapacitord_sections_and_ignores_unused_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
hostname = "kap1"
data_dir = "/tmp/kapdata"
[http]
  bind-address = ":9093"
  log-enabled = false
[storage]
  boltdb = "/tmp/kapdata/state.db"
[replay]
  dir = "/tmp/kapdata/rec"
[logging]
  level = "debug"
[[influxdb]]
  enabled = true
  name = "localhost"
  default = true
  urls = ["http://127.0.0.1:8086"]
  subscription-mode = "server"
  kapacitor-hostname = "10.0.0.1"
  [influxdb.subscriptions]
    telegraf = ["autogen"]
  [influxdb.excluded-subscriptions]
    _kapacitor = ["autogen"]
[pagerduty2]
  enabled = false
""",
    )
    cfg, warnings = config.load(path, environ={})
    assert cfg.hostname == "kap1"
    assert cfg.http.bind_address == ":9093" and cfg.http.log_enabled is False
    assert cfg.storage_path == Path("/tmp/kapdata/state.db")
    assert cfg.replay_path == Path("/tmp/kapdata/rec")
    (ic,) = cfg.influxdb
    assert ic.urls == ["http://127.0.0.1:8086"] and ic.subscription_mode == "server"
    assert ic.subscriptions == {"telegraf": ["autogen"]}
    assert ic.excluded_subscriptions == {"_kapacitor": ["autogen"]}
    assert warnings == [] and cfg.handlers["pagerduty2"].enabled is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[http]\nbind-adress = ':1'\n", "unknown key 'bind-adress' in [http]"),
        ("[http]\nlog-enabled = 'yes'\n", "[http] log-enabled: expected true or false"),
        ("[http]\nbind-address = 'nowhere'\n", "expected HOST:PORT"),
        ("[logging]\nlevel = 'LOUD'\n", "expected DEBUG, INFO, WARN, ERROR or OFF"),
        ("[[influxdb]]\nsubscription-mode = 'x'\n", "subscription-mode must be cluster or server"),
        ("[[influxdb]]\nname='a'\n[[influxdb]]\nname='b'\n", "exactly one must set default = true"),
        ("[http\n", "kapfast.conf"),
        (
            "[[influxdb]]\nsubscriptions-sync-interval = 'often'\n",
            "[[influxdb]] default: subscriptions-sync-interval 'often': not a duration",
        ),
        ("[http]\nshutdown-timeout = '-1s'\n", "[http] shutdown-timeout '-1s': must not be negative"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text), environ={})
    assert message in str(exc.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.conf", environ={})


def test_env_overrides_with_either_prefix() -> None:
    cfg, _ = config.load(
        None,
        environ={
            "KAPACITOR_HTTP_BIND_ADDRESS": "127.0.0.1:1",
            "KAPFAST_HTTP_BIND_ADDRESS": "127.0.0.1:2",
            "KAPACITOR_INFLUXDB_0_URLS_0": "http://127.0.0.1:8087",
            "KAPACITOR_INFLUXDB_0_DISABLE_SUBSCRIPTIONS": "true",
            "KAPACITOR_URL": "http://ignored",
            "KAPFAST_HOSTNAME": "h",
        },
    )
    assert cfg.http.bind_address == "127.0.0.1:2"
    assert cfg.hostname == "h"
    assert cfg.influxdb[0].urls == ["http://127.0.0.1:8087"]
    assert cfg.influxdb[0].disable_subscriptions is True


def test_env_override_of_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no key 'bogus'"):
        config.load(None, environ={"KAPFAST_HTTP_BOGUS": "1"})


def test_render_reads_back_to_the_same_config(tmp_path: Path) -> None:
    cfg, _ = config.load(None, environ={})
    cfg.influxdb.append(config.InfluxDBConfig(subscriptions={"telegraf": ["autogen", "week"]}))
    text = config.render(cfg)
    again, warnings = config.load(write(tmp_path, text), environ={})
    assert warnings == []
    assert again == cfg
    assert config.render(again) == text


def test_config_api_names_options_as_kapacitord_does() -> None:
    """#17: the config API's option names are kapacitord's override tags: dashes, except the
    three it spells with an underscore (opsgenie recovery_url, opsgenie2 recovery_action, talk
    author_name); the file takes either spelling."""
    secs = config.overridable_sections()
    names = {
        name: set(config.element_options(name, secs[name].cls())[0])
        for name in ("opsgenie", "opsgenie2", "talk", "smtp")
    }
    assert "recovery_url" in names["opsgenie"] and "recovery-url" not in names["opsgenie"]
    assert "recovery_action" in names["opsgenie2"]
    assert names["talk"] == {"enabled", "url", "author_name"}
    assert "idle-timeout" in names["smtp"] and "state-changes-only" in names["smtp"]
    cfg, _ = config.from_mapping({"talk": {"author_name": "kap"}, "opsgenie": {"recovery_url": "http://r"}})
    assert cfg.handlers["talk"].author_name == "kap"
    assert cfg.handlers["opsgenie"].recovery_url == "http://r"
    assert "author_name = " in config.render(cfg)
