"""The parse tree of a Go template; each node knows how to execute itself.

A template is compiled once into these small objects; rendering walks them with a
:class:`State` that holds the output, the variable stack and the function table.
"""

from __future__ import annotations

from typing import Any

from kapfast.gofmt import go_quote
from kapfast.gotemplate.errors import ExecError, TemplateError
from kapfast.gotemplate.funcs import Func
from kapfast.gotemplate.methods import call_method, find_method
from kapfast.gotemplate.values import NO_VALUE, arg_value, field, is_true, print_value, truth

MAX_DEPTH = 100  # nested {{template}} calls; Go allows 100000 but Python's stack does not


class _Missing:
    """No value piped into a command (Go's missingVal)."""

    __slots__ = ()


MISSING: Any = _Missing()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    """What one execution carries: output pieces, variables, functions and named templates."""

    __slots__ = ("depth", "funcs", "name", "out", "positions", "templates", "vars")

    def __init__(
        self,
        name: str,
        funcs: dict[str, tuple[Func, int, int, bool]],
        templates: dict[str, ListNode],
        positions: Any,
        data: Any,
    ) -> None:
        self.name = name
        self.funcs = funcs
        self.templates = templates
        self.positions = positions
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]
        self.depth = 0

    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i][1] = value
                return
        raise ExecError(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise ExecError(f"undefined variable: {name}")

    def fail(self, node: Node, err: Exception) -> TemplateError:
        line, col = self.positions(node.pos)
        msg = f'executing "{self.name}" at <{_short(str(node))}>: {err}'
        return TemplateError(msg, self.name, line, col)


def _short(s: str) -> str:
    # Go elides long node texts in error messages.
    return s if len(s) <= 20 else s[:17] + "..."


# --------------------------------------------------------------------------------------------


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def run(self, st: State, dot: Any) -> None:  # control nodes
        raise NotImplementedError


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node] | None = None) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = nodes if nodes is not None else []

    def run(self, st: State, dot: Any) -> None:
        for n in self.nodes:
            n.run(st, dot)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def run(self, st: State, dot: Any) -> None:
        st.out.append(self.text)

    def __str__(self) -> str:
        return self.text


class CommentNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def run(self, st: State, dot: Any) -> None:
        return None

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class PipeNode(Node):
    """``$x := cmd1 | cmd2``: commands, each fed the previous one's value as last argument."""

    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int, decl: list[str], is_assign: bool, cmds: list[CommandNode]) -> None:
        super().__init__(pos)
        self.decl = decl
        self.is_assign = is_assign
        self.cmds = cmds

    def eval(self, st: State, dot: Any) -> Any:
        value = MISSING
        for cmd in self.cmds:
            value = cmd.eval(st, dot, value)
        for name in self.decl:
            if self.is_assign:
                try:
                    st.set_var(name, value)
                except ExecError as e:
                    raise st.fail(self, e) from None
            else:
                st.push(name, value)
        return value

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def run(self, st: State, dot: Any) -> None:
        v = self.pipe.eval(st, dot)
        if not self.pipe.decl:
            if v.__class__ is str:
                st.out.append(v)
            else:
                try:
                    st.out.append(print_value(v))
                except ExecError as e:
                    raise st.fail(self, e) from None

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class _Branch(Node):
    __slots__ = ("else_list", "list", "pipe")
    keyword = ""

    def __init__(self, pos: int, pipe: PipeNode, lst: ListNode, else_list: ListNode | None) -> None:
        super().__init__(pos)
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class IfNode(_Branch):
    __slots__ = ()
    keyword = "if"

    def run(self, st: State, dot: Any) -> None:
        mark = st.mark()
        try:
            v = self.pipe.eval(st, dot)
            t, ok = is_true(v)
            if not ok:
                raise st.fail(self, ExecError(f"if/with can't use {v}"))
            if t:
                self.list.run(st, dot)
            elif self.else_list is not None:
                self.else_list.run(st, dot)
        finally:
            st.pop(mark)


class WithNode(_Branch):
    __slots__ = ()
    keyword = "with"

    def run(self, st: State, dot: Any) -> None:
        mark = st.mark()
        try:
            v = self.pipe.eval(st, dot)
            if truth(v):
                self.list.run(st, v)
            elif self.else_list is not None:
                self.else_list.run(st, dot)
        finally:
            st.pop(mark)


