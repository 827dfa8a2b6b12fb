"""``kapfast level debug|info|warn|error|off``: set the server's log level (``kapacitor level``)."""

from __future__ import annotations

import argparse

from kapfast.cli.session import connect, usage_error

NAME = "level"
HELP = "set the logging level on the server"
CLIENT = True
DESCRIPTION = "Set the logging level on the kapfastd server."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("level", nargs="?", metavar="LEVEL", help="debug, info, warn, error or off")


def run(args: argparse.Namespace) -> int:
    if not args.level:
        return usage_error(args, "Must pass a log level")
    with connect(args) as client:
        client.log_level(args.level)
    return 0
