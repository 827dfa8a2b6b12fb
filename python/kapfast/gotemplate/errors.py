"""The errors a Go template raises when it does not parse or does not execute."""

from __future__ import annotations

from kapfast.errors import KapfastError


class TemplateError(KapfastError):
    """A template that does not parse, or that fails while executing.

    ``str()`` reads like Go's own errors (``template: id:1: function "x" not defined``) so that
    users who know Kapacitor's messages recognise them; ``line`` and ``column`` (1-based, 0 when
    unknown) locate the fault in the template text named ``name``.
    """

    def __init__(
        self, message: str, name: str = "", line: int = 0, column: int = 0, package: str = "template"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.line = line
        self.column = column
        # "template" for parse and execution errors, "html/template" for escaping errors.
        self.package = package

    def __str__(self) -> str:
        where = self.name
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        if self.package == "html/template":
            return f"html/template:{where}: {self.message}"
        return f"template: {where}: {self.message}"


class ExecError(Exception):
    """An execution error before the executor adds the template name and node position."""
