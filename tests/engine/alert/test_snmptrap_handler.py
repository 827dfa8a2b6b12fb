"""snmptrap: SNMPv2c traps received by a real snmptrapd (Debian's net-snmp, started here on a free
127.0.0.1 UDP port, logging every trap's community and varbinds to a file), for a CRITICAL event
and its recovery, inline and as a topic handler; every data type; the section; the service test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.engine.alert.harness import build
from tests.engine.alert.test_web_handlers import event, service_test, services
from tests.engine.alert.util import values_chunk

from kapfast.config import from_mapping
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.engine.alert.services import HandlerSpec, HandlerSpecError
from kapfast.errors import ConfigError

SNMPTRAPD = shutil.which("snmptrapd") or (
    "/usr/sbin/snmptrapd" if Path("/usr/sbin/snmptrapd").exists() else None
)
pytestmark = pytest.mark.skipif(SNMPTRAPD is None, reason="snmptrapd is not installed (make system-deps)")

UPTIME = ".1.3.6.1.2.1.1.3.0 = Timeticks: (1000) 0:00:10.00"


class TrapReceiver:
    def __init__(self, tmp: Path) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.log = tmp / "traps.log"
        conf = tmp / "snmptrapd.conf"
        conf.write_text("authCommunity log kapacitor\nauthCommunity log public\n")
        assert SNMPTRAPD is not None
        self.proc = subprocess.Popen(
            [SNMPTRAPD, "-f", "-C", "-c", str(conf), "-n", "-On", "-m", "", "-M", "/dev/null",
             "-Lf", str(self.log), "-F", "TRAP %P\n%V|%v\n", f"udp:127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not (self.log.exists() and "NET-SNMP version" in self.log.read_text()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("snmptrapd did not start")
            time.sleep(0.05)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def traps(self, n: int) -> list[tuple[str, list[str]]]:
        """(community line, varbinds) of the first ``n`` traps."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.log.read_text().splitlines()
            found = [
                (lines[i], lines[i + 1].split("|"))
                for i in range(len(lines) - 1)
                if lines[i].startswith("TRAP ")
            ]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[TrapReceiver]:
    r = TrapReceiver(tmp_path)
    try:
        yield r
    finally:
        r.close()


def test_snmptrap_inline_critical_and_recovery(receiver: TrapReceiver) -> None:
    svc = services(snmptrap={"enabled": True, "addr": receiver.addr, "community": "kapacitor"})
    r = build(
        "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 5)"
        ".snmpTrap('1.3.6.1.4.1.1.2')"
        ".data('1.3.6.1.4.1.1.3', 's', '{{ .Message }}')"
        ".data('1.3.6.1.4.1.1.4', 's', '{{ .Level }}')"
        ".data('1.3.6.1.4.1.1.5', 'i', '{{ index .Fields \"value\" }}')",
        "t",
        services={"alert_services": svc},
    )
    r.node.push(values_chunk([10, 1]))
    (head1, binds1), (_, binds2) = receiver.traps(2)
    assert head1 == "TRAP TRAP2, SNMP v2c, community kapacitor"
    assert binds1 == [
        UPTIME,
        ".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.1.2",
        '.1.3.6.1.4.1.1.3 = STRING: "cpu:nil is CRITICAL"',
        '.1.3.6.1.4.1.1.4 = STRING: "CRITICAL"',
        ".1.3.6.1.4.1.1.5 = INTEGER: 10",
    ]
    assert binds2[2:] == [
        '.1.3.6.1.4.1.1.3 = STRING: "cpu:nil is OK"',
        '.1.3.6.1.4.1.1.4 = STRING: "OK"',
        ".1.3.6.1.4.1.1.5 = INTEGER: 1",
    ]


def test_snmptrap_topic_handler_every_type(receiver: TrapReceiver) -> None:
    svc = services(snmptrap={"enabled": True, "addr": receiver.addr})
    data = [
        {"oid": "1.2.3.1", "type": "c", "value": "7"},
        {"oid": "1.2.3.2", "type": "i", "value": "-5"},
        {"oid": "1.2.3.3", "type": "n", "value": ""},
        {"oid": "1.2.3.4", "type": "d", "value": "1.2.255"},
        {"oid": "1.2.3.5", "type": "s", "value": "{{ .ID }}"},
        {"oid": "1.2.3.6", "type": "t", "value": "42"},
        {"oid": "1.2.3.7", "type": "a", "value": "10.1.2.3"},
        {"oid": "1.2.3.8", "type": "u", "value": "9"},
        {"oid": "1.2.3.9", "type": "o", "value": "1.3.6.1.4.1"},
    ]
    h = svc.build_entry(HandlerSpec("h", "ops", "snmptrap", {"trap-oid": "1.2.3", "data-list": data}), None)
    h.handler.handle(event("CRITICAL"))
    h.handler.handle(event("OK", 1))
    (head, binds), _ = receiver.traps(2)
    assert head == "TRAP TRAP2, SNMP v2c, community kapacitor"  # the section's default community
    assert binds == [
        UPTIME,
        ".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.2.3",
        ".1.2.3.1 = Counter64: 7",
        ".1.2.3.2 = INTEGER: -5",
        ".1.2.3.3 = NULL",
        ".1.2.3.4 = Hex-STRING: 01 02 FF ",
        '.1.2.3.5 = STRING: "cpu:nil"',
        ".1.2.3.6 = Timeticks: (42) 0:00:00.42",
        ".1.2.3.7 = IpAddress: 10.1.2.3",
        ".1.2.3.8 = Gauge32: 9",
        ".1.2.3.9 = OID: .1.3.6.1.4.1",
    ]


def test_snmptrap_service_test_errors_and_section(receiver: TrapReceiver) -> None:
    svc = services(snmptrap={"enabled": True, "addr": receiver.addr, "community": "public"})
    service_test(svc, "snmptrap")
    ((head, binds),) = receiver.traps(1)
    assert head.endswith("community public")
    assert binds[1:] == [
        ".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.1.1.1",
        '.1.1.1.1.2 = STRING: "test snmptrap message"',
    ]
    with pytest.raises(HandlerSpecError, match="unknown type 'z'"):
        svc.build("snmptrap", {"trap-oid": "1.2", "data-list": [{"oid": "1.2.1", "type": "z", "value": ""}]})
    with pytest.raises(HandlerSpecError, match="invalid trap Oid"):
        svc.build("snmptrap", {"trap-oid": "x.y"})
    with pytest.raises(HandlerError, match="not an integer"):
        svc.build(
            "snmptrap",
            {"trap-oid": "1.2", "data-list": [{"oid": "1.2.1", "type": "i", "value": "{{ .ID }}"}]},
        ).handle(event("CRITICAL"))
    cfg: Any = from_mapping(tomllib.loads("[snmptrap]\n  enabled = true\n"))[0]
    sc = cfg.handlers["snmptrap"]
    assert (sc.addr, sc.community, sc.retries) == ("localhost:162", "kapacitor", 1)
    with pytest.raises(ConfigError, match="must specify addr"):
        from_mapping(tomllib.loads('[snmptrap]\n  enabled = true\n  addr = ""\n'))
