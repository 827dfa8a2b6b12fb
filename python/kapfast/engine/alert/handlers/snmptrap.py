"""``.snmpTrap(trapOid).data(oid, type, value)`` and the ``snmptrap`` topic handler: an SNMPv2c
trap (one UDP datagram, community and address from ``[snmptrap]``), as Kapacitor's
services/snmptrap sends it: varbinds ``sysUpTime.0 = TimeTicks 1000``, ``snmpTrapOID.0 =
trap-oid``, then each data item, its value a template over the event (``{{ .Message }}``).

Types, as Kapacitor's: ``c`` Counter64, ``i`` Integer32, ``n`` Null, ``s`` OctetString, ``t``
TimeTicks. Kapacitor fails at send time on the other net-snmp letters; kapfast sends them as
net-snmp's ``snmptrap`` does: ``a`` IpAddress, ``d`` a decimal string (``1.2.3`` → bytes 1 2 3),
``o`` an OID, ``u`` Gauge32 (unsigned), ``x`` a hex string. An unknown letter or a bad OID is
refused when the handler is defined.

The PDU is built and BER-encoded by pysnmp's SNMPv2c protocol module (a trap needs no engine:
it is never acknowledged, so Kapacitor's ``retries`` has nothing to retry).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import (
    BuildContext,
    HandlerError,
    HandlerImpl,
    Options,
)
from kapfast.engine.alert.handlers.eventdata import OptionTemplate
from kapfast.engine.alert.handlers.tcp import split_address
from kapfast.engine.alert.handlers.webservice import ServiceHandler, not_enabled
from kapfast.errors import ConfigError

TYPES = "acdinostux"
_OID = re.compile(r"^\.?\d+(\.\d+)*$")
_SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
_SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"


def _oid(text: str, what: str) -> str:
    if not _OID.match(text):
        raise ValueError(f"invalid {what} Oid {text!r}")
    return text.lstrip(".")


def _int(value: str, lo: int, hi: int, kind: str) -> int:
    try:
        n = int(value.strip(), 10)
    except ValueError:
        raise HandlerError(f"snmptrap: {kind} value {value!r} is not an integer") from None
    if not lo <= n <= hi:
        raise HandlerError(f"snmptrap: {kind} value {value!r} is out of range")
    return n


def variable(kind: str, value: str) -> Any:
    """The SNMP value of one ``.data(oid, kind, value)`` item (pysnmp's SNMPv2c types)."""
    from pysnmp.proto import rfc1902
    from pysnmp.proto.api import v2c

    if kind == "c":
        # Kapacitor: ParseInt then Counter64(uint64(v)), so -1 wraps
        return rfc1902.Counter64(_int(value, -(2**63), 2**63 - 1, "counter") % 2**64)
    if kind == "i":
        # Kapacitor: ParseInt(64 bits), then int32(v) (wrapping)
        n = _int(value, -(2**63), 2**63 - 1, "integer") & 0xFFFFFFFF
        return rfc1902.Integer32(n - 2**32 if n >= 2**31 else n)
    if kind == "n":
        return v2c.Null("")
    if kind == "s":
        return rfc1902.OctetString(value.encode("utf-8"))
    if kind == "t":
        return rfc1902.TimeTicks(_int(value, -(2**63), 2**63 - 1, "timeticks") & 0xFFFFFFFF)
    if kind == "u":
        return rfc1902.Gauge32(_int(value, 0, 2**32 - 1, "unsigned"))
    if kind == "a":
        try:
            return rfc1902.IpAddress(ipaddress.IPv4Address(value.strip()).packed)
        except ValueError:
            raise HandlerError(f"snmptrap: {value!r}: no valid IP Address") from None
    if kind == "o":
        try:
            return rfc1902.ObjectName(_oid(value.strip(), "value"))
        except ValueError as e:
            raise HandlerError(f"snmptrap: {e}") from None
    if kind == "d":
        try:
            parts = [int(p) for p in value.strip().split(".")]
        except ValueError:
            parts = [-1]
        if any(not 0 <= p <= 255 for p in parts):
            raise HandlerError(f"snmptrap: {value!r}: no valid Decimal String")
        return rfc1902.OctetString(bytes(parts))
    if kind == "x":
        try:
            return rfc1902.OctetString(bytes.fromhex(re.sub(r"^0[xX]|\s", "", value)))
        except ValueError:
            raise HandlerError(f"snmptrap: {value!r}: no valid Hex String") from None
    raise HandlerError(f"snmptrap: Snmptrap Datatype not known: {kind}")


def trap_message(community: str, trap_oid: str, data: Sequence[tuple[str, str, str]]) -> bytes:
    """The BER bytes of an SNMPv2c trap with Kapacitor's varbinds."""
    from pyasn1.codec.ber import encoder
    from pysnmp.proto import rfc1902
    from pysnmp.proto.api import v2c

    binds: list[tuple[Any, Any]] = [
        (rfc1902.ObjectName(_SYS_UPTIME), rfc1902.TimeTicks(1000)),
        (rfc1902.ObjectName(_SNMP_TRAP_OID), rfc1902.ObjectName(trap_oid)),
    ]
    binds += [(rfc1902.ObjectName(oid), variable(kind, value)) for oid, kind, value in data]
    pdu = v2c.SNMPv2TrapPDU()
    v2c.apiTrapPDU.set_defaults(pdu)
    v2c.apiTrapPDU.set_varbinds(pdu, binds)
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, community)
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


