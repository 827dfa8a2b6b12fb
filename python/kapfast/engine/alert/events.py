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
    alert_template_data,
    compile_alert_templates,
    id_template_data,
    message_template_data,
)
from kapfast.engine.context import TaskContext
from kapfast.errors import TaskError
from kapfast.gotemplate import Template, TemplateError
from kapfast.tick.pipeline import Node as NodeSpec

FieldValue = float | int | str | bool
#: distinct (name, group, tags) whose rendered alert id is kept
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
    """The three templates of one alert node and the data they see."""

    def __init__(self, spec: NodeSpec, ctx: TaskContext) -> None:
        def text(name: str) -> str | None:
            v = spec.properties.get(name)
            return v if isinstance(v, str) else None

        try:
            self.id_tmpl, self.message_tmpl, self.details_tmpl = compile_alert_templates(
                text("id"), text("message"), text("details")
            )
        except TemplateError as e:
            raise TaskError(f"{spec.name}: {e}") from e
        self.task_name = ctx.task_id
        self._ids: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self.server_info = {
            "Hostname": ctx.hostname,
            "ClusterID": ctx.cluster_id,
            "ServerID": ctx.server_id,
        }

    def render_id(self, name: str, group: str, tags: Mapping[str, str]) -> str:
        """Raises :class:`TemplateError` when the template fails on this data.

        The id depends only on the name, group and tags, so it is cached (bounded)."""
        key = (name, group, tuple(sorted(tags.items())))
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        event_id = self.id_tmpl.render(id_template_data(name, self.task_name, group, tags, self.server_info))
        if len(self._ids) >= ID_CACHE_SIZE:
            self._ids.clear()
        self._ids[key] = event_id
        return event_id

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
        mdata = message_template_data(
            name, self.task_name, group, tags, self.server_info, event_id, fields, level, time_ns, duration_ns
        )
        message = self.message_tmpl.render(mdata)
        if not details:
            return message, ""
        ddata = alert_template_data(
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
            message,
        )
        return message, _render(self.details_tmpl, ddata)


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
