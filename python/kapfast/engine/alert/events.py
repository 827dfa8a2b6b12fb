"""Building alert events: id/message/details templates, the event's data, the augmented output.

The templates are Kapacitor's (``kapfast.alert_event``): ``.id()`` sees ``Name TaskName Group Tags
ServerInfo``, ``.message()`` adds ``ID Fields Level Time Duration``, ``.details()`` (html/template)
adds ``Message``. The event's ``data`` is the InfluxQL row of the point (stream) or of the whole
batch (Kapacitor's ``BatchToRow``): ``time`` first, then the field names (and tags that are not the
batch's) sorted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.alert_event import (
    DEFAULT_DETAILS,
    DEFAULT_ID,
    DEFAULT_MESSAGE,
    alert_template_data,
    compile_alert_templates,
    group_string,
    id_template_data,
    message_template_data,
)
from kapfast.engine.context import TaskContext
from kapfast.errors import TaskError
from kapfast.gofmt import json_encode, json_float, json_string, rfc3339nano
from kapfast.gotemplate import Template, TemplateError
from kapfast.gotemplate.html import html_escaper
from kapfast.tick.pipeline import Node as NodeSpec

FieldValue = float | int | str | bool
#: distinct (name, group, tags) whose rendered alert id (and details prefix) is kept
ID_CACHE_SIZE = 4096
Row = tuple[str, dict[str, str], dict[str, FieldValue], int]


@dataclass(frozen=True, slots=True)
class Augment:
    """``.levelTag .idTag .levelField .messageField .idField .durationField`` (empty: unset)."""

    level_tag: str = ""
    id_tag: str = ""
    level_field: str = ""
    message_field: str = ""
    id_field: str = ""
    duration_field: str = ""

    @property
    def any(self) -> bool:
        return bool(
            self.level_tag
            or self.id_tag
            or self.level_field
            or self.message_field
            or self.id_field
            or self.duration_field
        )

    def apply(self, row: Row, level: str, event_id: str, message: str, duration_ns: int) -> Row:
        name, tags, fields, t = row
        if self.level_tag or self.id_tag:
            tags = dict(tags)
            if self.level_tag:
                tags[self.level_tag] = level
            if self.id_tag:
                tags[self.id_tag] = event_id
        if self.level_field or self.message_field or self.id_field or self.duration_field:
            fields = dict(fields)
            if self.level_field:
                fields[self.level_field] = level
            if self.message_field:
                fields[self.message_field] = message
            if self.id_field:
                fields[self.id_field] = event_id
            if self.duration_field:
                fields[self.duration_field] = int(duration_ns)
        return (name, tags, fields, t)

    @classmethod
    def from_spec(cls, spec: NodeSpec) -> Augment:
        def s(name: str) -> str:
            v = spec.properties.get(name)
            return v if isinstance(v, str) else ""

        return cls(
            s("levelTag"), s("idTag"), s("levelField"), s("messageField"), s("idField"), s("durationField")
        )


class EventRenderer:
    """The three templates of one alert node and the data they see.

    Kapacitor's default templates (most alert nodes keep at least the details) are rendered
    without the template engine, to the same bytes (#13: an event costs microseconds, not tens of
    them): the id is ``Name:Group``, the message ``ID is Level``, and the details are the JSON of
    the details data, HTML-escaped, whose part fixed by the group (name, task, group, tags,
    server, id) is encoded once per group and kept with the id.
    ``tests/engine/alert/test_fast_render.py`` holds them to the template engine's output."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        def text(name: str) -> str | None:
            v = spec.properties.get(name)
            return v if isinstance(v, str) else None

        id_text, message_text, details_text = text("id"), text("message"), text("details")
        try:
            self.id_tmpl, self.message_tmpl, self.details_tmpl = compile_alert_templates(
                id_text, message_text, details_text
            )
        except TemplateError as e:
            raise TaskError(f"{spec.name}: {e}") from e
        self.fast_id = id_text is None or id_text == DEFAULT_ID
        self.fast_message = message_text is None or message_text == DEFAULT_MESSAGE
        self.fast_details = details_text is None or details_text == DEFAULT_DETAILS
        self.task_name = ctx.task_id
        #: by (name, group, tags): the rendered id, and the escaped details prefix once built
        self._ids: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[str]] = {}
        self.server_info = {
            "Hostname": ctx.hostname,
            "ClusterID": ctx.cluster_id,
            "ServerID": ctx.server_id,
        }
        self._server_json = (
            '{"Hostname":'
            + json_string(ctx.hostname)
            + ',"ClusterID":'
            + json_string(ctx.cluster_id)
            + ',"ServerID":'
            + json_string(ctx.server_id)
            + "}"
        )

    def _entry(self, name: str, group: str, tags: Mapping[str, str]) -> list[str]:
        """The cached ``[id]`` (``[id, details prefix]`` once the prefix was needed) of one
        (name, group, tags). Raises :class:`TemplateError` when the id template fails."""
        key = (name, group, tuple(tags.items()))
        entry = self._ids.get(key)
        if entry is not None:
            return entry
        if self.fast_id:
            event_id = name + ":" + group_string(group)
        else:
            data = id_template_data(name, self.task_name, group, tags, self.server_info)
            event_id = self.id_tmpl.render(data)
        if len(self._ids) >= ID_CACHE_SIZE:
            self._ids.clear()
        entry = self._ids[key] = [event_id]
        return entry

    def render_id(self, name: str, group: str, tags: Mapping[str, str]) -> str:
        """Raises :class:`TemplateError` when the template fails on this data.

        The id depends only on the name, group and tags, so it is cached (bounded)."""
        return self._entry(name, group, tags)[0]

    def render_message_details(
        self,
        event_id: str,
        name: str,
        group: str,
        tags: Mapping[str, str],
        fields: Mapping[str, Any],
        level: str,
        time_ns: int,
        duration_ns: int,
        details: bool = True,
    ) -> tuple[str, str]:
        """The message and (unless ``details`` is false) the details of one event."""
        data = (
            name,
            self.task_name,
            group,
            tags,
            self.server_info,
            event_id,
            fields,
            level,
            time_ns,
            duration_ns,
        )
        if self.fast_message:
            message = event_id + " is " + level
        else:
            message = self.message_tmpl.render(message_template_data(*data))
        if not details:
            return message, ""
        if self.fast_details:
            entry = self._entry(name, group, tags)
            if entry[0] == event_id:  # (the node's case: the id was rendered from this data)
                return message, self._default_details(entry, data, message)
        return message, _render(self.details_tmpl, alert_template_data(*data, message))

    def _default_details(self, entry: list[str], data: tuple[Any, ...], message: str) -> str:
        """``{{ json . }}`` in html/template: the ``json`` function's output (the details data
        encoded, a newline) escaped as HTML text, or nothing when the data does not encode.
        The escaping replaces character by character, so the parts are escaped apart.
        ``entry``: the group's :meth:`_entry`, which keeps the escaped part fixed by the group;
        ``data``: the message template's data, in :func:`message_template_data`'s order."""
        name, _, group, tags, _, _, fields, level, time_ns, duration_ns = data
        try:
            if len(entry) == 1:
                entry.append(
                    html_escaper(
                        '{"Name":'
                        + json_string(name)
                        + ',"TaskName":'
                        + json_string(self.task_name)
                        + ',"Group":'
                        + json_string(group_string(group))
                        + ',"Tags":'
                        + json_encode(dict(tags))
                        + ',"ServerInfo":'
                        + self._server_json
                        + ',"ID":'
                        + json_string(entry[0])
                        + ',"Fields":'
                    )
                )
            return entry[1] + html_escaper(
                _fields_json(fields)
                + ',"Level":'
                + json_string(level)
                + ',"Time":"'
                + rfc3339nano(time_ns)
                + '","Duration":'
                + str(int(duration_ns))
                + ',"Message":'
                + json_string(message)
                + "}\n"
            )
        except ValueError:  # NaN or an infinity among the fields: Go's encoder writes nothing
            return ""


