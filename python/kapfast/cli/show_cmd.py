"""``kapfast show [-replay ID] <task ID>``: a task's details, script and DOT graph with live stats,
laid out exactly as ``kapacitor show`` prints them."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli import render
from kapfast.cli.session import connect, flag, usage_error

NAME = "show"
HELP = "display detailed information about a task"
CLIENT = True
DESCRIPTION = "Show details about a specific task."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "replay", metavar="ID", default="", help="show the task as it runs in this replay")
    parser.add_argument("ids", nargs="*", metavar="TASK_ID", help="the task ID")


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != 1:
        return usage_error(args, "Must specify one task ID")
    with connect(args) as client:
        task = client.task(args.ids[0], replay_id=args.replay)
    sys.stdout.write(render.show_task(task))
    return 0
