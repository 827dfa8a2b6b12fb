"""[groups] expire-idle: a live kapfastd drops the state of groups that went quiet."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kapfastd_proc import Kapfastd, wait_for

from kapfast.config import from_mapping
from kapfast.errors import ConfigError

SCRIPT = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |httpOut('out')
"""


def test_config_reads_and_checks_expire_idle() -> None:
    cfg, _ = from_mapping({"groups": {"expire-idle": "1h"}})
    assert cfg.groups.expire_idle == "1h"
    assert from_mapping({})[0].groups.expire_idle == "0s"  # off: Kapacitor's behaviour
    with pytest.raises(ConfigError, match=r"\[groups\] expire-idle 'soon'"):
        from_mapping({"groups": {"expire-idle": "soon"}})
    with pytest.raises(ConfigError, match="unknown key 'expire' in \\[groups\\]"):
        from_mapping({"groups": {"expire": "1h"}})


def test_kapfastd_expires_a_quiet_group(kapfastd_factory: Callable[..., Kapfastd]) -> None:
    k = kapfastd_factory('[groups]\n  expire-idle = "2s"\n')
    body = {
        "id": "hosts",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": SCRIPT,
        "status": "enabled",
    }
    assert k.api("POST", "/tasks", body).status == 200
    assert k.write("cpu,host=a v=1\ncpu,host=b v=1\n").status == 204

    def hosts() -> list[str]:
        series = k.api("GET", "/tasks/hosts/out").json()["series"] or []
        return sorted(s["tags"]["host"] for s in series)

    assert hosts() == ["a", "b"]

    def only_a() -> bool:
        assert k.write("cpu,host=a v=1\n").status == 204  # a keeps sending, b went quiet
        time.sleep(0.3)
        return hosts() == ["a"]

    wait_for(only_a, timeout_s=20, what="host b to expire")
    stats = k.api("GET", "/tasks/hosts").json()["stats"]
    # kapfast's own counter, apart from Kapacitor's node-stats
    assert "groups_expired" not in stats["node-stats"]["from1"]
    assert stats["kapfast-node-stats"]["from1"]["groups_expired"] == 1
