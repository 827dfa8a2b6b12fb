"""``kapfast enable <task ID or glob>...``: start tasks on live data (``kapacitor enable``).

Each argument is a shell glob matched by the server (``*_alert``), paged 100 tasks at a time.
Unlike kapacitor, which silently does nothing, a plain ID that names no task is an error.
"""

from __future__ import annotations

import argparse

from kapfast.cli.session import connect, usage_error
from kapfast.client import Client
from kapfast.errors import KapfastError, NotFoundError

NAME = "enable"
HELP = "enable and start running tasks with live data"
CLIENT = True
DESCRIPTION = "Enable and start tasks running on live data."
EPILOG = """examples:
  kapfast enable cpu_alert
  kapfast enable '*_alert'"""

_GLOB_CHARS = frozenset("*?[\\")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="TASK_ID", help="task IDs or glob patterns")


def set_status(client: Client, patterns: list[str], status: str, verb: str) -> None:
    """PATCH ``status`` onto every task matching each pattern."""
    for pattern in patterns:
        try:
            tasks = list(client.iter_tasks(pattern, fields=("link",)))
        except KapfastError as exc:
            raise type(exc)(f"listing tasks: {exc}") from None
        if not tasks and not _GLOB_CHARS.intersection(pattern):
            raise NotFoundError(f"{verb} task {pattern}: no task with ID {pattern!r}")
        for task in tasks:
            try:
                client.update_task(task.id, status=status)
            except KapfastError as exc:
                raise type(exc)(f"{verb} task {task.id}: {exc}") from None


def run_steps(args: argparse.Namespace, *steps: tuple[str, str]) -> int:
    """Set each (status, verb) of ``steps`` in turn on the tasks ``args.ids`` name (the shared
    body of enable, disable and reload)."""
    if not args.ids:
        return usage_error(args, "Must pass at least one task ID")
    with connect(args) as client:
        for status, verb in steps:
            set_status(client, args.ids, status, verb)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_steps(args, ("enabled", "enabling"))
