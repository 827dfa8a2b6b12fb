"""``kapfast backup <file>``: copy the server's store to a file (``kapacitor backup``).

The file is written beside its final name and renamed into place only once every byte the server
announced has arrived, so an interrupted backup never leaves a truncated file under that name.
Restore offline: stop kapfastd, put the file in place of its store (``[storage] boltdb``, default
``<data_dir>/kapfast.db``), remove any ``-wal``/``-shm`` file beside it, start kapfastd.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

from kapfast.cli.session import connect, usage_error

NAME = "backup"
HELP = "backup the server's store to a file (a consistent snapshot, taken live)"
CLIENT = True
DESCRIPTION = """Backup the kapfastd store to a file.

A consistent snapshot of the SQLite store, taken while the server runs.
To restore: stop kapfastd, replace its store file (default <data_dir>/kapfast.db) with the
backup, delete kapfast.db-wal and kapfast.db-shm beside it if present, and start kapfastd."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="where to write the backup")


def run(args: argparse.Namespace) -> int:
    if not args.file:
        return usage_error(args, "Must provide a backup file path")
    target = Path(args.file)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with connect(args) as client, os.fdopen(fd, "wb") as out:
            client.backup(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return 0
