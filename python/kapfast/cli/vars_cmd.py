"""``kapfast vars``: the server's debug vars (``GET /kapacitor/v1/debug/vars``) as it sends them."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli.session import connect

NAME = "vars"
HELP = "print debug vars in JSON format"
CLIENT = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    with connect(args) as client:
        data = client.debug_vars_raw()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0
