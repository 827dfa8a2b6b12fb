"""``/kapacitor/v1/config`` as Kapacitor's own server test sees it (TestServer_UpdateConfig,
server/server_config_test.go): each section's element options with Kapacitor's names, values
and nil lists, durations as Go's ``Duration.String``, redacted secrets, element links, elements
sorted by their id, and the bodies written as ``json.NewEncoder`` writes them.

The config file below is that test's ``setDefaults`` for every section, in TOML; the expected
options are its ``expDefaultElement``s (one difference: ``disable-subscriptions`` is true here so
that kapfastd does not wait for the InfluxDB this test does not start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, free_port

JSON = "application/json; charset=utf-8"

CONFIG = """
[[influxdb]]
  enabled = true
  name = "default"
  urls = ["{url}"]
  username = "bob"
  password = "secret"
  startup-timeout = "1h"
  disable-subscriptions = true

[alerta]
  url = "http://alerta.example.com"

[[httppost]]
  endpoint = "test"
  url = "http://httppost.example.com"
  [httppost.headers]
    testing = "works"

[pushover]
  url = "http://pushover.example.com"

[[kubernetes]]
  api-servers = ["http://localhost:80001"]

[[mqtt]]
  name = "default"
  url = "tcp://mqtt.example.com:1883"

[opsgenie]
  url = "http://opsgenie.example.com"

[opsgenie2]
  url = "http://opsgenie2.example.com"
  recovery_action = "notes"

[pagerduty]
  service-key = "secret"

[pagerduty2]
  routing-key = "secret"

[smtp]
  host = "smtp.example.com"

[sensu]
  addr = "sensu.example.com:3000"

[servicenow]
  url = "https://instance.service-now.com/api/global/em/jsonv2"
  source = "Kapacitor"

[bigpanda]
  url = "https://api.bigpanda.io/data/v2/alerts"

[[slack]]
  global = true
  default = true
  username = "kapacitor"

[snmptrap]
  community = "test"
  retries = 2

[[swarm]]
  servers = ["http://localhost:80001"]

[talk]
  author_name = "Kapacitor"

[teams]
  channel-url = "http://teams.example.com/abcde"

[telegram]
  chat-id = "kapacitor"

[victorops]
  routing-key = "test"
  api-key = "secret"

[zenoss]
  url = "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router"
  collector = "Kapacitor"
