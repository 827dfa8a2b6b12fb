"""``kapfast show-topic <topic ID>``: an alert topic, its handlers and events (``kapacitor show-topic``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli import render
from kapfast.cli.session import connect, usage_error

NAME = "show-topic"
HELP = "display detailed information about an alert topic"
CLIENT = True
DESCRIPTION = "Show details about a specific alert topic."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="TOPIC_ID", help="the topic ID")


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != 1:
        return usage_error(args, "Must specify one topic ID")
    with connect(args) as client:
        topic = client.topic(args.ids[0])
        events = client.list_topic_events(topic.id)
        handlers = client.list_topic_handlers(topic.id)
    sys.stdout.write(render.show_topic(topic, events, [h.id for h in handlers]))
    return 0
