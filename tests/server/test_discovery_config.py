"""Kapacitor's scraper and discovery sections ([[scraper]], [[azure]], [[consul]], [[dns]],
[[file-discovery]], [[gce]], [[marathon]], [[nerve]], [[serverset]], [[static-discovery]],
[[triton]]): read with kapacitord's names, defaults and checks, shown by the config API in
Kapacitor's shape with its secrets redacted, changed through POST /config like any section, and
never enabled silently: kapfast has no scraper (a start warning; the API refuses to enable one)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kapfastd_proc import Kapfastd
from test_kapacitor_conf import rewritten

from kapfast import config
from kapfast.errors import ConfigError

SECTIONS = (
    "scraper",
    "azure",
    "consul",
    "dns",
    "file-discovery",
    "gce",
    "marathon",
    "nerve",
    "serverset",
    "static-discovery",
    "triton",
)

SCRAPER = """
[[scraper]]
  enabled = false
  name = "myscraper"
  db = "prometheus_raw"
  rp = "autogen"
  password = "pw"
  bearer-token = "tok"
  [scraper.params]
    module = ["http_2xx"]

[[azure]]
  id = "myazure"
  client-secret = "shh"

[[consul]]
  id = "myconsul"
  token = "ctok"

[[marathon]]
  id = "mymarathon"
  bearer-token = "mtok"

[[static-discovery]]
  id = "mystatic"
  targets = ["localhost:9100"]
  [static-discovery.labels]
    region = "us-east-1"
