"""``kapfast tap <task> <node>``: the points a node of a running task emits, live, as line protocol.

kapfast's own verb (Kapacitor has none): see what a ``where`` lets through or what reaches an
``alert`` without adding ``|log()`` nodes to the task and redefining it."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli.session import connect, flag, usage_error

NAME = "tap"
HELP = "print what a node of a running task emits, live, as line protocol"
CLIENT = True
DESCRIPTION = """Print the points a node of an executing task emits, as line protocol, as they
flow, until Ctrl-C (or -limit points). Node names are those of `kapfast show TASK` (from1,
where2, alert3, ...). Batches are introduced by a `# batch` comment line; a reader slower than
the task loses points, and a `#` line says how many."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", nargs="?", metavar="TASK", help="the task ID")
    parser.add_argument("node", nargs="?", metavar="NODE", help="the node's name (kapfast show TASK)")
    flag(parser, "limit", type=int, default=0, metavar="N", help="stop after N points")


def run(args: argparse.Namespace) -> int:
    if not args.task or not args.node:
        return usage_error(args, "Must provide a task ID and a node name.")
    if args.limit < 0:
        return usage_error(args, "-limit must not be negative.")
    try:
        with connect(args) as client:
            for line in client.tap(args.task, args.node, limit=args.limit):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a tap ends
    return 0