class RangeNode(_Branch):
    __slots__ = ()
    keyword = "range"

    def _items(self, st: State, v: Any) -> list[tuple[Any, Any]]:
        if isinstance(v, list | tuple):
            return list(enumerate(v))
        if isinstance(v, dict) and not hasattr(v, "type_name"):
            return [(k, v[k]) for k in sorted(v, key=_map_key_order)]
        if isinstance(v, int) and not isinstance(v, bool):
            return [(i, i) for i in range(v)]
        if v is None or v is NO_VALUE:
            return []
        raise st.fail(self, ExecError(f"range can't iterate over {print_value(v)}"))

    def run(self, st: State, dot: Any) -> None:
        mark = st.mark()
        try:
            v = self.pipe.eval(st, dot)
            items = self._items(st, v)
            decl = self.pipe.decl
            if not items:
                if self.else_list is not None:
                    self.else_list.run(st, dot)
                return
            inner = st.mark()
            for key, elem in items:
                if decl:
                    if self.pipe.is_assign:
                        if len(decl) > 1:
                            st.set_var(decl[0], key)
                            st.set_var(decl[1], elem)
                        else:
                            st.set_var(decl[0], elem)
                    elif len(decl) > 1:
                        st.vars[inner - 2][1] = key
                        st.vars[inner - 1][1] = elem
                    else:
                        st.vars[inner - 1][1] = elem
                try:
                    self.list.run(st, elem)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    st.pop(inner)
        finally:
            st.pop(mark)


def _map_key_order(k: Any) -> Any:
    return (0, k) if isinstance(k, int | float) else (1, str(k).encode("utf-8"))


class BreakNode(Node):
    __slots__ = ()

    def run(self, st: State, dot: Any) -> None:
        raise _Break

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ()

    def run(self, st: State, dot: Any) -> None:
        raise _Continue

    def __str__(self) -> str:
        return "{{continue}}"


class TemplateNode(Node):
    """``{{template "name" pipeline}}``: run a named template with a new dot and ``$``."""

    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def run(self, st: State, dot: Any) -> None:
        tree = st.templates.get(self.name)
        if tree is None:
            raise st.fail(self, ExecError(f'no such template "{self.name}"'))
        new_dot = NO_VALUE if self.pipe is None else self.pipe.eval(st, dot)
        if st.depth >= MAX_DEPTH:
            raise st.fail(self, ExecError(f"exceeded maximum template depth ({MAX_DEPTH})"))
        saved = st.vars
        st.vars = [["$", new_dot]]
        st.depth += 1
        try:
            tree.run(st, new_dot)
        finally:
            st.depth -= 1
            st.vars = saved

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


# --------------------------------------------------------------------------------------------
# Operands
# --------------------------------------------------------------------------------------------


class ArgNode(Node):
    __slots__ = ()

    def value(self, st: State, dot: Any) -> Any:
        """The value of this node as a function argument."""
        raise NotImplementedError


class ConstNode(ArgNode):
    """A literal: string, number, bool, character constant."""

    __slots__ = ("text", "val")

    def __init__(self, pos: int, val: Any, text: str) -> None:
        super().__init__(pos)
        self.val = val
        self.text = text

    def value(self, st: State, dot: Any) -> Any:
        return self.val

    def __str__(self) -> str:
        return self.text


class NilNode(ArgNode):
    __slots__ = ()

    def value(self, st: State, dot: Any) -> Any:
        return None

    def __str__(self) -> str:
        return "nil"


class DotNode(ArgNode):
    __slots__ = ()

    def value(self, st: State, dot: Any) -> Any:
        return dot

    def __str__(self) -> str:
        return "."


class FieldNode(ArgNode):
    """``.A.B``: fields of dot."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def walk(self, st: State, recv: Any) -> Any:
        try:
            for name in self.idents:
                recv = field(recv, name)
        except ExecError as e:
            raise st.fail(self, e) from None
        return recv

    def value(self, st: State, dot: Any) -> Any:
        return arg_value(self.walk(st, dot))

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


class VariableNode(ArgNode):
    """``$x.A.B``: a variable and optional fields of it."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def walk(self, st: State) -> Any:
        try:
            recv = st.var_value(self.idents[0])
            for name in self.idents[1:]:
                recv = field(recv, name)
        except ExecError as e:
            raise st.fail(self, e) from None
        return recv

    def value(self, st: State, dot: Any) -> Any:
        return arg_value(self.walk(st))

    def __str__(self) -> str:
        return ".".join(self.idents)