def _fields_json(fields: Mapping[str, Any]) -> str:
    """:func:`json_encode` of the fields as a Go map (sorted keys), without its generic
    dispatch for the usual case: ASCII keys (their order is their UTF-8 order) and plain values."""
    parts: list[str] = []
    if all(map(str.isascii, fields)):
        for k in sorted(fields):
            v = fields[k]
            t = type(v)
            if t is float:
                parts.append(json_string(k) + ":" + json_float(v))
            elif t is str:
                parts.append(json_string(k) + ":" + json_string(v))
            elif t is bool:
                parts.append(json_string(k) + (":true" if v else ":false"))
            elif t is int:
                parts.append(json_string(k) + ":" + str(v))
            else:
                break
        else:
            return "{" + ",".join(parts) + "}"
    return json_encode(dict(fields))


def _render(t: Template, data: Any) -> str:
    return t.render(data)


def point_series(row: Row) -> dict[str, Any]:
    """The InfluxQL row of one stream point (a batch of one point with the point's tags)."""
    name, tags, fields, t = row
    cols = sorted(fields)
    return {
        "name": name,
        "tags": dict(tags),
        "columns": ["time", *cols],
        "values": [[t, *(fields[c] for c in cols)]],
    }


def batch_series(name: str, batch_tags: Mapping[str, str], rows: Sequence[Row]) -> dict[str, Any]:
    """Kapacitor's ``BatchToRow``: the columns come from the first point's fields and its tags that
    the batch does not have; a point lacking a column has null there."""
    if not rows:
        return {"name": name, "tags": dict(batch_tags), "columns": [], "values": []}
    _, tags0, fields0, _ = rows[0]
    cols = sorted([*fields0, *(k for k in tags0 if k not in batch_tags)])
    values: list[list[Any]] = []
    for _, tags, fields, t in rows:
        vals: list[Any] = [t]
        for c in cols:
            if c in fields:
                vals.append(fields[c])
            else:
                vals.append(tags.get(c))
        values.append(vals)
    return {"name": name, "tags": dict(batch_tags), "columns": ["time", *cols], "values": values}
