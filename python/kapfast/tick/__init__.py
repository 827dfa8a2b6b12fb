"""The TICKscript compiler: parse, check and describe a task's pipeline (no execution here).

Public entry points::

    compile_script(text, *, vars=None, task_type=None, source="") -> Pipeline
    compile_template(text, *, source="") -> Pipeline   (typed vars may lack values)
    format_script(text) -> str
    Pipeline.to_dot(name, stats=None), .task_type, .dbrps, .nodes, .to_json(), Pipeline.from_json()
"""

from __future__ import annotations

from kapfast.tick.compiler import compile_script, compile_template
from kapfast.tick.format import format_script
from kapfast.tick.pipeline import Handler, Node, Pipeline

__all__ = ["Handler", "Node", "Pipeline", "compile_script", "compile_template", "format_script"]
