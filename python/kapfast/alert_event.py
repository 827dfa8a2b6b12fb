"""Kapacitor's alert event: its data model, its exact JSON, and its template data.

The ``.log()``, ``.post()``, ``.tcp()`` and ``.exec()`` handlers write an alert event as Go's
``json.Encoder`` encodes Kapacitor's ``alert.Data``: fields in the order
``id message details time duration level data previousLevel recoverable``, HTML-safe string
escaping (``<`` is ``\\u003c``), Go float formatting (``10`` not ``10.0``) and a trailing newline.
:meth:`AlertEvent.to_json_bytes` reproduces those bytes exactly.

:func:`alert_template_data` builds the value Kapacitor's ``.id()``, ``.message()`` and
``.details()`` templates see, and :func:`group_id` Kapacitor's ``.Group`` string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kapfast.errors import KapfastError
from kapfast.gofmt import (
    GoDuration,
    GoMap,
    GoStringMap,
    GoStruct,
    GoTime,
    duration_string,
    json_encode,
    json_string,
    rfc3339nano,
)
from kapfast.gotemplate import Template
from kapfast.gotemplate.html import json_compact_func, json_func

__all__ = [
    "DEFAULT_DETAILS",
    "DEFAULT_ID",
    "DEFAULT_MESSAGE",
    "DETAILS_FUNCS",
    "LEVELS",
    "AlertEvent",
    "AlertEventError",
    "alert_template_data",
    "compile_alert_templates",
    "deadman_message",
    "group_id",
    "group_string",
    "id_template_data",
    "message_template_data",
    "series_to_json",
]

LEVELS = ("OK", "INFO", "WARNING", "CRITICAL")
NIL_GROUP = "nil"

# Kapacitor's defaults for the alert node's templates.
DEFAULT_ID = "{{ .Name }}:{{ .Group }}"
DEFAULT_MESSAGE = "{{ .ID }} is {{ .Level }}"
DEFAULT_DETAILS = "{{ json . }}"
_DEADMAN_MESSAGE = (
    '{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: '
    '{{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL.'
)
# The functions Kapacitor gives the details template (html/template).
DETAILS_FUNCS: dict[str, Callable[[Any], Any]] = {"json": json_func, "jsonCompact": json_compact_func}


def deadman_message(interval_ns: int) -> str:
    """The default message of ``|deadman()``: INTERVAL is the interval as a Go duration."""
    return _DEADMAN_MESSAGE.replace("INTERVAL", duration_string(interval_ns), 1)


def compile_alert_templates(
    id: str | None = None, message: str | None = None, details: str | None = None
) -> tuple[Template, Template, Template]:
    """Compile an alert node's id, message (text/template) and details (html/template).

    ``None`` selects Kapacitor's default. Raises :class:`~kapfast.gotemplate.TemplateError` for
    a template that does not parse (or, for details, that cannot be escaped).
    """
    return (
        Template.parse(DEFAULT_ID if id is None else id, name="id"),
        Template.parse(DEFAULT_MESSAGE if message is None else message, name="message", funcs=DETAILS_FUNCS),
        Template.parse(
            DEFAULT_DETAILS if details is None else details, name="details", html=True, funcs=DETAILS_FUNCS
        ),
    )


# Template-data struct names as Go prints them in errors ("can't evaluate field X in type ...").
_ID_INFO = "kapacitor.idInfo"
_MESSAGE_INFO = "kapacitor.messageInfo"
_DETAILS_INFO = "kapacitor.detailsInfo"
_SERVER_INFO = "kapacitor.ServerInfo"


# --------------------------------------------------------------------------------------------
# Group and template data
# --------------------------------------------------------------------------------------------


def group_id(name: str, tags: Mapping[str, str], dimensions: Iterable[str], by_name: bool = False) -> str:
    """Kapacitor's ``models.ToGroupID``: ``host=a,region=b`` over the sorted group-by tags.

    With no dimensions the group is the nil group (``""``), or the measurement name when grouped
    by measurement; with ``by_name`` the tags follow ``name`` and a newline.
    """
    dims = sorted(dimensions)
    if not dims:
        return name if by_name else ""
    body = ",".join(f"{d}={tags.get(d, '')}" for d in dims)
    return f"{name}\n{body}" if by_name else body


def group_string(group: str) -> str:
    """What templates see as ``.Group``: the group ID, or ``nil`` for the nil group."""
    return group if group else NIL_GROUP


def _server_info(server_info: Mapping[str, str] | None) -> GoStruct:
    info = server_info or {}
    return GoStruct(
        _SERVER_INFO,
        {
            "Hostname": info.get("Hostname", ""),
            "ClusterID": info.get("ClusterID", ""),
            "ServerID": info.get("ServerID", ""),
        },
    )


def _tags(tags: Mapping[str, str] | None) -> GoStringMap:
    # A Go nil map prints as map[] and encodes as null; keep that distinction.
    return GoStringMap.nil_map() if tags is None else GoStringMap(tags)


def id_template_data(
    name: str,
    task_name: str,
    group: str,
    tags: Mapping[str, str] | None,
    server_info: Mapping[str, str] | None = None,
) -> GoStruct:
    """The data of an ``.id()`` template: ``Name TaskName Group Tags ServerInfo``."""
    return GoStruct(
        _ID_INFO,
        {
            "Name": name,
            "TaskName": task_name,
            "Group": group_string(group),
            "Tags": _tags(tags),
            "ServerInfo": _server_info(server_info),
        },
    )


def message_template_data(
    name: str,
    task_name: str,
    group: str,
    tags: Mapping[str, str] | None,
    server_info: Mapping[str, str] | None,
    id: str,
    fields: Mapping[str, Any] | None,
    level: str,
    time_ns: int,
    duration_ns: int,
) -> GoStruct:
    """The data of a ``.message()`` template: the id data plus ``ID Fields Level Time Duration``."""
    data = dict(id_template_data(name, task_name, group, tags, server_info))
    data.update(
        {
            "ID": id,
            "Fields": GoMap.nil_map() if fields is None else GoMap(fields),
            "Level": level,
            "Time": GoTime(time_ns),
            "Duration": GoDuration(duration_ns),
        }
    )
    return GoStruct(_MESSAGE_INFO, data)


def alert_template_data(
    name: str,
    task_name: str,
    group: str,
    tags: Mapping[str, str] | None,
    server_info: Mapping[str, str] | None,
    id: str,
    fields: Mapping[str, Any] | None,
    level: str,
    time_ns: int,
    duration_ns: int,
    message: str,
) -> GoStruct:
    """The data of a ``.details()`` template; its JSON keys are in Kapacitor's order:
    ``Name TaskName Group Tags ServerInfo ID Fields Level Time Duration Message``.

    ``group`` is the group ID (``""`` for the nil group, shown as ``nil``).
    """
    data = dict(
        message_template_data(
            name, task_name, group, tags, server_info, id, fields, level, time_ns, duration_ns
        )
    )
    data["Message"] = message
    return GoStruct(_DETAILS_INFO, data)


# --------------------------------------------------------------------------------------------
# The event
# --------------------------------------------------------------------------------------------


class AlertEventError(KapfastError):
    """An alert event that cannot be encoded or decoded."""


def _json_value(v: Any, is_time: bool) -> str:
    if is_time and isinstance(v, int) and not isinstance(v, bool):
        return '"' + rfc3339nano(v) + '"'
    try:
        return json_encode(v)
    except ValueError as e:
        raise AlertEventError(str(e)) from None


def series_to_json(series: Mapping[str, Any]) -> str:
    """One InfluxQL row: ``name tags columns values``, each omitted when empty (omitempty).

    Values in a column named ``time`` that are ints are nanoseconds and encode as RFC 3339.
    """
    parts: list[str] = []
    name = series.get("name") or ""
    if name:
        parts.append('"name":' + json_string(name))
    tags = series.get("tags") or {}
    if tags:
        parts.append('"tags":' + json_encode(dict(tags)))
    columns: Sequence[str] = series.get("columns") or []
    if columns:
        parts.append('"columns":' + json_encode(list(columns)))
    values: Sequence[Sequence[Any]] = series.get("values") or []
    if values:
        time_cols = {i for i, c in enumerate(columns) if c == "time"}
        rows = []
        for row in values:
            rows.append("[" + ",".join(_json_value(v, i in time_cols) for i, v in enumerate(row)) + "]")
        parts.append('"values":[' + ",".join(rows) + "]")
    return "{" + ",".join(parts) + "}"


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(s: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (with up to 9 fraction digits)."""
    import calendar

    m = _RFC3339.match(s)
    if m is None:
        raise AlertEventError(f"bad RFC 3339 time {s!r}")
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    ns = int((frac[1:] + "000000000")[:9]) if frac else 0
    secs = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    tz = m.group(8)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 1_000_000_000 + ns


