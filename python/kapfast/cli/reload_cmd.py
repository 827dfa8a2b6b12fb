"""``kapfast reload <task ID or glob>...``: disable then enable tasks, picking up a new definition
(``kapacitor reload``)."""

from __future__ import annotations

import argparse

from kapfast.cli.enable_cmd import check_args, set_status
from kapfast.cli.session import connect

NAME = "reload"
HELP = "reload running tasks with their updated definition"
CLIENT = True
DESCRIPTION = "Disable then enable tasks."
EPILOG = """examples:
  kapfast reload cpu_alert
  kapfast reload '*_alert'"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="TASK_ID", help="task IDs or glob patterns")


def run(args: argparse.Namespace) -> int:
    if status := check_args(args):
        return status
    with connect(args) as client:
        set_status(client, args.ids, "disabled", "disabling")
        set_status(client, args.ids, "enabled", "enabling")
    return 0
