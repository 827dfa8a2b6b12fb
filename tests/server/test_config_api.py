"""The config API: GET the effective config with secrets redacted, POST set/delete/add/remove,
overrides persisted over restarts, [config-override] enabled = false, skip-config-overrides, and
an [[influxdb]] change applied live against a real InfluxDB."""

from __future__ import annotations

import json
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from kapfastd_proc import Kapfastd, free_port, wait_for

from kapfast import config
from kapfast.client import Client
from kapfast.errors import NotFoundError, RequestError

INFLUX = """
[[influxdb]]
  enabled = true
  name = "default"
  default = true
  urls = ["http://127.0.0.1:{port}"]
  username = "admin"
  password = "s3cret"
  disable-subscriptions = true
  startup-timeout = "1s"
"""


def server_with_influx(factory: Callable[..., Kapfastd], extra: str = "", **kw: Any) -> Kapfastd:
    return factory(INFLUX.format(port=free_port()) + extra, **kw)


def element(server: Kapfastd, name: str = "default") -> dict[str, Any]:
    ans = server.api("GET", f"/config/influxdb/{name}")
    assert ans.status == 200, ans
    return dict(ans.json())


def post(server: Kapfastd, path: str, body: dict[str, Any]) -> Any:
    return server.api("POST", f"/config/{path}", body)


