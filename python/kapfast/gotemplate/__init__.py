"""A Go ``text/template`` / ``html/template`` compatible template engine in pure Python.

Kapacitor renders alert ids and messages with Go's ``text/template`` and details with
``html/template``; kapfast must produce the same strings. Compile once with
:meth:`Template.parse` (``html=True`` adds Go's contextual auto-escaping), render many times
with :meth:`Template.render`.

Modules: ``lexer`` (tokens), ``parser`` (tree of ``nodes``, which execute themselves),
``values`` (Go truth, fields, comparisons), ``funcs`` (predefined functions), ``methods``
(``time.Time``/``time.Duration`` methods), ``htmlcontext`` and ``html`` (contextual escaping).
Go values are represented as described in :mod:`kapfast.gofmt`.
"""

from kapfast.gofmt import GoDuration, GoInt, GoMap, GoStringMap, GoStruct, GoTime
from kapfast.gotemplate.errors import TemplateError
from kapfast.gotemplate.template import Template

__all__ = [
    "GoDuration",
    "GoInt",
    "GoMap",
    "GoStringMap",
    "GoStruct",
    "GoTime",
    "Template",
    "TemplateError",
]
