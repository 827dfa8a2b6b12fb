"""Resource ids: client-supplied (validated as Kapacitor validates them) or random UUIDs."""

from __future__ import annotations

import re
import uuid
from typing import Any

from kapfast.errors import RequestError
from kapfast.gofmt import go_quote

# Kapacitor's `^[-\._\p{L}0-9]+$`: letters of any script, ASCII digits, '-', '.', '_'.
_VALID = re.compile(r"^(?:[-._0-9]|[^\W\d_])+$")


def valid_id(ident: Any, what: str) -> str:
    if not isinstance(ident, str) or not _VALID.fullmatch(ident):
        raise RequestError(
            f"{what} ID must contain only letters, numbers, '-', '.' and '_'. {go_quote(ident)}"
        )
    return ident


def new_or_valid_id(ident: Any, what: str) -> str:
    """The id asked for (validated), or a fresh UUID when none was given."""
    if ident is None or ident == "":
        return str(uuid.uuid4())
    return valid_id(ident, what)