@dataclass(frozen=True)
class SNMPTrapService:
    enabled: bool = False
    addr: str = "localhost:162"
    community: str = "kapacitor"
    retries: int = 1

    def trap(self, trap_oid: str, data: Sequence[tuple[str, str, str]]) -> None:
        if not self.enabled:
            raise not_enabled("snmptrap", "snmptrap")
        message = trap_message(self.community, trap_oid, data)
        try:
            host, port = split_address(self.addr)
            family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.sendto(message, sockaddr)
        except (OSError, ValueError) as e:
            raise HandlerError(f"snmptrap {self.addr}: failed to send SNMP trap: {e}") from None


@dataclass(frozen=True)
class _Item:
    oid: str
    kind: str
    value: OptionTemplate


def _items(records: list[dict[str, Any]]) -> list[_Item]:
    items = []
    for r in records:
        oid, kind, value = (r.get(k) for k in ("oid", "type", "value"))
        if not isinstance(oid, str) or not isinstance(kind, str) or not isinstance(value, str | None):
            raise ValueError(f"data items are (oid, type, value) strings, got {r!r}")
        if kind not in TYPES or len(kind) != 1:
            raise ValueError(f"data {oid}: unknown type {kind!r} (types: {', '.join(TYPES)})")
        value = value or ""
        items.append(_Item(_oid(oid, "data"), kind, OptionTemplate("snmptrap", "data", value)))
    return items


def _build(ctx: BuildContext, o: Options) -> ServiceHandler:
    trap_oid = _oid(o.text("trap-oid"), "trap")
    items = _items(o.records("data-list", ("oid", "type", "value")))

    def send(service: SNMPTrapService, event: AlertEvent) -> None:
        service.trap(trap_oid, [(i.oid, i.kind, i.value.render(event)) for i in items])

    return ServiceHandler("snmptrap", ctx.service, send)


def _validate(c: Any) -> None:
    if c.enabled and not c.addr:
        raise ConfigError("[snmptrap]: must specify addr")
    if c.retries < 0:
        raise ConfigError("[snmptrap]: retries must be >= 0")


def _test_options(service: SNMPTrapService) -> dict[str, Any]:
    return {
        "trap-oid": "1.1.1.1",
        "data-list": [{"oid": "1.1.1.1.2", "type": "s", "value": "test snmptrap message"}],
    }


def _test(service: SNMPTrapService, o: Options) -> None:
    try:
        trap_oid = _oid(o.text("trap-oid"), "trap")
        items = _items(o.records("data-list", ("oid", "type", "value")))
    except ValueError as e:
        raise HandlerError(f"snmptrap: {e}") from None
    service.trap(trap_oid, [(i.oid, i.kind, i.value.text) for i in items])


IMPL = HandlerImpl(
    build=_build,
    service=lambda c: SNMPTrapService(c.enabled, c.addr, c.community, c.retries),
    validate=_validate,
    test_options=_test_options,
    test=_test,
)
