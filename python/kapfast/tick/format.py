"""Canonical TICKscript formatting, as ``kapacitor show`` prints a task's script.

Rules (Kapacitor's): statements separated by a blank line; each ``|chain`` on its own line indented
one step (4 spaces) from its statement, each ``.property`` two steps; call arguments on one line
unless the call spanned lines in the source; binary expressions keep their line breaks and their
parentheses; floats always show a decimal point; octal ints, durations and strings are kept as
written; comments are re-emitted above the node they preceded. Formatting is idempotent.
"""

from __future__ import annotations

from decimal import Decimal

from kapfast.tick import ast
from kapfast.tick.errors import guard_depth
from kapfast.tick.parser import parse

STEP = "    "


@guard_depth
def format_script(text: str) -> str:
    """The canonical form of a script (raises TickScriptError when it does not parse)."""
    return format_program(parse(text))


def format_program(program: ast.Program) -> str:
    out: list[str] = []
    for i, stmt in enumerate(program.statements):
        if i:
            out.append("\n")
        _fmt(stmt, out, "", True)
        out.append("\n")
    return "".join(out)


def format_expr(node: ast.Expr) -> str:
    """One expression (e.g. a lambda body) on its own, as the formatter prints it."""
    out: list[str] = []
    _fmt(node, out, "", False)
    return "".join(out)


def format_float(value: float) -> str:
    """Go's ``FormatFloat(f, 'f', -1, 64)`` plus a ``.0`` when there is no decimal point."""
    s = format(Decimal(repr(value)), "f")
    if "." not in s:
        s += ".0"
    return s


def _comment(lines: list[str], out: list[str], indent: str, on_new_line: bool) -> None:
    if not on_new_line:
        out.append("\n")
    for line in lines:
        if line == "\n":
            out.append("\n")
            continue
        out.append(indent + "//" + (" " + line if line else "") + "\n")


def _lead(node: ast.Base, out: list[str], indent: str, on_new_line: bool) -> None:
    """Comment (if any) then indentation, the prelude every expression node shares."""
    if node.comment:
        _comment(node.comment, out, indent, on_new_line)
        on_new_line = True
    if on_new_line:
        out.append(indent)


def _fmt(node: ast.Base, out: list[str], indent: str, on_new_line: bool) -> None:
    if isinstance(node, ast.Declaration):
        if node.comment:
            _comment(node.comment, out, indent, on_new_line)
        out.append("var ")
        _fmt(node.name, out, indent, False)
        out.append(" = ")
        _fmt(node.value, out, indent, False)
    elif isinstance(node, ast.TypeDeclaration):
        if node.comment:
            _comment(node.comment, out, indent, on_new_line)
        out.append("var ")
        _fmt(node.name, out, indent, False)
        out.append(" ")
        _fmt(node.type_name, out, indent, False)
    elif isinstance(node, ast.DBRP):
        if node.comment:
            _comment(node.comment, out, indent, on_new_line)
        out.append(f'{indent}dbrp "{node.db.name}"."{node.rp.name}"')
    elif isinstance(node, ast.CommentOnly):
        _comment(node.comment or [], out, indent, on_new_line)
    elif isinstance(node, ast.Chain):
        _fmt(node.left, out, indent, on_new_line)
        out.append("\n")
        inner = indent + STEP + (STEP if node.op == "." else "")
        if node.comment:
            _comment(node.comment, out, inner, True)
        out.append(inner + node.op)
        _fmt(node.right, out, inner, False)
    elif isinstance(node, ast.Function):
        _lead(node, out, indent, on_new_line)
        out.append(node.name + "(")
        arg_indent = indent + STEP
        for i, arg in enumerate(node.args):
            if i:
                out.append(",")
                if not node.multiline:
                    out.append(" ")
            if node.multiline:
                out.append("\n")
            _fmt(arg, out, arg_indent, node.multiline)
        if node.multiline and node.args:
            out.append("\n" + indent)
        out.append(")")
    elif isinstance(node, ast.Binary):
        _lead(node, out, indent, on_new_line)
        if node.parens:
            out.append("(")
            indent += STEP
        _fmt(node.left, out, indent, False)
        out.append(" " + node.op)
        out.append("\n" if node.multiline else " ")
        _fmt(node.right, out, indent, node.multiline)
        if node.parens:
            out.append(")")
    elif isinstance(node, ast.Unary):
        _lead(node, out, indent, on_new_line)
        out.append(node.op)
        _fmt(node.operand, out, indent, False)
    elif isinstance(node, ast.Lambda):
        _lead(node, out, indent, on_new_line)
        out.append("lambda: ")
        _fmt(node.expr, out, indent, False)
    elif isinstance(node, ast.ListNode):
        _lead(node, out, indent, on_new_line)
        out.append("[")
        for i, item in enumerate(node.items):
            if i:
                out.append(", ")
            _fmt(item, out, indent, False)
        out.append("]")
    else:
        _lead(node, out, indent, on_new_line)
        out.append(_literal(node))


def _literal(node: ast.Base) -> str:
    if isinstance(node, ast.Number):
        if node.is_int:
            return "0" + format(int(node.value), "o") if node.octal else str(int(node.value))
        return format_float(float(node.value))
    if isinstance(node, ast.Duration):
        return node.literal
    if isinstance(node, ast.Bool):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, ast.String):
        if node.triple:
            return "'''" + node.value + "'''"
        return "'" + node.value.replace("'", "\\'") + "'"
    if isinstance(node, ast.Reference):
        return '"' + node.name.replace('"', '\\"') + '"'
    if isinstance(node, ast.Regex):
        return "/" + node.literal + "/"
    if isinstance(node, ast.Star):
        return "*"
    if isinstance(node, ast.Identifier):
        return node.name
    raise TypeError(f"cannot format {type(node).__name__}")
