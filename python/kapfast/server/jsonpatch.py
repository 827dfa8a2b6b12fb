"""RFC 6902 JSON Patch (``add remove replace move copy test``) over plain JSON values, with RFC
6901 pointers; what ``PATCH .../handlers/{id}`` applies. The document is never modified in place:
:func:`apply_patch` returns a new one, or raises :class:`PatchError` saying which operation failed.
"""

from __future__ import annotations

import copy
from typing import Any

from kapfast.errors import RequestError


class PatchError(RequestError):
    """A patch that is malformed or does not apply to the document."""


def _tokens(pointer: Any, where: str) -> list[str]:
    if not isinstance(pointer, str):
        raise PatchError(f"{where}: path must be a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"{where}: path {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, where: str, adding: bool) -> int:
    if token == "-" and adding:
        return len(container)
    if not token.isdigit() or (token.startswith("0") and token != "0"):
        raise PatchError(f"{where}: {token!r} is not an array index")
    i = int(token)
    if i > len(container) or (i == len(container) and not adding):
        raise PatchError(f"{where}: index {i} is out of range")
    return i


def _parent(doc: Any, tokens: list[str], where: str) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"{where}: path component {t!r} does not exist")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, where, adding=False)]
        else:
            raise PatchError(f"{where}: cannot descend into a {type(cur).__name__}")
    return cur


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: {last!r} does not exist")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, where, adding=False)]
    raise PatchError(f"{where}: cannot read from a {type(parent).__name__}")


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, where, adding=True), value)
    else:
        raise PatchError(f"{where}: cannot add to a {type(parent).__name__}")
    return doc


def _remove(doc: Any, tokens: list[str], where: str) -> tuple[Any, Any]:
    if not tokens:
        raise PatchError(f"{where}: cannot remove the whole document")
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: {last!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, where, adding=False))
    raise PatchError(f"{where}: cannot remove from a {type(parent).__name__}")


def apply_patch(document: Any, patch: Any) -> Any:
    """``document`` with every operation of ``patch`` applied, in order (all or nothing)."""
    if not isinstance(patch, list):
        raise PatchError("invalid patch json: a JSON Patch is an array of operations")
    doc = copy.deepcopy(document)
    for n, op in enumerate(patch):
        where = f"patch operation {n}"
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError(f"{where}: expected an object with an 'op'")
        kind = op["op"]
        where = f"patch operation {n} ({kind})"
        path = _tokens(op.get("path"), where)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{where}: missing 'value'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), where)
        elif kind == "remove":
            doc, _ = _remove(doc, path, where)
        elif kind == "replace":
            _get(doc, path, where)  # must exist
            if not path:
                doc = copy.deepcopy(op["value"])
            else:
                doc, _ = _remove(doc, path, where)
                doc = _add(doc, path, copy.deepcopy(op["value"]), where)
        elif kind in ("move", "copy"):
            source = _tokens(op.get("from"), where)
            if kind == "move" and path[: len(source)] == source and path != source:
                raise PatchError(f"{where}: cannot move a value into itself")
            value = _get(doc, source, where)
            if kind == "move":
                doc, value = _remove(doc, source, where)
            doc = _add(doc, path, copy.deepcopy(value), where)
        elif kind == "test":
            if _get(doc, path, where) != op["value"]:
                raise PatchError(f"{where}: test failed")
        else:
            raise PatchError(f"{where}: unknown operation {kind!r}")
    return doc
