"""``kapfast define-topic-handler <handler spec file>``: create or replace an alert handler from a
JSON or YAML file ``{topic, id, kind, options, match}``
(``kapacitor define-topic-handler``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from kapfast.cli.session import connect, usage_error
from kapfast.errors import NotFoundError, RequestError

NAME = "define-topic-handler"
HELP = "create or update an alert handler for a topic"
CLIENT = True
DESCRIPTION = """Create or update an alert handler of a topic, defined in a JSON or YAML file:

  {"topic": "cpu", "id": "slack", "kind": "slack", "options": {"channel": "#alerts"}}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="the handler spec file")


def read_spec(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RequestError(f"failed to open handler spec file {path!r}: {exc.strerror or exc}") from None
    if p.suffix in (".yaml", ".yml"):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RequestError(f"failed to unmarshal yaml handler file {path!r}: {exc}") from None
    else:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise RequestError(f"failed to unmarshal json handler file {path!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestError(f"handler file {path!r}: expected an object with topic, id, kind, options")
    for key in ("topic", "id", "kind"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise RequestError(f"handler file {path!r}: missing {key!r}")
    return doc


def run(args: argparse.Namespace) -> int:
    if len(args.files) != 1:
        return usage_error(args, "Must provide a path to a handler file.")
    spec = read_spec(args.files[0])
    topic, handler_id = spec["topic"], spec["id"]
    with connect(args) as client:
        try:
            client.topic_handler(topic, handler_id)
        except NotFoundError:
            client.create_topic_handler(topic, spec)
            return 0
        client.replace_topic_handler(topic, handler_id, spec)
    return 0
