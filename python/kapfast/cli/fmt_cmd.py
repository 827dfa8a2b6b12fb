"""``kapfast fmt SCRIPT [-w]``: print (or rewrite in place) the canonical form of a TICKscript."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from kapfast.errors import TickScriptError
from kapfast.tick import format_script

NAME = "fmt"
HELP = "format a TICKscript the way 'kapacitor show' prints it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", nargs="+", help="TICKscript file(s) ('-' reads stdin)")
    parser.add_argument("-w", "--write", action="store_true", help="rewrite the files in place")


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.script:
        name = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            print(f"{name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            status = 2
            continue
        try:
            formatted = format_script(text)
        except TickScriptError as exc:
            exc.source = name
            print(str(exc), file=sys.stderr)
            if exc.excerpt:
                print(exc.excerpt, file=sys.stderr)
            status = max(status, 1)
            continue
        if args.write and path != "-":
            if formatted != text:
                _replace(Path(path), formatted)
        else:
            sys.stdout.write(formatted)
    return status


def _replace(path: Path, text: str) -> None:
    # write a sibling temp file then rename, so a crash never leaves a half-written script
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
