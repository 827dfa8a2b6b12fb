"""Kapacitor's ``alert.TemplateData``: what handler option templates see (sensu's source, mqtt's
topic, snmptrap's data values): ``ID Message Level Time Duration Name TaskName Group Tags
Fields``."""

from __future__ import annotations

from kapfast.alert_event import AlertEvent
from kapfast.engine.alert.handlers.base import HandlerError
from kapfast.gofmt import GoDuration, GoMap, GoStringMap, GoStruct, GoTime
from kapfast.gotemplate import Template, TemplateError

__all__ = ["OptionTemplate", "event_template_data", "parse_option_template"]


def event_template_data(event: AlertEvent) -> GoStruct:
    return GoStruct(
        "alert.TemplateData",
        {
            "ID": event.id,
            "Message": event.message,
            "Level": event.level,
            "Time": GoTime(event.time_ns),
            "Duration": GoDuration(event.duration_ns),
            "Name": event.name,
            "TaskName": event.task_name,
            # Kapacitor's EventData.Group: "" for the nil group (only the .id() template says nil)
            "Group": event.group,
            "Tags": GoStringMap(event.tags),
            "Fields": GoMap(event.fields),
        },
    )


def parse_option_template(kind: str, option: str, text: str) -> Template:
    """A handler option that is a Go text/template; a bad one is a ``ValueError`` (refused when the
    handler is defined, as Kapacitor fails to create the handler)."""
    try:
        return Template.parse(text, name=option)
    except TemplateError as e:
        raise ValueError(f"{option} template: {e}") from None


class OptionTemplate:
    """A handler option that is a template over the event (sensu's source, mqtt's topic,
    snmptrap's data values): parsed when the handler is built, rendered for each event; a render
    that fails is the event's delivery failure."""

    def __init__(self, kind: str, option: str, text: str) -> None:
        self.kind, self.option, self.text = kind, option, text
        self.template = parse_option_template(kind, option, text)

    def render(self, event: AlertEvent) -> str:
        try:
            return self.template.render(event_template_data(event))
        except TemplateError as e:
            raise HandlerError(f"{self.kind}: {self.option} template {self.text!r}: {e}") from None
