"""The reliability suite drives a real kapfastd (and InfluxDB) like tests/server does: its
fixtures are loaded from there so both suites share one implementation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SERVER = Path(__file__).resolve().parents[1] / "server"
sys.path.insert(0, str(_SERVER))  # kapfastd_proc, as tests/server imports it

_spec = importlib.util.spec_from_file_location("_kapfast_server_fixtures", _SERVER / "conftest.py")
assert _spec is not None and _spec.loader is not None
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)
kapfastd_factory = _server.kapfastd_factory
kapfastd = _server.kapfastd
# a real InfluxDB 1.x: the session's one, and throwaway ones a test stops and starts
influxdb = _server.influxdb
influxdb_factory = _server.influxdb_factory
