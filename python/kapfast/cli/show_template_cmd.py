"""``kapfast show-template <template ID>``: a template's details, script, vars and DOT graph, as
``kapacitor show-template`` prints them (required vars show ``<required>``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli import render
from kapfast.cli.session import connect, usage_error

NAME = "show-template"
HELP = "display detailed information about a template"
CLIENT = True
DESCRIPTION = "Show details about a specific template."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="TEMPLATE_ID", help="the template ID")


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != 1:
        return usage_error(args, "Must specify one template ID")
    with connect(args) as client:
        template = client.template(args.ids[0])
    sys.stdout.write(render.show_template(template))
    return 0
