"""The TICKscript grammar (lark, LALR(1)), fed by the hand-written lexer in :mod:`kapfast.tick.lexer`.

Terminals are the lexer's token types (declared, not matched by lark: regex-vs-division and
star-vs-multiply depend on the previous token, which the lexer knows). Operator precedence is
Kapacitor's, low to high: ``OR``, ``AND``, ``== != =~ !~``, ``< <= > >=``, ``+ -``, ``* / %``, then
unary ``-`` and ``!``; all binary operators are left-associative.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lark import Lark

from kapfast.tick.lexer import T

GRAMMAR = r"""
start: statement*

?statement: declaration
          | type_declaration
          | dbrp
          | expression

declaration: VAR IDENT ASGN expression
type_declaration: VAR IDENT IDENT
dbrp: DBRP REFERENCE DOT REFERENCE

?expression: chain
           | lambda_
           | string_list
           | or_expr

lambda_: LAMBDA or_expr

chain: chain_head link+
?chain_head: IDENT -> ident
           | call
link: PIPE IDENT LPAREN args RPAREN -> pipe_link
    | DOT IDENT LPAREN args RPAREN -> dot_call_link
    | DOT IDENT -> dot_read_link
    | AT IDENT LPAREN args RPAREN -> at_link

call: IDENT LPAREN args RPAREN
args: (expression (COMMA expression)* COMMA?)?

string_list: LSBRACKET (list_item (COMMA list_item)* COMMA?)? RSBRACKET
?list_item: IDENT -> ident
          | STRING -> string
          | STAR -> star

?or_expr: and_expr
        | or_expr OR and_expr -> binary
?and_expr: eq_expr
         | and_expr AND eq_expr -> binary
?eq_expr: cmp_expr
        | eq_expr (EQ | NEQ | REQ | RNEQ) cmp_expr -> binary
?cmp_expr: add_expr
         | cmp_expr (LT | LTE | GT | GTE) add_expr -> binary
?add_expr: mul_expr
         | add_expr (PLUS | MINUS) mul_expr -> binary
?mul_expr: unary
         | mul_expr (MULT | DIV | MOD) unary -> binary
?unary: primary
      | (MINUS | NOT) unary -> unary_op
?primary: LPAREN or_expr RPAREN -> paren
        | NUMBER -> number
        | DURATION -> duration
        | STRING -> string
        | TRUE -> bool_
        | FALSE -> bool_
        | REGEX -> regex
        | STAR -> star
        | REFERENCE -> reference
        | IDENT -> ident
        | call

%declare VAR DBRP ASGN DOT PIPE AT IDENT REFERENCE LAMBDA NUMBER STRING DURATION LPAREN RPAREN
%declare LSBRACKET RSBRACKET COMMA NOT TRUE FALSE REGEX STAR PLUS MINUS MULT DIV MOD AND OR
%declare EQ NEQ LT GT LTE GTE REQ RNEQ
"""

# The lexer's token types that the grammar names (comments and EOF never reach lark).
TERMINALS: frozenset[str] = frozenset(t.name for t in T if t not in (T.EOF, T.COMMENT))


@lru_cache(maxsize=1)
def lark_parser(transformer: Any) -> Lark:
    """The LALR parser with ``transformer`` applied while parsing (built once)."""
    return Lark(GRAMMAR, parser="lalr", lexer="basic", transformer=transformer, maybe_placeholders=False)
