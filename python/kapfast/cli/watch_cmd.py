"""``kapfast watch <task> [key=value ...]``: a task's log lines as they happen (``kapacitor watch``)."""

from __future__ import annotations

import argparse

from kapfast.cli.logs_cmd import stream_logs
from kapfast.cli.session import usage_error

NAME = "watch"
HELP = "watch the logs of a task"
CLIENT = True
DESCRIPTION = """Watch the log lines of a task as they are logged, until Ctrl-C.

Extra key=value pairs filter further, e.g. `kapfast watch cpu_alert node=alert2 lvl=warn+`
(lvl=LEVEL matches that level only, lvl=LEVEL+ that level and above)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", nargs="?", metavar="TASK", help="the task ID")
    parser.add_argument("filters", nargs="*", metavar="KEY=VALUE", help="more tag filters")


def run(args: argparse.Namespace) -> int:
    if not args.task:
        return usage_error(args, "Must provide task ID.")
    return stream_logs(args, [f"task={args.task}", *args.filters])