def test_get_shows_sections_with_secrets_redacted(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = server_with_influx(kapfastd_factory)
    doc = server.api("GET", "/config").json()
    assert doc["link"] == {"rel": "self", "href": "/kapacitor/v1/config"}
    section = doc["sections"]["influxdb"]
    assert section["link"]["href"] == "/kapacitor/v1/config/influxdb"
    (elem,) = section["elements"]
    assert elem["link"]["href"] == "/kapacitor/v1/config/influxdb/default"
    assert elem["redacted"] == ["password", "token"]
    assert elem["options"]["password"] is True  # set, value hidden
    assert elem["options"]["token"] is False  # not set
    assert elem["options"]["username"] == "admin"
    assert "s3cret" not in json.dumps(doc)
    # sections that shape the server itself are not overridable, as in Kapacitor
    assert not {"http", "storage", "logging", "replay"} & set(doc["sections"])
    assert server.api("GET", "/config/influxdb").json() == section
    assert element(server) == elem
    assert server.api("GET", "/config/nope").status == 404
    missing = server.api("GET", "/config/influxdb/other")
    assert missing.json() == {"error": "unknown section/element: influxdb/other"}
    assert server.request("GET", "/kapacitor/v1preview/config").status == 200


def test_set_delete_add_remove_persist_over_restarts(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = server_with_influx(kapfastd_factory)
    assert post(server, "influxdb/default", {"set": {"username": "kap", "timeout": "5s"}}).status == 204
    opts = element(server)["options"]
    assert (opts["username"], opts["timeout"]) == ("kap", "5s")
    extra = {"name": "backup", "urls": ["http://127.0.0.1:1"], "token": "t0k", "org": "acme"}
    assert post(server, "influxdb", {"add": extra}).status == 204
    added = element(server, "backup")
    assert added["options"]["token"] is True and "org" not in added["options"]  # Kapacitor's options
    # kapfast's own options (org, bucket, kapacitor-subscriptions) are shown when asked for
    mine = server.api("GET", "/config/influxdb/backup?kapfast=true").json()["options"]
    assert (mine["org"], mine["kapacitor-subscriptions"]) == ("acme", "replace")
    server.stop()
    server.start()
    assert element(server)["options"]["username"] == "kap"
    assert element(server, "backup")["options"]["urls"] == ["http://127.0.0.1:1"]
    # delete: the file's value comes back
    assert post(server, "influxdb/default", {"delete": ["username"]}).status == 204
    assert element(server)["options"]["username"] == "admin"
    assert element(server)["options"]["timeout"] == "5s"
    # remove: an API-made element goes; a file element stays removed over restarts
    assert post(server, "influxdb", {"remove": ["backup"]}).status == 204
    assert server.api("GET", "/config/influxdb/backup").status == 404
    assert post(server, "influxdb", {"remove": ["default"]}).status == 204
    server.stop()
    server.start()
    assert server.api("GET", "/config/influxdb").json()["elements"] == []
    # adding it back brings the file's element with the given options over it
    assert post(server, "influxdb", {"add": {"name": "default", "username": "again"}}).status == 204
    back = element(server)["options"]
    assert back["username"] == "again" and back["password"] is True


def test_bad_changes_are_400_and_store_nothing(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = server_with_influx(kapfastd_factory)
    before = element(server)
    cases = [
        ("influxdb/default", {"set": {"usrname": "x"}}, "unknown option 'usrname' in [influxdb]"),
        ("influxdb/default", {"set": {"enabled": "yes"}}, "expected true or false"),
        (
            "influxdb/default",
            {"set": {"subscription-mode": "odd"}},
            "subscription-mode must be cluster or server",
        ),
        ("influxdb/default", {"set": {"timeout": "soon"}}, "not a duration"),
        ("influxdb/default", {"set": {"name": "renamed"}}, 'cannot change the "name"'),
        ("influxdb", {"set": {"username": "x"}}, "set and delete apply to an element"),
        ("influxdb/default", {"add": {"name": "x"}}, "add and remove apply to the section"),
        ("influxdb", {"add": {"urls": ["http://x:1"]}}, 'needs a "name"'),
        ("influxdb", {"add": {"name": "default"}}, 'already has an element "default"'),
        ("influxdb/default", {"frobnicate": {}}, 'unknown action "frobnicate"'),
        ("influxdb/default", {}, "nothing to change"),
    ]
    for path, body, message in cases:
        ans = post(server, path, body)
        assert ans.status == 400, (body, ans)
        assert message in ans.json()["error"], (body, ans.json())
    assert post(server, "influxdb", {"remove": ["ghost"]}).status == 404
    assert post(server, "nope/x", {"set": {"a": 1}}).status == 404
    # two enabled clusters without one default is invalid as a whole: refused, nothing stored
    ans = post(server, "influxdb/default", {"set": {"default": False}})
    assert ans.status == 204  # alone it is fine (one cluster)
    second = {"name": "second", "urls": ["http://127.0.0.1:1"], "enabled": True}
    ans = post(server, "influxdb", {"add": second})
    assert ans.status == 400 and "exactly one must set default = true" in ans.json()["error"]
    assert server.api("GET", "/config/influxdb/second").status == 404
    server.stop()
    server.start()
    assert element(server)["options"] == {**before["options"], "default": False}


def test_disabled_config_api_is_403(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = kapfastd_factory("[config-override]\n  enabled = false\n")
    for method, path, body in [
        ("GET", "/config", None),
        ("GET", "/config/influxdb", None),
        ("POST", "/config/influxdb", {"add": {"name": "x"}}),
    ]:
        ans = server.api(method, path, body)
        assert ans.status == 403, ans
        assert "enabled = false" in ans.json()["error"]


def test_skip_config_overrides_boots_on_the_file(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = server_with_influx(kapfastd_factory)
    assert post(server, "influxdb/default", {"set": {"username": "override"}}).status == 204
    server.stop()
    write = server.write_config

    def with_skip() -> None:
        write()
        server.config_path.write_text("skip-config-overrides = true\n" + server.config_path.read_text())

    server.write_config = with_skip  # type: ignore[method-assign]
    server.start()
    assert element(server)["options"]["username"] == "admin"
    assert "stored config override(s) not applied" in server.log_tail()


# ---- live: [[influxdb]] urls changed through the API against a real InfluxDB 1.x ----------------


def _show_subscriptions(influx: Any) -> list[list[Any]]:
    data = urllib.parse.urlencode({"q": "SHOW SUBSCRIPTIONS"}).encode()
    with urllib.request.urlopen(influx.url + "/query", data=data, timeout=10) as resp:
        series = json.loads(resp.read())["results"][0].get("series") or []
    return [[s["name"], *row] for s in series for row in s["values"]]


def test_influxdb_urls_override_applies_live(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    data = urllib.parse.urlencode({"q": "CREATE DATABASE cfglive"}).encode()
    urllib.request.urlopen(influxdb.url + "/query", data=data, timeout=10).close()
    dead = f"http://127.0.0.1:{free_port()}"
    server = kapfastd_factory(
        '[[influxdb]]\n  enabled = true\n  name = "default"\n'
        f'  urls = ["{dead}"]\n  subscriptions-sync-interval = "1s"\n'
        '  [influxdb.subscriptions]\n    cfglive = ["autogen"]\n'
    )
    ans = post(server, "influxdb/default", {"set": {"urls": [influxdb.url]}})
    assert ans.status == 204, ans

    def ours() -> list[list[Any]]:
        return [s for s in _show_subscriptions(influxdb) if s[0] == "cfglive" and s[2].startswith("kapfast-")]

    subs = wait_for(ours, what="a subscription made after the override")
    assert subs[0][4] == [f"http://127.0.0.1:{server.port}"]
    assert "config of [influxdb] changed through the API: applied" in server.log_tail()
    # subscriptions disabled through the API: ours are dropped, as Kapacitor unlinks them
    assert post(server, "influxdb/default", {"set": {"disable-subscriptions": True}}).status == 204
    wait_for(lambda: not ours(), what="our subscription dropped")
    assert "no longer subscribes: dropped 1 subscription(s)" in server.log_tail()


# ---- in-process: the config module's side ---------------------------------------------------------


def test_config_override_section_and_skip_flag_in_file_env_and_render() -> None:
    cfg, warnings = config.from_mapping(
        {"skip-config-overrides": True, "config-override": {"enabled": False}, "influxdb": [{"token": "t"}]}
    )
    assert warnings == []
    assert cfg.skip_config_overrides is True and cfg.config_override.enabled is False
    again, _ = config.from_mapping(tomllib.loads(config.render(cfg)))
    assert again == cfg
    env = config.apply_env(config.Config(), {"KAPACITOR_CONFIG_OVERRIDE_ENABLED": "false"})
    assert env.config_override.enabled is False
    with_skip = config.apply_env(config.Config(), {"KAPFAST_SKIP_CONFIG_OVERRIDES": "true"})
    assert with_skip.skip_config_overrides is True


def test_apply_overrides_leaves_the_base_alone_and_warns_on_stale_ones() -> None:
    base, _ = config.from_mapping({"influxdb": [{"name": "a", "username": "file"}]})
    new, warnings = config.apply_overrides(
        base,
        [
            config.Override("influxdb", "a", {"username": "api"}),
            config.Override("influxdb", "gone", {"username": "x"}),
            config.Override("influxdb", "b", {"urls": ["http://b:1"], "default": True}, create=True),
            config.Override("nosuch", "", {"x": 1}),
        ],
    )
    assert base.influxdb[0].username == "file"
    assert [(i.name, i.username) for i in new.influxdb] == [("a", "api"), ("b", "")]
    assert warnings == [
        "config override of [influxdb] 'gone' ignored: no such element",
        "config override of unknown section [nosuch] ignored",
    ]


def test_python_client_config_methods(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    server = server_with_influx(kapfastd_factory)
    with Client(server.url) as c:
        assert set(c.config()["sections"]) >= {"influxdb"}
        c.update_config("influxdb", "default", set={"username": "viaclient"})
        assert c.config("influxdb", "default")["options"]["username"] == "viaclient"
        c.update_config("influxdb", add={"name": "x", "urls": ["http://127.0.0.1:1"]})
        assert [e["link"]["href"] for e in c.config("influxdb")["elements"]] == [
            "/kapacitor/v1/config/influxdb/default",
            "/kapacitor/v1/config/influxdb/x",
        ]
        c.update_config("influxdb", remove=["x"])
        with pytest.raises(RequestError, match="unknown option 'nope'"):
            c.update_config("influxdb", "default", set={"nope": 1})
        with pytest.raises(NotFoundError):
            c.config("influxdb", "x")


def test_every_section_applies_live(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """A change through the config API takes effect at once, not at the next restart: [smtp]
    (an alert's .email() goes to the new server), [stats] (statistics start flowing into the
    stream), [deadman] (a task defined after the change gets the new message)."""
    from tests.engine.alert.servers import SmtpServer

    k = kapfastd_factory()
    with SmtpServer() as smtp:
        mail = post(
            k,
            "smtp",
            {"set": {"enabled": True, "host": "127.0.0.1", "port": smtp.port, "from": "kap@example.com"}},
        )
        assert mail.status == 204, mail
        alert = (
            "stream\n    |from()\n        .measurement('cpu')\n    |alert()\n"
            "        .crit(lambda: \"v\" > 90)\n        .email('ops@example.com')\n"
        )
        task = {"id": "mail", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": alert}
        assert k.api("POST", "/tasks", {**task, "status": "enabled"}).status == 200
        assert k.write("cpu v=95").status == 204
        ((_, rcpt, _),) = smtp.wait(1)
        assert rcpt == ["ops@example.com"]

    watch = (
        "stream\n    |from()\n        .database('_kapacitor')\n        .measurement('kapacitor')\n"
        "    |httpOut('out')\n"
    )
    task = {"id": "stats", "dbrps": [{"db": "_kapacitor", "rp": "autogen"}], "script": watch}
    assert k.api("POST", "/tasks", {**task, "status": "enabled"}).status == 200
    changed = post(k, "stats", {"set": {"enabled": True, "stats-interval": "1s"}})
    assert changed.status == 204, changed
    wait_for(lambda: k.api("GET", "/tasks/stats/out").status == 200, what="the internal statistics")

    dead = post(k, "deadman", {"set": {"message": "LIVE {{ .ID }}"}})
    assert dead.status == 204, dead
    script = (
        "stream\n    |from()\n        .measurement('cpu')\n    |deadman(1.0, 1s)\n        .topic('dead')\n"
    )
    task = {"id": "dm", "dbrps": [{"db": "telegraf", "rp": "autogen"}], "script": script}
    assert k.api("POST", "/tasks", {**task, "status": "enabled"}).status == 200

    def dead_message() -> str:
        got = k.api("GET", "/alerts/topics/dead/events")
        events = got.json()["events"] if got.status == 200 else []
        return str(events[0]["state"]["message"]) if events else ""

    # no point ever comes: the deadman fires (nil group, emitted=0) with the new message
    assert wait_for(dead_message, what="the deadman alert") == "LIVE nil:from1"
