"""Building :class:`~kapfast.errors.TickScriptError` with a caret excerpt and name suggestions."""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from kapfast.errors import TickScriptError

P = ParamSpec("P")
R = TypeVar("R")


def excerpt(text: str, line: int, column: int) -> str:
    """The offending line and a caret under ``column`` (1-based); tabs kept so the caret aligns."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1].rstrip("\r")
    pad = "".join(ch if ch == "\t" else " " for ch in src[: max(column - 1, 0)])
    return f"{src}\n{pad}^"


def error_at(message: str, text: str, line: int, column: int, source: str = "") -> TickScriptError:
    """A TickScriptError at ``line``:``column`` of ``text``."""
    return TickScriptError(message, line, column, source, excerpt(text, line, column))


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean "a" or "b"?)`` for the closest names, or ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in candidates}
        if name.lower() in lower:
            close = [lower[name.lower()]]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f'"{c}"' for c in close) + "?)"


_DEEP_LIMIT = 20_000  # Python frames; 3.11+ needs no C stack for Python-to-Python calls


def guard_depth(fn: Callable[P, R]) -> Callable[P, R]:
    """Let the recursive compiler take long chains (thousands of nodes) and turn a chain deeper
    than even that into a TickScriptError instead of a RecursionError traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_LIMIT))
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise TickScriptError(
                "the script nests too deeply to compile (a chain or expression thousands of levels deep)"
            ) from None
        finally:
            sys.setrecursionlimit(old)

    return wrapper
