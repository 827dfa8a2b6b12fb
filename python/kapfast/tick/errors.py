"""Building :class:`~kapfast.errors.TickScriptError` with a caret excerpt and name suggestions."""

from __future__ import annotations

import difflib
import functools
import sys
import threading
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from kapfast.errors import TickScriptError

P = ParamSpec("P")
R = TypeVar("R")


EXCERPT_WIDTH = 120  # characters of a long line shown around a fault


def excerpt(text: str, line: int, column: int) -> str:
    """The offending line and a caret under ``column`` (1-based); tabs kept so the caret aligns."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1].rstrip("\r")
    col = max(column - 1, 0)
    if len(src) > EXCERPT_WIDTH:
        # a very long line (a generated script, 100 000 brackets) shows a window around the fault
        start = max(col - EXCERPT_WIDTH // 2, 0)
        end = start + EXCERPT_WIDTH
        head, tail = ("..." if start else ""), ("..." if end < len(src) else "")
        src, col = head + src[start:end] + tail, col - start + len(head)
    pad = "".join(ch if ch == "\t" else " " for ch in src[:col])
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
# Compiles run on executor threads, several at once: the limit (one per interpreter) is raised by
# the first guarded call to start and given back by the last to finish, never under another's feet.
_guard_lock = threading.Lock()
_guard_users = 0
_guard_restore = 0


def guard_depth(fn: Callable[P, R]) -> Callable[P, R]:
    """Let the recursive compiler take long chains (the parser bounds them: MAX_TREE_DEPTH levels
    take a few frames each) and turn anything deeper into a TickScriptError, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _guard_users, _guard_restore
        with _guard_lock:
            if _guard_users == 0:
                _guard_restore = sys.getrecursionlimit()
                sys.setrecursionlimit(max(_guard_restore, _DEEP_LIMIT))
            _guard_users += 1
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise TickScriptError(
                "the script nests too deeply to compile (a chain or expression thousands of levels deep)"
            ) from None
        finally:
            with _guard_lock:
                _guard_users -= 1
                if _guard_users == 0:
                    sys.setrecursionlimit(_guard_restore)

    return wrapper
