"""``kapfast disable <task ID or glob>...``: stop tasks (``kapacitor disable``)."""

from __future__ import annotations

import argparse

from kapfast.cli.enable_cmd import add_arguments, run_steps

NAME = "disable"
HELP = "stop running tasks"
CLIENT = True
DESCRIPTION = "Disable and stop tasks."
EPILOG = """examples:
  kapfast disable cpu_alert
  kapfast disable '*_alert'"""


def run(args: argparse.Namespace) -> int:
    return run_steps(args, ("disabled", "disabling"))


__all__ = ["add_arguments", "run"]
