"""kapfastd as a subprocess on a free loopback port, driven over HTTP as a client would.

The real-InfluxDB fixtures (``influxdb``, ``influxdb_factory``) are those of
``tests/integration/conftest.py``, loaded from there so both suites share one implementation.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kapfastd_proc import Kapfastd

_spec = importlib.util.spec_from_file_location(
    "_kapfast_influxdb_fixtures", Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_influx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_influx)
influxdb = _influx.influxdb
influxdb_factory = _influx.influxdb_factory


@pytest.fixture
def kapfastd_factory(tmp_path: Path) -> Iterator[Callable[..., Kapfastd]]:
    made: list[Kapfastd] = []

    def make(extra_config: str = "", *, http_options: str = "", start: bool = True) -> Kapfastd:
        d = tmp_path / f"kapfastd{len(made)}"
        d.mkdir()
        server = Kapfastd(d, extra_config, http_options)
        made.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in made:
        server.kill()


@pytest.fixture
def kapfastd(kapfastd_factory: Callable[..., Kapfastd]) -> Kapfastd:
    """A kapfastd with embedded defaults and no InfluxDB."""
    return kapfastd_factory()
