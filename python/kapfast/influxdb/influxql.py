"""Quoting names and strings for InfluxQL statements.

InfluxQL reads a double-quoted identifier and a single-quoted string with the same scanner: a
backslash escapes ``\\``, ``"``, ``'`` and ``n`` (newline); anything else after a backslash is a
parse error. Quoting every name keeps keywords, dots, spaces and quotes in names safe.
"""

from __future__ import annotations


def _escape(text: str, quote: str) -> str:
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")


def quote_ident(name: str) -> str:
    """``my "db"`` -> ``"my \\"db\\""``."""
    return '"' + _escape(name, '"') + '"'


def quote_string(text: str) -> str:
    """``it's`` -> ``'it\\'s'``."""
    return "'" + _escape(text, "'") + "'"


__all__ = ["quote_ident", "quote_string"]
