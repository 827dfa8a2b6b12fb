"""Kapacitor's packaged kapacitor.conf starts kapfastd unchanged (only addresses and dirs rewritten):
every section and key parses, unimplemented ones are named in ONE warning, `timeout = 0` is a
duration, `kapfastd config` prints the merged result in kapacitord's layout, KAPACITOR_* apply."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd, free_port

from kapfast import config
from kapfast.errors import ConfigError

#: Kapacitor 1.x's etc/kapacitor/kapacitor.conf, as its packages install it (MIT licence)
PACKAGED = Path(__file__).resolve().parent / "data" / "kapacitor.conf"


def rewritten(tmp: Path, port: int) -> Path:
    """The packaged file with its machine-specific places moved under ``tmp``; nothing else changed."""
    text = PACKAGED.read_text()
    for old, new in (
        ('"/var/lib/kapacitor/replay"', f'"{tmp}/replay"'),
        ('"/var/lib/kapacitor/tasks"', f'"{tmp}/tasks"'),
        ('"/var/lib/kapacitor/kapacitor.db"', f'"{tmp}/kapacitor.db"'),
        ('"/var/lib/kapacitor"', f'"{tmp}"'),
        ('"/var/log/kapacitor/kapacitor.log"', f'"{tmp}/kapacitor.log"'),
        ('"/etc/kapacitor/load"', f'"{tmp}/load"'),
        ('bind-address = ":9092"', f'bind-address = "127.0.0.1:{port}"'),
        ('urls = ["http://localhost:8086"]', f'urls = ["http://127.0.0.1:{free_port()}"]'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    (tmp / "load").mkdir(exist_ok=True)
    path = tmp / "kapacitor.conf"
    path.write_text(text)
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPFAST_", "KAPACITOR_"))}
    return {**env, **extra}


def test_the_packaged_file_parses_with_one_warning(tmp_path: Path) -> None:
    cfg, warnings = config.load(rewritten(tmp_path, 9092), environ={})
    (warning,) = warnings
    for name in (
        "[reporting]",
        "[scraper] type",  # not a key of kapacitord's [[scraper]] either
        "[static]",  # the packaged file's [static.labels] is not under [[static-discovery]]
    ):
        assert name in warning
    for implemented in (
        "[http]",
        "[auth]",
        "[[influxdb]]",
        "[smtp]",
        "[stats]",
        "[task]",
        "[udf]",
        "[zenoss]",
        "[kubernetes]",
        "[[swarm]]",
        "[[ec2]]",
        "[[scraper]]",
        "[[consul]]",
        "[[triton]]",
    ):
        assert implemented not in warning
    assert cfg.http.auth_enabled is False and cfg.auth.bcrypt_cost == 10
    (ic,) = cfg.influxdb
    assert ic.timeout == "0s" and ic.udp_buffer == 1000 and ic.name == "localhost"
    assert cfg.http.https_certificate == "/etc/ssl/kapacitor.pem"


def test_kapfastd_starts_on_the_packaged_file(tmp_path: Path) -> None:
    port = free_port()
    path = rewritten(tmp_path, port)
    server = Kapfastd(tmp_path)
    server.port = port
    proc = subprocess.Popen(
        [sys.executable, "-m", "kapfast.daemon", "-config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_clean_env(),
    )
    try:
        for _ in range(200):
            assert proc.poll() is None, (tmp_path / "kapacitor.log").read_text()
            try:
                if server.request("GET", "/kapacitor/v1/ping").status == 204:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        assert server.request("GET", "/kapacitor/v1/ping").status == 204
        log = (tmp_path / "kapacitor.log").read_text()
        assert len(re.findall("kapacitord settings kapfast does not implement", log)) == 1
        assert (tmp_path / "kapacitor.db").exists()  # [storage] boltdb took effect
    finally:
        proc.terminate()
        proc.wait(15)


def test_config_command_prints_the_merged_file_in_kapacitords_layout(tmp_path: Path) -> None:
    path = rewritten(tmp_path, 9092)
    out = subprocess.run(
        [sys.executable, "-m", "kapfast.daemon", "config", "-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=_clean_env(KAPACITOR_HTTP_AUTH_ENABLED="true", KAPACITOR_INFLUXDB_0_TIMEOUT="5s"),
    )
    assert out.returncode == 0, out.stderr
    doc = tomllib.loads(out.stdout)
    assert doc["http"]["auth-enabled"] is True  # the environment, as kapacitord
    assert doc["influxdb"][0]["timeout"] == "5s"
    assert doc["kubernetes"][0]["enabled"] is False  # the autoscale nodes' clusters, as [[kubernetes]]
    assert doc["reporting"] == {
        "enabled": True,
        "url": "https://usage.influxdata.com",
    }  # unimplemented: as given
    assert doc["zenoss"]["severity-map"]["OK"] == "Clear"
    assert doc["static"]["labels"]["region"] == "us-east-1"
    heads = [line for line in out.stdout.splitlines() if line.startswith("[")]
    order = [h.strip("[]") for h in heads]
    assert order.index("auth") < order.index("http") < order.index("influxdb") < order.index("smtp")
    assert order.index("stats") > order.index("slack")
    # and it reads back to the same config
    again = tmp_path / "again.conf"
    again.write_text(out.stdout)
    cfg, _ = config.load(again, environ={})
    assert cfg.http.auth_enabled is True and cfg.unsupported["static"]["labels"]["region"] == "us-east-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[http]\nauth-enabled = 'yes'\n", "[http] auth-enabled: expected true or false"),
        ("[http]\nbind-adress = ':1'\n", "did you mean 'bind-address'?"),
        (
            "[http]\nauth-enabled = true\n[auth]\nenabled = true\nmeta-addr = '10.0.0.1:8091'\n",
            "users from InfluxDB Enterprise's meta service are not supported",
        ),
        ("[[influxdb]]\nkapacitor-subscriptions = 'twice'\n", "must be replace, reuse or keep"),
    ],
)
def test_refused_where_ignoring_would_be_unsafe_or_a_typo(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "k.conf"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        config.load(p, environ={})
    assert message in str(exc.value)


def test_timeout_integer_and_unknown_keys(tmp_path: Path) -> None:
    cfg, warnings = config.from_mapping(
        {
            "influxdb": [{"timeout": 0, "startup-timeout": 1_000_000_000, "some-new-key": 1}],
            "http": {"pprof-enabled": True},
        }
    )
    assert cfg.influxdb[0].timeout == "0s" and cfg.influxdb[0].startup_timeout == "1s"
    (w,) = warnings
    assert "[influxdb] some-new-key" in w and "[http] pprof-enabled" in w
    with pytest.raises(ConfigError, match="expected a string"):
        config.from_mapping({"influxdb": [{"name": 3}]})  # not a duration: no integer


def test_env_overrides_reach_the_new_sections() -> None:
    cfg, _ = config.load(
        None,
        environ={
            "KAPACITOR_HTTP_AUTH_ENABLED": "true",
            "KAPACITOR_HTTP_SHARED_SECRET": "s3cret",
            "KAPACITOR_AUTH_ENABLED": "true",
            "KAPACITOR_AUTH_BCRYPT_COST": "4",
        },
    )
    assert cfg.http.auth_enabled and cfg.http.shared_secret == "s3cret"
    assert cfg.auth.enabled and cfg.auth.bcrypt_cost == 4


def test_the_starting_server_factory_still_works(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory("[reporting]\n  enabled = false\n")
    assert k.request("GET", "/kapacitor/v1/ping").status == 204
    assert "kapacitord settings kapfast does not implement, accepted and ignored: [reporting]" in k.log_tail()
