"""A Go ``text/template`` / ``html/template`` compatible template engine in pure Python.

Kapacitor renders alert ids and messages with Go's ``text/template`` and details with
``html/template``; kapfast must produce the same strings. Compile once with
:meth:`Template.parse`, render many times with :meth:`Template.render`.
"""

from kapfast.gofmt import GoDuration, GoMap, GoStringMap, GoStruct, GoTime
from kapfast.gotemplate.errors import TemplateError
from kapfast.gotemplate.template import Template

__all__ = ["GoDuration", "GoMap", "GoStringMap", "GoStruct", "GoTime", "Template", "TemplateError"]
