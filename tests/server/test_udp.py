"""[[udp]] listeners: line protocol datagrams into one database and retention policy."""

from __future__ import annotations

import socket
from collections.abc import Callable

from kapfastd_proc import Kapfastd, wait_for
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
