"""Which tasks run partitioned and which are placed on one worker (kapfast.cluster.placement),
and the ``[cluster]`` section of the config."""

from __future__ import annotations

import pytest

from kapfast import config as configmod
from kapfast.cluster.placement import PARTITIONED, PLACED, placement
from kapfast.errors import ConfigError
from kapfast.tick import compile_script

KEY = ["host"]


@pytest.mark.parametrize(
    ("script", "where"),
    [
        (
            "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('v')",
            PARTITIONED,
        ),
        ("stream|from().measurement('cpu').groupBy('host', 'cpu')|alert().crit(lambda: TRUE)", PARTITIONED),
        ("stream|from().measurement('cpu').groupBy(*)|derivative('v')", PARTITIONED),
        # row-wise nodes before the groupBy see single points: still partitioned
        ("stream|from().measurement('cpu')|where(lambda: TRUE)|groupBy('host')|count('v')", PARTITIONED),
        ("stream|from().measurement('cpu')|influxDBOut().database('x')", PARTITIONED),
        # a window over every host, or groups without the key: one worker sees everything
        ("stream|from().measurement('cpu')|window().period(5s).every(5s)|groupBy('host')|count('v')", PLACED),
        ("stream|from().measurement('cpu').groupBy('cpu')|mean('v')", PLACED),
        ("stream|from().measurement('cpu').groupBy('host')|groupBy('cpu')|mean('v')", PLACED),
        ("stream|from().measurement('cpu').groupBy(*)|groupBy(*).exclude('host')|mean('v')", PLACED),
        ("stream|from().measurement('cpu')|httpOut('last')", PLACED),
        ("stream|from().measurement('cpu').groupBy('host')|deadman(1.0, 10s)", PLACED),
        (
            "var a = stream|from().measurement('a').groupBy('host', 'dc')\n"
            "var b = stream|from().measurement('b').groupBy('host', 'dc')\n"
            "a|join(b).as('a', 'b').on('dc')",
            PLACED,
        ),
        (
            "var a = stream|from().measurement('a').groupBy('host')\n"
            "var b = stream|from().measurement('b').groupBy('host')\n"
            "a|join(b).as('a', 'b')|httpOut('j')",
            PARTITIONED,
        ),
        ("batch|query('SELECT mean(v) FROM db.rp.cpu').period(1m).every(1m).groupBy('host')", PLACED),
    ],
)
def test_placement(script: str, where: str) -> None:
    got, why = placement(compile_script(script), KEY)
    assert got == where, why
    assert bool(why) == (where == PLACED)


def test_cluster_section_is_read_checked_and_printed() -> None:
    cfg, _ = configmod.from_mapping(
        {"cluster": {"enabled": True, "urls": ["nats://127.0.0.1:4222"], "role": "worker", "partitions": 8}}
    )
    assert cfg.cluster.role == "worker" and cfg.cluster.partitions == 8
    text = configmod.render(cfg)
    assert '[cluster]\n  enabled = true\n  urls = ["nats://127.0.0.1:4222"]' in text
    again, _ = configmod.from_mapping(__import__("tomllib").loads(text))
    assert again.cluster == cfg.cluster
    with pytest.raises(ConfigError, match="role 'boss'"):
        configmod.from_mapping({"cluster": {"role": "boss"}})
    with pytest.raises(ConfigError, match="partitions 0"):
        configmod.from_mapping({"cluster": {"partitions": 0}})
    with pytest.raises(ConfigError, match="unknown key 'partition'"):
        configmod.from_mapping({"cluster": {"partition": 3}})
    env = configmod.apply_env(configmod.Config(), {"KAPFAST_CLUSTER_PARTITIONS": "12"})
    assert env.cluster.partitions == 12
