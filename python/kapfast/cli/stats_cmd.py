"""``kapfast stats general|ingress``: summary stats, or points received per database, retention
policy and measurement, from the server's debug vars (``kapacitor stats``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli import render
from kapfast.cli.session import EXIT_FAILED, connect, usage_error
from kapfast.errors import RequestError

NAME = "stats"
HELP = "display stats about the server"
CLIENT = True
DESCRIPTION = """Print stats about a certain aspect of the server.

  general - summary stats.
  ingress - the data received, by database, retention policy and measurement."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("category", nargs="*", metavar="general|ingress")


def run(args: argparse.Namespace) -> int:
    if len(args.category) != 1:
        return usage_error(args, "must provide a stats category", EXIT_FAILED)
    category = args.category[0]
    if category not in ("general", "ingress"):
        # kapacitor prints nothing and succeeds here; a typo deserves to be told.
        raise RequestError(f"unknown stats category {category!r}, expected 'general' or 'ingress'")
    with connect(args) as client:
        debug_vars = client.debug_vars()
    out = render.stats_general(debug_vars) if category == "general" else render.stats_ingress(debug_vars)
    sys.stdout.write(out)
    return 0