class ChainNode(ArgNode):
    """``(pipeline).A.B``: fields of a parenthesised value."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: ArgNode, fields: list[str]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def walk(self, st: State, dot: Any) -> Any:
        recv = self.node.value(st, dot)
        try:
            for name in self.fields:
                recv = field(recv, name)
        except ExecError as e:
            raise st.fail(self, e) from None
        return recv

    def value(self, st: State, dot: Any) -> Any:
        return arg_value(self.walk(st, dot))

    def __str__(self) -> str:
        inner = str(self.node)
        if isinstance(self.node, PipeArgNode):
            inner = "(" + str(self.node.pipe) + ")"
        return inner + "".join("." + f for f in self.fields)


class PipeArgNode(ArgNode):
    """``(pipeline)`` used as an operand."""

    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def value(self, st: State, dot: Any) -> Any:
        # Variables declared inside the parentheses stay in scope, as in Go.
        return arg_value(self.pipe.eval(st, dot))

    def __str__(self) -> str:
        return "(" + str(self.pipe) + ")"


class IdentifierNode(ArgNode):
    """A function name; as an argument it is a call with no arguments."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def value(self, st: State, dot: Any) -> Any:
        return call_function(st, dot, self, self, [], MISSING)

    def __str__(self) -> str:
        return self.name


class CommandNode(Node):
    """One stage of a pipeline: a function call, a field, a variable or a constant."""

    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[ArgNode]) -> None:
        super().__init__(pos)
        self.args = args

    def eval(self, st: State, dot: Any, final: Any) -> Any:
        first = self.args[0]
        if isinstance(first, IdentifierNode):
            return call_function(st, dot, self, first, self.args[1:], final)
        if len(self.args) > 1 or final is not MISSING:
            return self.call_method(st, dot, first, final)
        if isinstance(first, FieldNode):
            return first.walk(st, dot)
        if isinstance(first, VariableNode):
            return first.walk(st)
        if isinstance(first, ChainNode):
            return first.walk(st, dot)
        if isinstance(first, PipeArgNode):
            return first.pipe.eval(st, dot)
        if isinstance(first, NilNode):
            raise st.fail(first, ExecError("nil is not a command"))
        return first.value(st, dot)

    def call_method(self, st: State, dot: Any, first: ArgNode, final: Any) -> Any:
        """``{{ .Time.Format "15:04" }}``: the last field names a method given arguments."""
        recv: Any
        if isinstance(first, FieldNode) and first.idents:
            recv, name = FieldNode(first.pos, first.idents[:-1]).walk(st, dot), first.idents[-1]
        elif isinstance(first, VariableNode) and len(first.idents) > 1:
            recv, name = VariableNode(first.pos, first.idents[:-1]).walk(st), first.idents[-1]
        elif isinstance(first, ChainNode):
            recv, name = ChainNode(first.pos, first.node, first.fields[:-1]).walk(st, dot), first.fields[-1]
        else:
            raise st.fail(first, ExecError(f"can't give argument to non-function {first}"))
        if find_method(recv, name) is None:
            raise st.fail(first, ExecError(f"can't give argument to non-function {first}"))
        argv = [a.value(st, dot) for a in self.args[1:]]
        if final is not MISSING:
            argv.append(arg_value(final))
        try:
            return call_method(recv, name, argv)
        except ExecError as e:
            raise st.fail(first, e) from None

    def __str__(self) -> str:
        return " ".join(str(a) if not isinstance(a, PipeArgNode) else f"({a.pipe})" for a in self.args)


def call_function(
    st: State, dot: Any, cmd: Node, ident: IdentifierNode, args: list[ArgNode], final: Any
) -> Any:
    name = ident.name
    fn, lo, hi, lazy = st.funcs[name]
    n = len(args) + (0 if final is MISSING else 1)
    if n < lo or (hi >= 0 and n > hi):
        want = f"at least {lo}" if hi < 0 else str(lo)
        raise st.fail(ident, ExecError(f"wrong number of args for {name}: want {want} got {n}"))
    if lazy:
        # and/or evaluate their arguments one by one and stop as soon as the result is known.
        stop_on = name == "or"
        v: Any = None
        for a in args:
            v = a.value(st, dot)
            if truth(v) == stop_on:
                return v
        if final is not MISSING:
            v = arg_value(final)
        return v
    argv = [a.value(st, dot) for a in args]
    if final is not MISSING:
        argv.append(arg_value(final))
    try:
        return fn(*argv)
    except TemplateError:
        raise
    except ExecError as e:
        raise st.fail(cmd, ExecError(f"error calling {name}: {e}")) from None
    except Exception as e:  # a user function failed: Go reports it the same way
        raise st.fail(cmd, ExecError(f"error calling {name}: {e}")) from None


__all__ = [
    "ActionNode",
    "ArgNode",
    "BreakNode",
    "ChainNode",
    "CommandNode",
    "CommentNode",
    "ConstNode",
    "ContinueNode",
    "DotNode",
    "FieldNode",
    "IdentifierNode",
    "IfNode",
    "ListNode",
    "NilNode",
    "PipeArgNode",
    "PipeNode",
    "RangeNode",
    "State",
    "TemplateNode",
    "TextNode",
    "VariableNode",
    "WithNode",
]
