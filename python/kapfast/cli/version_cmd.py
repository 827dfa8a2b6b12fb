"""``kapfast version``."""

from __future__ import annotations

import argparse

from kapfast import __version__

NAME = "version"
HELP = "print the kapfast version"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    del args
    print(f"kapfast {__version__}")
    return 0
