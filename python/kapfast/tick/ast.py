"""The TICKscript syntax tree (what the parser builds, the formatter prints, the evaluator walks).

Every node carries its offset, line and column in the source and the comment block written just
before it (``comment``: list of lines, ``"\\n"`` items separate blocks, as Kapacitor keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Comment = list[str]


@dataclass(eq=False)
class Base:
    pos: int
    line: int
    col: int
    comment: Comment | None = field(default=None, kw_only=True)
    # indexes of the tokens a comment written just before attaches to this node (its first
    # token; also the '(' of a parenthesised expression)
    anchors: list[int] = field(default_factory=list, kw_only=True, repr=False)


@dataclass(eq=False)
class Number(Base):
    literal: str
    is_int: bool
    value: int | float
    octal: bool = False


@dataclass(eq=False)
class Duration(Base):
    literal: str
    ns: int


@dataclass(eq=False)
class Bool(Base):
    value: bool


@dataclass(eq=False)
class String(Base):
    value: str
    triple: bool = False


@dataclass(eq=False)
class Reference(Base):
    name: str


@dataclass(eq=False)
class Regex(Base):
    literal: str  # as written between the slashes (``\\/`` kept)
    pattern: str  # ``\\/`` unescaped: what is compiled


@dataclass(eq=False)
class Star(Base):
    pass


@dataclass(eq=False)
class Identifier(Base):
    name: str


@dataclass(eq=False)
class Unary(Base):
    op: str  # "-" or "!"
    operand: Expr


@dataclass(eq=False)
class Binary(Base):
    op: str
    left: Expr
    right: Expr
    parens: bool = False
    multiline: bool = False


@dataclass(eq=False)
class Function(Base):
    kind: str  # "global", "chain", "property", "dynamic"
    name: str
    args: list[Expr]
    multiline: bool = False


@dataclass(eq=False)
class Lambda(Base):
    expr: Expr


@dataclass(eq=False)
class ListNode(Base):
    items: list[Expr]


@dataclass(eq=False)
class Chain(Base):
    op: str  # "|", ".", "@"
    left: Expr
    right: Function | Identifier


@dataclass(eq=False)
class Declaration(Base):
    name: Identifier
    value: Expr


@dataclass(eq=False)
class TypeDeclaration(Base):
    name: Identifier
    type_name: Identifier


@dataclass(eq=False)
class DBRP(Base):
    db: Reference
    rp: Reference


@dataclass(eq=False)
class CommentOnly(Base):
    """A comment block at the end of the script, attached to nothing."""


@dataclass(eq=False)
class Program(Base):
    statements: list[Statement]


Expr = (
    Number
    | Duration
    | Bool
    | String
    | Reference
    | Regex
    | Star
    | Identifier
    | Unary
    | Binary
    | Function
    | Lambda
    | ListNode
    | Chain
)
Statement = Declaration | TypeDeclaration | DBRP | CommentOnly | Expr
