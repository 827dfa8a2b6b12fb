"""What the client verbs share: Kapacitor-style flags, the server connection, usage errors and
waiting (with a progress bar on a terminal) for recordings and replays to finish.

Flags are declared once and accepted as ``kapacitor`` spells them (``-tick``) and with two dashes
(``--tick``); ``-flag=value`` works too. Exit statuses are ``kapacitor``'s: 2 for bad usage, 3
when the command fails, 4 when the server URL is unusable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from kapfast.client import DEFAULT_URL, Client

EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_CONNECT = 4


def flag(parser: argparse.ArgumentParser, name: str, *aliases: str, **kwargs: Any) -> None:
    """Add ``-name``/``--name`` (and old spellings ``-alias``/``--alias``) storing into ``name``."""
    spellings = [s for n in (name, *aliases) for s in (f"-{n}", f"--{n}")]
    kwargs.setdefault("dest", name.replace("-", "_"))
    parser.add_argument(*spellings, **kwargs)


def server_url(args: argparse.Namespace) -> str:
    """``-url``, else ``$KAPFAST_URL``, else ``$KAPACITOR_URL``, else ``http://localhost:9092``."""
    url: str | None = getattr(args, "url", None)
    return url or os.environ.get("KAPFAST_URL") or os.environ.get("KAPACITOR_URL") or DEFAULT_URL


def skip_verify(args: argparse.Namespace) -> bool:
    if getattr(args, "skip_verify", False):
        return True
    env = os.environ.get("KAPACITOR_UNSAFE_SSL", "").strip().lower()
    return env in ("1", "t", "true")


def connect(args: argparse.Namespace) -> Client:
    return Client(server_url(args), skip_verify=skip_verify(args))


def usage_error(args: argparse.Namespace, message: str, code: int = EXIT_USAGE) -> int:
    """Print ``message`` and the verb's usage on stderr, as kapacitor does; return ``code``.

    kapacitor exits 2 for malformed command lines and 3 for missing required flags (it prints
    the usage and returns an error); callers pass the code that kapacitor uses in each case.
    """
    parser: argparse.ArgumentParser | None = getattr(args, "_verb_parser", None)
    if code == EXIT_FAILED:
        if parser is not None:
            parser.print_usage(sys.stderr)
        print(f"Error: {message}", file=sys.stderr)
    else:
        print(message, file=sys.stderr)
        if parser is not None:
            parser.print_usage(sys.stderr)
    return code


def remember_parser(parser: argparse.ArgumentParser) -> None:
    """Let :func:`usage_error` print this verb's usage."""
    parser.set_defaults(_verb_parser=parser)


# ---- waiting for recordings and replays -------------------------------------------------------


class _Job(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def progress(self) -> float: ...


_J = TypeVar("_J", bound=_Job)


def wait_until_done(
    job: _J,
    fetch: Callable[[str], _J],
    *,
    label: str,
    expected_seconds: float | None = None,
) -> _J:
    """Poll ``fetch(job.id)`` while the job is running; show a progress bar on a terminal.

    kapacitor polls every 500 ms; we start faster (a fast replay is often done in milliseconds)
    and back off to the same 500 ms. The bar goes to stderr and only when stderr is a terminal,
    so ``rid=$(kapfast record stream ...)`` captures just the ID.
    """
    if job.status != "running":
        return job
    progress = _progress_bar(label)
    started = time.monotonic()
    delay = 0.05
    try:
        while job.status == "running":
            if progress is not None:
                progress.update(_fraction(job.progress, started, expected_seconds))
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            job = fetch(job.id)
        if progress is not None and job.status == "finished":
            progress.update(1.0)
    except KeyboardInterrupt:
        # Stopping the wait does not stop the job: say where to find it.
        if progress is not None:
            progress.stop()
            progress = None
        print(f"interrupted: {label} goes on in the server", file=sys.stderr)
        raise
    finally:
        if progress is not None:
            progress.stop()
    return job


def _fraction(reported: float, started: float, expected: float | None) -> float:
    if reported > 0:
        return min(reported, 1.0)
    if expected:
        return min((time.monotonic() - started) / expected, 0.99)
    return 0.0


class _Bar:
    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=Console(stderr=True, force_terminal=True),
            transient=True,
        )
        self._task = self._progress.add_task(label, total=1.0)
        self._progress.start()

    def update(self, fraction: float) -> None:
        self._progress.update(self._task, completed=fraction)

    def stop(self) -> None:
        self._progress.stop()


def _progress_bar(label: str) -> _Bar | None:
    try:
        interactive = sys.stderr.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if not interactive or os.environ.get("TERM") == "dumb":
        return None
    return _Bar(label)
