"""Dispatch ``kapfast VERB ...`` to the module that implements the verb."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from kapfast.errors import KapfastError

# Verb modules in the order `kapfast help` lists them. A verb module defines NAME, HELP,
# add_arguments(parser) and run(args) -> exit status.
VERBS: tuple[str, ...] = ("version", "check", "fmt")


def _load(verb: str) -> ModuleType:
    return importlib.import_module(f"kapfast.cli.{verb}_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kapfast",
        description="kapfast: a drop-in, faster Kapacitor. Kapacitor's client verbs, and offline tools.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    help_p = sub.add_parser("help", help="show help for a command")
    help_p.add_argument("topic", nargs="?", help="the command to explain")
    for verb in VERBS:
        mod = _load(verb)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.verb is None:
        parser.print_help()
        return 0
    if args.verb == "help":
        if args.topic:
            return main([args.topic, "--help"])
        parser.print_help()
        return 0
    try:
        status: int = args._run(args)
        sys.stdout.flush()
    except KapfastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `kapfast ... | head`: the reader went away; stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status


if __name__ == "__main__":
    sys.exit(main())
