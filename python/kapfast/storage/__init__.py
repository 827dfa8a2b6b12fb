"""Durable state under the data dir (SQLite, stdlib): tasks, templates, recordings' metadata,
replays and alert states."""

from kapfast.storage.db import Database
from kapfast.storage.stores import (
    DBRP,
    AlertState,
    AlertStateStore,
    RecordingRecord,
    ReplayRecord,
    Storage,
    TaskRecord,
    TemplateRecord,
)
from kapfast.storage.topic_handlers import HandlerRecord, TopicHandlerStore

__all__ = [
    "DBRP",
    "AlertState",
    "AlertStateStore",
    "Database",
    "HandlerRecord",
    "RecordingRecord",
    "ReplayRecord",
    "Storage",
    "TaskRecord",
    "TemplateRecord",
    "TopicHandlerStore",
]
