"""The alert node of the task engine (Kapacitor's ``|alert()``), its state, events and handlers."""

from kapfast.engine.alert.node import AlertNode, make_alert_node
from kapfast.engine.alert.topics import TopicRegistry, anonymous_topic

__all__ = ["AlertNode", "TopicRegistry", "anonymous_topic", "make_alert_node"]