"""

SLACK = {
    "workspace": "",
    "default": True,
    "channel": "",
    "enabled": False,
    "global": True,
    "icon-emoji": "",
    "state-changes-only": False,
    "token": False,
    "url": False,
    "username": "kapacitor",
    "ssl-ca": "",
    "ssl-cert": "",
    "ssl-key": "",
    "insecure-skip-verify": False,
}


def _influxdb(url: str) -> dict[str, Any]:
    return {
        "default": False,
        "disable-subscriptions": True,  # false in Kapacitor's test (see the module's docstring)
        "enabled": True,
        "excluded-subscriptions": {"_kapacitor": ["autogen"]},
        "http-port": 0,
        "insecure-skip-verify": False,
        "kapacitor-hostname": "",
        "http-shared-secret": False,
        "name": "default",
        "password": True,
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "startup-timeout": "1h0m0s",
        "subscription-protocol": "http",
        "subscription-mode": "cluster",
        "subscription-path": "",
        "subscriptions": None,
        "subscriptions-sync-interval": "1m0s",
        "timeout": "0s",
        "token": False,
        "udp-bind": "",
        "udp-buffer": 1000,
        "udp-read-buffer": 0,
        "urls": [url],
        "username": "bob",
        "compression": "gzip",
    }


#: section -> (element id, its options, its redacted options), from TestServer_UpdateConfig
EXPECTED: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "alerta": (
        "",
        {
            "enabled": False,
            "environment": "",
            "origin": "",
            "token": False,
            "token-prefix": "",
            "url": "http://alerta.example.com",
            "insecure-skip-verify": False,
            "timeout": "0s",
        },
        ["token"],
    ),
    "httppost": (
        "test",
        {
            "endpoint": "test",
            "url": "http://httppost.example.com",
            "headers": {"testing": "works"},
            "basic-auth": False,
            "alert-template": "",
            "alert-template-file": "",
            "row-template": "",
            "row-template-file": "",
        },
        ["basic-auth"],
    ),
    "pushover": (
        "",
        {"enabled": False, "token": False, "user-key": False, "url": "http://pushover.example.com"},
        ["token", "user-key"],
    ),
    "kubernetes": (
        "",
        {
            "id": "",
            "api-servers": ["http://localhost:80001"],
            "ca-path": "",
            "enabled": False,
            "in-cluster": False,
            "namespace": "",
            "token": False,
            "resource": "",
        },
        ["token"],
    ),
    "mqtt": (
        "default",
        {  # as the body has them: sorted
            "client-id": "",
            "default": False,
            "enabled": False,
            "insecure-skip-verify": False,
            "name": "default",
            "password": False,
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "url": "tcp://mqtt.example.com:1883",
            "username": "",
        },
        ["password"],
    ),
    "opsgenie": (
        "",
        {
            "api-key": False,
            "enabled": False,
            "global": False,
            "recipients": None,
            "recovery_url": "https://api.opsgenie.com/v1/json/alert/note",
            "teams": None,
            "url": "http://opsgenie.example.com",
        },
        ["api-key"],
    ),
    "opsgenie2": (
        "",
        {
            "api-key": False,
            "enabled": False,
            "global": False,
            "details": False,
            "recipients": None,
            "teams": None,
            "url": "http://opsgenie2.example.com",
            "recovery_action": "notes",
        },
        ["api-key"],
    ),
    "pagerduty": (
        "",
        {
            "enabled": False,
            "global": False,
            "service-key": True,
            "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
        },
        ["service-key"],
    ),
    "pagerduty2": (
        "",
        {
            "enabled": False,
            "global": False,
            "routing-key": True,
            "url": "https://events.pagerduty.com/v2/enqueue",
        },
        ["routing-key"],
    ),
    "smtp": (
        "",
        {
            "enabled": False,
            "from": "",
            "global": False,
            "host": "smtp.example.com",
            "idle-timeout": "30s",
            "no-verify": False,
            "password": False,
            "port": 25,
            "state-changes-only": False,
            "to": None,
            "to-templates": None,
            "username": "",
        },
        ["password"],
    ),
    "sensu": (
        "",
        {"addr": "sensu.example.com:3000", "enabled": False, "source": "Kapacitor", "handlers": None},
        [],
    ),
    "servicenow": (
        "",
        {
            "enabled": False,
            "global": False,
            "state-changes-only": False,
            "url": "https://instance.service-now.com/api/global/em/jsonv2",
            "source": "Kapacitor",
            "username": "",
            "password": False,
        },
        ["password"],
    ),
    "bigpanda": (
        "",
        {
            "enabled": False,
            "global": False,
            "state-changes-only": False,
            "url": "https://api.bigpanda.io/data/v2/alerts",
            "insecure-skip-verify": False,
            "token": False,
            "app-key": "",
            "auto-attributes": "tags,fields",
        },
        ["token"],
    ),
    "slack": ("", SLACK, ["url", "token"]),
    "snmptrap": (
        "",
        {"addr": "localhost:162", "enabled": False, "community": True, "retries": 2},
        ["community"],
    ),
    "swarm": (
        "",
        {
            "id": "",
            "enabled": False,
            "servers": ["http://localhost:80001"],
            "ssl-ca": "",
            "ssl-cert": "",
            "ssl-key": "",
            "insecure-skip-verify": False,
        },
        [],
    ),
    "talk": ("", {"enabled": False, "url": False, "author_name": "Kapacitor"}, ["url"]),
    "teams": (
        "",
        {
            "enabled": False,
            "global": False,
            "state-changes-only": False,
            "channel-url": "http://teams.example.com/abcde",
        },
        [],
    ),
    "telegram": (
        "",
        {
            "chat-id": "kapacitor",
            "disable-notification": False,
            "disable-web-page-preview": False,
            "enabled": False,
            "global": False,
            "parse-mode": "",
            "state-changes-only": False,
            "token": False,
            "url": "https://api.telegram.org/bot",
        },
        ["token"],
    ),
    "victorops": (
        "",
        {
            "api-key": True,
            "enabled": False,
            "global": False,
            "routing-key": "test",
            "url": "https://alert.victorops.com/integrations/generic/20131114/alert",
            "json-data": False,
        },
        ["api-key"],
    ),
    "zenoss": (
        "",
        {
            "enabled": False,
            "global": False,
            "state-changes-only": False,
            "url": "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router",
            "username": "",
            "password": False,
            "action": "EventsRouter",
            "method": "add_event",
            "type": "rpc",
            "tid": 1,
            "collector": "Kapacitor",
            "severity-map": {"ok": "Clear", "info": "Info", "warning": "Warning", "critical": "Critical"},
        },
        ["password"],
    ),
}


def _link(path: str) -> dict[str, str]:
    return {"rel": "self", "href": f"/kapacitor/v1/config{path}"}


def _start(factory: Callable[..., Kapfastd]) -> tuple[Kapfastd, str]:
    url = f"http://127.0.0.1:{free_port()}"
    return factory(CONFIG.format(url=url)), url


def _element(server: Kapfastd, section: str, element: str) -> dict[str, Any]:
    ans = server.api("GET", f"/config/{section}/{element}")
    assert (ans.status, ans.headers["Content-Type"]) == (200, JSON), (section, ans)
    return dict(ans.json())


def _check(
    got: dict[str, Any], section: str, element: str, options: dict[str, Any], redacted: list[str]
) -> None:
    assert got["link"] == _link(f"/{section}/{element}"), section
    assert got["options"] == options, section
    assert list(got["options"]) == sorted(got["options"]), section  # a Go map: sorted keys
    # Kapacitor's test compares them sorted; a nil list is null
    assert sorted(got["redacted"] or []) == sorted(redacted), section
    assert (got["redacted"] is None) == (not redacted), section


def test_every_section_as_kapacitors_server_test_expects(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server, url = _start(kapfastd_factory)
    expected = {"influxdb": ("default", _influxdb(url), ["password", "token"]), **EXPECTED}
    everything = server.api("GET", "/config").json()
    for section, (element, options, redacted) in expected.items():
        whole = everything["sections"][section]
        alone = server.api("GET", f"/config/{section}").json()
        assert whole == alone and alone["link"] == _link(f"/{section}"), section
        (listed,) = alone["elements"]
        _check(listed, section, element, options, redacted)
        _check(_element(server, section, element), section, element, options, redacted)


def test_bodies_are_json_encoder_lines(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server, _ = _start(kapfastd_factory)
    ans = server.api("GET", "/config/pushover")
    assert ans.body == (
        b'{"link":{"rel":"self","href":"/kapacitor/v1/config/pushover"},"elements":[{"link":{"rel":"self",'
        b'"href":"/kapacitor/v1/config/pushover/"},"options":{"enabled":false,"token":false,'
        b'"url":"http://pushover.example.com","user-key":false},"redacted":["token","user-key"]}]}\n'
    )
    whole = server.api("GET", "/config")
    assert (
        whole.headers["Content-Type"] == JSON and whole.body.endswith(b"}\n") and b"\n" not in whole.body[:-1]
    )
    assert list(whole.json()["sections"]) == sorted(whole.json()["sections"])
    # Kapacitor's errors, as its config service words them
    assert server.api("GET", "/config/nope").json() == {"error": "unknown section: nope"}
    assert server.api("GET", "/config/slack/nope").json() == {"error": "unknown section/element: slack/nope"}
    bad = server.api("GET", "/config/")
    assert (bad.status, bad.json()) == (
        400,
        {"error": "section not specified, do you have an extra trailing '/'?"},
    )


def test_updates_show_go_durations_sorted_elements_and_kapacitors_new_element(
    kapfastd_factory: Callable[..., Kapfastd],
) -> None:
    server, url = _start(kapfastd_factory)
    # durations as toml.Duration marshals them: Go's Duration.String
    set_alerta = {"set": {"token": "token", "origin": "kapacitor", "timeout": "3h"}}
    assert server.api("POST", "/config/alerta/", set_alerta).status == 204
    alerta = _element(server, "alerta", "")["options"]
    assert (alerta["timeout"], alerta["token"], alerta["origin"]) == ("3h0m0s", True, "kapacitor")
    assert server.api("POST", "/config/smtp/", {"set": {"idle-timeout": "90s"}}).status == 204
    assert _element(server, "smtp", "")["options"]["idle-timeout"] == "1m30s"
    assert server.api("POST", "/config/kubernetes/", {"set": {"token": "secret"}}).status == 204
    assert _element(server, "kubernetes", "")["options"]["token"] is True
    # elements are sorted by their id whatever order they were added in
    for endpoint in ("zeta", "alpha"):
        add = {"endpoint": endpoint, "url": f"http://{endpoint}.example.com", "headers": {"b": "2", "a": "1"}}
        assert server.api("POST", "/config/httppost", {"add": add}).status == 204
    section = server.api("GET", "/config/httppost").json()
    links = [e["link"]["href"] for e in section["elements"]]
    assert links == [f"/kapacitor/v1/config/httppost/{e}" for e in ("alpha", "test", "zeta")]
    alpha = server.api("GET", "/config/httppost/alpha").text
    assert '"headers":{"a":"1","b":"2"}' in alpha  # a Go map in an option: sorted keys too
    # an [[influxdb]] added through the API starts as Kapacitor's Init makes it: disabled
    new = {"name": "new", "urls": [url]}
    assert server.api("POST", "/config/influxdb", {"add": new}).status == 204
    added = _element(server, "influxdb", "new")["options"]
    assert added == {
        **_influxdb(url),
        "name": "new",
        "enabled": False,
        "password": False,
        "startup-timeout": "5m0s",
        "username": "",
        "disable-subscriptions": False,
    }
    # kapfast's own options are out of Kapacitor's body and shown when asked for
    assert not {"org", "bucket", "kapacitor-subscriptions"} & set(added)
    mine = server.api("GET", "/config/influxdb/new?kapfast=true").json()["options"]
    assert (mine["org"], mine["bucket"], mine["kapacitor-subscriptions"]) == ("", "", "replace")
