"""The ``kapfast`` command line: Kapacitor's client verbs plus offline tools (check, fmt, test).

Each verb lives in its own module under ``kapfast.cli`` exposing ``NAME``, ``HELP`` and
``add_arguments(parser)`` / ``run(args) -> int``; :data:`VERBS` lists them in help order. Flags are
spelled as ``kapacitor`` spells them (single dash, ``-url``), and the double-dash forms work too.
"""

from __future__ import annotations

from kapfast.cli.main import VERBS, main

__all__ = ["VERBS", "main"]