"""


def options(server: Kapfastd, path: str) -> dict[str, Any]:
    ans = server.api("GET", f"/config/{path}")
    assert ans.status == 200, ans
    return dict(ans.json())


def test_the_packaged_file_reads_every_discovery_section(tmp_path: Path) -> None:
    cfg, warnings = config.load(rewritten(tmp_path, 9092), environ={})
    (warning,) = warnings  # all disabled: nothing more to say than the unimplemented keys
    assert "[[scraper]]" not in warning and "[scraper] type" in warning  # not a key of kapacitord's
    (sc,) = cfg.discovery["scraper"]
    assert (sc.name, sc.db, sc.rp, sc.scrape_interval, sc.metrics_path) == (
        "myscraper",
        "prometheus_raw",
        "autogen",
        "1m0s",
        "/metrics",
    )
    assert [d.id for d in cfg.discovery["dns"]] == ["mydns"] and cfg.discovery["dns"][0].port == 80
    assert cfg.discovery["triton"][0].port == 9163 and cfg.discovery["triton"][0].version == 1
    assert cfg.discovery["static-discovery"][0].targets == ["localhost:9100"]
    for name in SECTIONS:
        assert len(cfg.discovery[name]) == 1, name
    # `kapfastd config` prints them in kapacitord's layout and reads back to the same values
    text = config.render(cfg)
    for name in SECTIONS:
        assert f"\n[[{name}]]\n" in text
    again, _ = config.from_mapping(tomllib.loads(text))
    assert again.discovery == cfg.discovery


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[scraper]]\n  name = "s"\n  rp = "autogen"\n', 'scraper "s": scraper config must be given a db'),
        ('[[scraper]]\n  db = "d"\n  rp = "r"\n', 'scraper "": scraper config must be given a name'),
        ("[[azure]]\n  port = 80\n", 'azure "": azure discovery must be given a ID'),
        (
            '[[consul]]\n  id = "c"\n  address = " "\n',
            'consul "c": consul discovery requires a server address',
        ),
        ('[[dns]]\n  id = "d"\n  type = "A"\n', 'dns "d": Port required for dns discovery type A'),
        ('[[dns]]\n  id = "d"\n  type = "MX"\n', 'dns "d": invalid dns discovery records type MX'),
        (
            '[[file-discovery]]\n  id = "f"\n  files = ["/etc/targets.txt"]\n',
            'file discovery "f": path name "/etc/targets.txt" is not valid for file discovery',
        ),
        (
            '[[nerve]]\n  id = "n"\n  paths = ["x"]\n',
            "nerve \"n\": nerve discovery paths must begin with '/': x",
        ),
        ("[[marathon]]\n  enabled = false\n", 'marathon "": marathon discovery must be given an ID'),
        ('[[triton]]\n  id = "t"\n  port = "x"\n', "expected an integer"),
        ('[[static-discovery]]\n  id = "s"\n  labels = { a = 1 }\n', "expected a table of strings"),
        ('[[gce]]\n  id = "g"\n\n[[gce]]\n  id = "g"\n', "[[gce]] ids must be unique"),
        ('[[gce]]\n  id = "g"\n  projct = "p"\n', "did you mean 'project'?"),
    ],
)
def test_kapacitords_checks(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.from_mapping(tomllib.loads(toml))
    assert message in str(err.value)


def test_an_enabled_section_is_named_at_start() -> None:
    doc = tomllib.loads(
        '[[scraper]]\n  enabled = true\n  name = "s"\n  db = "d"\n  rp = "r"\n'
        '[[consul]]\n  enabled = true\n  id = "c"\n'
    )
    _cfg, warnings = config.from_mapping(doc)
    (warning,) = warnings
    assert '[[scraper]] "s"' in warning and '[[consul]] "c"' in warning
    assert "nothing is scraped" in warning


def test_config_api_shape_redaction_and_updates(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = kapfastd_factory(SCRAPER)
    doc = server.api("GET", "/config").json()
    for name in ("scraper", "azure", "consul", "static-discovery", "dns", "triton"):
        assert name in doc["sections"], name
    assert doc["sections"]["dns"]["elements"] == []  # none in the file: an empty section, as Kapacitor
    elem = options(server, "scraper/myscraper")
    assert elem["link"] == {"rel": "self", "href": "/kapacitor/v1/config/scraper/myscraper"}
    assert elem["redacted"] == ["password", "bearer-token"]  # Go field order, as Kapacitor
    opts = elem["options"]
    assert list(opts) == sorted(opts)  # a Go map: sorted keys
    assert opts == {
        "bearer-token": True,
        "db": "prometheus_raw",
        "discoverer-id": "",
        "discoverer-service": "",
        "enabled": False,
        "insecure-skip-verify": False,
        "metrics-path": "/metrics",
        "name": "myscraper",
        "params": {"module": ["http_2xx"]},
        "password": True,
        "proxy-url": None,
        "rp": "autogen",
        "scheme": "http",
        "scrape-interval": "1m0s",
        "scrape-timeout": "10s",
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "ssl-server-name": "",
        "username": "",
    }
    azure = options(server, "azure/myazure")
    assert azure["redacted"] == ["client-secret"] and azure["options"]["client-secret"] is True
    assert azure["options"]["port"] == 80 and azure["options"]["refresh-interval"] == "5m0s"
    consul = options(server, "consul/myconsul")
    assert consul["redacted"] == ["token", "password"]
    assert consul["options"]["token"] is True and consul["options"]["services"] is None
    # Kapacitor shows [[marathon]] bearer-token in clear; kapfast hides it like every other token
    marathon = options(server, "marathon/mymarathon")
    assert marathon["redacted"] == ["bearer-token"] and marathon["options"]["bearer-token"] is True
    static = options(server, "static-discovery/mystatic")["options"]
    assert static["labels"] == {"region": "us-east-1"} and static["targets"] == ["localhost:9100"]
    body = json.dumps(doc)
    for secret in ('"pw"', '"tok"', '"shh"', '"ctok"', '"mtok"'):
        assert secret not in body

    # set, add, remove as for any list section; persisted over a restart
    assert server.api("POST", "/config/scraper/myscraper", {"set": {"scrape-interval": "30s"}}).status == 204
    assert server.api("POST", "/config/dns", {"add": {"id": "d2", "record-names": ["_x._tcp"]}}).status == 204
    added = options(server, "dns/d2")["options"]
    assert (added["type"], added["refresh-interval"], added["record-names"]) == ("SRV", "30s", ["_x._tcp"])
    assert server.api("POST", "/config/static-discovery", {"remove": ["mystatic"]}).status == 204
    bad = server.api("POST", "/config/dns/d2", {"set": {"type": "MX"}})
    assert bad.status == 400 and "invalid dns discovery records type MX" in bad.json()["error"]
    # enabling is refused: kapfast would not scrape, and says so
    refused = server.api("POST", "/config/scraper/myscraper", {"set": {"enabled": True}})
    assert refused.status == 400 and 'cannot enable [[scraper]] "myscraper"' in refused.json()["error"]
    server.stop()
    server.start()
    assert options(server, "scraper/myscraper")["options"]["scrape-interval"] == "30s"
    assert options(server, "scraper/myscraper")["options"]["enabled"] is False
    assert server.api("GET", "/config/dns/d2").status == 200
    assert server.api("GET", "/config/static-discovery/mystatic").status == 404


def test_environment_overrides() -> None:
    cfg, _ = config.from_mapping(tomllib.loads(SCRAPER))
    env = {
        "KAPACITOR_SCRAPER_0_DB": "other",
        "KAPACITOR_FILE_DISCOVERY_0_ID": "files",
        "KAPACITOR_FILE_DISCOVERY_0_FILES": "/etc/a.json,/etc/b.yml",
        "KAPFAST_DNS_PORT": "53",
        "KAPFAST_DNS_ID": "d",
    }
    config.apply_env(cfg, env)
    assert cfg.discovery["scraper"][0].db == "other"
    assert cfg.discovery["file-discovery"][0].files == ["/etc/a.json", "/etc/b.yml"]
    assert (cfg.discovery["dns"][0].id, cfg.discovery["dns"][0].port) == ("d", 53)
    with pytest.raises(ConfigError, match="labels cannot be set from the environment"):
        config.apply_env(cfg, {"KAPACITOR_STATIC_DISCOVERY_0_LABELS": "x"})
    with pytest.raises(ConfigError, match='gce "": gce discovery must be given a ID'):
        config.apply_env(cfg, {"KAPACITOR_GCE_0_PORT": "81"})
