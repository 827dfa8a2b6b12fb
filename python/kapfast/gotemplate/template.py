"""A compiled Go template: parse once, render many times."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from kapfast.gotemplate.errors import TemplateError
from kapfast.gotemplate.funcs import BUILTINS, Func
from kapfast.gotemplate.html import ESCAPERS, escape_tree
from kapfast.gotemplate.nodes import ListNode, State
from kapfast.gotemplate.parser import parse, position_finder


def _arity(fn: Callable[..., Any]) -> tuple[int, int]:
    """How many arguments a user function takes (minimum, maximum or -1), for Go's arity error."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return 0, -1
    lo = hi = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            hi = -1
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                lo += 1
            if hi >= 0:
                hi += 1
    return lo, hi


class Template:
    """A Go ``text/template`` (or ``html/template`` with ``html=True``) compiled once.

    ``Template.parse(text)`` raises :class:`~kapfast.gotemplate.TemplateError` when the text is
    not a valid template; ``render(data)`` raises it when execution fails as Go's would.
    """

    __slots__ = ("_funcs", "_positions", "_root", "_templates", "html", "name", "text")

    def __init__(
        self,
        text: str,
        name: str,
        html: bool,
        root: ListNode,
        templates: dict[str, ListNode],
        funcs: dict[str, tuple[Func, int, int, bool]],
    ) -> None:
        self.text = text
        self.name = name
        self.html = html
        self._root = root
        self._templates = templates
        self._funcs = funcs
        self._positions = position_finder(text)

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str = "",
        html: bool = False,
        funcs: Mapping[str, Callable[..., Any]] | None = None,
    ) -> Template:
        table: dict[str, tuple[Func, int, int, bool]] = {
            k: (fn, lo, hi, k in ("and", "or")) for k, (fn, lo, hi) in BUILTINS.items()
        }
        if html:
            for k, fn in ESCAPERS.items():
                table[k] = (fn, 0, -1, False)
        for k, fn in (funcs or {}).items():
            lo, hi = _arity(fn)
            table[k] = (fn, lo, hi, False)
        root, defines = parse(text, name, table)
        templates = dict(defines)
        templates.setdefault(name, root)
        if html:
            root = escape_tree(root, templates, name, position_finder(text))
            templates[name] = root
        return cls(text, name, html, root, templates, table)

    def render(self, data: Any) -> str:
        """Execute the template with ``data`` as dot and ``$``."""
        st = State(self.name, self._funcs, self._templates, self._positions, data)
        try:
            self._root.run(st, data)
        except RecursionError:
            raise TemplateError("exceeded maximum template depth", self.name) from None
        return "".join(st.out)

    def __repr__(self) -> str:
        kind = "html" if self.html else "text"
        return f"Template({self.name!r}, {kind}, {self.text!r})"
