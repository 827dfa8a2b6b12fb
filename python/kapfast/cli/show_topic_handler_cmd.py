"""``kapfast show-topic-handler <topic ID> <handler ID>`` (``kapacitor show-topic-handler``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli import render
from kapfast.cli.session import connect, usage_error

NAME = "show-topic-handler"
HELP = "display detailed information about an alert handler of a topic"
CLIENT = True
DESCRIPTION = "Show details about a specific alert handler."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="the topic ID, then the handler ID")


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != 2:
        return usage_error(args, "Must specify both topic and handler IDs")
    topic, handler_id = args.ids
    with connect(args) as client:
        handler = client.topic_handler(topic, handler_id)
    sys.stdout.write(render.show_topic_handler(topic, handler))
    return 0
