"""``kapfast reload <task ID or glob>...``: disable then enable tasks, picking up a new definition
(``kapacitor reload``)."""

from __future__ import annotations

import argparse

from kapfast.cli.enable_cmd import add_arguments, run_steps

NAME = "reload"
HELP = "reload running tasks with their updated definition"
CLIENT = True
DESCRIPTION = "Disable then enable tasks."
EPILOG = """examples:
  kapfast reload cpu_alert
  kapfast reload '*_alert'"""


def run(args: argparse.Namespace) -> int:
    return run_steps(args, ("disabled", "disabling"), ("enabled", "enabling"))


__all__ = ["add_arguments", "run"]
