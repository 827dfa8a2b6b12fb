"""``kapfast define-template <template ID> [-tick FILE] [-type stream|batch]``: create or update a
template, as ``kapacitor define-template`` does (updating a template reloads its tasks)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kapfast.cli.session import connect, flag, usage_error
from kapfast.errors import NotFoundError, RequestError

NAME = "define-template"
HELP = "create or update a template"
CLIENT = True
DESCRIPTION = """Create or update a template.

A template is a TICKscript with typed vars that tasks fill in (kapfast define -template).
Options left out keep their current value. Updating a template reloads all its tasks."""
EPILOG = """examples:
  kapfast define-template my_template -tick path/to/TICKscript -type stream
  kapfast define-template my_template -tick path/to/TICKscript"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", metavar="TEMPLATE_ID", help="the template ID")
    flag(parser, "tick", metavar="FILE", help="path to the TICKscript")
    flag(parser, "type", choices=("stream", "batch"), help="the template type (stream|batch)")


def run(args: argparse.Namespace) -> int:
    if not args.id:
        return usage_error(args, "Must provide a template ID.")
    script: str | None = None
    if args.tick:
        try:
            script = Path(args.tick).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise RequestError(f"open {args.tick}: {exc.strerror or exc}") from None
    with connect(args) as client:
        try:
            client.template(args.id)
        except NotFoundError:
            client.create_template(args.id, type=args.type, script=script or "")
            return 0
        client.update_template(args.id, type=args.type, script=script)
    return 0
