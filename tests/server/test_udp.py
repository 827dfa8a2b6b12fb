"""[[udp]] listeners: line protocol datagrams into one database and retention policy."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from kapfastd_proc import Kapfastd, influxdb_config, wait_for
from test_influxdb import influx_query, influx_write, subscriptions
from test_takeover import received

from kapfast import config


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_udp_listener_feeds_the_stream(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    port = free_udp_port()
    k = kapfastd_factory(
        f'[[udp]]\n  enabled = true\n  bind-address = "127.0.0.1:{port}"\n  database = "udpdb"\n'
        '  retention-policy = "autogen"\n  read-buffer = 1048576\n'
    )
    body = {
        "id": "t",
        "type": "stream",
        "dbrps": [{"db": "udpdb", "rp": "autogen"}],
        "status": "enabled",
        "script": "stream\n    |from()\n        .measurement('cpu')\n    |httpOut('out')\n",
    }
    assert k.api("POST", "/tasks", body).status == 200
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(
            b"cpu,host=a v=1 1000000000\ncpu,host=b v=2 2000000000\nnot line protocol\n", ("127.0.0.1", port)
        )
    wait_for(lambda: received(k, "udpdb") == 2, what="2 points over UDP")
    out = wait_for(lambda: k.api("GET", "/tasks/t/out").json().get("series"), what="the task's output")
    (series,) = out  # httpOut keeps the latest point
    assert series["name"] == "cpu" and series["values"][-1][-1] == 2
    assert "bad line(s)" in k.log_tail(200)


def test_udp_config_and_environment() -> None:
    cfg, warnings = config.from_mapping(
        {"udp": [{"enabled": True, "bind-address": ":8089", "database": "telegraf"}]}
    )
    assert warnings == [] and cfg.udp[0].database == "telegraf"
    cfg = config.apply_env(cfg, {"KAPACITOR_UDP_0_BIND_ADDRESS": "127.0.0.1:9999"})
    assert cfg.udp[0].bind_address == "127.0.0.1:9999"
    assert "[[udp]]" in config.render(cfg)


def test_influxdb_subscription_over_udp(influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]) -> None:
    """``subscription-protocol = "udp"``: a listener per db/rp on ``udp-bind``, the subscription
    pointing at its port; points written to InfluxDB arrive; a restart listens on the same port
    again, so InfluxDB's subscription stays as it is."""
    influx_query(influxdb, 'CREATE DATABASE "udpsub"')
    k = kapfastd_factory(
        influxdb_config(
            influxdb, subscription_protocol='"udp"', udp_bind='"127.0.0.1"', udp_read_buffer="1048576"
        )
    )

    def ours() -> list[str]:
        return next(
            (
                d
                for (db, rp, name), d in subscriptions(influxdb).items()
                if db == "udpsub" and name.startswith("kapfast-")
            ),
            [],
        )

    (dest,) = wait_for(ours, what="the UDP subscription")
    assert dest.startswith("udp://127.0.0.1:")
    influx_write(influxdb, "udpsub", "cpu,host=a v=1\ncpu,host=b v=2\n")
    wait_for(lambda: received(k, "udpsub") == 2, what="2 points over the UDP subscription")
    k.stop()
    k.start()
    relisten = "listening for InfluxDB's subscription writes to udpsub.autogen"
    wait_for(lambda: relisten in k.log_tail(400), what="the listener again")
    assert ours() == [dest]  # same port: the subscription was kept, not made anew

    # UDP may lose a datagram (a loaded machine, InfluxDB's subscriber catching up with the
    # restart): write again until one arrives, and check every point counted came over UDP.
    def one_after_restart() -> int:
        influx_write(influxdb, "udpsub", "cpu,host=c v=3\n")
        return received(k, "udpsub")

    wait_for(one_after_restart, what="a point after the restart")
    assert "subscription-protocol udp" not in k.log_tail(400)  # no 'not implemented' warning
