"""``kapfast logs [key=value ...]``: the server's log lines as they happen (``kapacitor logs``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli.session import connect, flag, usage_error

NAME = "logs"
HELP = "follow the server's logs, filtered by tags"
CLIENT = True
DESCRIPTION = """Follow the kapfastd log as it is written, until Ctrl-C.

key=value pairs keep only matching lines, e.g. `kapfast logs service=influxdb lvl=error`
(lvl=LEVEL matches that level only, lvl=LEVEL+ that level and above: lvl=info+).
Only lines at or above the server's log level (kapfast level ...) are logged at all."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filters", nargs="*", metavar="KEY=VALUE", help="tag filters")
    flag(parser, "json", action="store_true", help="JSON objects instead of logfmt lines")


def parse_filters(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid filter {item!r}: expected key=value")
        pairs.append((key, value))
    return pairs


def stream_logs(args: argparse.Namespace, items: list[str]) -> int:
    try:
        filters = parse_filters(items)
    except ValueError as exc:
        return usage_error(args, str(exc))
    try:
        with connect(args) as client:
            for line in client.logs(filters, as_json=bool(getattr(args, "json", False))):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a watch ends
    return 0


def run(args: argparse.Namespace) -> int:
    return stream_logs(args, list(args.filters))
