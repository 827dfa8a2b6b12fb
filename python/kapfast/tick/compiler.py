"""The semantic pass: a parsed script → a :class:`~kapfast.tick.pipeline.Pipeline`.

Evaluates the program as Kapacitor does at define time: vars are immutable; template vars are
filled from the supplied ``vars``; non-lambda expressions are folded; identifiers inside lambdas
are replaced by their values; every chain and property method is checked against the node
registry (names, argument counts and types, edge types); node ids are given in Kapacitor's order
so names (``stream0``, ``from1``) and DOT match ``kapacitor show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from kapfast.errors import TickScriptError, VarError
from kapfast.gofmt import duration_string
from kapfast.handler_table import INLINE, unsupported_message
from kapfast.tick import ast, lambda_ast
from kapfast.tick.checks import NodeProblem, check_nodes, kapacitor_order
from kapfast.tick.errors import error_at, guard_depth, suggest
from kapfast.tick.fold import FoldError, fold_binary, fold_unary
from kapfast.tick.format import format_expr
from kapfast.tick.functions import LAMBDA_FUNCTIONS
from kapfast.tick.parser import parse, parse_lambda
from kapfast.tick.pipeline import (
    Duration,
    Handler,
    Lambda,
    Node,
    NodeRef,
    Pipeline,
    Regex,
    Star,
    TimeDimension,
    Value,
)
from kapfast.tick.registry import (
    BATCH,
    NODES,
    NONE,
    SAME,
    STREAM,
    DeadmanDefaults,
    Method,
    NodeSpec,
    chain_method,
    chain_methods,
)
from kapfast.tick.udfs import UDFInfo, check_option
from kapfast.tick.values import LambdaVal, NodeVal, RefVal, describe, expected, hint, type_ok
from kapfast.tick.vars import VAR_TYPES, SuppliedVar, parse_vars, type_of, var_to_json


class Compiler:
    def __init__(
        self,
        text: str,
        source: str,
        supplied: Mapping[str, SuppliedVar],
        task_type: str | None,
        template: bool = False,
        deadman: DeadmanDefaults | None = None,
        udfs: Mapping[str, UDFInfo] | None = None,
    ) -> None:
        self.text = text
        self.deadman = deadman or DeadmanDefaults()
        #: the configured UDFs' Info (None: not known here, their options are not checked)
        self.udfs = udfs
        self.source = source
        # a template may leave typed vars without a value: a placeholder stands in for them
        self.template = template
        self.supplied = supplied
        self.requested_type = task_type
        self.scope: dict[str, Any] = {}
        self.nodes: list[Node] = []
        self.by_id: dict[int, Node] = {}
        self.sources: list[Node] = []
        self.next_id = 0
        self.dbrps: list[tuple[str, str]] = []
        self.declared: dict[str, dict[str, Any]] = {}

    @staticmethod
    def lambda_from_text(text: str, name: str, source: str = "") -> LambdaVal:
        """A lambda var supplied as text (the expression after ``lambda:``)."""
        try:
            expr = parse_lambda(text, source)
            return Compiler(text, source, {}, None).lambda_val(expr)
        except TickScriptError as exc:
            raise TickScriptError(
                f'var "{name}": invalid lambda: {exc.message}', exc.line, exc.column, source, exc.excerpt
            ) from None

    # -- errors -----------------------------------------------------------------------------------
    def fail(self, message: str, at: ast.Base | None) -> NoReturn:
        if at is None:
            raise TickScriptError(message, source=self.source)
        raise error_at(message, self.text, at.line, at.col, self.source)

    def fail_var(self, message: str, at: ast.Base) -> NoReturn:
        """A var error: Kapacitor's text (no position in it), the position kept apart."""
        e = error_at(message, self.text, at.line, at.col, self.source)
        raise VarError(message, e.line, e.column, e.source, e.excerpt)

    # -- driver -----------------------------------------------------------------------------------
    def compile(self) -> Pipeline:
        program = parse(self.text, self.source)
        task_type = self._task_type(program)
        if task_type is not None:
            src = self._new_node(task_type, [], line=0, col=0)
            self.sources.append(src)
            self.scope[task_type] = NodeVal(src)
        for stmt in program.statements:
            self._statement(stmt)
        if task_type is not None and self.deadman.global_ and not self.template:
            # [deadman] global: every task watches its source, added after the script's nodes
            at = ast.Function(pos=0, line=1, col=1, kind="chain", name="deadman", args=[])
            interval = Duration(self.deadman.interval_ns)
            self._deadman(self.scope[task_type].node, [self.deadman.threshold, interval], at)
        if task_type is None:
            # checked last so that errors in the statements themselves are reported first
            self.fail(
                "no stream or batch source: a task's pipeline starts with 'stream|from()' or "
                "'batch|query(...)'",
                None,
            )
        try:
            check_nodes(self.nodes)
        except NodeProblem as exc:
            raise error_at(exc.message, self.text, exc.line, exc.column, self.source) from None
        ordered = kapacitor_order(self.sources, self.by_id)
        return Pipeline(task_type=task_type, nodes=ordered, dbrps=self.dbrps, vars=self.declared)

    def _task_type(self, program: ast.Program) -> str | None:
        found: dict[str, ast.Identifier] = {}

        def walk(n: Any, declared: bool = False) -> None:
            if isinstance(n, ast.Identifier):
                if n.name in ("stream", "batch") and not declared:
                    found.setdefault(n.name, n)
                return
            if isinstance(n, ast.Declaration):
                walk(n.value)
                return
            if isinstance(n, (ast.TypeDeclaration, ast.DBRP)):
                return
            if isinstance(n, ast.Base):
                for v in vars(n).values():
                    if isinstance(v, list):
                        for item in v:
                            walk(item)
                    elif isinstance(v, ast.Base):
                        walk(v)

        for stmt in program.statements:
            walk(stmt)
        if "stream" in found and "batch" in found:
            second = max(found.values(), key=lambda i: i.pos)
            self.fail("a task uses either stream or batch, not both: split it into two tasks", second)
        if found:
            return next(iter(found))
        if self.requested_type in (STREAM, BATCH):
            return self.requested_type
        return None

    # -- statements -------------------------------------------------------------------------------
    def _statement(self, stmt: ast.Statement) -> None:
        if isinstance(stmt, ast.DBRP):
            pair = (stmt.db.name, stmt.rp.name)
            if pair in self.dbrps:
                self.fail(f'dbrp "{pair[0]}"."{pair[1]}" is given twice', stmt)
            self.dbrps.append(pair)
        elif isinstance(stmt, ast.TypeDeclaration):
            self._type_declaration(stmt)
        elif isinstance(stmt, ast.Declaration):
            self._declaration(stmt)
        elif isinstance(stmt, ast.CommentOnly):
            pass
        else:
            self.eval(stmt)

    def _check_new_name(self, ident: ast.Identifier) -> None:
        name = ident.name
        if name in self.scope:
            self.fail(f"attempted to redefine {name}, vars are immutable", ident)

    def _type_declaration(self, stmt: ast.TypeDeclaration) -> None:
        name = stmt.name.name
        self._check_new_name(stmt.name)
        typ = stmt.type_name.name
        if typ not in VAR_TYPES:
            self.fail(
                f'invalid var type "{typ}": use one of {", ".join(VAR_TYPES)}' + suggest(typ, VAR_TYPES),
                stmt.type_name,
            )
        supplied = self.supplied.get(name)
        if supplied is None:
            if not self.template:
                self.fail_var(f'missing value for var "{name}".', stmt.name)
            self.scope[name] = _placeholder(typ)
            self._record_var(name, typ, None, stmt.comment)
            return
        if supplied.type != typ:
            self.fail_var(f"invalid type supplied for {name}, got {supplied.type} exp {typ}", stmt.name)
        self.scope[name] = supplied.value
        self._record_var(name, typ, supplied.value, stmt.comment)

    def _declaration(self, stmt: ast.Declaration) -> None:
        name = stmt.name.name
        self._check_new_name(stmt.name)
        value = self.eval(stmt.value)
        supplied = self.supplied.get(name)
        if supplied is not None:
            exp = type_of(value)
            if exp is None:
                self.fail(f"var {name} holds {describe(value)} and cannot be set from vars", stmt.name)
            if supplied.type != exp:
                self.fail_var(f"invalid type supplied for {name}, got {supplied.type} exp {exp}", stmt.name)
            value = supplied.value
        self.scope[name] = value
        typ = type_of(value)
        if typ is not None:
            self._record_var(name, typ, value, stmt.comment)

    def _record_var(self, name: str, typ: str, value: Any, comment: list[str] | None) -> None:
        desc = "\n".join(line for line in (comment or []) if line != "\n")
        shown = None if value is None else var_to_json(value)
        self.declared[name] = {"type": typ, "value": shown, "description": desc}

    # -- expressions outside lambdas --------------------------------------------------------------
    def eval(self, n: ast.Expr) -> Any:
        if isinstance(n, ast.Number):
            return n.value
        if isinstance(n, ast.Duration):
            return Duration(n.ns, n.literal)
        if isinstance(n, ast.String):
            return n.value
        if isinstance(n, ast.Bool):
            return n.value
        if isinstance(n, ast.Regex):
            return Regex(n.pattern)
        if isinstance(n, ast.Star):
            return Star()
        if isinstance(n, ast.Reference):
            return RefVal(n.name)
        if isinstance(n, ast.Identifier):
            return self._lookup(n)
        if isinstance(n, ast.ListNode):
            items: list[Any] = []
            for item in n.items:
                v = self.eval(item)
                if isinstance(v, list):
                    items.extend(v)
                elif isinstance(v, (str, Star)):
                    items.append(v)
                else:
                    self.fail(f"list items must be strings or *, got {describe(v)}", item)
            return items
        if isinstance(n, ast.Lambda):
            return self.lambda_val(n.expr, n)
        if isinstance(n, ast.Unary):
            return self._fold_unary(n)
        if isinstance(n, ast.Binary):
            return self._fold_binary(n)
        if isinstance(n, ast.Function):
            return self._global_function(n)
        if isinstance(n, ast.Chain):
            return self._chain(n)
        self.fail(f"unexpected {type(n).__name__}", n)

    def _lookup(self, n: ast.Identifier) -> Any:
        if n.name in self.scope:
            return self.scope[n.name]
        if n.name in ("stream", "batch"):
            self.fail(f"{n.name} cannot be used in this task", n)
        self.fail(f'undefined variable "{n.name}"' + suggest(n.name, self.scope), n)

    def _global_function(self, n: ast.Function) -> Any:
        if n.name == "time":
            if len(n.args) not in (1, 2):
                self.fail("time() takes a duration and an optional offset, e.g. time(1m) or time(1m, 10s)", n)
            durs: list[int] = []
            for a in n.args:
                d = self.eval(a)
                if not isinstance(d, Duration):
                    self.fail(f"time() takes durations, got {describe(d)}", a)
                durs.append(d.ns)
            return TimeDimension(durs[0], durs[1] if len(durs) > 1 else 0)
        if n.name in NODES or n.name == "deadman":
            self.fail(
                f'"{n.name}" is a chaining method: write it after a node with "|", e.g. stream|{n.name}(...)',
                n,
            )
        self.fail(f'undefined function "{n.name}"', n)

    def _fold_unary(self, n: ast.Unary) -> Any:
        v = self.eval(n.operand)
        self._outside_lambda(v, n.operand)
        try:
            return fold_unary(n.op, v)
        except FoldError as exc:
            self.fail(str(exc), n)

    def _outside_lambda(self, v: Any, at: ast.Base) -> None:
        if isinstance(v, RefVal):
            self.fail(
                f'the reference "{v.name}" can only be used inside a lambda expression '
                "(did you forget 'lambda:' or mean a 'single-quoted' string?)",
                at,
            )

    def _fold_binary(self, n: ast.Binary) -> Any:
        left = self.eval(n.left)
        right = self.eval(n.right)
        self._outside_lambda(left, n.left)
        self._outside_lambda(right, n.right)
        try:
            return fold_binary(n.op, left, right)
        except FoldError as exc:
            self.fail(str(exc), n)

    # -- lambdas ----------------------------------------------------------------------------------
    def lambda_val(self, expr: ast.Expr, at: ast.Base | None = None) -> LambdaVal:
        """A lambda's tree, refused here when the evaluator could not take it ("compiles" means
        "runs"): inlined lambda vars can make it deeper than the text looks."""
        tree = self.lambda_tree(expr)
        if lambda_ast.depth(tree) > lambda_ast.MAX_DEPTH:
            self.fail(
                f"lambda expression nested more than {lambda_ast.MAX_DEPTH} levels deep "
                f"(the lambda depth limit is {lambda_ast.MAX_DEPTH})",
                at or expr,
            )
        return LambdaVal(tree, format_expr(expr))

    def lambda_tree(self, n: ast.Expr) -> lambda_ast.LambdaAST:
        if isinstance(n, ast.Number):
            return lambda_ast.int_(int(n.value)) if n.is_int else lambda_ast.float_(float(n.value))
        if isinstance(n, ast.Duration):
            return lambda_ast.duration(n.ns)
        if isinstance(n, ast.String):
            return lambda_ast.string(n.value)
        if isinstance(n, ast.Bool):
            return lambda_ast.bool_(n.value)
        if isinstance(n, ast.Regex):
            return lambda_ast.regex(n.pattern)
        if isinstance(n, ast.Reference):
            return lambda_ast.ref(n.name)
        if isinstance(n, ast.Unary):
            return lambda_ast.unary(n.op, self.lambda_tree(n.operand))
        if isinstance(n, ast.Binary):
            return lambda_ast.binary(n.op, self.lambda_tree(n.left), self.lambda_tree(n.right))
        if isinstance(n, ast.Identifier):
            return self._inline(n)
        if isinstance(n, ast.Function):
            arity = LAMBDA_FUNCTIONS.get(n.name)
            if arity is None:
                self.fail(
                    f'undefined function "{n.name}" in lambda expression' + suggest(n.name, LAMBDA_FUNCTIONS),
                    n,
                )
            lo, hi = arity
            if not lo <= len(n.args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                self.fail(f"function {n.name}() takes {want} argument(s), got {len(n.args)}", n)
            return lambda_ast.call(n.name, [self.lambda_tree(a) for a in n.args])
        if isinstance(n, ast.Star):
            self.fail("'*' cannot be used inside a lambda expression", n)
        if isinstance(n, ast.ListNode):
            self.fail("a list cannot be used inside a lambda expression", n)
        self.fail(f"{type(n).__name__} cannot be used inside a lambda expression", n)

    def _inline(self, n: ast.Identifier) -> lambda_ast.LambdaAST:
        if n.name not in self.scope:
            hint = suggest(n.name, self.scope)
            if not hint and n.name in LAMBDA_FUNCTIONS:
                hint = f" (to call the function write {n.name}(...))"
            self.fail(
                f'undefined variable "{n.name}" in lambda expression; '
                f'to read a field or tag write "{n.name}" in double quotes{hint}',
                n,
            )
        v = self.scope[n.name]
        if isinstance(v, LambdaVal):
            return v.tree
        if isinstance(v, bool):
            return lambda_ast.bool_(v)
        if isinstance(v, int):
            return lambda_ast.int_(v)
        if isinstance(v, float):
            return lambda_ast.float_(v)
        if isinstance(v, str):
            return lambda_ast.string(v)
        if isinstance(v, Duration):
            return lambda_ast.duration(v.ns)
        if isinstance(v, Regex):
            return lambda_ast.regex(v.pattern)
        self.fail(f"var {n.name} holds {describe(v)}, which cannot be used in a lambda expression", n)

    # -- chains and properties --------------------------------------------------------------------
    def _chain(self, n: ast.Chain) -> Any:
        left = self.eval(n.left)
        if not isinstance(left, NodeVal):
            self.fail(
                f"cannot call {'property' if n.op == '.' else 'chaining'} method "
                f"{n.right.name} on {describe(left)}",
                n,
            )
        if n.op == "@":
            assert isinstance(n.right, ast.Function)
            return self._udf(left, n.right)
        if n.op == "|":
            assert isinstance(n.right, ast.Function)
            return self._chain_call(left, n.right)
        if isinstance(n.right, ast.Identifier):
            return self._read_property(left, n.right)
        return self._property_call(left, n.right)

    def _spec(self, node: Node) -> NodeSpec | None:
        return NODES.get(node.kind)

    def _go_type(self, node: Node) -> str:
        spec = self._spec(node)
        return f"*pipeline.{spec.go_type if spec else 'UDFNode'}"

    def _chain_call(self, left: NodeVal, call: ast.Function) -> NodeVal:
        parent = left.node
        spec = self._spec(parent)
        name = call.name
        allowed = chain_methods(spec) if spec else chain_methods(NODES["where"])
        if name not in allowed:
            if self._has_property(left, name):
                self.fail(
                    f'no chaining method "{name}" on {self._go_type(parent)}, but property does exist. '
                    f"Use '.' operator instead: 'node.{name}(..)'.",
                    call,
                )
            if spec is not None and not spec.chains and not spec.only_chains:
                self.fail(
                    f"{parent.name} ({parent.kind}) ends the pipeline: nothing can be chained after it",
                    call,
                )
            self.fail(
                f'no method or property "{name}" on {self._go_type(parent)}' + suggest(name, allowed),
                call,
            )
        method = chain_method(name)
        assert method is not None
        row = NODES.get(name)
        if row is not None and row.impl is None:
            self.fail(f"|{name}() is not supported by kapfast: a task using it could not run", call)
        args = self._args(method, call, f"|{name}()")
        if name == "deadman":
            return self._deadman(parent, args, call)
        if name == "stats":
            return NodeVal(self._stats(parent, args[0], call))
        child_spec = NODES[name]
        parents = [parent]
        node_args: list[Any] = args
        if name == "join":
            parents = [parent, *(a.node for a in args)]
            node_args = []
        elif name == "union":
            parents = [*(a.node for a in args), parent]
            node_args = []
        node = self._link(parents, child_spec, node_args, call)
        return NodeVal(node)

    def _has_property(self, left: NodeVal, name: str) -> bool:
        spec = self._spec(left.node)
        if spec is None:
            return True  # UDF options are open
        if name in spec.properties or name in spec.handlers:
            return True
        return left.handler is not None and name in spec.handlers[left.handler.kind].properties

    def _property_call(self, left: NodeVal, call: ast.Function) -> NodeVal:
        node = left.node
        spec = self._spec(node)
        name = call.name
        if spec is None:  # UDF: its options are those its agent declared in its Info
            values = [self._plain(self.eval(a), a) for a in call.args]
            info = self.udfs.get(node.udf) if self.udfs is not None else None
            if info is not None:
                if name not in info.options:
                    self.fail(
                        f'no option "{name}" on UDF {node.udf}' + suggest(name, list(info.options)), call
                    )
                problem = check_option(info, name, values)
                if problem:
                    self.fail(problem, call)
            node.properties.setdefault(name, []).append(values)
            return NodeVal(node)
        if left.handler is not None:
            hspec = spec.handlers[left.handler.kind]
            if name in hspec.properties:
                method = hspec.properties[name]
                args = self._args(method, call, f".{name}()")
                _store(left.handler.properties, method, [self._plain(a, call) for a in args])
                return left
        if name in spec.handlers:
            hspec = spec.handlers[name]
            row = INLINE.get(name)
            if row is not None and not row.supported:
                self.fail(unsupported_message(row), call)
            args = self._args(hspec.create, call, f".{name}()")
            handler = Handler(name, [self._plain(a, call) for a in args], line=call.line, column=call.col)
            node.handlers.append(handler)
            return NodeVal(node, handler)
        if name in spec.properties:
            method = spec.properties[name]
            args = self._args(method, call, f".{name}()")
            values = [self._plain(a, call) for a in args]
            previous = node.properties.get(name)
            if node.kind == "from" and name == "where" and isinstance(previous, Lambda):
                # Kapacitor ANDs repeated from().where() filters instead of replacing them.
                new = values[0]
                combined = lambda_ast.binary("AND", previous.ast, new.ast)
                node.properties[name] = Lambda(combined, f"({previous.text}) AND ({new.text})")
                return NodeVal(node)
            _store(node.properties, method, values)
            return NodeVal(node)
        if name in chain_methods(spec):
            self.fail(
                f'no property method "{name}" on {self._go_type(node)}, but chaining method does exist. '
                f"Use '|' operator instead: 'node|{name}(..)'.",
                call,
            )
        candidates = list(spec.properties) + list(spec.handlers)
        if left.handler is not None:
            candidates += list(spec.handlers[left.handler.kind].properties)
        self.fail(
            f'no method or property "{name}" on {self._go_type(node)}' + suggest(name, candidates),
            call,
        )

    def _read_property(self, left: NodeVal, ident: ast.Identifier) -> Any:
        node = left.node
        spec = self._spec(node)
        if spec is not None and ident.name not in spec.properties:
            self.fail(
                f'no property "{ident.name}" on {self._go_type(node)}' + suggest(ident.name, spec.properties),
                ident,
            )
        value = node.prop(ident.name)
        if value is None:
            self.fail(f'property "{ident.name}" of {node.name} is not set', ident)
        return value

    def _udf(self, left: NodeVal, call: ast.Function) -> NodeVal:
        parent = left.node
        if parent.provides == NONE:
            self.fail(f"{parent.name} ends the pipeline: nothing can be chained after it", call)
        if call.args:
            self.fail(f"@{call.name}() takes no arguments; set its options with '.option(...)'", call)
        info = None
        if self.udfs is not None:
            info = self.udfs.get(call.name)
            if info is None:
                self.fail(
                    f"no UDF named {call.name!r}: UDFs are configured as [udf.functions.{call.name}]"
                    + suggest(call.name, list(self.udfs)),
                    call,
                )
            if parent.provides != info.wants:
                self.fail(
                    f"@{call.name}() wants {info.wants} edges but {parent.name} provides {parent.provides}",
                    call,
                )
        node = self._new_node("udf", [parent], call.line, call.col, desc=call.name)
        node.udf = call.name
        node.wants = node.provides = parent.provides
        if info is not None:
            node.wants, node.provides = info.wants, info.provides
        return NodeVal(node)

    # -- arguments --------------------------------------------------------------------------------
    def _args(self, method: Method, call: ast.Function, label: str) -> list[Any]:
        values = [self.eval(a) for a in call.args]
        arg_nodes: list[ast.Base] = list(call.args)
        # A list as the only argument is spread into the argument list (Kapacitor's rule).
        if len(values) == 1 and isinstance(values[0], list):
            values = list(values[0])
            arg_nodes = [call.args[0]] * len(values)
        lo, hi = method.min_args, method.max_args
        if len(values) < lo or (hi is not None and len(values) > hi):
            if hi is None:
                want = f"at least {lo}"
            elif lo == hi:
                want = str(lo)
            else:
                want = f"{lo} to {hi}"
            self.fail(
                f"{label} takes {want} argument(s), got {len(values)}: {method.signature()}",
                call.args[hi] if hi is not None and len(values) > hi else call,
            )
        for i, v in enumerate(values):
            typ = method.arg_type(i)
            if not type_ok(v, typ):
                self.fail(
                    f"invalid argument {i + 1} to {label}: expected {expected(typ)}, "
                    f"got {describe(v)}{hint(v, typ)}",
                    arg_nodes[i],
                )
        return values

    def _plain(self, v: Any, at: ast.Base) -> Value:
        """An evaluation value as the pipeline stores it."""
        if isinstance(v, LambdaVal):
            return Lambda(v.tree, v.text)
        if isinstance(v, NodeVal):
            return NodeRef(v.node.id)
        if isinstance(v, RefVal):
            self._outside_lambda(v, at)
        if isinstance(v, list):
            return [self._plain(x, at) for x in v]
        return v

    # -- nodes ------------------------------------------------------------------------------------
    def _new_node(self, kind: str, parents: list[Node], line: int, col: int, desc: str | None = None) -> Node:
        spec = NODES.get(kind)
        node = Node(
            id=self.next_id,
            kind=kind,
            name="",
            wants=spec.wants if spec else SAME,
            provides=spec.provides if spec else SAME,
            line=line,
            column=col,
        )
        # Kapacitor gives a node a new id each time it is linked to a parent, so a join or union
        # with n parents uses up n ids and keeps the last.
        node.id = self.next_id + max(len(parents), 1) - 1
        self.next_id += max(len(parents), 1)
        for p in parents:
            node.parents.append(p.id)
            p.children.append(node.id)
        node.name = f"{desc or (spec.desc if spec else kind)}{node.id}"
        self.nodes.append(node)
        self.by_id[node.id] = node
        return node

    def _link(self, parents: list[Node], spec: NodeSpec, args: list[Any], call: ast.Function) -> Node:
        edge = parents[0].provides
        for i, p in enumerate(parents):
            if p.provides == NONE:
                self.fail(f"{p.name} ends the pipeline: it has no output to {spec.kind}", call)
            if p.provides != edge:
                self.fail(
                    f"cannot {spec.kind} {parents[0].name} ({edge}) with {p.name} ({p.provides}): "
                    "all inputs must be streams or all batches",
                    call.args[i - 1] if spec.kind == "join" and i else call,
                )
        if spec.wants not in (SAME, edge):
            self.fail(
                f"{spec.kind}() needs {'a stream' if spec.wants == STREAM else 'a batch'} edge, "
                f"but {parents[0].name} provides {edge}"
                + (
                    " (window works on streams; batch queries are already windowed)"
                    if spec.kind == "window"
                    else ""
                ),
                call,
            )
        node = self._new_node(spec.kind, parents, call.line, call.col)
        node.wants = edge
        node.provides = edge if spec.provides == SAME else spec.provides
        node.args = [self._plain(a, call) for a in args]
        return node

    def _stats(self, of: Node, interval: Duration, call: ast.Function) -> Node:
        stats = self._new_node("stats", [], call.line, call.col)
        stats.args = [interval]
        stats.stats_of = of.id
        self.sources.append(stats)
        if not of.children and of.provides != NONE:
            # Kapacitor links a noop to a childless node so it has somewhere to send data.
            noop = self._new_node("noop", [of], call.line, call.col)
            noop.wants = noop.provides = of.provides
        return stats

    def _deadman(self, of: Node, args: list[Any], call: ast.Function) -> NodeVal:
        threshold, interval = args[0], args[1]
        stats = self._stats(of, interval, call)
        stats.properties["align"] = True
        deriv = self._link([stats], NODES["derivative"], ["emitted"], call)
        deriv.properties["nonNegative"] = True
        deriv.properties["unit"] = interval
        alert = self._link([deriv], NODES["alert"], [], call)
        crit: lambda_ast.LambdaAST = lambda_ast.binary(
            "<=", lambda_ast.ref("emitted"), lambda_ast.float_(threshold)
        )
        text = f'"emitted" <= {threshold!r}'
        for extra in args[2:]:
            crit = lambda_ast.binary("AND", crit, extra.tree)
            text = f"{text} AND {extra.text}"
        alert.properties["crit"] = Lambda(crit, text)
        alert.properties["id"] = self.deadman.id.replace("NODE_NAME", of.name, 1)
        alert.properties["message"] = self.deadman.message.replace(
            "INTERVAL", duration_string(interval.ns), 1
        )
        return NodeVal(alert)

    # -- whole-pipeline checks --------------------------------------------------------------------


def _store(props: dict[str, Value], method: Method, args: list[Value]) -> None:
    if method.repeat:
        existing = props.setdefault(method.name, [])
        assert isinstance(existing, list)
        if len(method.args) + (1 if method.variadic else 0) == 1:
            existing.extend(args)  # one value (or one list) per call: keep a flat list
        else:
            existing.append(args)
    elif not method.args and not method.variadic:
        props[method.name] = True
    elif method.variadic:
        props[method.name] = args
    elif len(method.args) == 1:
        props[method.name] = args[0] if args else True
    else:
        props[method.name] = args


def _placeholder(typ: str) -> Any:
    """A stand-in value for a template var left without one (so the template can be checked)."""
    return {
        "int": 0,
        "float": 0.0,
        "bool": False,
        "string": "",
        "regex": Regex(""),
        "duration": Duration(0),
        "lambda": LambdaVal(lambda_ast.bool_(True), "TRUE"),
        "list": [],
        "star": Star(),
    }[typ]


@guard_depth
def compile_template(text: str, *, source: str = "", udfs: Mapping[str, UDFInfo] | None = None) -> Pipeline:
    """Check a template (``define-template``): typed vars may lack values.

    The pipeline is built with placeholders for vars without a value; ``Pipeline.vars`` lists
    every declared var with its type, default value (``None`` when it has none) and description.
    Tasks made from the template are compiled with :func:`compile_script` and their vars.
    """
    return Compiler(text, source, {}, None, template=True, udfs=udfs).compile()


@guard_depth
def compile_script(
    text: str,
    *,
    vars: dict[str, Any] | None = None,
    task_type: str | None = None,
    source: str = "",
    deadman: DeadmanDefaults | None = None,
    udfs: Mapping[str, UDFInfo] | None = None,
) -> Pipeline:
    """Compile a TICKscript into a pipeline description; raises TickScriptError when invalid.
    ``deadman`` carries kapacitord's ``[deadman]`` settings (defaults: Kapacitor's); ``udfs`` the
    configured UDFs' Info, against which ``@name().option(...)`` is checked (None: unchecked)."""
    if task_type not in (None, STREAM, BATCH):
        raise TickScriptError(f"invalid task type {task_type!r}: use stream or batch", source=source)
    supplied = parse_vars(vars or {}, Compiler.lambda_from_text, source)
    return Compiler(text, source, supplied, task_type, deadman=deadman, udfs=udfs).compile()


__all__ = ["Compiler", "compile_script", "compile_template"]
