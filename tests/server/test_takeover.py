"""Taking over from Kapacitor on the same address, against the real InfluxDB 1.x: Kapacitor's own
subscription ("kapacitor-<cluster id>") already sends to the port kapfastd now serves, and one
point written must arrive once, not twice. With auth on, InfluxDB's pushes carry kapfastd's
subscription token (``~subscriber``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kapfastd_proc import Kapfastd, influxdb_config
from test_influxdb import influx_query, influx_write, subscriptions, wait_for


def received(k: Kapfastd, db: str) -> int:
    stats = k.api("GET", "/debug/vars").json()["kapacitor"]
    return sum(
        v["values"]["points_received"]
        for key, v in stats.items()
        if key.startswith("ingress:") and v["tags"]["database"] == db
    )


def setup_kapacitor_subscription(influxdb: Any, db: str, port: int, creds: str = "") -> str:
    influx_query(influxdb, f'CREATE DATABASE "{db}"')
    name = f"kapacitor-{uuid.uuid4()}"
    dest = f"http://{creds}127.0.0.1:{port}"
    influx_query(influxdb, f'CREATE SUBSCRIPTION "{name}" ON "{db}"."autogen" DESTINATIONS ANY \'{dest}\'')
    return name


def ours(influxdb: Any, db: str, prefix: str) -> list[tuple[str, list[str]]]:
    return [
        (key[2], d)
        for key, d in subscriptions(influxdb).items()
        if key[0] == db and key[2].startswith(prefix)
    ]


def one_point_arrives_once(influxdb: Any, k: Kapfastd, db: str) -> None:
    influx_write(influxdb, db, "cpu,host=a v=1\n")
    wait_for(lambda: received(k, db) >= 1, what="the point")
    time.sleep(1.5)  # a second delivery, if any, comes within milliseconds
    assert received(k, db) == 1


@pytest.mark.parametrize("policy", ["replace", "reuse"])
def test_kapacitors_subscription_does_not_double_points(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd], policy: str
) -> None:
    db = f"takeover_{policy}"
    k = kapfastd_factory(
        influxdb_config(
            influxdb, kapacitor_subscriptions=f'"{policy}"', subscriptions=f'{{ {db} = ["autogen"] }}'
        ),
        start=False,
    )
    kapacitors = setup_kapacitor_subscription(influxdb, db, k.port)
    k.start()
    if policy == "replace":
        wait_for(
            lambda: not ours(influxdb, db, "kapacitor-") and ours(influxdb, db, "kapfast-"), what="takeover"
        )
        assert f"dropped InfluxDB subscription {kapacitors} on {db}.autogen" in k.log_tail(200)
    else:
        wait_for(lambda: k.api("GET", "/debug/vars").json()["num_subscriptions"] == 1, what="sync")
        time.sleep(1.5)  # at least one sync has run
        assert ours(influxdb, db, "kapacitor-") == [(kapacitors, [f"http://127.0.0.1:{k.port}"])]
        assert ours(influxdb, db, "kapfast-") == []
    one_point_arrives_once(influxdb, k, db)


def test_subscription_pushes_authenticate_with_a_token(
    influxdb: Any, kapfastd_factory: Callable[..., Kapfastd]
) -> None:
    db = "takeover_auth"
    k = kapfastd_factory(
        "[auth]\n  enabled = true\n  bcrypt-cost = 4\n"
        + influxdb_config(influxdb, subscriptions=f'{{ {db} = ["autogen"] }}'),
    )
    assert k.api("POST", "/users", {"name": "root", "password": "rootpw", "type": "admin"}).status == 200
    k.stop()
    # Kapacitor's subscription carries Kapacitor's own token, unknown here: replaced
    setup_kapacitor_subscription(influxdb, db, k.port, creds="~subscriber:kapacitorstoken@")
    k.http_options = "  auth-enabled = true\n"
    k.auth = ("root", "rootpw")
    k.start()
    with_token = wait_for(
        lambda: [d for _, ds in ours(influxdb, db, "kapfast-") for d in ds if "~subscriber:" in d],
        what="our subscription with its token",
    )
    assert with_token[0].startswith("http://~subscriber:") and with_token[0].endswith(f"@127.0.0.1:{k.port}")
    wait_for(lambda: not ours(influxdb, db, "kapacitor-"), what="Kapacitor's subscription dropped")
    one_point_arrives_once(influxdb, k, db)  # InfluxDB's push authenticated with the token
    assert "invalid subscription token" not in k.log_tail(400)
