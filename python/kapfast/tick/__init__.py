"""The TICKscript compiler: parse, check and describe a task's pipeline (no execution here)."""

from __future__ import annotations

from kapfast.tick.format import format_script

__all__ = ["format_script"]