@dataclass
class AlertEvent:
    """One alert event as the handlers receive it (Kapacitor's ``alert.Data``).

    ``data`` is the InfluxQL result's series: dicts with ``name``, ``tags``, ``columns`` and
    ``values`` (time column values as int nanoseconds); ``None`` encodes as ``"series":null``.

    ``task_name``, ``name`` (the measurement), ``group`` (the group ID, ``""`` for the nil group),
    ``tags`` and ``fields`` are the rest of Kapacitor's ``alert.EventData``: some handlers send
    them (PagerDuty2's ``class``, BigPanda's ``task``, Alerta's templates...). They are not part
    of the event's JSON, and an event read back from JSON has them empty.
    """

    id: str
    message: str
    details: str
    time_ns: int
    duration_ns: int
    level: str
    data: list[dict[str, Any]] | None = field(default_factory=list)
    previous_level: str = "OK"
    recoverable: bool = True
    task_name: str = field(default="", compare=False)
    name: str = field(default="", compare=False)
    group: str = field(default="", compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> str:
        """The JSON object (without the encoder's newline)."""
        if self.level not in LEVELS or self.previous_level not in LEVELS:
            raise AlertEventError(f"unknown alert level {self.level!r}/{self.previous_level!r}")
        return (
            '{"id":'
            + json_string(self.id)
            + ',"message":'
            + json_string(self.message)
            + ',"details":'
            + json_string(self.details)
            + ',"time":"'
            + rfc3339nano(self.time_ns)
            + '","duration":'
            + str(int(self.duration_ns))
            + ',"level":"'
            + self.level
            + '","data":'
            + self.result_json()
            + ',"previousLevel":"'
            + self.previous_level
            + '","recoverable":'
            + ("true" if self.recoverable else "false")
            + "}"
        )

    def result_json(self) -> str:
        """The event's data as Kapacitor's ``models.Result`` encodes: ``{"series":[...]}``
        (``{"series":null}`` without data). Several handlers send it (OpsGenie's description,
        VictorOps' data, PagerDuty2's custom details, Alerta's rawData)."""
        series = "null" if self.data is None else "[" + ",".join(series_to_json(s) for s in self.data) + "]"
        return '{"series":' + series + "}"

    def to_json_bytes(self) -> bytes:
        """Exactly what Go's ``json.Encoder.Encode`` writes: the object and a newline."""
        return (self.to_json() + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> AlertEvent:
        """Read an event written by Kapacitor or by :meth:`to_json_bytes`."""
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise AlertEventError(f"alert event is not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise AlertEventError("alert event is not a JSON object")
        try:
            data = obj.get("data") or {}
            raw_series = data.get("series") if isinstance(data, dict) else None
            series: list[dict[str, Any]] | None = None
            if raw_series is not None:
                series = []
                for s in raw_series:
                    columns = list(s.get("columns") or [])
                    time_cols = {i for i, c in enumerate(columns) if c == "time"}
                    values = [
                        [
                            parse_rfc3339(v) if i in time_cols and isinstance(v, str) else v
                            for i, v in enumerate(row)
                        ]
                        for row in s.get("values") or []
                    ]
                    series.append(
                        {
                            "name": s.get("name", ""),
                            "tags": dict(s.get("tags") or {}),
                            "columns": columns,
                            "values": values,
                        }
                    )
            return cls(
                id=str(obj.get("id", "")),
                message=str(obj.get("message", "")),
                details=str(obj.get("details", "")),
                time_ns=parse_rfc3339(obj["time"]) if obj.get("time") else 0,
                duration_ns=int(obj.get("duration", 0)),
                level=str(obj.get("level", "OK")),
                data=series,
                previous_level=str(obj.get("previousLevel", "OK")),
                recoverable=bool(obj.get("recoverable", True)),
            )
        except (AttributeError, TypeError, KeyError) as e:
            raise AlertEventError(f"malformed alert event: {e}") from None
