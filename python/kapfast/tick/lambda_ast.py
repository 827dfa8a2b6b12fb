"""The lambda AST: the contract between this compiler and the Rust evaluator (docs/lambda_ast.md).

A node is a tuple whose first item is its tag (lists are accepted too, so an AST survives JSON):

    ("float", 1.5)  ("int", 3)  ("string", "abc")  ("bool", True)  ("duration", ns)
    ("regex", "^cpu$")  ("ref", "usage_idle")  ("unary", "-"|"!", X)
    ("binary", OP, L, R)  ("call", "name", [ARGS...])

This module builds such nodes, checks them (:func:`validate`) and converts them to and from JSON.
"""

from __future__ import annotations

import json
from typing import Any

from kapfast.errors import EvalError

LAMBDA_AST_VERSION = 1

LambdaAST = tuple[Any, ...]

BINARY_OPS = frozenset(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "AND", "OR"])
UNARY_OPS = frozenset(["-", "!"])
#: the deepest tree the evaluator takes (rust/src/py/eval.rs MAX_DEPTH counts from 0, so 256
#: levels here are within it): the compiler refuses a deeper lambda at define time
MAX_DEPTH = 256
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def float_(value: float) -> LambdaAST:
    return ("float", float(value))


def int_(value: int) -> LambdaAST:
    return ("int", int(value))


def string(value: str) -> LambdaAST:
    return ("string", value)


def bool_(value: bool) -> LambdaAST:
    return ("bool", bool(value))


def duration(ns: int) -> LambdaAST:
    return ("duration", int(ns))


def regex(pattern: str) -> LambdaAST:
    return ("regex", pattern)


def ref(name: str) -> LambdaAST:
    return ("ref", name)


def unary(op: str, operand: LambdaAST) -> LambdaAST:
    return ("unary", op, operand)


def binary(op: str, left: LambdaAST, right: LambdaAST) -> LambdaAST:
    return ("binary", op, left, right)


def call(name: str, args: list[LambdaAST]) -> LambdaAST:
    return ("call", name, list(args))


def depth(node: LambdaAST) -> int:
    """How many levels the tree has (a leaf is 1); iterative, so any tree can be measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        tag = item[0]
        if tag == "unary":
            stack.append((item[2], level + 1))
        elif tag == "binary":
            stack.extend(((item[2], level + 1), (item[3], level + 1)))
        elif tag == "call":
            stack.extend((arg, level + 1) for arg in item[2])
    return deepest


def validate(node: Any, path: str = "$") -> LambdaAST:
    """Check ``node`` against the contract and return it as tuples; raises EvalError."""
    if not isinstance(node, (tuple, list)) or not node or not isinstance(node[0], str):
        raise EvalError(f"lambda AST {path}: expected a tagged tuple, got {node!r}")
    tag = node[0]

    def arity(n: int) -> None:
        if len(node) != n:
            raise EvalError(f"lambda AST {path}: {tag!r} takes {n - 1} item(s), got {len(node) - 1}")

    if tag == "float":
        arity(2)
        if isinstance(node[1], bool) or not isinstance(node[1], (int, float)):
            raise EvalError(f"lambda AST {path}: float value must be a number")
        return ("float", float(node[1]))
    if tag in ("int", "duration"):
        arity(2)
        if isinstance(node[1], bool) or not isinstance(node[1], int) or not _I64_MIN <= node[1] <= _I64_MAX:
            raise EvalError(f"lambda AST {path}: {tag} value must be a 64-bit integer")
        return (tag, node[1])
    if tag in ("string", "regex", "ref"):
        arity(2)
        if not isinstance(node[1], str):
            raise EvalError(f"lambda AST {path}: {tag} value must be a string")
        return (tag, node[1])
    if tag == "bool":
        arity(2)
        if not isinstance(node[1], bool):
            raise EvalError(f"lambda AST {path}: bool value must be true or false")
        return ("bool", node[1])
    if tag == "unary":
        arity(3)
        if node[1] not in UNARY_OPS:
            raise EvalError(f"lambda AST {path}: unknown unary operator {node[1]!r}")
        return ("unary", node[1], validate(node[2], path + ".operand"))
    if tag == "binary":
        arity(4)
        if node[1] not in BINARY_OPS:
            raise EvalError(f"lambda AST {path}: unknown binary operator {node[1]!r}")
        return ("binary", node[1], validate(node[2], path + ".left"), validate(node[3], path + ".right"))
    if tag == "call":
        arity(3)
        if not isinstance(node[1], str) or not isinstance(node[2], (list, tuple)):
            raise EvalError(f"lambda AST {path}: call needs a name and an argument list")
        return ("call", node[1], [validate(a, f"{path}.{node[1]}[{i}]") for i, a in enumerate(node[2])])
    raise EvalError(f"lambda AST {path}: unknown tag {tag!r}")


def to_json(node: LambdaAST) -> str:
    """JSON text of a lambda AST (tuples become arrays)."""
    return json.dumps(node, ensure_ascii=False, separators=(",", ":"))


def from_json(text: str | bytes) -> LambdaAST:
    """A lambda AST from JSON, validated and turned back into tuples."""
    return validate(json.loads(text))
