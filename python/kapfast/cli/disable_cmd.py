"""``kapfast disable <task ID or glob>...``: stop tasks (``kapacitor disable``)."""

from __future__ import annotations

import argparse

from kapfast.cli.enable_cmd import check_args, set_status
from kapfast.cli.session import connect

NAME = "disable"
HELP = "stop running tasks"
CLIENT = True
DESCRIPTION = "Disable and stop tasks."
EPILOG = """examples:
  kapfast disable cpu_alert
  kapfast disable '*_alert'"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="TASK_ID", help="task IDs or glob patterns")


def run(args: argparse.Namespace) -> int:
    if status := check_args(args):
        return status
    with connect(args) as client:
        set_status(client, args.ids, "disabled", "disabling")
    return 0
